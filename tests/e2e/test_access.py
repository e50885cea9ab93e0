"""Access control end to end: Trove's ``access`` through the API, real Heat and real servers.

A client binds a source address in 127.0.0.0/8 (tests/source_address.py), so the server sees
it as a client from that address: one from an allowed network logs in, one from another is
refused by the datastore itself (pg_hba.conf, MariaDB's init_connect). ``PUT`` changes the
networks through a stack update and the running server follows at once; bad input is a 400
that leaves the instance as it was; another project gets 404.
"""
import time
import uuid

import pytest

from tests.e2e.support import change, settled
from tests.source_address import connected_from, login_from

PASSWORD = "access-pw-0123456789"
VERSIONS = {"postgresql": "15", "mariadb": "10.11", "redis": "7"}


@pytest.fixture
def made(stack):
    """Instances a test made, deleted afterwards whatever happened."""
    instances = []
    yield instances
    for client, instance_id in instances:
        client.delete_and_wait(instance_id)


def new_instance(client, made, datastore, **fields):
    users = [{"name": "app", "password": PASSWORD}]
    if datastore != "redis":
        users[0]["databases"] = [{"name": "appdb"}]
        fields["databases"] = [{"name": "appdb"}]
    created = client.create_instance(name=f"acc {datastore}", flavorRef="1", volume={"size": 1},
                                     datastore={"type": datastore, "version": VERSIONS[datastore]},
                                     users=users, **fields)
    made.append((client, created["id"]))
    return created, client.wait_status(created["id"])


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb"])
def test_allowed_networks_are_enforced_and_a_put_changes_them_in_place(stack, made, datastore):
    client = stack.client(f"acc-{uuid.uuid4().hex[:8]}")
    created, active = new_instance(client, made, datastore, access={"allowed_cidrs": ["127.0.5.0/24"]})
    assert created["access"] == {"is_public": False, "allowed_cidrs": ["127.0.5.0/24"]}
    assert active["access"] == {"is_public": False, "allowed_cidrs": ["127.0.5.0/24"]}
    host, port = active["ip"][0], active["port"]

    def login(source):
        return login_from(source, datastore, host, port, "app", PASSWORD)

    assert login("127.0.5.7") == (True, "")
    allowed, why = login("127.0.9.1")
    assert not allowed and ("no pg_hba.conf entry" in why or "init_connect" in why), why

    # A change is a stack update; the instance stays ACTIVE and its server is not restarted.
    change(client, stack, "put", f"/instances/{active['id']}",
           {"instance": {"access": {"allowed_cidrs": ["127.0.9.0/24", "10.20.0.0/16"]}}})
    shown = client.get(f"/instances/{active['id']}").json()["instance"]
    assert shown["status"] == "ACTIVE"
    assert shown["access"] == {"is_public": False, "allowed_cidrs": ["127.0.9.0/24", "10.20.0.0/16"]}
    [listed] = client.get("/instances").json()["instances"]
    assert listed["access"] == shown["access"]
    assert login("127.0.9.1") == (True, "")
    assert not login("127.0.5.7")[0]

    # Databases and users still change through the admin connection the rules leave open.
    change(client, stack, "post", f"/instances/{active['id']}/databases", {"databases": [{"name": "more"}]})
    names = [d["name"] for d in client.get(f"/instances/{active['id']}/databases").json()["databases"]]
    assert "more" in names

    # [] lets every address in again (Trove's default).
    change(client, stack, "put", f"/instances/{active['id']}", {"instance": {"access": {"allowed_cidrs": []}}})
    assert login("127.0.5.7") == (True, "") and login("127.0.9.1") == (True, "")
    assert client.get(f"/instances/{active['id']}").json()["instance"]["access"]["allowed_cidrs"] == []


BAD_ACCESS = [
    ({"allowed_cidrs": ["10.0.0.1/8"]}, "host bits"),
    ({"allowed_cidrs": ["10.0.0.0/33"]}, "not a CIDR"),
    ({"allowed_cidrs": ["not-a-network"]}, "not a CIDR"),
    ({"allowed_cidrs": ["fd00::/8"]}, "IPv6"),
    ({"allowed_cidrs": "10.0.0.0/8"}, "allowed_cidrs"),
    ({"allowed_cidrs": [10]}, "allowed_cidrs[0]"),
    ({"allowed_cidrs": [f"10.0.{i}.0/24" for i in range(21)]}, "at most 20"),
    ({"allowed_cidrs": ["10.0.0.0/8", "10.0.0.0/8"]}, "more than once"),
    ({"is_public": "yes"}, "is_public"),
    ({"allowed": ["10.0.0.0/8"]}, "access"),
]


def test_bad_access_is_400_and_changes_nothing(stack, made):
    client = stack.client(f"acc-bad-{uuid.uuid4().hex[:8]}")
    for access, mentions in BAD_ACCESS:
        response = client.post("/instances", {"instance": {
            "name": "bad", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "postgresql"},
            "access": access}})
        assert response.status_code == 400, (access, response.text)
        assert mentions in response.json()["badRequest"]["message"], (access, response.text)
    assert client.get("/instances").json()["instances"] == []

    _, active = new_instance(client, made, "postgresql", access={"allowed_cidrs": ["127.0.5.0/24"]})
    before = settled(stack, active["id"])
    for access, mentions in BAD_ACCESS:
        response = client.put(f"/instances/{active['id']}", {"instance": {"access": access}})
        assert response.status_code == 400, (access, response.text)
        assert mentions in response.json()["badRequest"]["message"], (access, response.text)
    shown = client.get(f"/instances/{active['id']}").json()["instance"]
    assert shown["status"] == "ACTIVE" and shown["updated"] == active["updated"], before
    assert shown["access"]["allowed_cidrs"] == ["127.0.5.0/24"]
    assert login_from("127.0.5.7", "postgresql", shown["ip"][0], shown["port"], "app", PASSWORD) == (True, "")

    # Redis has no access control by client address: a restriction is refused, not ignored.
    redis = client.post("/instances", {"instance": {
        "name": "r", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "redis"},
        "access": {"allowed_cidrs": ["127.0.5.0/24"]}}})
    assert redis.status_code == 400 and "not supported by redis" in redis.json()["badRequest"]["message"]

    # Another project neither sees nor changes it.
    other = stack.client(f"acc-other-{uuid.uuid4().hex[:8]}")
    for response in (other.get(f"/instances/{active['id']}"),
                     other.put(f"/instances/{active['id']}", {"instance": {"access": {"allowed_cidrs": []}}})):
        assert response.status_code == 404 and "itemNotFound" in response.json()
    assert client.get(f"/instances/{active['id']}").json()["instance"]["access"]["allowed_cidrs"] == ["127.0.5.0/24"]


def run_from(source, datastore, host, port, statements):
    """Run statements as the user from ``source``; the last one's rows."""
    with connected_from(source, datastore, host, port, "app", PASSWORD, "appdb") as connection, \
            connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
        return cursor.fetchall() if cursor.description else None


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb"])
def test_replicas_follow_a_source_whose_access_leaves_the_host_out(stack, made, datastore):
    """The replication account comes from the service's address (127.0.0.1), which the
    networks here leave out: the datastore's rules let it in all the same."""
    client = stack.client(f"acc-repl-{uuid.uuid4().hex[:8]}")
    _, primary = new_instance(client, made, datastore, access={"allowed_cidrs": ["127.0.5.0/24"]})
    assert not login_from("127.0.0.1", datastore, primary["ip"][0], primary["port"], "app", PASSWORD)[0]
    run_from("127.0.5.7", datastore, primary["ip"][0], primary["port"],
             ["CREATE TABLE t (id int primary key)", "INSERT INTO t VALUES (1)"])
    created = client.create_instance(name="acc replica", replica_of=primary["id"],
                                     access={"allowed_cidrs": ["127.0.5.0/24"]})
    made.insert(0, (client, created["id"]))   # deleted before its source
    replica = client.wait_status(created["id"])
    assert replica["access"]["allowed_cidrs"] == ["127.0.5.0/24"]
    run_from("127.0.5.7", datastore, primary["ip"][0], primary["port"], ["INSERT INTO t VALUES (2)"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = run_from("127.0.5.7", datastore, replica["ip"][0], replica["port"], ["SELECT id FROM t ORDER BY id"])
        if [row[0] for row in found] == [1, 2]:
            break
        time.sleep(0.1)
    assert [row[0] for row in found] == [1, 2]
    assert not login_from("127.0.9.1", datastore, replica["ip"][0], replica["port"], "app", PASSWORD)[0]
