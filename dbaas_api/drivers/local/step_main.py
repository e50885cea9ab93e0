"""The step's side of drivers/local/steps.py: ``python -m dbaas_api.drivers.local.step_main
<state dir> <key>`` reads a request (one JSON line on stdin: the calls and the admin password),
runs its calls in order on the local driver, and writes the answer (one JSON line on stdout).
A module apart from steps.py, so that the driver (which ends steps) and the step (which drives
the driver) import each other in one direction."""
import json
import sys
from pathlib import Path

from dbaas_api import datastores, errors
from dbaas_api.backup import streams
from dbaas_api.config import Settings
from dbaas_api.drivers.local.lifecycle import LocalDriver, ServerSpec


def _create(driver, key, password, spec):
    source = spec.pop("replica_of", None)
    chain = spec.pop("restore", None)
    driver.create(key, ServerSpec(
        datastores.get(spec.pop("datastore")), spec.pop("version"), datastores.find_flavor(spec.pop("flavor")),
        password, allowed_cidrs=tuple(spec.pop("allowed_cidrs", ())), logs=tuple(spec.pop("logs", ())),
        restore=streams.open_chain(Settings.from_env(), chain) if chain else None,
        replica_of=_source(source), **spec))


def _source(fields):
    """A replication source (streams.Source) from its JSON fields."""
    if not fields:
        return None
    return streams.Source(**dict(fields, datadir=Path(fields["datadir"]) if fields.get("datadir") else None))


def _on_server(method, if_running=False):
    """A datastore call on the instance's server (its address, port and the password first);
    ``if_running``: nothing when the server is not running (it reads the change at its start)."""
    def call(driver, key, password, **arguments):
        instance = driver.get(key)
        if instance is None:
            raise errors.NotFound(f"Local instance '{key}' cannot be found.")
        if if_running and instance.pid is None:
            return
        getattr(datastores.get(instance.datastore), method)(instance.address, instance.port, password, **arguments)
    return call


def _resize(driver, key, password, flavor):
    driver.resize(key, datastores.find_flavor(flavor), password)


def _restart(driver, key, password, unless_running=False):
    if not (unless_running and driver.is_running(key)):
        driver.restart(key, password)


CALLS = {
    "create": _create,
    "join_cluster": _on_server("join_cluster"),
    "follow_primary": _on_server("follow_primary", if_running=True),
    "set_overrides": lambda driver, key, password, values: driver.set_overrides(key, values, password),
    "resize": _resize,
    "restart": _restart,
    "set_access": lambda driver, key, password, cidrs: driver.set_access(key, cidrs, password),
    "set_logs": lambda driver, key, password, logs: driver.set_logs(key, logs, password),
    "follow": lambda driver, key, password, source: driver.follow(key, _source(source), password),
    "promote": lambda driver, key, password, fenced=None: driver.promote(key, password, fenced=fenced),
    "set_membership": lambda driver, key, password, membership: driver.set_membership(key, membership),
}


def run(state_dir, key, line):
    """Run a request's calls in order; the answer as a dict."""
    asked = json.loads(line)
    driver = LocalDriver(state_dir)
    try:
        for name, arguments in asked["calls"]:
            CALLS[name](driver, key, asked["password"], **arguments)
    except errors.DBaaSError as exc:
        return {"error": exc.message}
    return {}


def main():
    state_dir, key = sys.argv[1:3]
    answer = run(state_dir, key, sys.stdin.readline())
    try:
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:   # the engine that asked is gone; the work is done all the same
        pass


if __name__ == "__main__":
    main()
