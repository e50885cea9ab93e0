#!/usr/bin/env python3
"""Scale on the production profile (issue 16, Benchmarks), bounded in count and time, each
figure beside Heat's own for the same work in the same run (the bare baseline):

- creates per second to ACTIVE with 1, 2 and 4 heat-engines (a burst of --creates Redis
  instances) against raw Heat stacks of one OS::Heat::None each, and the latency of a
  change (a new user that logs in) made while the burst runs;
- a page of the instance list (limit 20) with --records instance records, first a tenth of
  them: the API against Heat's own stack list of the same page (records are stacks with an
  instance's tags and mark and no resources: a list reads only tags);
- show and list throughput and p50/p99 under --clients concurrent readers for --seconds
  each, 1 API worker against 4, against the same reads of Heat itself.

    .venv/bin/python bench/scale.py [--creates 8] [--records 1000] [--clients 16] [--seconds 5]
"""
import argparse
import concurrent.futures
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from bench.common import embedded_stack, median_ms, until  # noqa: E402
from dbaas_api import tags  # noqa: E402
from dbaas_api.embedded import access_token  # noqa: E402
from dbaas_api.stack_marks import StackMarks  # noqa: E402
from tests.e2e.support import can_login  # noqa: E402

PASSWORD = "bench-Passw0rd"
NONE_TEMPLATE = {"heat_template_version": "2021-04-16", "resources": {"none": {"type": "OS::Heat::None"}}}
EMPTY_TEMPLATE = {"heat_template_version": "2021-04-16", "resources": {}}


class Heat:
    """Heat's own API, as the API's client of it sees it: the baseline."""

    def __init__(self, stack):
        self.base = f"{stack.settings.heat_endpoint}/{stack.settings.service_project}"
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = access_token.read(stack.state_dir)
        self.marks = StackMarks(stack.state_dir)

    def create(self, name, template, tag_list=()):
        response = self.session.post(f"{self.base}/stacks", timeout=60, json={
            "stack_name": name, "template": template, "tags": ",".join(self.marks.tagged(name, list(tag_list)))})
        response.raise_for_status()
        return response.json()["stack"]["id"]

    def status(self, name, stack_id):
        return self.session.get(f"{self.base}/stacks/{name}/{stack_id}", timeout=60).json()["stack"]["stack_status"]

    def page(self, project, limit=20):
        params = {"tags": ",".join(tags.owner_filter(project)), "limit": limit + 1,
                  "sort_keys": "creation_time", "sort_dir": "desc"}
        response = self.session.get(f"{self.base}/stacks", params=params, timeout=60)
        response.raise_for_status()
        return response


def parallel(function, items, width=8):
    with concurrent.futures.ThreadPoolExecutor(width) as pool:
        return list(pool.map(function, items))


def create_burst(stack, client, heat, count, changed):
    """Seconds for ``count`` creates to ACTIVE, with a change to ``changed`` (its new user
    logs in) made during them, and the same count of raw Heat stacks to CREATE_COMPLETE."""
    body = {"flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "redis"}}
    user = f"u{uuid.uuid4().hex[:8]}"
    change = {}

    def make_change():
        time.sleep(0.2)   # the burst is under way
        started = time.monotonic()
        client.post(f"/instances/{changed['id']}/users", {"users": [{"name": user, "password": PASSWORD}]}
                    ).raise_for_status()
        until(lambda: can_login("redis", changed["ip"][0], user, PASSWORD), 120, pause=0.02)
        change["seconds"] = time.monotonic() - started

    changing = threading.Thread(target=make_change)
    started = time.monotonic()
    changing.start()
    answers = parallel(lambda n: client.post("/instances", {"instance": dict(body, name=f"burst-{n}")}),
                       range(count), count)
    ids = [a.json()["instance"]["id"] for a in answers if a.status_code == 200]
    if len(ids) < count:
        print(f"   refused: {[(a.status_code, a.text[:200]) for a in answers if a.status_code != 200]}")
    parallel(lambda i: client.wait_status(i, timeout=300), ids, count)
    ours = time.monotonic() - started
    changing.join()
    until(lambda: stack_settled(heat, changed["id"]), 120, pause=0.05)

    started = time.monotonic()
    names = [f"raw-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    raw_ids = parallel(lambda name: heat.create(name, NONE_TEMPLATE), names, count)
    parallel(lambda pair: until(lambda: heat.status(*pair) == "CREATE_COMPLETE", 120, pause=0.02),
             list(zip(names, raw_ids)), count)
    return ids, ours, time.monotonic() - started, change["seconds"]   # ids: the creates answered


def stack_settled(heat, instance_id):
    response = heat.session.get(f"{heat.base}/stacks/{instance_id}", timeout=60)
    return not response.json()["stack"]["stack_status"].endswith("_IN_PROGRESS")


def add_records(heat, project, count, first):
    """``count`` instance records (stacks with an instance's tags and mark, no resources)."""
    def record(n):
        instance = tags.InstanceTags(project_id=project, datastore="redis", version="7", flavor_id="1",
                                     volume_size=1, name=f"record-{n:04d}")
        return heat.create(f"record-{uuid.uuid4().hex[:12]}", EMPTY_TEMPLATE, tags.encode(instance))
    parallel(record, range(first, first + count))


def load(call, clients, seconds):
    """Requests per second, p50 and p99 in ms, of ``clients`` threads calling for ``seconds``."""
    times, failures = [], []
    deadline = time.monotonic() + seconds

    def reader():
        session = requests.Session()
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                ok = call(session).status_code == 200
            except requests.RequestException:
                ok = False
            (times if ok else failures).append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=reader) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.sort()
    if not times:
        return 0.0, float("nan"), float("nan"), len(failures)
    return (len(times) / seconds, times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))],
            len(failures))


def restart_api(stack, workers):
    api = stack.embedded.api
    api.stop()
    env = stack.embedded._env()
    env["DBAAS_API_WORKERS"] = str(workers)
    api.start(env)
    api.wait_healthy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=8)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    began = time.monotonic()
    with embedded_stack(profile="production", heat_engines=1) as stack:
        project = f"scale-{uuid.uuid4().hex[:8]}"
        client, heat = stack.client(project), Heat(stack)
        changed = client.create_instance(name="changed", flavorRef="1", volume={"size": 1},
                                         datastore={"type": "redis"})
        changed = client.wait_status(changed["id"])

        print(f"== {args.creates} creates at once (Redis) to ACTIVE, and one change during them")
        print(f"{'engines':>8}{'creates/s':>11}{'raw Heat/s':>12}{'ours/raw':>10}{'change s':>10}")
        for engines in (1, 2, 4):
            while len(stack.embedded.engines) < engines:
                stack.embedded.add_engine()
            ids, ours, raw, change = create_burst(stack, client, heat, args.creates, changed)
            print(f"{engines:>8}{len(ids) / ours:>11.2f}{args.creates / raw:>12.2f}{raw / ours:>10.2f}"
                  f"{change:>10.2f}")

        print("\n== a page of the list (limit 20), median of 20 (API: two Heat calls, the page and its "
              "replicas; raw: the page's call)")
        print(f"{'records':>8}{'API ms':>9}{'raw ms':>9}{'API/raw':>9}")
        made = 0
        for total in (args.records // 10, args.records):
            add_records(heat, project, total - made, made)
            made = total
            api_ms = median_ms(lambda: client.get("/instances", params={"limit": 20}).raise_for_status())
            raw_ms = median_ms(lambda: heat.page(project))
            print(f"{total:>8}{api_ms:>9.1f}{raw_ms:>9.1f}{api_ms / raw_ms:>9.2f}")

        print(f"\n== reads under load: {args.clients} clients for {args.seconds:.0f} s each "
              f"({args.records} records; the load generator shares the 2 cores)")
        print(f"{'':22}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'failed':>8}")
        show = f"{client.base}/instances/{changed['id']}"
        raw_show = heat.session.get(f"{heat.base}/stacks/{changed['id']}", timeout=60).url   # /stacks/{name}/{id}
        reads = {
            "raw Heat show": lambda s: s.get(raw_show, headers=heat.session.headers, timeout=60),
            "raw Heat list page": lambda s: s.get(f"{heat.base}/stacks", headers=heat.session.headers, timeout=60,
                                                  params={"tags": ",".join(tags.owner_filter(project)),
                                                          "limit": 21}),
        }
        for name, call in reads.items():
            print(f"{name:22}" + "".join(f"{v:>8.1f}" if isinstance(v, float) else f"{v:>8}"
                                        for v in load(call, args.clients, args.seconds)))
        for workers in (1, 4):
            restart_api(stack, workers)
            for name, call in ((f"show, {workers} worker(s)", lambda s: s.get(show, timeout=60)),
                               (f"list, {workers} worker(s)",
                                lambda s: s.get(f"{client.base}/instances", params={"limit": 20}, timeout=60))):
                print(f"{name:22}" + "".join(f"{v:>8.1f}" if isinstance(v, float) else f"{v:>8}"
                                            for v in load(call, args.clients, args.seconds)))
    print(f"\n(whole run {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
