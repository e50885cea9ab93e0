"""The ``dbaas`` command: run the embedded profile on one machine.

    dbaas up       start Heat and the API in the background, wait until both answer
    dbaas down     stop the API, Heat and every local datastore process
    dbaas status   what runs, where, and where the logs are
"""
import argparse
import sys
from pathlib import Path

from dbaas_api.config import Settings


def _embedded(args):
    from dbaas_api.embedded.lifecycle import Embedded
    overrides = {"state_dir": Path(args.state_dir)} if args.state_dir else {}
    return Embedded(Settings.from_env(**overrides))


def cmd_up(args):
    embedded = _embedded(args)
    embedded.up()
    settings = embedded.settings
    print(f"heat-dbaas is up (state in {settings.state_dir})")
    print(f"  API (Trove v1.0): http://{settings.api_host}:{settings.api_port}/v1.0/<project_id>/")
    print(f"  Heat (v1):        {settings.heat_endpoint}")
    print(f"  logs:             {settings.state_dir / 'logs'}")
    print("  stop with:        dbaas down")
    return 0


def cmd_down(args):
    _embedded(args).down()
    print("heat-dbaas is down")
    return 0


def cmd_status(args):
    embedded = _embedded(args)
    running = 0
    for name, pid, url, log in embedded.status():
        state = f"running (pid {pid}) {url}" if pid else "stopped"
        running += bool(pid)
        print(f"{name:5} {state}\n      log: {log}")
    instances = embedded.driver.list()
    alive = sum(1 for i in instances if embedded.driver.is_running(i.key))
    print(f"local datastore processes: {alive} running of {len(instances)} instances")
    return 0 if running == 2 else 3


def main(argv=None):
    parser = argparse.ArgumentParser(prog="dbaas", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", help="state directory (default $DBAAS_STATE_DIR or ./.state)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start Heat and the API").set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show what runs").set_defaults(func=cmd_status)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RuntimeError as exc:
        print(f"dbaas: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
