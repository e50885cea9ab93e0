#!/usr/bin/env python3
"""Replication lag under load, and how long a promote (switchover) and an eject (failover)
take until the new primary accepts writes, through the API and real Heat, beside the same
role change done by hand on bare servers in the same run, and beside the anchors' figures.

    lag:      a writer inserts (or SETs) as fast as one connection can on the primary; a
              reader polls a replica; lag = the time from a write's acknowledgement to its
              being readable on the replica (p50, p95, max)
    promote:  POST promote_to_replica_source -> the first write the replica accepts
              (then: every stack of the set settled)
    eject:    primary killed (SIGKILL) -> POST eject_replica_source -> the first write a
              replica accepts
    bare:     on a second set made through the API, the same switchover by the driver alone
              (fence the primary, wait until the replica has replayed it all, promote: the
              datastore's own statements), no API, no Heat

Anchors (published): AWS RDS Multi-AZ failover 60-120 s; this project's target for
promote: under 10 s.

    .venv/bin/python bench/replication.py [--datastores postgresql] [--seconds 5]
"""
import argparse
import os
import signal
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.support import admin_password, settled  # noqa: E402
from bench.common import embedded_stack  # noqa: E402

import psycopg2  # noqa: E402
import pymysql  # noqa: E402
import redis  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402
from redis.retry import Retry  # noqa: E402

USER, PASSWORD, DATABASE = "bench", "bench-Passw0rd", "benchdb"
RDS_MULTI_AZ_FAILOVER = "60-120 s"
TARGET_PROMOTE = 10.0


class PostgreSQLClient:
    name, version = "postgresql", "15"
    errors = (psycopg2.Error,)
    create_fields = {"databases": [{"name": DATABASE}],
                     "users": [{"name": USER, "password": PASSWORD, "databases": [{"name": DATABASE}]}]}

    def connect(self, host):
        connection = psycopg2.connect(host=host, port=5432, user=USER, password=PASSWORD, dbname=DATABASE,
                                      connect_timeout=2)
        connection.autocommit = True
        return connection

    def setup(self, host):
        with self.connect(host) as connection, connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS t (id bigint primary key)")

    def writer(self, host):
        connection = self.connect(host)
        cursor = connection.cursor()

        def write(value):
            cursor.execute("INSERT INTO t VALUES (%s)", (value,))
        return write, connection.close

    def reader(self, host):
        connection = self.connect(host)
        cursor = connection.cursor()

        def newest():
            cursor.execute("SELECT max(id) FROM t")
            return cursor.fetchone()[0] or 0
        return newest, connection.close

    def try_write(self, host, value):
        try:
            connection = self.connect(host)
        except self.errors:
            return False
        try:
            with connection.cursor() as cursor:
                cursor.execute("INSERT INTO t VALUES (%s)", (value,))
            return True
        except self.errors:
            return False
        finally:
            connection.close()


class MariaDBClient(PostgreSQLClient):
    name, version = "mariadb", "10.11"
    errors = (pymysql.MySQLError,)

    def connect(self, host):
        return pymysql.connect(host=host, port=3306, user=USER, password=PASSWORD, database=DATABASE,
                               connect_timeout=2, autocommit=True)


class RedisClient:
    name, version = "redis", "7"
    errors = (redis.RedisError,)
    create_fields = {"users": [{"name": USER, "password": PASSWORD}]}

    def connect(self, host):
        return redis.Redis(host=host, port=6379, username=USER, password=PASSWORD, socket_timeout=2,
                           socket_connect_timeout=2, retry=Retry(NoBackoff(), 0))

    def setup(self, host):
        pass

    def writer(self, host):
        client = self.connect(host)
        return (lambda value: client.set("newest", value)), client.close

    def reader(self, host):
        client = self.connect(host)
        return (lambda: int(client.get("newest") or 0)), client.close

    def try_write(self, host, value):
        client = self.connect(host)
        try:
            client.set("probe", value)
            return True
        except self.errors:
            return False
        finally:
            client.close()


def bare_switchover(stack, ds, primary, replica, password):
    """The same switchover without the API and Heat: the driver's own steps on the servers
    (fence the primary, wait until the replica has replayed it all, promote), then the
    first write the new primary accepts."""
    old, new = local(stack, primary), local(stack, replica)
    started = time.monotonic()
    stack.embedded.driver.promote(new.key, password, fenced=old.key)
    while not ds.try_write(new.address, 10 ** 9):
        time.sleep(0.005)
    return time.monotonic() - started


CLIENTS = {"postgresql": PostgreSQLClient(), "mariadb": MariaDBClient(), "redis": RedisClient()}


def local(stack, instance_id):
    for instance in stack.embedded.driver.list():
        if instance.owner.get("stack_id") == instance_id:
            return instance
    raise LookupError(instance_id)


def make_set(client, ds, replicas=2):
    project_client = client
    primary = project_client.create_instance(name=f"bench-{ds.name}", flavorRef="2", volume={"size": 1},
                                             datastore={"type": ds.name, "version": ds.version},
                                             **ds.create_fields)
    host = project_client.wait_status(primary["id"], timeout=300)["ip"][0]
    ds.setup(host)
    first = project_client.create_instance(name="bench-replica", replica_of=primary["id"], replica_count=replicas)
    ids = [i["id"] for i in project_client.get("/instances").json()["instances"]
           if (i.get("replica_of") or {}).get("id") == primary["id"]]
    ids.sort(key=lambda i: i != first["id"])
    hosts = {primary["id"]: host}
    for replica in ids:
        hosts[replica] = project_client.wait_status(replica, timeout=300)["ip"][0]
    return primary["id"], ids, hosts


def lag(ds, primary_host, replica_host, seconds):
    """Acknowledged write -> readable on the replica, for every write of ``seconds`` of load."""
    acknowledged = {}
    seen = {}
    stop = threading.Event()

    def write_loop():
        write, close = ds.writer(primary_host)
        value = 0
        while not stop.is_set():
            value += 1
            write(value)
            acknowledged[value] = time.monotonic()
        close()

    def read_loop():
        newest, close = ds.reader(replica_host)
        last = 0
        while not stop.is_set() or last < max(acknowledged, default=0):
            current = newest()
            now = time.monotonic()
            for value in range(last + 1, current + 1):
                seen[value] = now
            last = max(last, current)
            if stop.is_set() and time.monotonic() > stop_time[0] + 10:
                break
        close()

    stop_time = [0.0]
    threads = [threading.Thread(target=write_loop), threading.Thread(target=read_loop)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop_time[0] = time.monotonic()
    stop.set()
    for thread in threads:
        thread.join(30)
    delays = sorted((seen[v] - acknowledged[v]) * 1000 for v in acknowledged if v in seen)
    return len(acknowledged) / seconds, delays


def until_writable(ds, host, started, timeout=120):
    value = 10 ** 8 + int(time.monotonic() * 1000) % 10 ** 6
    while time.monotonic() - started < timeout:
        if ds.try_write(host, value):
            return time.monotonic() - started
        time.sleep(0.01)
    return float("nan")


def run(stack, name, seconds):
    ds = CLIENTS[name]
    client = stack.client(f"bench-repl-{uuid.uuid4().hex[:6]}")
    made = []
    try:
        primary, replicas, hosts = make_set(client, ds)
        made += [primary] + replicas
        rate, delays = lag(ds, hosts[primary], hosts[replicas[0]], seconds)
        print(f"\n{name}: replication lag under load ({rate:.0f} acknowledged writes/s, one connection)")
        print(f"  ack -> readable on a replica: p50 {statistics.median(delays):.1f} ms, "
              f"p95 {delays[int(len(delays) * 0.95) - 1]:.1f} ms, max {delays[-1]:.1f} ms "
              f"({len(delays)} writes)")

        started = time.monotonic()
        response = client.post(f"/instances/{replicas[0]}/action", {"promote_to_replica_source": {}})
        assert response.status_code == 202, response.text
        writable = until_writable(ds, hosts[replicas[0]], started)
        for member in made:
            settled(stack, member, timeout=300)
        promote_settled = time.monotonic() - started

        new_primary, followers = replicas[0], [primary, replicas[1]]
        os.kill(local(stack, new_primary).pid, signal.SIGKILL)
        killed = time.monotonic()
        while True:   # the API answers 409 until the dead server stops answering its stack's show
            eject_started = time.monotonic()
            response = client.post(f"/instances/{followers[0]}/action", {"eject_replica_source": {}})
            if response.status_code == 202:
                break
            assert response.status_code == 409, response.text
            time.sleep(0.05)
        writable_eject = None
        while writable_eject is None and time.monotonic() - eject_started < 120:
            for follower in followers:
                if ds.try_write(hosts[follower], 10 ** 8 + 7):
                    writable_eject = time.monotonic() - eject_started
                    break
            time.sleep(0.01)
        for member in followers:
            settled(stack, member, timeout=300)

        # The bare baseline on a second set.
        bare_primary, bare_replicas, _ = make_set(client, ds, replicas=1)
        made += [bare_primary] + bare_replicas
        bare = bare_switchover(stack, ds, bare_primary, bare_replicas[0], admin_password(stack, bare_primary))

        print(f"{name}: time until the new primary accepts writes")
        print(f"  {'promote (switchover), API + Heat':44s} {writable:6.2f} s   "
              f"(every stack settled: {promote_settled:.2f} s)   target < {TARGET_PROMOTE:.0f} s")
        print(f"  {'same switchover, driver only (no API/Heat)':44s} {bare:6.2f} s")
        print(f"  {'eject (failover), API + Heat':44s} {writable_eject:6.2f} s   "
              f"(from the kill: {writable_eject + eject_started - killed:.2f} s)")
        print(f"  {'AWS RDS Multi-AZ failover (published)':44s} {RDS_MULTI_AZ_FAILOVER:>8s}")
    finally:
        for instance_id in made:
            client.put(f"/instances/{instance_id}", {"instance": {"replica_of": None}})
        for instance_id in made:
            try:
                settled(stack, instance_id, timeout=120)
            except AssertionError:
                pass
        for instance_id in reversed(made):
            client.delete_and_wait(instance_id, timeout=300)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datastores", default=",".join(CLIENTS))
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of write load for the lag")
    args = parser.parse_args()
    with embedded_stack() as stack:
        for name in args.datastores.split(","):
            run(stack, name, args.seconds)


if __name__ == "__main__":
    main()
