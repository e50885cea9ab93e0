#!/usr/bin/env python3
"""Action latency: POST /instances/{id}/action restart and resize (flavor) -> Heat has
finished the change and the server answers again, against the same operation done by the
bare local driver (LocalDriver.restart / .resize on the same server, no API, no Heat) in the
same run.

    .venv/bin/python bench/actions.py [--runs 3] [--datastores postgresql,mariadb,redis]
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbaas_api import datastores  # noqa: E402
from tests.e2e.support import admin_password, settled  # noqa: E402
from bench.common import arguments, embedded_stack  # noqa: E402


def timed(operation):
    started = time.monotonic()
    operation()
    return time.monotonic() - started


def run(stack, client, name, runs):
    instance = client.create_instance(name="bench", flavorRef="1", volume={"size": 1}, datastore={"type": name})
    iid = client.wait_status(instance["id"])["id"]
    admin = admin_password(stack, iid)
    driver = stack.embedded.driver
    (key,) = [i.key for i in driver.list() if (i.owner or {}).get("stack_id") == iid]
    ds = datastores.get(name)
    numbers = {"restart": ([], []), "resize": ([], [])}

    def through_api(body):
        def operation():
            client.post(f"/instances/{iid}/action", body).raise_for_status()
            settled(stack, iid)   # Heat has finished: the server answered its admin
        return operation
    try:
        flavors = ["2", "1"]
        for n in range(runs):
            numbers["restart"][0].append(timed(through_api({"restart": {}})))
            numbers["restart"][1].append(timed(lambda: driver.restart(key, admin)))

            flavor = flavors[n % 2]
            numbers["resize"][0].append(timed(through_api({"resize": {"flavorRef": flavor}})))
            numbers["resize"][1].append(timed(lambda: driver.resize(key, datastores.find_flavor("3"), admin)))
            driver.resize(key, datastores.find_flavor(flavor), admin)   # back to what the stack says
            inst = driver.get(key)
            assert ds.probe(inst.address, inst.port, admin)
    finally:
        client.delete_and_wait(iid)
    return numbers


def main():
    parser = arguments(__doc__, runs=3)
    args = parser.parse_args()
    with embedded_stack() as stack:
        client = stack.client("bench")
        print(f"{'datastore':<12}{'action':<10}{'bare driver median s':>22}{'through API+Heat median s':>28}"
              f"{'overhead s':>12}")
        for name in args.datastores.split(","):
            for action, (ours, bare) in run(stack, client, name, args.runs).items():
                o, b = statistics.median(ours), statistics.median(bare)
                print(f"{name:<12}{action:<10}{b:>22.3f}{o:>28.3f}{o - b:>12.3f}")


if __name__ == "__main__":
    main()
