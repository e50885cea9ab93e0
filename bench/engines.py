#!/usr/bin/env python3
"""Heat's legacy engine against its convergence engine, on the production profile with two
heat-engines: a burst of creates to ACTIVE, then a second burst with one engine SIGKILLed
mid-work, and what that death costs: how many instances it strands, what takes them over
(nothing, the engine's restart as systemd would do it, or reset_status), and how long until
every instance is settled and deleted with nothing left. Both modes in one run.

    .venv/bin/python bench/engines.py [--count 6] [--modes legacy,convergence]
"""
import argparse
import concurrent.futures
import os
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import embedded_stack, until  # noqa: E402
from dbaas_api.heat_gateway import HeatGateway  # noqa: E402
from dbaas_api.waiting import TimedOut, poll_until  # noqa: E402

DATASTORES = ("redis", "postgresql", "mariadb")
ON_ITS_OWN = 30     # seconds an instance gets to settle by itself after the kill
AFTER_RESTART = 20  # seconds after the dead engine is restarted


def stack_status(stack, instance_id):
    return HeatGateway(stack.settings).get_stack(instance_id, resolve_outputs=False)["stack_status"]


def burst(client, count, tag, ids, refused):
    """``count`` creates at once."""
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        list(pool.map(lambda n: create(client, f"{tag}-{n}", DATASTORES[n % len(DATASTORES)], ids, refused),
                      range(count)))
    return ids


def create(client, name, datastore, ids, refused):
    try:
        response = client.post("/instances", {"instance": {
            "name": name, "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": datastore}}})
    except requests.RequestException as exc:
        refused.append(type(exc).__name__)
        return
    if response.status_code == 200:
        ids.append(response.json()["instance"]["id"])
    else:
        refused.append(response.status_code)


def settled(stack, ids):
    """The ids whose stack is no longer in progress."""
    return {i for i in ids if not stack_status(stack, i).endswith("_IN_PROGRESS")}


def wait_settled(stack, ids, timeout):
    """The ids settled once all are, or when ``timeout`` is up."""
    try:
        return poll_until(lambda: settled(stack, ids), until=lambda done: done == set(ids), timeout=timeout,
                          interval=0.2)
    except TimedOut as exc:
        return exc.last


def held(stack, host, mode):
    """How many stacks (legacy: stack locks) or resources (convergence) ``host`` works on."""
    url = urlsplit(stack.embedded.database_url)
    connection = pymysql.connect(host=url.hostname, port=url.port, user=unquote(url.username),
                                 password=unquote(url.password), database="heat")
    with connection, connection.cursor() as cursor:
        table = "stack_lock" if mode == "legacy" else "resource"
        cursor.execute(f"SELECT COUNT(*) FROM {table} JOIN service ON service.engine_id = {table}.engine_id "
                       "WHERE service.host = %s AND service.deleted_at IS NULL", (host,))
        return cursor.fetchone()[0]


def run(mode, count):
    figures = {}
    with embedded_stack(profile="production", heat_engines=2,
                        heat_convergence=(mode == "convergence")) as stack:
        client = stack.client(f"engines-{uuid.uuid4().hex[:8]}")
        started = time.monotonic()
        first = burst(client, count, "burst", [], [])
        for instance_id in first:
            client.wait_status(instance_id, timeout=300)
        figures["burst"] = time.monotonic() - started

        engine = stack.embedded.engines[0]
        second, refused = [], []
        posting = threading.Thread(target=burst, args=(client, count, "killed", second, refused))
        posting.start()
        figures["held by the dead engine"] = until(lambda: held(stack, "engine-1", mode),
                                                   60, pause=0.02)
        os.killpg(engine.pid(), signal.SIGKILL)
        until(lambda: not engine.pid(), 10)
        killed = time.monotonic()
        posting.join()
        figures["creates refused"] = ",".join(str(r) for r in refused) or "0"
        by_itself = wait_settled(stack, second, ON_ITS_OWN)
        figures["stranded"] = len(second) - len(by_itself)

        stack.embedded.start_engine(engine)     # as systemd would restart it
        after_restart = wait_settled(stack, second, AFTER_RESTART)
        figures["taken by the restart"] = len(after_restart - by_itself)

        left = set(second) - after_restart
        for instance_id in left:                       # reset_status: cancel what is stuck
            client.post(f"/instances/{instance_id}/action", {"reset_status": {}}).raise_for_status()
        cancelled = wait_settled(stack, left, 60)
        figures["taken by reset_status"] = len(cancelled)
        checked = 0
        for instance_id in second:                     # a second reset_status checks what exists
            if client.get(f"/instances/{instance_id}").json()["instance"]["status"] == "ERROR":
                client.post(f"/instances/{instance_id}/action", {"reset_status": {}}).raise_for_status()
                checked += 1
        wait_settled(stack, second, 90)
        figures["checked"] = checked
        active = sum(client.get(f"/instances/{i}").json()["instance"]["status"] == "ACTIVE" for i in second)
        figures["ACTIVE in the end"] = f"{active} of {len(second)}"
        figures["settled after the kill"] = time.monotonic() - killed

        # A create whose answer was lost with the engine may have made a stack all the same.
        listed = {i["id"] for i in client.get("/instances", params={"limit": 100}).json()["instances"]}
        unanswered = sorted(listed - set(first) - set(second))
        figures["made, yet refused"] = len(unanswered)
        second += unanswered
        wait_settled(stack, unanswered, 60)
        started = time.monotonic()
        for instance_id in first + second:
            client.delete_and_wait(instance_id, timeout=180)
        figures["delete all"] = time.monotonic() - started
        left_behind = [i for i in stack.embedded.driver.list() if i.owner.get("stack_id") in first + second]
        figures["servers left"] = len(left_behind)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--modes", default="legacy,convergence")
    args = parser.parse_args()
    results = {mode: run(mode, args.count) for mode in args.modes.split(",")}
    print(f"{args.count} creates per burst, 2 engines; engine-1 SIGKILLed in the second burst once it holds work")
    rows = list(next(iter(results.values())))
    print(f"{'':26}" + "".join(f"{mode:>14}" for mode in results))
    for row in rows:
        cells = [results[mode][row] for mode in results]
        print(f"{row:26}" + "".join(f"{c:>13.1f}s" if isinstance(c, float) else f"{c:>14}" for c in cells))


if __name__ == "__main__":
    main()
