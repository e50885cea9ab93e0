"""Clusters end to end: HTTP -> API -> real Heat -> DBaaS::ClusterMember -> real MariaDB
Galera members on their own loopback addresses (and Redis Cluster nodes)."""
import time
import uuid

import pymysql
import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.e2e.support import admin_password, settled

GALERA = {"type": "mariadb", "version": "10.11"}
MEMBER = {"flavorRef": "1", "volume": {"size": 1}}


def create_cluster(client, datastore, count, name="c", **member):
    response = client.post("/clusters", {"cluster": {
        "name": name, "datastore": datastore, "instances": [dict(MEMBER, **member) for _ in range(count)]}})
    assert response.status_code == 200, response.text
    return response.json()["cluster"]


def wait_cluster(client, stack, cluster_id, members, timeout=240):
    """Wait for Heat, then the cluster with every member ACTIVE and no task."""
    settled(stack, cluster_id, timeout=timeout)
    response = client.get(f"/clusters/{cluster_id}")
    assert response.status_code == 200, response.text
    cluster = response.json()["cluster"]
    assert cluster["task"]["name"] == "NONE", cluster
    assert [m["status"] for m in cluster["instances"]] == ["ACTIVE"] * members, cluster
    return cluster


def mariadb(host, password, database=None):
    return pymysql.connect(host=host, port=3306, user="os_admin", password=password.encode(), database=database,
                           connect_timeout=5, autocommit=True)


def query(host, password, statement, database="shop"):
    connection = mariadb(host, password, database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall()
    finally:
        connection.close()


def wsrep(host, password, name):
    return query(host, password, f"SHOW GLOBAL STATUS LIKE '{name}'", database=None)[0][1]


def eventually(check, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (pymysql.MySQLError, redis.RedisError):
            value = None
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_galera_cluster_create_grow_shrink_delete(stack):
    client = stack.client(f"p-{uuid.uuid4().hex[:8]}")
    other = stack.client(f"p-{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    created = create_cluster(client, GALERA, 3, name="orders")
    assert created["task"]["name"] == "BUILDING" and len(created["instances"]) == 3
    cluster_id = created["id"]

    # Busy while it builds: another change is refused at once.
    busy = client.post(f"/clusters/{cluster_id}", {"grow": [MEMBER]})
    assert busy.status_code == 409, busy.text

    cluster = wait_cluster(client, stack, cluster_id, 3)
    print(f"3-member Galera cluster ACTIVE in {time.monotonic() - started:.1f} s")
    assert cluster["name"] == "orders" and cluster["datastore"] == {"type": "mariadb", "version": "10.11"}
    addresses = [m["ip"][0] for m in cluster["instances"]]
    assert len(set(addresses)) == 3 and sorted(cluster["ip"]) == sorted(addresses)
    assert [m["name"] for m in cluster["instances"]] == ["orders-member-1", "orders-member-2", "orders-member-3"]
    assert "password" not in str(cluster).lower()

    # Members are the cluster's: not in the instance list, but shown by id (as in Trove).
    member_ids = [m["id"] for m in cluster["instances"]]
    assert all(i["id"] not in member_ids + [cluster_id] for i in client.get("/instances").json()["instances"])
    member = client.get(f"/instances/{member_ids[0]}")
    assert member.status_code == 200 and member.json()["instance"]["cluster_id"] == cluster_id
    assert other.get(f"/instances/{member_ids[0]}").status_code == 404
    shown = client.get(f"/clusters/{cluster_id}/instances/{member_ids[1]}")
    assert shown.status_code == 200 and shown.json()["instance"]["ip"] == [addresses[1]]
    assert [c["id"] for c in client.get("/clusters").json()["clusters"]] == [cluster_id]

    # Another project sees nothing of it and can change nothing.
    assert other.get(f"/clusters/{cluster_id}").status_code == 404
    assert other.get("/clusters").json()["clusters"] == []
    assert other.post(f"/clusters/{cluster_id}", {"grow": [MEMBER]}).status_code == 404
    assert other.get(f"/clusters/{cluster_id}/instances/{member_ids[0]}").status_code == 404
    assert other.delete(f"/clusters/{cluster_id}").status_code == 404

    # A write on any member is read on all.
    password = admin_password(stack, cluster_id)
    query(addresses[0], password, "CREATE DATABASE shop", database=None)
    query(addresses[1], password, "CREATE TABLE items (id INT PRIMARY KEY, v VARCHAR(20))")
    for index, address in enumerate(addresses):
        query(address, password, f"INSERT INTO items VALUES ({index}, 'from-{index}')")
    for address in addresses:
        assert eventually(lambda: len(query(address, password, "SELECT * FROM items")) == 3), address
        assert eventually(lambda: wsrep(address, password, "wsrep_cluster_size") == "3")

    # Grow: the new member has the old data and takes writes the others read.
    response = client.post(f"/clusters/{cluster_id}", {"grow": [MEMBER]})
    assert response.status_code == 202, response.text
    assert client.get(f"/clusters/{cluster_id}").json()["cluster"]["task"]["name"] == "GROWING_CLUSTER"
    cluster = wait_cluster(client, stack, cluster_id, 4)
    new = cluster["instances"][3]
    assert new["name"] == "orders-member-4" and [m["id"] for m in cluster["instances"][:3]] == member_ids
    assert sorted(query(new["ip"][0], password, "SELECT id FROM items")) == [(0,), (1,), (2,)]
    query(new["ip"][0], password, "INSERT INTO items VALUES (3, 'from-new')")
    assert eventually(lambda: len(query(addresses[0], password, "SELECT * FROM items")) == 4)
    assert eventually(lambda: wsrep(addresses[0], password, "wsrep_cluster_size") == "4")

    # Shrink below three is refused; removing one of four (the first, which started the
    # cluster) leaves a writable cluster of three that all have every row.
    refused = client.post(f"/clusters/{cluster_id}", {"shrink": [{"id": member_ids[0]}, {"id": member_ids[1]}]})
    assert refused.status_code == 400, refused.text
    unknown = client.post(f"/clusters/{cluster_id}", {"shrink": [{"id": str(uuid.uuid4())}]})
    assert unknown.status_code == 400, unknown.text
    response = client.post(f"/clusters/{cluster_id}", {"shrink": [{"id": member_ids[0]}]})
    assert response.status_code == 202, response.text
    cluster = wait_cluster(client, stack, cluster_id, 3)
    left = [m["ip"][0] for m in cluster["instances"]]
    assert member_ids[0] not in [m["id"] for m in cluster["instances"]] and addresses[0] not in left
    for address in left:   # the others see the member go as it shuts down
        assert eventually(lambda: wsrep(address, password, "wsrep_cluster_size") == "3"), address
    query(left[0], password, "INSERT INTO items VALUES (4, 'after-shrink')")
    for address in left:
        assert eventually(lambda: len(query(address, password, "SELECT * FROM items")) == 5), address

    # The whole service stops and starts again (dbaas down / up): the member that left last
    # starts the cluster, the others join it, and nothing is lost.
    stack.down()
    stack.up()
    for address in left:
        assert eventually(lambda: wsrep(address, password, "wsrep_cluster_size") == "3", timeout=60), address
        assert len(query(address, password, "SELECT * FROM items")) == 5
    query(left[1], password, "INSERT INTO items VALUES (5, 'after-restart')")
    assert eventually(lambda: len(query(left[2], password, "SELECT * FROM items")) == 6)

    # Delete: every member's server and files are gone.
    keys = [i.key for i in stack.embedded.driver.list() if (i.owner or {}).get("stack_id") == cluster_id]
    assert len(keys) == 3
    assert client.delete(f"/clusters/{cluster_id}").status_code == 202
    deadline = time.monotonic() + 120
    while client.get(f"/clusters/{cluster_id}").status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert not [k for k in stack.embedded.driver.keys() if k in keys]


@pytest.mark.parametrize("body,code", [
    ({"cluster": {"name": "x", "datastore": GALERA, "instances": [MEMBER, MEMBER]}}, 400),
    ({"cluster": {"name": "x", "datastore": {"type": "postgresql", "version": "15"},
                  "instances": [MEMBER] * 3}}, 400),
    ({"cluster": {"name": "x", "datastore": {"type": "nosuch"}, "instances": [MEMBER] * 3}}, 400),
    ({"cluster": {"name": "x", "datastore": GALERA, "instances": [{"flavorRef": "99", "volume": {"size": 1}}] * 3}},
     400),
    ({"cluster": {"name": "x", "datastore": GALERA, "instances": []}}, 400),
    ({"cluster": {"name": "x", "datastore": GALERA}}, 400),
])
def test_bad_cluster_requests_make_no_stack(stack, body, code):
    client = stack.client(f"p-{uuid.uuid4().hex[:8]}")
    response = client.post("/clusters", body)
    assert response.status_code == code, response.text
    assert "badRequest" in response.json()
    assert client.get("/clusters").json()["clusters"] == []


REDIS = {"type": "redis", "version": "7"}


def redis_node(host, password):
    return redis.Redis(host=host, port=6379, password=password, socket_timeout=5, decode_responses=True)


def cluster_client(host, password):
    return RedisCluster(startup_nodes=[ClusterNode(host, 6379)], password=password, decode_responses=True,
                        socket_timeout=5)


def keys_per_master(members, password):
    """{address: number of keys} of the members that are masters, from each node itself."""
    counts = {}
    for member in members:
        node = redis_node(member["ip"][0], password)
        try:
            if node.info("replication")["role"] == "master":
                counts[member["ip"][0]] = node.dbsize()
        finally:
            node.close()
    return counts


def test_redis_cluster_spreads_keys_grows_and_shrinks(stack):
    client = stack.client(f"p-{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    created = create_cluster(client, REDIS, 4, name="cache")
    cluster = wait_cluster(client, stack, created["id"], 4)
    print(f"4-member Redis Cluster ACTIVE in {time.monotonic() - started:.1f} s")
    cluster_id = cluster["id"]
    assert [m["type"] for m in cluster["instances"]] == ["master", "master", "master", "replica"]
    password = admin_password(stack, cluster_id)
    first = cluster["instances"][0]["ip"][0]

    # Keys spread over the three masters; the slots cover 0..16383 in three ranges.
    writer = cluster_client(first, password)
    for n in range(300):
        writer.set(f"key:{n}", n)
    writer.close()
    counts = keys_per_master(cluster["instances"], password)
    assert len(counts) == 3 and sum(counts.values()) == 300 and min(counts.values()) > 50, counts
    slots = redis_node(first, password).execute_command("CLUSTER", "SLOTS")
    assert sorted((r[0], r[1]) for r in slots) == [(0, 5460), (5461, 10921), (10922, 16383)]
    replica = cluster["instances"][3]["ip"][0]
    followed = cluster["instances"][0]["ip"][0]
    assert eventually(lambda: redis_node(replica, password).dbsize() == counts[followed])

    # Grow by a master: it takes a share of the slots with their keys.
    assert client.post(f"/clusters/{cluster_id}", {"grow": [MEMBER]}).status_code == 202
    cluster = wait_cluster(client, stack, cluster_id, 5)
    assert cluster["instances"][4]["type"] == "master"
    counts = keys_per_master(cluster["instances"], password)
    assert len(counts) == 4 and sum(counts.values()) == 300 and min(counts.values()) > 0, counts

    # Shrink by the master the replica follows: its slots and keys go to the others, the
    # replica follows another master, every key stays readable and no node knows it any more.
    gone = cluster["instances"][0]
    assert client.post(f"/clusters/{cluster_id}", {"shrink": [{"id": gone["id"]}]}).status_code == 202
    cluster = wait_cluster(client, stack, cluster_id, 4)
    assert gone["id"] not in [m["id"] for m in cluster["instances"]]
    left = [m["ip"][0] for m in cluster["instances"]]
    reader = cluster_client(left[0], password)
    assert [reader.get(f"key:{n}") for n in range(300)] == [str(n) for n in range(300)]
    reader.set("after-shrink", "yes")
    reader.close()
    counts = keys_per_master(cluster["instances"], password)
    assert len(counts) == 3 and sum(counts.values()) == 301, counts
    for address in left:
        nodes = redis_node(address, password).execute_command("CLUSTER", "NODES")
        assert gone["ip"][0] not in nodes and len(nodes.splitlines()) == 4
    assert redis_node(replica, password).info("replication")["master_link_status"] == "up"

    # The whole service stops and starts again: the nodes come back as the same cluster and
    # the replica logs in to its master again.
    stack.down()
    stack.up()
    reader = cluster_client(left[0], password)
    assert eventually(lambda: reader.get("key:7") == "7", timeout=30)
    assert [reader.get(f"key:{n}") for n in range(300)] == [str(n) for n in range(300)]
    reader.close()
    assert eventually(lambda: redis_node(replica, password).info("replication")["master_link_status"] == "up",
                      timeout=30)

    assert client.delete(f"/clusters/{cluster_id}").status_code == 202
    deadline = time.monotonic() + 120
    while client.get(f"/clusters/{cluster_id}").status_code != 404:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_redis_cluster_needs_three_masters(stack):
    client = stack.client(f"p-{uuid.uuid4().hex[:8]}")
    for instances in ([MEMBER] * 2, [dict(MEMBER, type="master")] * 2 + [dict(MEMBER, type="replica")] * 2):
        response = client.post("/clusters", {"cluster": {"name": "x", "datastore": REDIS, "instances": instances}})
        assert response.status_code == 400 and "masters" in response.text, response.text
    assert client.get("/clusters").json()["clusters"] == []
