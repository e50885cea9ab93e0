"""Replication end to end: HTTP -> API -> real Heat -> plugins -> real datastore servers.

Replicas made with replica_of/replica_count, writes on the primary read on every replica,
a switchover (promote_to_replica_source) under a steady write load that loses no
acknowledged write, a failover (eject_replica_source) after the primary is killed, a detach
that leaves a writable standalone instance, and the refusals in between.
"""
import os
import signal
import threading
import time
import uuid

import psycopg2
import pymysql
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.e2e.support import eventually, settled
from tests.e2e.test_instances import local_instance_of

USER, PASSWORD, DATABASE = "app", "s3cret-Pw!", "appdb"


class SQL:
    """A table t of ids, written and read as the instance's user."""
    create_fields = {"databases": [{"name": DATABASE}],
                     "users": [{"name": USER, "password": PASSWORD, "databases": [{"name": DATABASE}]}]}

    def setup(self, host):
        self.insert(host, statement="CREATE TABLE t (id int primary key)")

    def insert(self, host, *ids, statement="INSERT INTO t VALUES (%s)"):
        connection = self.connect(host)
        try:
            with connection.cursor() as cursor:
                for value in ids or (None,):
                    cursor.execute(statement, (value,) if value is not None else None)
        finally:
            connection.close()

    def rows(self, host):
        connection = self.connect(host)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id FROM t ORDER BY id")
                return [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()


class PostgreSQL(SQL):
    name, version = "postgresql", "15"
    read_only = psycopg2.errors.ReadOnlySqlTransaction
    errors = (psycopg2.Error,)

    def connect(self, host):
        connection = psycopg2.connect(host=host, port=5432, user=USER, password=PASSWORD, dbname=DATABASE,
                                      connect_timeout=3)
        connection.autocommit = True
        return connection


class MariaDB(SQL):
    name, version = "mariadb", "10.11"
    read_only = pymysql.err.OperationalError   # 1290: running with --read-only
    errors = (pymysql.MySQLError,)

    def connect(self, host):
        return pymysql.connect(host=host, port=3306, user=USER, password=PASSWORD, database=DATABASE,
                               connect_timeout=3, autocommit=True)


class Redis:
    """A set t of ids; the source's users are on its replicas (a copy of its ACL file)."""
    name, version = "redis", "7"
    create_fields = {"users": [{"name": USER, "password": PASSWORD}]}
    read_only = redis.ReadOnlyError
    errors = (redis.RedisError,)

    def connect(self, host):
        return redis.Redis(host=host, port=6379, username=USER, password=PASSWORD, socket_timeout=3,
                           socket_connect_timeout=3, retry=Retry(NoBackoff(), 0))

    def setup(self, host):
        pass

    def insert(self, host, *ids):
        client = self.connect(host)
        try:
            for value in ids:
                client.sadd("t", value)
        finally:
            client.close()

    def rows(self, host):
        client = self.connect(host)
        try:
            return sorted(int(value) for value in client.smembers("t"))
        finally:
            client.close()


DATASTORES = {"postgresql": PostgreSQL(), "mariadb": MariaDB(), "redis": Redis()}


def rows(ds, host):
    return ds.rows(host)


def insert(ds, host, *ids):
    ds.insert(host, *ids)


def has_rows(ds, host, ids):
    try:
        return set(ids) <= set(rows(ds, host))
    except ds.errors:
        return False


class Writer(threading.Thread):
    """Inserts increasing ids into whichever of ``hosts`` takes them, recording each one
    the server acknowledged (its COMMIT returned)."""

    def __init__(self, ds, hosts):
        super().__init__(daemon=True)
        self.ds, self.hosts, self.acknowledged, self.failures = ds, list(hosts), [], 0
        self.stopping = threading.Event()

    def run(self):
        value = 0
        while not self.stopping.is_set():
            value += 1
            for host in self.hosts:
                try:
                    insert(self.ds, host, value)
                    self.acknowledged.append(value)
                    break
                except self.ds.errors:
                    self.failures += 1
            time.sleep(0.005)

    def stop(self):
        self.stopping.set()
        self.join(30)


def wait_settled(stack, client, *ids):
    for instance_id in ids:
        settled(stack, instance_id, timeout=180)
    return [client.wait_status(instance_id) for instance_id in ids]


def action(client, instance_id, name):
    return client.post(f"/instances/{instance_id}/action", {name: {}})


@pytest.fixture
def project(stack):
    client = stack.client(f"repl-{uuid.uuid4().hex[:8]}")
    made = []
    yield client, made
    for instance_id in reversed(made):   # replicas before their source
        client.put(f"/instances/{instance_id}", {"instance": {"replica_of": None}})
    for instance_id in reversed(made):
        try:
            settled(stack, instance_id, timeout=120)
        except AssertionError:
            pass
        client.delete_and_wait(instance_id)


@pytest.mark.parametrize("datastore", sorted(DATASTORES))
def test_replicas_promote_eject_detach(stack, project, datastore):
    ds = DATASTORES[datastore]
    client, made = project
    primary = client.create_instance(
        name="primary", flavorRef="1", volume={"size": 1}, datastore={"type": ds.name, "version": ds.version},
        **ds.create_fields)
    made.append(primary["id"])
    primary_host = client.wait_status(primary["id"])["ip"][0]
    ds.setup(primary_host)
    insert(ds, primary_host, -2, -1)

    # Two replicas in one request: the answer is the first; each is an instance of its own.
    first = client.create_instance(name="replica", replica_of=primary["id"], replica_count=2)
    assert first["replica_of"]["id"] == primary["id"] and first["status"] == "BUILD"
    replicas = [i for i in client.get("/instances").json()["instances"] if i.get("replica_of")]
    assert sorted(i["name"] for i in replicas) == ["replica-1", "replica-2"]
    assert {i["replica_of"]["id"] for i in replicas} == {primary["id"]}
    replica_ids = [first["id"]] + [i["id"] for i in replicas if i["id"] != first["id"]]
    made.extend(replica_ids)
    shown = wait_settled(stack, client, *replica_ids)
    replica_hosts = [instance["ip"][0] for instance in shown]
    source_view = client.get(f"/instances/{primary['id']}").json()["instance"]
    assert sorted(r["id"] for r in source_view["replicas"]) == sorted(replica_ids)
    assert "replica_of" not in source_view
    assert all(instance["datastore"] == source_view["datastore"] for instance in shown)
    assert PASSWORD not in str(shown)

    # Writes on the primary appear on every replica; a replica takes none itself.
    insert(ds, primary_host, 0)
    for host in replica_hosts:
        assert eventually(lambda: has_rows(ds, host, [-2, -1, 0]), timeout=10), host
        with pytest.raises(ds.read_only):
            insert(ds, host, 99)

    # What is refused, with the instances untouched.
    other = stack.client(f"other-{uuid.uuid4().hex[:8]}")
    refused = [
        (other.post("/instances", {"instance": {"name": "x", "replica_of": primary["id"]}}), 400),
        (client.post("/instances", {"instance": {"name": "x", "replica_of": replica_ids[0]}}), 400),
        (client.post("/instances", {"instance": {"name": "x", "replica_of": primary["id"], "replica_count": 4}}), 400),
        (client.post("/instances", {"instance": {"name": "x", "replica_of": primary["id"],
                                                 "datastore": {"type": "mariadb" if datastore == "redis"
                                                               else "redis"}}}), 400),
        (client.post("/instances", {"instance": {"name": "x", "replica_of": primary["id"],
                                                 "databases": [{"name": "d"}]}}), 400),
        (client.post("/instances", {"instance": {"name": "x", "flavorRef": "1", "volume": {"size": 1},
                                                 "replica_count": 2}}), 400),
        (action(client, primary["id"], "promote_to_replica_source"), 400),
        (action(client, primary["id"], "eject_replica_source"), 400),    # the source is alive (Trove: 400)
        (action(client, replica_ids[0], "eject_replica_source"), 400),   # its source is alive
        (action(other, replica_ids[0], "promote_to_replica_source"), 404),
        (client.post(f"/instances/{replica_ids[0]}/users", {"users": [{"name": "u2", "password": "pw-u2-123"}]}), 400),
        (client.put(f"/instances/{primary['id']}", {"instance": {"replica_of": None}}), 400),
        (client.put(f"/instances/{replica_ids[0]}", {"instance": {"replica_of": primary["id"]}}), 400),
        (client.delete(f"/instances/{primary['id']}"), 400),
    ]
    for response, code in refused:
        assert response.status_code == code, (response.request.method, response.request.url, response.text)
        assert "Traceback" not in response.text
    assert len(client.get("/instances").json()["instances"]) == 3

    # Switchover under a steady write load: no acknowledged write is lost.
    new_primary, old_primary = replica_ids[0], primary["id"]
    writer = Writer(ds, [primary_host, replica_hosts[0]])
    writer.start()
    time.sleep(0.5)
    started = time.monotonic()
    response = action(client, new_primary, "promote_to_replica_source")
    assert response.status_code == 202, response.text
    wait_settled(stack, client, new_primary, old_primary, replica_ids[1])
    switchover = time.monotonic() - started
    time.sleep(0.5)
    writer.stop()
    assert len(writer.acknowledged) > 20
    found = set(rows(ds, replica_hosts[0]))
    lost = [value for value in writer.acknowledged if value not in found]
    assert lost == [], f"{len(lost)} acknowledged writes lost"
    print(f"{datastore} switchover: {switchover:.2f} s, {len(writer.acknowledged)} acknowledged writes, "
          f"{writer.failures} refused while fenced")

    views = {i["id"]: i for i in client.get("/instances").json()["instances"]}
    assert "replica_of" not in views[new_primary]
    assert views[old_primary]["replica_of"]["id"] == new_primary
    assert views[replica_ids[1]]["replica_of"]["id"] == new_primary
    shown = client.get(f"/instances/{new_primary}").json()["instance"]
    assert sorted(r["id"] for r in shown["replicas"]) == sorted([old_primary, replica_ids[1]])
    insert(ds, replica_hosts[0], 1000)
    for host in (primary_host, replica_hosts[1]):
        assert eventually(lambda: has_rows(ds, host, writer.acknowledged + [1000]), timeout=10), host
        with pytest.raises(ds.read_only):
            insert(ds, host, 1001)

    # Failover: the new primary dies; eject makes the most advanced replica the primary.
    killed = local_instance_of(stack, new_primary)
    os.kill(killed.pid, signal.SIGKILL)
    assert eventually(lambda: not has_rows(ds, replica_hosts[0], [1000]), timeout=10)
    response = action(client, new_primary, "eject_replica_source")   # asked of the dead source, as Trove does
    assert response.status_code == 202, response.text
    wait_settled(stack, client, old_primary, replica_ids[1])
    views = {i["id"]: i for i in client.get("/instances").json()["instances"]}
    survivors = [old_primary, replica_ids[1]]
    winner = next(i for i in survivors if "replica_of" not in views[i])
    follower = next(i for i in survivors if i != winner)
    assert views[follower]["replica_of"]["id"] == winner
    assert "replicas" not in client.get(f"/instances/{new_primary}").json()["instance"]
    hosts = {old_primary: primary_host, replica_ids[1]: replica_hosts[1]}
    insert(ds, hosts[winner], 2000)
    assert eventually(lambda: has_rows(ds, hosts[follower], [1000, 2000]), timeout=10)

    # Detach: the last replica becomes a writable standalone instance.
    response = client.put(f"/instances/{follower}", {"instance": {"replica_of": ""}})
    assert response.status_code == 202, response.text
    detached = wait_settled(stack, client, follower)[0]
    assert "replica_of" not in detached
    insert(ds, hosts[follower], 3000)
    assert not has_rows(ds, hosts[winner], [3000])
    assert "replicas" not in client.get(f"/instances/{winner}").json()["instance"]


@pytest.mark.parametrize("datastore", sorted(DATASTORES))
def test_replicas_keep_following_across_a_service_restart(stack, project, datastore):
    """Every process down (engine, API, servers) and up again: the replica is still a
    read-only replica of its source and gets what is written there next."""
    ds = DATASTORES[datastore]
    client, made = project
    primary = client.create_instance(name="kept", flavorRef="1", volume={"size": 1},
                                     datastore={"type": ds.name, "version": ds.version}, **ds.create_fields)
    made.append(primary["id"])
    primary_host = client.wait_status(primary["id"])["ip"][0]
    ds.setup(primary_host)
    replica = client.create_instance(name="kept-replica", replica_of=primary["id"])
    made.append(replica["id"])
    replica_host = client.wait_status(replica["id"])["ip"][0]

    stack.down()
    stack.up()

    client.wait_status(primary["id"])
    assert client.wait_status(replica["id"])["replica_of"]["id"] == primary["id"]
    insert(ds, primary_host, 7)
    assert eventually(lambda: has_rows(ds, replica_host, [7]), timeout=15)
    with pytest.raises(ds.read_only):
        insert(ds, replica_host, 8)

@pytest.mark.parametrize("datastore", sorted(DATASTORES))
def test_a_backup_of_a_replica_restores_as_a_writable_instance(stack, project, datastore):
    ds = DATASTORES[datastore]
    client, made = project
    primary = client.create_instance(name="bk-source", flavorRef="1", volume={"size": 1},
                                     datastore={"type": ds.name, "version": ds.version}, **ds.create_fields)
    made.append(primary["id"])
    primary_host = client.wait_status(primary["id"])["ip"][0]
    ds.setup(primary_host)
    insert(ds, primary_host, 1, 2)
    replica = client.create_instance(name="bk-replica", replica_of=primary["id"])
    made.append(replica["id"])
    replica_host = client.wait_status(replica["id"])["ip"][0]
    assert eventually(lambda: has_rows(ds, replica_host, [1, 2]), timeout=10)

    response = client.post("/backups", {"backup": {"name": "of-a-replica", "instance": replica["id"]}})
    assert response.status_code == 202, response.text
    backup_id = response.json()["backup"]["id"]
    try:
        deadline = time.monotonic() + 180
        while (backup := client.get(f"/backups/{backup_id}").json()["backup"])["status"] != "COMPLETED":
            assert backup["status"] not in ("FAILED", "DELETE_FAILED") and time.monotonic() < deadline, backup
            time.sleep(0.1)
        restored = client.create_instance(
            name="bk-restored", flavorRef="1", volume={"size": 1}, datastore={"type": ds.name},
            restorePoint={"backupRef": backup_id},
            **({"users": ds.create_fields["users"]} if datastore == "redis" else {}))
        made.append(restored["id"])
        shown = client.wait_status(restored["id"])
        assert "replica_of" not in shown
        insert(ds, shown["ip"][0], 3)
        assert set(rows(ds, shown["ip"][0])) == {1, 2, 3}
        assert not has_rows(ds, primary_host, [3])
    finally:
        client.delete(f"/backups/{backup_id}")

def test_replication_with_the_openstack_cli(keystone, keystone_stack):
    """The unmodified ``openstack database instance`` commands (python-troveclient) against the
    keystone profile: create --replica-of, show, promote, eject, detach; another project's
    user is refused."""
    from tests.e2e.test_clients import cli, cli_json

    alice, bob = keystone.account("alice"), keystone.account("bob")
    http = keystone_stack.client(keystone.project_ids[alice.project_name], keystone.token("alice"))
    ds = DATASTORES["postgresql"]
    primary = http.create_instance(name="cli-source", flavorRef="1", volume={"size": 1},
                                   datastore={"type": "postgresql", "version": "15"}, **ds.create_fields)
    made = [primary["id"]]
    try:
        primary_host = http.wait_status(primary["id"])["ip"][0]
        ds.setup(primary_host)
        insert(ds, primary_host, 1)
        replica = cli_json(alice, "database", "instance", "create", "cli-replica", "--replica-of", "cli-source",
                           "--size", "1")
        made.append(replica["id"])
        assert replica["replica_of"] == primary["id"]
        replica_host = http.wait_status(replica["id"])["ip"][0]
        assert eventually(lambda: has_rows(ds, replica_host, [1]), timeout=10)
        shown = cli_json(alice, "database", "instance", "show", "cli-source")
        assert shown["replicas"] == replica["id"]
        listed = {row["ID"]: row for row in cli_json(alice, "database", "instance", "list")}
        assert listed[replica["id"]]["Role"] == "replica" and listed[primary["id"]]["Role"] == "primary"
        assert [a["address"] for a in listed[replica["id"]]["Addresses"]] == [replica_host]

        assert cli(bob, "database", "instance", "promote", replica["id"]).returncode != 0
        assert cli(alice, "database", "instance", "eject", "cli-source").returncode != 0   # it is alive

        done = cli(alice, "database", "instance", "promote", "cli-replica")
        assert done.returncode == 0, done.stderr
        wait_settled(keystone_stack, http, replica["id"], primary["id"])
        assert cli_json(alice, "database", "instance", "show", "cli-source")["replica_of"] == replica["id"]
        insert(ds, replica_host, 2)
        assert eventually(lambda: has_rows(ds, primary_host, [1, 2]), timeout=10)

        os.kill(local_instance_of(keystone_stack, replica["id"]).pid, signal.SIGKILL)
        assert eventually(lambda: cli(alice, "database", "instance", "eject", "cli-replica").returncode == 0,
                          timeout=20)
        wait_settled(keystone_stack, http, primary["id"])
        assert "replica_of" not in cli_json(alice, "database", "instance", "show", "cli-source")
        insert(ds, primary_host, 3)

        done = cli(alice, "database", "instance", "detach", "cli-source")   # not a replica any more
        assert done.returncode != 0 and "not a replica" in done.stderr
    finally:
        for instance_id in reversed(made):
            http.delete_and_wait(instance_id)
