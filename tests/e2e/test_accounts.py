"""Databases, users, access and root end to end: HTTP -> API -> stack update in the real Heat
-> DBaaS:: plugins -> real PostgreSQL / MariaDB / Redis, checked by logging in as a client."""
import concurrent.futures
import time
import uuid

import pytest
import requests

from dbaas_api import datastores
from dbaas_api.heat_gateway import HeatGateway
from tests.e2e.support import admin_password, can_login, change, connected, settled, write_and_read

PW = "Pw-one-1'\"\\ ü"
SQL = [("postgresql", "15"), ("mariadb", "10.11")]


@pytest.fixture
def new_instance(stack):
    """Instances made by a test, deleted afterwards whatever happened."""
    made = []

    def make(client, datastore, version, **fields):
        created = client.create_instance(name=f"e2e {datastore}", flavorRef="1", volume={"size": 1},
                                         datastore={"type": datastore, "version": version}, **fields)
        made.append((client, created["id"]))
        return client.wait_status(created["id"])

    yield make
    for client, instance_id in made:
        client.delete_and_wait(instance_id)


@pytest.mark.parametrize("datastore,version", SQL)
def test_users_databases_grants_and_passwords(stack, new_instance, datastore, version):
    client = stack.client(f"acc-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, datastore, version, databases=[{"name": "granted"}])
    iid, host = active["id"], active["ip"][0]
    base = f"/instances/{iid}"

    change(client, stack, "post", f"{base}/databases", {"databases": [{"name": "other"}, {"name": "spare"}]})
    assert client.get(f"{base}/databases").json()["databases"] == [{"name": n} for n in ("granted", "other", "spare")]

    # A user reads and writes the database it was granted, and is refused on another: at
    # once, since the answer comes once the change is applied.
    started = time.monotonic()
    response = client.post(f"{base}/users", {"users": [
        {"name": "app", "password": PW, "databases": [{"name": "granted"}]}]})
    assert response.status_code == 202 and PW not in response.text
    print(f"\n{datastore}: a user create was answered, applied, after {time.monotonic() - started:.2f} s")
    assert write_and_read(datastore, host, "app", PW, "granted") == "v"
    assert not can_login(datastore, host, "app", PW, "other")
    shown = client.get(f"{base}/users/app")
    assert shown.json() == {"user": {"name": "app", "host": "%", "databases": [{"name": "granted"}]}}
    assert PW not in shown.text + client.get(f"{base}/users").text + client.get(base).text

    # Grant, then revoke.
    change(client, stack, "put", f"{base}/users/app/databases", {"databases": [{"name": "other"}]})
    assert write_and_read(datastore, host, "app", PW, "other") == "v"
    assert client.get(f"{base}/users/app/databases").json()["databases"] == [{"name": "granted"}, {"name": "other"}]
    change(client, stack, "delete", f"{base}/users/app/databases/other")
    assert not can_login(datastore, host, "app", PW, "other")
    assert write_and_read(datastore, host, "app", PW, "granted") == "v"

    # A changed password works and the old one does not, both ways of changing it.
    change(client, stack, "put", f"{base}/users", {"users": [{"name": "app", "password": "Pw-two-2"}]})
    assert can_login(datastore, host, "app", "Pw-two-2", "granted") and not can_login(datastore, host, "app", PW, "granted")
    change(client, stack, "put", f"{base}/users/app", {"user": {"password": "Pw-three-3"}})
    assert can_login(datastore, host, "app", "Pw-three-3", "granted")
    assert not can_login(datastore, host, "app", "Pw-two-2", "granted")

    # Dropping a database its user was granted: the grant goes with it, the stack stays sound.
    change(client, stack, "put", f"{base}/users/app/databases", {"databases": [{"name": "spare"}]})
    change(client, stack, "delete", f"{base}/databases/spare")
    assert client.get(f"{base}/users/app/databases").json()["databases"] == [{"name": "granted"}]
    assert client.get(f"{base}/databases").json()["databases"] == [{"name": "granted"}, {"name": "other"}]

    # A deleted user cannot log in; the instance stays ACTIVE all along.
    change(client, stack, "delete", f"{base}/users/app")
    assert not can_login(datastore, host, "app", "Pw-three-3", "granted")
    assert client.get(f"{base}/users").json()["users"] == []
    assert client.get(base).json()["instance"]["status"] == "ACTIVE"


# (request, what the server then holds: MariaDB's SCHEMATA, PostgreSQL's pg_database)
CHARSETS = {
    "mariadb": [({"character_set": "latin1", "collate": "latin1_german1_ci"}, ("latin1", "latin1_german1_ci")),
                ({"collate": "utf8mb4_uca1400_ai_ci"}, ("utf8mb4", "utf8mb4_uca1400_ai_ci")),
                ({"character_set": "utf8"}, ("utf8mb3", "utf8mb3_general_ci")),
                ({}, ("utf8mb4", "utf8mb4_general_ci"))],
    "postgresql": [({"character_set": "LATIN1", "collate": "C"}, ("LATIN1", "C", "C")),
                   ({"character_set": "win1252"}, ("WIN1252", "C", "C")),
                   ({"collate": "POSIX"}, ("UTF8", "C", "C")),   # glibc names POSIX C
                   ({}, ("UTF8", "C.UTF-8", "C.UTF-8"))],
}
SERVER_CHARSET = {
    "mariadb": "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
               "WHERE SCHEMA_NAME = %s",
    "postgresql": "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = %s",
}


@pytest.mark.parametrize("datastore,version", SQL)
def test_character_sets_and_collations_reach_the_server_and_bad_ones_are_400(stack, new_instance, datastore, version):
    """At create and with POST /databases; what Trove's list shows (the names); a bad value
    is 400 naming the field, and nothing reaches Heat."""
    client = stack.client(f"cs-{uuid.uuid4().hex[:8]}")
    (first, first_held), *later = CHARSETS[datastore]
    active = new_instance(client, datastore, version, databases=[{"name": "d0", **first}])
    iid, host, base = active["id"], active["ip"][0], f"/instances/{active['id']}"
    change(client, stack, "post", f"{base}/databases",
           {"databases": [{"name": f"d{n}", **asked} for n, (asked, _) in enumerate(later, 1)]})
    assert client.get(f"{base}/databases").json()["databases"] == [{"name": f"d{n}"} for n in range(len(later) + 1)]
    admin = datastores.get(datastore).admin_user
    with connected(datastore, host, admin, admin_password(stack, iid)) as connection, connection.cursor() as cursor:
        for n, held in enumerate([first_held] + [held for _, held in later]):
            cursor.execute(SERVER_CHARSET[datastore], (f"d{n}",))
            assert cursor.fetchone() == held, n
    bad = {"mariadb": [({"character_set": "klingon"}, "databases[0].character_set"),
                       ({"character_set": "latin1", "collate": "utf8mb4_bin"}, "databases[0].collate")],
           "postgresql": [({"character_set": "BIG5"}, "databases[0].character_set"),
                          ({"character_set": "LATIN1", "collate": "C.UTF-8"}, "databases[0].collate"),
                          ({"collate": "de_DE.UTF-8"}, "databases[0].collate")]}[datastore]
    for asked, field in bad:
        for response in (client.post(f"{base}/databases", {"databases": [{"name": "x", **asked}]}),
                         client.post("/instances", {"instance": {
                             "name": "x", "flavorRef": "1", "volume": {"size": 1},
                             "datastore": {"type": datastore, "version": version},
                             "databases": [{"name": "x", **asked}]}})):
            assert response.status_code == 400, response.text
            assert f"'{field}'" in response.json()["badRequest"]["message"]
    assert [i["id"] for i in client.get("/instances").json()["instances"]] == [iid]
    assert settled(stack, iid)[0] == "UPDATE_COMPLETE"


@pytest.mark.parametrize("datastore,version", SQL)
def test_bad_input_is_refused_and_changes_nothing(stack, new_instance, datastore, version):
    client = stack.client(f"bad-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, datastore, version, databases=[{"name": "db"}],
                          users=[{"name": "u", "password": PW}])
    base = f"/instances/{active['id']}"
    reserved_db, reserved_user = ("postgres", "postgres") if datastore == "postgresql" else ("mysql", "root")
    for path, body, code, words in [
        ("/databases", {"databases": [{"name": reserved_db}]}, 400, ["databases[0].name", "reserved"]),
        ("/databases", {"databases": [{"name": "db"}]}, 400, ["already exists"]),
        ("/users", {"users": [{"name": reserved_user, "password": PW}]}, 400, ["users[0].name", "reserved"]),
        ("/users", {"users": [{"name": "u", "password": PW}]}, 400, ["already exists"]),
        ("/users", {"users": [{"name": "v", "password": PW, "databases": [{"name": "nope"}]}]}, 400,
         ["users[0].databases[0].name", "nope"]),
        ("/users/u/databases", {"databases": [{"name": "nope"}]}, 400, ["databases[0].name", "nope"]),
        ("/users", {"users": [{"name": "v"}]}, 400, ["password"]),
    ]:
        response = client.post(base + path, body) if path != "/users/u/databases" else client.put(base + path, body)
        assert response.status_code == code, (path, response.text)
        (key, error), = response.json().items()
        assert all(word in error["message"] for word in words), error
        assert PW not in response.text
    assert client.delete(f"{base}/users/nobody").status_code == 404
    assert client.delete(f"{base}/databases/nothing").status_code == 404
    assert client.get(f"{base}/users").json()["users"] == [{"name": "u", "host": "%", "databases": []}]
    assert client.get(f"{base}/databases").json()["databases"] == [{"name": "db"}]
    assert settled(stack, active["id"])[0] == "CREATE_COMPLETE"   # no update ever reached Heat


def troveclient_for(client):
    """The unmodified python-troveclient library on this API (no-auth: any token will do)."""
    from keystoneauth1 import session, token_endpoint
    from troveclient.v1 import client as trove
    return trove.Client(session=session.Session(auth=token_endpoint.Token(client.base, "no-auth")))


@pytest.mark.parametrize("datastore,version", SQL)
def test_a_renamed_user_keeps_its_grants_objects_and_password(stack, new_instance, datastore, version):
    """troveclient's update_attributes (openstack database user update --name/--host): the
    account is renamed in place on the server, never dropped and made again."""
    from troveclient import exceptions as trove_errors
    client = stack.client(f"ren-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, datastore, version, databases=[{"name": "d"}],
                          users=[{"name": "app", "password": PW, "databases": [{"name": "d"}]},
                                 {"name": "other", "password": PW}])
    iid, host = active["id"], active["ip"][0]
    with connected(datastore, host, "app", PW, "d") as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE owned (v text)")
        cursor.execute("INSERT INTO owned VALUES ('kept')")
    trove = troveclient_for(client)

    trove.users.update_attributes(iid, "app", {"name": "renamed"})
    settled(stack, iid)
    assert not can_login(datastore, host, "app", PW, "d")
    with connected(datastore, host, "renamed", PW, "d") as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO owned VALUES ('again')")    # still its table, still its grant
        cursor.execute("SELECT count(*) FROM owned")
        assert cursor.fetchone()[0] == 2
    assert {u.name: [d["name"] for d in u.databases] for u in trove.users.list(iid)} == {
        "renamed": ["d"], "other": []}

    ref = "renamed"
    if datastore == "mariadb":   # its host moves on the server: from nowhere this test is, then back
        trove.users.update_attributes(iid, "renamed", {"host": "10.%"})
        settled(stack, iid)
        assert not can_login(datastore, host, "renamed", PW, "d")
        trove.users.update_attributes(iid, "renamed", {"host": "127.%"}, hostname="10.%")
        settled(stack, iid)
        ref = "renamed@127.%"
        assert client.get(f"/instances/{iid}/users/{ref}").json()["user"] == {
            "name": "renamed", "host": "127.%", "databases": [{"name": "d"}]}
        assert write_and_read(datastore, host, "renamed", PW, "d") == "v"

    # Bad input: a 400 naming the field, and nothing changes (no update reaches Heat).
    before = HeatGateway(stack.settings).get_stack(iid, resolve_outputs=False)["updated_time"]
    taken = {"name": "other", "host": "%"} if datastore == "mariadb" else {"name": "other"}
    reserved = "postgres" if datastore == "postgresql" else "root"
    for attributes, field in [(taken, "user.name"), ({"name": reserved}, "user.name"),
                              ({"name": "x" * 100}, "user.name")]:
        response = client.put(f"/instances/{iid}/users/{ref}", {"user": attributes})
        assert response.status_code == 400 and field in response.json()["badRequest"]["message"], response.text
    with pytest.raises(trove_errors.BadRequest):
        trove.users.update_attributes(iid, "renamed", taken, hostname="127.%" if datastore == "mariadb" else None)
    if datastore == "postgresql":
        response = client.put(f"/instances/{iid}/users/renamed", {"user": {"host": "10.0.0.1"}})
        assert response.status_code == 400 and "user.host" in response.json()["badRequest"]["message"]
    assert HeatGateway(stack.settings).get_stack(iid, resolve_outputs=False)["updated_time"] == before
    assert write_and_read(datastore, host, "renamed", PW, "d") == "v" and can_login(datastore, host, "other", PW)


@pytest.mark.parametrize("datastore,version", SQL)
def test_a_script_with_troveclient_finds_each_change_done_when_answered(stack, new_instance, datastore, version):
    """The unmodified troveclient library, one call after another, never waiting in between:
    what each answer says is done is done, on the server and in the next read."""
    client = stack.client(f"seq-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, datastore, version)
    iid, host = active["id"], active["ip"][0]
    trove = troveclient_for(client)

    trove.databases.create(iid, [{"name": "shop"}])
    assert [d.name for d in trove.databases.list(iid)] == ["shop"]
    trove.users.create(iid, [{"name": "app", "password": PW, "databases": [{"name": "shop"}]}])
    assert write_and_read(datastore, host, "app", PW, "shop") == "v"
    trove.databases.create(iid, [{"name": "more"}])
    trove.users.grant(iid, "app", ["more"])
    assert write_and_read(datastore, host, "app", PW, "more") == "v"
    trove.users.revoke(iid, "app", "more")
    assert not can_login(datastore, host, "app", PW, "more")
    trove.users.delete(iid, "app")
    assert not can_login(datastore, host, "app", PW, "shop") and list(trove.users.list(iid)) == []
    trove.databases.delete(iid, "more")
    assert [d.name for d in trove.databases.list(iid)] == ["shop"]

    _, password = trove.root.create_instance_root(iid)
    with connected(datastore, host, "root", password) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    trove.instances.restart(iid)               # accepted at once: no change of the root's is still under way
    assert settled(stack, iid)[0] == "UPDATE_COMPLETE"
    trove.root.disable_instance_root(iid)
    assert not can_login(datastore, host, "root", password) and not trove.root.is_instance_root_enabled(iid).rootEnabled


@pytest.mark.parametrize("datastore,version", SQL)
def test_root_enable_show_and_disable(stack, new_instance, datastore, version):
    client = stack.client(f"root-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, datastore, version)
    base, host = f"/instances/{active['id']}", active["ip"][0]
    assert client.get(f"{base}/root").json() == {"rootEnabled": False}

    enabled = change(client, stack, "post", f"{base}/root", expect=200).json()["user"]
    assert enabled["name"] == "root" and len(enabled["password"]) >= 32
    assert client.get(f"{base}/root").json() == {"rootEnabled": True}
    with connected(datastore, host, "root", enabled["password"]) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE DATABASE made_by_root")       # a superuser: the service's own users cannot
    assert enabled["password"] not in client.get(base).text + client.get(f"{base}/users").text

    again = change(client, stack, "post", f"{base}/root", {"password": "My-own-root-pw"}, expect=200).json()["user"]
    assert again == {"name": "root", "password": "My-own-root-pw"}
    assert can_login(datastore, host, "root", "My-own-root-pw") and not can_login(datastore, host, "root", enabled["password"])

    change(client, stack, "delete", f"{base}/root", expect=204)
    assert not can_login(datastore, host, "root", "My-own-root-pw")
    assert client.get(f"{base}/root").json() == {"rootEnabled": False}
    assert client.delete(f"{base}/root").status_code == 404


def test_redis_users_work_and_what_does_not_apply_is_501(stack, new_instance):
    client = stack.client(f"redis-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, "redis", "7")
    base, host = f"/instances/{active['id']}", active["ip"][0]
    change(client, stack, "post", f"{base}/users", {"users": [{"name": "cache", "password": PW}]})
    assert write_and_read("redis", host, "cache", PW, None) == "v"
    change(client, stack, "put", f"{base}/users/cache", {"user": {"password": "Pw-two-2"}})
    assert can_login("redis", host, "cache", "Pw-two-2") and not can_login("redis", host, "cache", PW)
    change(client, stack, "delete", f"{base}/users/cache")
    assert not can_login("redis", host, "cache", "Pw-two-2")
    for response in (client.get(f"{base}/databases"), client.post(f"{base}/root"), client.get(f"{base}/root"),
                     client.post(f"{base}/databases", {"databases": [{"name": "d"}]})):
        assert response.status_code == 501 and "Redis" in response.json()["notImplemented"]["message"]


def test_two_user_creates_at_once_lose_neither(stack, new_instance):
    """Both succeed (the second waits for the first), or one is a clear 409; never is one
    lost or half made."""
    client = stack.client(f"race-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, "postgresql", "15", databases=[{"name": "d"}])
    base, host = f"/instances/{active['id']}", active["ip"][0]
    names = [f"racer{n}" for n in range(4)]

    def create(name):
        return name, requests.post(f"{client.base}{base}/users", timeout=60, json={"users": [
            {"name": name, "password": PW, "databases": [{"name": "d"}]}]})
    with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
        answers = dict(pool.map(create, names))
    assert {r.status_code for r in answers.values()} <= {202, 409}, {n: r.text for n, r in answers.items()}
    for response in answers.values():
        if response.status_code == 409:
            assert response.json()["conflict"]["message"]
    settled(stack, active["id"])
    made = {u["name"] for u in client.get(f"{base}/users").json()["users"]}
    assert made == {n for n, r in answers.items() if r.status_code == 202} and made
    for name in names:
        assert can_login("postgresql", host, name, PW, "d") is (name in made)
