#!/usr/bin/env python3
"""Instance list latency with many instances, against a raw Heat stack list of the same
stacks in the same run, and how many Heat requests one API list costs.

    .venv/bin/python bench/list.py [--instances 200] [--repeat 20]
"""
import argparse
import concurrent.futures
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from dbaas_api import records  # noqa: E402
from dbaas_api.embedded import access_token  # noqa: E402
from bench.common import embedded_stack, median_ms  # noqa: E402


def heat_requests_logged(stack):
    log = stack.state_dir / "logs" / "heat.log"
    return log.read_text().count("Processing request:")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    with embedded_stack() as stack:
        project = "bench-list"
        client = stack.client(project)
        body = {"name": "", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "redis"}}
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(lambda i: client.create_instance(**dict(body, name=f"bench-{i:03d}"))["id"],
                                range(args.instances)))
            list(pool.map(client.wait_status, ids))
        print(f"created {len(ids)} instances (all ACTIVE) in {time.monotonic() - started:.1f} s")

        heat = f"{stack.settings.heat_endpoint}/{stack.settings.service_project}/stacks"
        owner = ",".join(records.instance.owners(project))
        print(f"{'request':<44}{'median ms':>10}")
        for limit in (20, 100):
            api_ms = median_ms(lambda: requests.get(f"{client.base}/instances", params={"limit": limit},
                                                    timeout=30).raise_for_status(), args.repeat)
            raw_ms = median_ms(lambda: requests.get(heat, params={"tags": owner, "limit": limit + 1,
                                                                  "sort_keys": "creation_time", "sort_dir": "desc"},
                                                    headers={"X-Auth-Token": access_token.read(stack.state_dir)},
                                                    timeout=30).raise_for_status(), args.repeat)
            print(f"{f'GET /instances?limit={limit} (API)':<44}{api_ms:>10.1f}")
            print(f"{f'GET /stacks?tags=..&limit={limit + 1} (raw Heat)':<44}{raw_ms:>10.1f}"
                  f"   API/raw {api_ms / raw_ms:.2f}x")

        before = heat_requests_logged(stack)
        for _ in range(args.repeat):
            requests.get(f"{client.base}/instances/detail", timeout=30).raise_for_status()
        per_request = (heat_requests_logged(stack) - before) / args.repeat
        print(f"Heat requests per API list request: {per_request:.1f}")

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(client.delete_and_wait, ids))
        print(f"deleted {len(ids)} instances in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
