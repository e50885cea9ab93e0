"""Instances end to end: HTTP -> API -> real Heat -> plugins -> real datastore processes."""
import os
import time
import uuid

import pymysql
import psycopg2
import pytest
import redis

DATASTORE_CLIENTS = {}


def datastore_client(name):
    def register(fn):
        DATASTORE_CLIENTS[name] = fn
        return fn
    return register


@datastore_client("postgresql")
def write_and_read_postgresql(host, user, password, database):
    with psycopg2.connect(host=host, port=5432, user=user, password=password, dbname=database,
                          connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int primary key, v text)")
        cur.execute("INSERT INTO t VALUES (1, %s)", ("héllo",))
        cur.execute("SELECT v FROM t")
        return cur.fetchone()[0]


@datastore_client("mariadb")
def write_and_read_mariadb(host, user, password, database):
    conn = pymysql.connect(host=host, port=3306, user=user, password=password, database=database,
                           connect_timeout=5, charset="utf8mb4")
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE t (id int primary key, v text)")
            cur.execute("INSERT INTO t VALUES (1, %s)", ("héllo",))
            conn.commit()
            cur.execute("SELECT v FROM t")
            return cur.fetchone()[0]
    finally:
        conn.close()


@datastore_client("redis")
def write_and_read_redis(host, user, password, database):
    client = redis.Redis(host=host, port=6379, username=user, password=password, socket_timeout=5)
    client.set("k", "héllo")
    return client.get("k").decode()


def local_instance_of(stack, instance_id):
    for instance in stack.embedded.driver.list():
        if instance.owner.get("stack_id") == instance_id:
            return instance
    return None


def pid_alive(pid):
    """Running, not a zombie waiting for init to reap it."""
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError, TypeError):
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("datastore,version", [("postgresql", "15"), ("mariadb", "10.11"), ("redis", "7")])
def test_create_connect_write_read_delete(stack, datastore, version):
    client = stack.client(f"p-{uuid.uuid4().hex[:8]}")
    has_databases = datastore != "redis"
    body = dict(
        name=f"e2e {datastore}", flavorRef="2", volume={"size": 1},
        datastore={"type": datastore, "version": version},
        users=[{"name": "app", "password": "s3cret-Pw!",
                "databases": [{"name": "appdb"}] if has_databases else []}],
    )
    if has_databases:
        body["databases"] = [{"name": "appdb"}]
    created = client.create_instance(**body)
    assert created["status"] == "BUILD"
    assert "s3cret" not in str(created)

    active = client.wait_status(created["id"])
    host = active["ip"][0]
    assert host.startswith("127.0.") and not host.startswith("127.0.0.")
    assert (active["datastore"]["type"], active["datastore"]["version"]) == (datastore, version)
    assert DATASTORE_CLIENTS[datastore](host, "app", "s3cret-Pw!", "appdb") == "héllo"
    assert "s3cret" not in client.get(f"/instances/{created['id']}").text
    assert "s3cret" not in client.get("/instances/detail").text

    local = local_instance_of(stack, created["id"])
    assert local is not None and pid_alive(local.pid)

    assert client.delete_and_wait(created["id"]) is None
    assert not pid_alive(local.pid)
    assert not os.path.exists(local.datadir)
    assert local_instance_of(stack, created["id"]) is None


def test_other_project_sees_nothing(stack):
    owner, other = stack.client("owner-project"), stack.client("other-project")
    created = owner.create_instance(name="mine", flavorRef="1", volume={"size": 1},
                                    datastore={"type": "redis"})
    try:
        assert other.get(f"/instances/{created['id']}").status_code == 404
        assert other.delete(f"/instances/{created['id']}").status_code == 404
        assert other.get("/instances").json()["instances"] == []
        assert [i["id"] for i in owner.get("/instances").json()["instances"]] == [created["id"]]
    finally:
        owner.delete_and_wait(created["id"])


def test_deleting_an_instance_still_being_built_never_shows_it_failed(stack):
    """Heat cancels the create first, and the stack reads CREATE_FAILED until its delete
    begins: the DELETE answers once it has, so the instance goes from BUILD to gone."""
    client = stack.client(f"early-{uuid.uuid4().hex[:8]}")
    created = client.create_instance(name="short-lived", flavorRef="1", volume={"size": 1},
                                     datastore={"type": "postgresql"})
    assert client.get(f"/instances/{created['id']}").json()["instance"]["status"] == "BUILD"
    response = client.delete(f"/instances/{created['id']}")
    assert response.status_code == 202, response.text
    seen = set()
    while (shown := client.get(f"/instances/{created['id']}")).status_code == 200:
        seen.add(shown.json()["instance"]["status"])
        assert "ERROR" not in seen, shown.json()
        time.sleep(0.01)
    assert shown.status_code == 404 and seen <= {"BUILD", "SHUTDOWN"}
    assert not any(i.owner.get("stack_id") == created["id"] for i in stack.embedded.driver.list())


def test_names_round_trip_and_paging(stack):
    client = stack.client(f"names-{uuid.uuid4().hex[:8]}")
    names = ["ünïcødé ☃ name", "a,b;c'd\"e {{ x }} ${HOME} $(rm -rf /) `id`", "x" * 255]
    ids = [client.create_instance(name=n, flavorRef="1", volume={"size": 1},
                                  datastore={"type": "redis"})["id"] for n in names]
    try:
        page = client.get("/instances?limit=2").json()
        next_link = [link for link in page["links"] if link["rel"] == "next"][0]["href"]
        rest = client.get("/instances", params={"limit": 2, "marker": page["instances"][-1]["id"]}).json()
        assert "marker=" in next_link
        paged = page["instances"] + rest["instances"]
        assert len(page["instances"]) == 2 and sorted(i["id"] for i in paged) == sorted(ids)
        # Newest first. Heat on MariaDB (the production profile) keeps creation times to the
        # second, and orders equal ones by id; on SQLite they are exact.
        created = [client.get(f"/instances/{i['id']}").json()["instance"]["created"] for i in paged]
        assert created == sorted(created, reverse=True)
        if len(set(created)) == len(ids):
            assert [i["id"] for i in paged] == ids[::-1]
        listed = {i["id"]: i["name"] for i in client.get("/instances").json()["instances"]}
        assert listed == dict(zip(ids, names))
        for instance_id, name in zip(ids, names):
            assert client.get(f"/instances/{instance_id}").json()["instance"]["name"] == name
    finally:
        for instance_id in ids:
            client.delete_and_wait(instance_id)


def test_hostile_names_reach_the_database_verbatim(stack):
    client = stack.client(f"hostile-{uuid.uuid4().hex[:8]}")
    database = "db'; DROP TABLE x; -- {{ 7*7 }}"
    user = "u\"${IFS}"
    password = "p'\"; \\ {% raw %} $(id) --"
    created = client.create_instance(
        name="hostile", flavorRef="1", volume={"size": 1}, datastore={"type": "postgresql"},
        databases=[{"name": database}],
        users=[{"name": user, "password": password, "databases": [{"name": database}]}])
    try:
        active = client.wait_status(created["id"])
        assert write_and_read_postgresql(active["ip"][0], user, password, database) == "héllo"
    finally:
        client.delete_and_wait(created["id"])


def test_service_restart_keeps_instances(stack):
    client = stack.client(f"restart-{uuid.uuid4().hex[:8]}")
    created = client.create_instance(
        name="survivor", flavorRef="1", volume={"size": 1}, datastore={"type": "mariadb"},
        databases=[{"name": "keep"}], users=[{"name": "keeper", "password": "pw-keeper-1",
                                             "databases": [{"name": "keep"}]}])
    try:
        host = client.wait_status(created["id"])["ip"][0]
        assert write_and_read_mariadb(host, "keeper", "pw-keeper-1", "keep") == "héllo"
        local = local_instance_of(stack, created["id"])

        stack.down()
        assert not pid_alive(local.pid)
        stack.up()

        again = client.wait_status(created["id"])
        assert again["ip"][0] == host
        conn = pymysql.connect(host=host, port=3306, user="keeper", password="pw-keeper-1",
                               database="keep", connect_timeout=5, charset="utf8mb4")
        with conn.cursor() as cur:
            cur.execute("SELECT v FROM t")
            assert cur.fetchone()[0] == "héllo"
        conn.close()
    finally:
        client.delete_and_wait(created["id"])
