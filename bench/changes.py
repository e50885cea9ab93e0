#!/usr/bin/env python3
"""Change latency: POST /instances/{id}/users -> the new user logs in, and PUT /instances/{id}
with a configuration group -> the server reports the value; against the same change made
directly on the same server over its admin connection (the datastore's own statements, no
Heat, no API) in the same run.

    .venv/bin/python bench/changes.py [--runs 5] [--datastores postgresql,mariadb,redis]
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbaas_api import datastores  # noqa: E402
from dbaas_api.model import UserSpec  # noqa: E402
from tests.e2e.support import admin_password, can_login, setting, settled  # noqa: E402
from bench.common import arguments, embedded_stack, until  # noqa: E402

PASSWORD = "bench-Passw0rd"
# A value the server takes at once, and a second one, per datastore.
VALUES = {"postgresql": ("work_mem", (8192, "8MB"), (16384, "16MB")),
          "mariadb": ("max_connections", (123, "123"), (124, "124")),
          "redis": ("hz", (20, "20"), (30, "30"))}


def timed(action, check):
    started = time.monotonic()
    action()
    until(check, pause=0.005)
    return time.monotonic() - started


def run(stack, client, name, runs):
    ds = datastores.get(name)
    body = {"name": "bench", "flavorRef": "2", "volume": {"size": 1}, "datastore": {"type": name}}
    if ds.supports_databases:
        body["databases"] = [{"name": "app"}]
    instance = client.create_instance(**body)
    active = client.wait_status(instance["id"])
    iid, host = instance["id"], active["ip"][0]
    admin = admin_password(stack, iid)
    reader = ("default" if name == "redis" else ds.admin_user, admin)
    parameter, first, second = VALUES[name]
    grants = [{"name": "app"}] if ds.supports_databases else []
    database = "app" if ds.supports_databases else None
    numbers = {"user": ([], []), "configuration": ([], [])}
    try:
        for n in range(runs):
            ours, direct = f"api{n}", f"direct{n}"
            numbers["user"][0].append(timed(
                lambda: client.post(f"/instances/{iid}/users", {"users": [
                    {"name": ours, "password": PASSWORD, "databases": grants}]}).raise_for_status(),
                lambda: can_login(name, host, ours, PASSWORD, database)))
            settled(stack, iid)

            def create_directly():
                with ds.admin_session(host, ds.port, admin) as session:
                    session.create_user(UserSpec(direct, PASSWORD, tuple(g["name"] for g in grants)))
            numbers["user"][1].append(timed(create_directly, lambda: can_login(name, host, direct, PASSWORD, database)))

            value, shown = first if n % 2 == 0 else second
            group = client.post("/configurations", {"configuration": {
                "name": f"bench{n}", "values": {parameter: value}, "datastore": {"type": name}}}).json()["configuration"]
            numbers["configuration"][0].append(timed(
                lambda: client.put(f"/instances/{iid}", {"instance": {"configuration": group["id"]}}).raise_for_status(),
                lambda: setting(name, host, *reader, parameter) == shown))
            settled(stack, iid)
            client.put(f"/instances/{iid}", {"instance": {"configuration": None}}).raise_for_status()
            settled(stack, iid)
            client.delete(f"/configurations/{group['id']}").raise_for_status()

            def apply_directly():
                with ds.admin_session(host, ds.port, admin) as session:
                    session.apply_configuration(ds.default_version, datastores.find_flavor("2"), {parameter: value}, {})
            numbers["configuration"][1].append(timed(apply_directly, lambda: setting(name, host, *reader, parameter) == shown))
            with ds.admin_session(host, ds.port, admin) as session:
                session.apply_configuration(ds.default_version, datastores.find_flavor("2"), {}, {parameter: value})
    finally:
        client.delete_and_wait(iid)
    return numbers


def main():
    parser = arguments(__doc__, runs=5)
    args = parser.parse_args()
    with embedded_stack() as stack:
        client = stack.client("bench")
        print(f"{'datastore':<12}{'change':<15}{'direct median s':>17}{'heat-dbaas median s':>22}{'ratio':>8}")
        for name in args.datastores.split(","):
            for change, (ours, direct) in run(stack, client, name, args.runs).items():
                o, d = statistics.median(ours), statistics.median(direct)
                print(f"{name:<12}{change:<15}{d:>17.3f}{o:>22.3f}{o / d:>7.1f}x")


if __name__ == "__main__":
    main()
