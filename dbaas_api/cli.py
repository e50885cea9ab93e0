"""The ``dbaas`` command: run the service on one machine.

    dbaas up       start Heat and the API in the background, wait until both answer
                   (--profile production: Heat's own services over RabbitMQ and MariaDB)
    dbaas down     stop the API, Heat and every local datastore process
    dbaas status   what runs, where, and where the logs are
    dbaas wait ID  a progress bar until the instance is ACTIVE (exit 0) or ERROR (exit 1)
    dbaas template DATASTORE --out DIR   a plain HOT template for `openstack stack create`
    dbaas heat-env the exports for the unmodified `openstack stack ...` CLI on this Heat
    dbaas plugin-dir  the directory of the DBaaS:: plugins, for a Heat's plugin_dirs
"""
import argparse
import os
import sys
from pathlib import Path

from dbaas_api.config import Settings
from dbaas_api.waiting import TimedOut, poll_until


def _embedded(args):
    from dbaas_api.profiles import control_plane
    overrides = {"state_dir": Path(args.state_dir)} if args.state_dir else {}
    return control_plane(Settings.from_env(**overrides), getattr(args, "profile", None))


def cmd_up(args):
    embedded = _embedded(args)
    embedded.up()
    settings = embedded.settings
    print(f"heat-dbaas is up, {settings.profile} profile (state in {settings.state_dir})")
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
        print(f"{name:13} {state}\n              log: {log}")
    instances = embedded.driver.list()
    alive = sum(1 for i in instances if embedded.driver.is_running(i.key))
    print(f"local datastore processes: {alive} running of {len(instances)} instances")
    return 0 if running == len(embedded.status()) else 3


SETTLED = {"ACTIVE": 0, "RESTART_REQUIRED": 0, "ERROR": 1}
BAR = 30


def cmd_wait(args):
    """Poll ``GET /instances/{id}`` through the API (as any client would) and draw its
    ``progress`` until the instance is ACTIVE (0) or ERROR (1, with its fault); 1 as well
    when it is gone or its database stopped, 2 on timeout."""
    import requests
    settings = Settings.from_env()
    url = (args.url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    project = args.project or os.environ.get("DBAAS_PROJECT") or os.environ.get("OS_PROJECT_ID")
    if not project:
        print("dbaas wait: give --project (or set DBAAS_PROJECT / OS_PROJECT_ID)", file=sys.stderr)
        return 1
    headers = {"X-Auth-Token": args.token} if args.token else {}
    show = f"{url}/v1.0/{project}/instances/{args.instance_id}"
    interactive = sys.stdout.isatty()
    shown = {"line": None, "state": None}

    def look():
        """One GET: the exit code once there is one, None while the instance works."""
        try:
            response = requests.get(show, headers=headers, timeout=10)
        except requests.RequestException as exc:
            print(f"\ndbaas wait: the API at {url} does not answer: {type(exc).__name__}", file=sys.stderr)
            return 1
        if response.status_code != 200:
            print(f"\ndbaas wait: {_api_error(response)}", file=sys.stderr)
            return 1
        instance = response.json()["instance"]
        line = _progress_line(instance)
        if line != shown["line"]:
            print(("\r" + line.ljust(BAR + 40)) if interactive else line, end="" if interactive else "\n",
                  flush=True)
            shown["line"] = line
        state = shown["state"] = instance["status"]
        if state in SETTLED:
            print("\n" if interactive else "", end="")
            if state == "ERROR":
                print(f"fault: {(instance.get('fault') or {}).get('message', 'no reason given')}", file=sys.stderr)
            return SETTLED[state]
        if instance.get("operating_status") == "SHUTDOWN" and not instance.get("progress"):
            print("\nthe database is not running (restart the instance)", file=sys.stderr)
            return 1
        return None

    try:
        return poll_until(look, until=lambda code: code is not None, timeout=args.timeout, interval=args.interval)
    except TimedOut:
        print(f"\ndbaas wait: still {shown['state']} after {args.timeout:.0f} s", file=sys.stderr)
        return 2


def cmd_template(args):
    """Write a plain template, its environment and parameter file (docs/templates.md)."""
    from dataclasses import replace
    from dbaas_api import raw_templates
    from dbaas_api.errors import DBaaSError
    from dbaas_api.rendering import Renderer
    settings = Settings.from_env()
    common = dict(version=args.version, flavor=args.flavor, volume_size=args.volume_size)
    try:
        renderer = Renderer(settings)
        if args.topology == "cluster":
            bundle = raw_templates.cluster(renderer, args.datastore, members=args.members, **common)
        else:
            make = raw_templates.single if args.topology == "single" else raw_templates.replica_pair
            bundle = make(renderer, args.datastore, databases=args.database,
                          users=[raw_templates.parse_user(u) for u in args.user], **common)
    except DBaaSError as exc:
        print(f"dbaas template: {exc.message}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"dbaas template: {exc}", file=sys.stderr)
        return 1
    bundle = replace(bundle, command=_template_command(args))
    for path in raw_templates.write(bundle, args.out):
        print(f"wrote {path}")
    print("create the stack with:\n  " + raw_templates.create_command(bundle, args.out))
    return 0


def _template_command(args):
    """The arguments a bundle was made with, for its header (without --out)."""
    words = [args.datastore] + ([f"--topology {args.topology}"] if args.topology != "single" else [])
    words += [f"--version {args.version}"] if args.version else []
    words += [f"--database {name}" for name in args.database] + [f"--user {user}" for user in args.user]
    words += [f"--members {args.members}"] if args.topology == "cluster" else []
    words += [f"--flavor {args.flavor}"] if args.flavor != "2" else []
    words += [f"--volume-size {args.volume_size}"] if args.volume_size != 1 else []
    return " ".join(words)


def cmd_heat_env(args):
    """``eval "$(dbaas heat-env)"``: the embedded Heat (no-auth profile) lets in only who sends
    the installation's access token; python-openstackclient sends it with its admin_token
    auth type, straight to OS_ENDPOINT (no Keystone)."""
    from dbaas_api.embedded import access_token
    settings = Settings.from_env(**({"state_dir": Path(args.state_dir)} if args.state_dir else {}))
    token = access_token.read(settings.state_dir)
    if settings.keystone or token is None:
        print("dbaas heat-env: no access token here (keystone profile, or Heat never started in "
              f"{settings.state_dir})", file=sys.stderr)
        return 1
    print(f"export OS_AUTH_TYPE=admin_token OS_TOKEN={token}\n"
          f"export OS_ENDPOINT={settings.heat_endpoint}/{args.project or settings.service_project}")
    return 0


def cmd_plugin_dir(args):
    """For an operator's Heat (docs/operators.md, An operator's Heat): heat.conf's
    ``plugin_dirs`` on every engine host, where heat-dbaas is installed in Heat's environment."""
    import heat_plugins
    print(heat_plugins.DIRECTORY)
    return 0


def _progress_line(instance):
    """``[##########----------] 4/6 BUILD``; a full bar once settled."""
    progress = instance.get("progress")
    done, total = (progress["done"], progress["total"]) if progress else (1, 1)
    if not progress and instance["status"] not in SETTLED:
        done, total = 0, 0   # no resources known yet (the create has only just begun)
    filled = BAR * done // total if total else 0
    count = f" {done}/{total}" if total else ""
    return f"[{'#' * filled}{'-' * (BAR - filled)}]{count} {instance['status']}"


def _api_error(response):
    try:
        (_, error), = response.json().items()
        return f"{error['code']} {error['message']}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"HTTP {response.status_code}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="dbaas", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", help="state directory (default $DBAAS_STATE_DIR or ./.state)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start Heat and the API")
    up.add_argument("--profile", choices=("embedded", "production"),
                    help="the control plane (default $DBAAS_PROFILE, else the state dir's last, else embedded)")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show what runs").set_defaults(func=cmd_status)
    wait = sub.add_parser("wait", help="a progress bar until an instance is ACTIVE or ERROR")
    wait.add_argument("instance_id")
    wait.add_argument("--project", help="the project (default $DBAAS_PROJECT or $OS_PROJECT_ID)")
    wait.add_argument("--url", help="the API (default http://$DBAAS_API_HOST:$DBAAS_API_PORT)")
    wait.add_argument("--token", default=os.environ.get("OS_AUTH_TOKEN"),
                      help="a Keystone token, in the keystone profile (default $OS_AUTH_TOKEN)")
    wait.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    wait.add_argument("--interval", type=float, default=0.5, help="seconds between looks (default 0.5)")
    wait.set_defaults(func=cmd_wait)
    template = sub.add_parser("template", help="write a plain HOT template for `openstack stack create`")
    template.add_argument("datastore", help="postgresql, mariadb or redis")
    template.add_argument("--out", required=True, help="the directory to write into")
    template.add_argument("--version", help="the datastore version (default: the datastore's default)")
    template.add_argument("--topology", choices=("single", "replica-pair", "cluster"), default="single")
    template.add_argument("--database", action="append", default=[], metavar="NAME", help="a database (repeat)")
    template.add_argument("--user", action="append", default=[], metavar="NAME[:DB,...]",
                          help="a user and the databases it may use (repeat); its password is a parameter")
    template.add_argument("--flavor", default="2", help="flavor id (default 2)")
    template.add_argument("--volume-size", type=int, default=1, help="GB (default 1)")
    template.add_argument("--members", type=int, default=3, help="cluster members (default 3)")
    template.set_defaults(func=cmd_template)
    heat_env = sub.add_parser("heat-env", help="shell exports for `openstack stack ...` on the embedded Heat")
    heat_env.add_argument("--project", help="the Heat project (default the service project's)")
    heat_env.set_defaults(func=cmd_heat_env)
    sub.add_parser("plugin-dir", help="the DBaaS:: plugins' directory, for a Heat's plugin_dirs").set_defaults(
        func=cmd_plugin_dir)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (RuntimeError, ValueError) as exc:
        print(f"dbaas: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
