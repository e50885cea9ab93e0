"""Acceptance: the unmodified OpenStack clients from PyPI (python-openstackclient with
python-troveclient's ``openstack database ...`` plugin, and openstacksdk's database proxy),
authenticated against the test Keystone, finding this API through the catalog's ``database``
endpoint. Every command's output is parsed and checked, not only its exit code."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import openstack
import psycopg2
import pytest
from openstack import exceptions as sdk_exceptions
from openstack import resource

from dbaas_api.heat_gateway import HeatGateway
from dbaas_api.service import catalog
from tests.e2e.support import as_stored, settled
from tests.keystone import wait_for

OPENSTACK = Path(sys.executable).parent / "openstack"
NOT_FOUND = "No instance with a name or ID of"


def cli(account, *args):
    """Run ``openstack *args`` as ``account`` (OS_* variables only; none inherited)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update(account.os_env())
    return subprocess.run([str(OPENSTACK), *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def cli_json(account, *args):
    done = cli(account, *args, "-f", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def cli_fails(account, *args):
    done = cli(account, *args)
    assert done.returncode != 0, done.stdout
    return done.stderr


@pytest.fixture(scope="module")
def accounts(keystone, keystone_stack):
    return {user: keystone.account(user) for user in ("alice", "bob", "admin")}


@pytest.fixture(scope="module")
def http(keystone, keystone_stack):
    """Plain HTTP as each user, to prepare and to check what the clients did."""
    def client(user):
        account = keystone.account(user)
        return keystone_stack.client(keystone.project_ids[account.project_name], keystone.token(user))
    return {user: client(user) for user in ("alice", "bob")}


@pytest.fixture(scope="module")
def pg_instance(accounts, http):
    """A PostgreSQL instance created by ``openstack database instance create`` (by flavor
    name, so the client resolves it), with a database and a user; (create output, password)."""
    password = "cli-" + uuid.uuid4().hex
    created = cli_json(accounts["alice"], "database", "instance", "create", "cli-pg", "--flavor", "db.small",
                       "--size", "1", "--datastore", "postgresql", "--datastore-version", "15",
                       "--databases", "appdb", "--users", f"app:{password}")
    try:
        http["alice"].wait_status(created["id"])
        yield created, password
    finally:
        http["alice"].delete_and_wait(created["id"])


def test_datastore_list(accounts, http):
    rows = cli_json(accounts["alice"], "datastore", "list")
    served = {d["name"]: d["id"] for d in http["alice"].get("/datastores").json()["datastores"]}
    assert {row["Name"]: row["ID"] for row in rows} == served
    assert set(served) == {"postgresql", "mariadb", "redis"}


def test_datastore_version_list(accounts):
    for datastore, version in (("postgresql", "15"), ("mariadb", "10.11"), ("redis", "7")):
        rows = cli_json(accounts["alice"], "datastore", "version", "list", datastore)
        assert [(row["Name"], row["Version"]) for row in rows] == [(version, version)]


def test_database_flavor_list(accounts, http):
    rows = cli_json(accounts["alice"], "database", "flavor", "list")
    served = http["alice"].get("/flavors").json()["flavors"]
    assert [(r["ID"], r["Name"], r["RAM"], r["vCPUs"]) for r in rows] == \
        [(f["id"], f["name"], f["ram"], f["vcpus"]) for f in served]
    assert "db.tiny" in [r["Name"] for r in rows]


def test_database_instance_create(pg_instance):
    created, password = pg_instance
    assert created["name"] == "cli-pg" and created["status"] == "BUILD"
    assert (created["datastore"], created["datastore_version"]) == ("postgresql", "15")
    assert created["flavor"] == "2" and created["volume"] == 1  # db.small, resolved by name
    assert password not in json.dumps(created)


def test_database_instance_show_by_name_and_by_id(accounts, pg_instance):
    created, password = pg_instance
    by_name = cli_json(accounts["alice"], "database", "instance", "show", "cli-pg")
    by_id = cli_json(accounts["alice"], "database", "instance", "show", created["id"])
    assert as_stored(by_name) == as_stored(by_id)
    assert by_id["id"] == created["id"] and by_id["status"] == "ACTIVE"
    assert by_id["ip"].startswith("127.0.") and by_id["port"] == 5432
    assert password not in json.dumps(by_id)
    # What the client showed is a database that works, with what the create asked for.
    with psycopg2.connect(host=by_id["ip"], port=5432, user="app", password=password, dbname="appdb",
                          connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_database(), current_user")
        assert cur.fetchone() == ("appdb", "app")


def test_database_instance_list(accounts, pg_instance):
    created, _ = pg_instance
    rows = {row["ID"]: row for row in cli_json(accounts["alice"], "database", "instance", "list")}
    row = rows[created["id"]]
    assert (row["Name"], row["Status"], row["Datastore"], row["Datastore Version"]) == \
        ("cli-pg", "ACTIVE", "postgresql", "15")
    assert (row["Flavor ID"], row["Size"]) == ("2", 1)
    shown = cli_json(accounts["alice"], "database", "instance", "show", created["id"])
    assert [address["address"] for address in row["Addresses"]] == [shown["ip"]]   # as show says
    assert row["Role"] == "" and row["Operating Status"] == "HEALTHY"


def test_database_instance_list_all_projects_is_for_admins(keystone, accounts, pg_instance):
    created, _ = pg_instance
    rows = cli_json(accounts["admin"], "database", "instance", "list", "--all-projects")
    owners = {row["ID"]: row["Tenant ID"] for row in rows}
    assert owners[created["id"]] == keystone.project_ids["alpha"]
    assert "HTTP 403" in cli_fails(accounts["alice"], "database", "instance", "list", "--all-projects")


def test_another_project_can_neither_show_nor_delete_it(accounts, http, pg_instance):
    created, password = pg_instance
    for instance in ("cli-pg", created["id"]):
        assert NOT_FOUND in cli_fails(accounts["bob"], "database", "instance", "show", instance)
    error = cli_fails(accounts["bob"], "database", "instance", "delete", created["id"])
    assert "Unable to delete the specified database instance(s)." in error and password not in error
    assert cli_json(accounts["bob"], "database", "instance", "list") == []
    assert http["alice"].get(f"/instances/{created['id']}").json()["instance"]["status"] == "ACTIVE"


@pytest.mark.parametrize("by", ["name", "id"])
def test_database_instance_delete(accounts, http, by):
    name = f"cli-delete-by-{by}"
    created = http["alice"].create_instance(name=name, flavorRef="1", volume={"size": 1},
                                            datastore={"type": "redis"})
    try:
        http["alice"].wait_status(created["id"])
        done = cli(accounts["alice"], "database", "instance", "delete", name if by == "name" else created["id"])
        assert done.returncode == 0, done.stderr
        assert f"Request to delete database instance {created['id']} has been accepted." in done.stdout
        assert http["alice"].wait_status(created["id"], ("GONE",)) is None
        assert NOT_FOUND in cli_fails(accounts["alice"], "database", "instance", "show", created["id"])
    finally:
        http["alice"].delete_and_wait(created["id"])


# openstacksdk's database proxy.

def sdk(account):
    return openstack.connect(load_yaml_config=False, load_envvars=False, region_name="RegionOne",
                             **account.auth_args())


def test_sdk_flavors(accounts):
    conn = sdk(accounts["alice"])
    assert [f.name for f in conn.database.flavors()] == ["db.tiny", "db.small", "db.medium", "db.large"]
    assert conn.database.get_flavor("2").name == "db.small"
    assert conn.database.find_flavor("db.large").ram == 2048


def test_sdk_instance_create_get_find_list_delete(accounts):
    conn, other = sdk(accounts["alice"]), sdk(accounts["bob"])
    instance = conn.database.create_instance(name="sdk-redis", flavor="1", volume={"size": 1},
                                             datastore={"type": "redis", "version": "7"})
    try:
        assert (instance.name, instance.status) == ("sdk-redis", "BUILD")
        active = resource.wait_for_status(conn.database, instance, "ACTIVE", ["ERROR"], 0.1, 120)
        assert active.datastore == {"type": "redis", "version": "7", "version_number": "7"}
        assert active.volume["size"] == 1 and active.volume["used"] >= 0 and active.flavor["id"] == "1"
        assert conn.database.find_instance("sdk-redis").id == instance.id
        assert instance.id in [i.id for i in conn.database.instances()]

        with pytest.raises(sdk_exceptions.NotFoundException):
            other.database.get_instance(instance.id)
        assert other.database.find_instance("sdk-redis", ignore_missing=True) is None
        assert list(other.database.instances()) == []

        conn.database.delete_instance(instance)
        resource.wait_for_delete(conn.database, instance, 0.1, 120)
        assert conn.database.find_instance("sdk-redis", ignore_missing=True) is None
    finally:
        conn.database.delete_instance(instance, ignore_missing=True)


# Databases, users and root (through the cli-pg instance), each change carried out by Heat.

def ip_of(http, instance_id):
    return http["alice"].get(f"/instances/{instance_id}").json()["instance"]["ip"][0]


def pg_login(ip, user, password, dbname):
    with psycopg2.connect(host=ip, port=5432, user=user, password=password, dbname=dbname,
                          connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user")
        return cur.fetchone()[0]


def test_database_db_create_list_delete(accounts, keystone_stack, http, pg_instance):
    created, password = pg_instance
    alice = accounts["alice"]
    done = cli(alice, "database", "db", "create", "cli-pg", "reports", "--character_set", "LATIN1", "--collate", "C")
    assert done.returncode == 0, done.stderr
    settled(keystone_stack, created["id"])
    assert [row["Name"] for row in cli_json(alice, "database", "db", "list", "cli-pg")] == ["appdb", "reports"]
    with psycopg2.connect(host=ip_of(http, created["id"]), port=5432, user="app", password=password,
                          dbname="appdb", connect_timeout=5) as conn, conn.cursor() as cur:   # pg_database is public
        cur.execute("SELECT pg_encoding_to_char(encoding), datcollate FROM pg_database WHERE datname = 'reports'")
        assert cur.fetchone() == ("LATIN1", "C")
    assert "'databases[0].character_set': 'BIG5'" in cli_fails(
        alice, "database", "db", "create", "cli-pg", "big5", "--character_set", "BIG5")
    done = cli(alice, "database", "db", "delete", "cli-pg", "reports")
    assert done.returncode == 0, done.stderr
    settled(keystone_stack, created["id"])
    assert [row["Name"] for row in cli_json(alice, "database", "db", "list", created["id"])] == ["appdb"]
    assert cli_fails(accounts["bob"], "database", "db", "list", created["id"])


def test_database_user_create_list_delete(accounts, keystone_stack, http, pg_instance):
    created, _ = pg_instance
    alice, password = accounts["alice"], "u-" + uuid.uuid4().hex
    ip = ip_of(http, created["id"])
    done = cli(alice, "database", "user", "create", "cli-pg", "reporter", password, "--databases", "appdb")
    assert done.returncode == 0, done.stderr
    settled(keystone_stack, created["id"])
    rows = {row["Name"]: row for row in cli_json(alice, "database", "user", "list", "cli-pg")}
    assert rows["reporter"]["Databases"] == "appdb" and set(rows) == {"app", "reporter"}
    assert pg_login(ip, "reporter", password, "appdb") == "reporter"
    assert password not in json.dumps(rows)
    done = cli(alice, "database", "user", "delete", "cli-pg", "reporter")
    assert done.returncode == 0, done.stderr
    settled(keystone_stack, created["id"])
    assert [row["Name"] for row in cli_json(alice, "database", "user", "list", "cli-pg")] == ["app"]
    with pytest.raises(psycopg2.OperationalError):
        pg_login(ip, "reporter", password, "appdb")


def test_database_root_enable_and_show(accounts, keystone_stack, http, pg_instance):
    created, _ = pg_instance
    alice = accounts["alice"]
    assert cli_json(alice, "database", "root", "show", "cli-pg") == {"is_root_enabled": False}
    root = cli_json(alice, "database", "root", "enable", "cli-pg")
    settled(keystone_stack, created["id"])
    ip = ip_of(http, created["id"])
    assert pg_login(ip, root["name"], root["password"], "postgres") == root["name"]
    assert cli_json(alice, "database", "root", "show", "cli-pg") == {"is_root_enabled": True}
    assert "No instance or cluster with a name or ID" in cli_fails(accounts["bob"], "database", "root", "show", created["id"])


def test_database_configuration_default(accounts, pg_instance):
    created, _ = pg_instance
    shown = cli_json(accounts["alice"], "database", "configuration", "default", created["id"])
    assert shown["port"] == 5432 and shown["max_connections"] == 100   # db.small's
    assert shown["shared_buffers"] == "128MB" and shown["password_encryption"] == "scram-sha-256"


def test_database_log_list_show_publish_discard(accounts, keystone_stack, pg_instance):
    created, _ = pg_instance
    alice = accounts["alice"]
    rows = {row["Name"]: row for row in cli_json(alice, "database", "log", "list", "cli-pg")}
    row = rows["error"]
    assert (row["Name"], row["Type"], row["Status"]) == ("error", "SYS", "Ready") and row["Pending"] > 0
    assert (rows["general"]["Type"], rows["general"]["Status"]) == ("USER", "Disabled")
    shown = cli_json(alice, "database", "log", "set", "cli-pg", "error", "--publish")
    assert (shown["status"], shown["pending"], shown["container"]) == ("Published", 0, "database_logs")
    prefix = keystone_stack.settings.backup_root / "database_logs" / shown["prefix"].rstrip("/")
    assert b"ready to accept connections" in b"".join(p.read_bytes() for p in sorted(prefix.glob("log-*")))
    assert cli_json(alice, "database", "log", "show", "cli-pg", "error")["published"] == shown["published"]
    assert "Cannot enable a SYSTEM log" in cli_fails(alice, "database", "log", "set", "cli-pg", "error", "--enable")
    assert cli_json(alice, "database", "log", "set", "cli-pg", "error", "--discard")["published"] == 0
    assert not prefix.exists()
    assert cli_fails(accounts["bob"], "database", "log", "list", created["id"])


def test_database_log_enable_and_disable(accounts, keystone_stack, http, pg_instance):
    """PostgreSQL's general log waits for a restart (the instance shows it); disabled again
    before one, nothing waits."""
    created, _ = pg_instance
    alice = accounts["alice"]
    enabled = cli_json(alice, "database", "log", "set", "cli-pg", "general", "--enable")
    assert (enabled["type"], enabled["status"]) == ("USER", "Restart Required")
    settled(keystone_stack, created["id"])
    assert cli_json(alice, "database", "log", "show", "cli-pg", "general")["status"] == "Restart Required"
    assert http["alice"].get(f"/instances/{created['id']}").json()["instance"]["status"] == "RESTART_REQUIRED"
    assert "Cannot enable and disable" in cli_fails(alice, "database", "log", "set", "cli-pg", "general",
                                                    "--enable", "--disable")
    assert cli_json(alice, "database", "log", "set", "cli-pg", "general", "--disable")["status"] == "Disabled"
    settled(keystone_stack, created["id"])
    assert http["alice"].get(f"/instances/{created['id']}").json()["instance"]["status"] == "ACTIVE"


def test_datastore_version_create_list_set_delete(accounts, keystone, keystone_stack):
    admin, alice, bob = accounts["admin"], accounts["alice"], accounts["bob"]
    name = f"7-cli-{uuid.uuid4().hex[:6]}"
    as_admin = keystone_stack.client(keystone.project_ids[admin.project_name], keystone.token("admin"))

    def names(datastore):
        return [row["Name"] for row in cli_json(alice, "datastore", "version", "list", datastore)]

    def by_name(wanted):
        return [v for v in as_admin.get("/mgmt/datastore-versions").json()["versions"] if v["name"] == wanted]

    (mariadb,) = by_name("10.11")
    try:
        done = cli(admin, "datastore", "version", "create", name, "redis", "redis", "redis-guest",
                   "--active", "--version-number", "7")
        assert done.returncode == 0, done.stderr
        (made,) = by_name(name)
        assert (made["version"], made["image"], made["active"]) == ("7", "redis-guest", True)
        assert name in names("redis")
        assert "dbaas:mgmt:datastore_version:create" in cli_fails(
            bob, "datastore", "version", "create", "x", "redis", "redis", "img", "--active")
        assert "this service runs Redis 7" in cli_fails(
            admin, "datastore", "version", "create", "9-cli", "redis", "redis", "img", "--version-number", "9")
        for args in (("--disable",), ("--enable", "--version-name", f"{name}-b", "--image", "redis-guest-2")):
            done = cli(admin, "datastore", "version", "set", made["id"], *args)
            assert done.returncode == 0, done.stderr
        assert name not in names("redis") and f"{name}-b" in names("redis")
        # A built-in version takes --disable too, and cannot be deleted.
        assert cli(admin, "datastore", "version", "set", mariadb["id"], "--disable").returncode == 0
        assert "10.11" not in names("mariadb")
        assert "built in" in cli_fails(admin, "datastore", "version", "delete", mariadb["id"])
        assert "dbaas:mgmt:datastore_version:delete" in cli_fails(bob, "datastore", "version", "delete", made["id"])
        done = cli(admin, "datastore", "version", "delete", made["id"])
        assert done.returncode == 0, done.stderr
        assert by_name(f"{name}-b") == [] and f"{name}-b" not in names("redis")
    finally:
        for version in by_name(name) + by_name(f"{name}-b"):
            as_admin.delete(f"/mgmt/datastore-versions/{version['id']}")
        gateway = HeatGateway(keystone_stack.settings)   # the built-in's change: its record, gone
        for stack_id in catalog.read(gateway).by_id(mariadb["id"]).records:
            gateway.delete_stack(stack_id)
    assert "10.11" in names("mariadb")


def test_database_backup_strategy_create_list_delete(accounts, http, pg_instance):
    created, _ = pg_instance
    alice = accounts["alice"]
    made = cli_json(alice, "database", "backup", "strategy", "create", "--instance-id", created["id"],
                    "--swift-container", "cli-box")
    assert (made["instance_id"], made["swift_container"], made["backend"]) == (created["id"], "cli-box", "local")
    rows = cli_json(alice, "database", "backup", "strategy", "list", "--instance-id", created["id"])
    assert [(row["Instance ID"], row["Swift Container"]) for row in rows] == [(created["id"], "cli-box")]
    assert cli_json(accounts["bob"], "database", "backup", "strategy", "list") == []
    done = cli(alice, "database", "backup", "strategy", "delete", "--instance-id", created["id"])
    assert done.returncode == 0, done.stderr
    assert http["alice"].get("/backup_strategies").json() == {"backup_strategies": []}


def test_database_configuration_create_attach_list(accounts, keystone_stack, http, pg_instance):
    created, _ = pg_instance
    alice, bob = accounts["alice"], accounts["bob"]
    group = cli_json(alice, "database", "configuration", "create", "cli-tuning",
                     '{"work_mem": 8192, "statement_timeout": 5000}',
                     "--datastore", "postgresql", "--datastore-version", "15")
    try:
        assert (group["name"], group["datastore_name"], group["datastore_version_name"]) == \
            ("cli-tuning", "postgresql", "15")
        assert json.loads(group["values"]) == {"work_mem": 8192, "statement_timeout": 5000}
        listed = cli_json(alice, "database", "configuration", "list")
        assert [(row["ID"], row["Name"]) for row in listed] == [(group["id"], "cli-tuning")]

        done = cli(alice, "database", "configuration", "attach", "cli-pg", "cli-tuning")
        assert done.returncode == 0, done.stderr
        settled(keystone_stack, created["id"])
        assert cli_json(alice, "database", "instance", "show", "cli-pg")["configuration"] == group["id"]
        assert [row["ID"] for row in cli_json(alice, "database", "configuration", "instances", "cli-tuning")] == \
            [created["id"]]
        assert cli_json(alice, "database", "configuration", "show", group["id"])["instance_count"] == 1
        ip = ip_of(http, created["id"])
        with psycopg2.connect(host=ip, port=5432, user="app", password=pg_instance[1], dbname="appdb",
                              connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SHOW statement_timeout")
            assert cur.fetchone()[0] == "5s"

        # Another project sees no group, and cannot attach, show or delete this one.
        assert cli_json(bob, "database", "configuration", "list") == []
        for command in (("show", group["id"]), ("delete", group["id"])):
            assert "No configuration with a name or ID" in cli_fails(bob, "database", "configuration", *command)
    finally:
        http["alice"].put(f"/instances/{created['id']}", {"instance": {"configuration": None}})
        settled(keystone_stack, created["id"])
        http["alice"].delete(f"/configurations/{group['id']}")


def test_sdk_databases_and_users(accounts, keystone_stack, http, pg_instance):
    created, _ = pg_instance
    conn, other = sdk(accounts["alice"]), sdk(accounts["bob"])
    conn.database.create_database(created["id"], name="sdkdb")
    settled(keystone_stack, created["id"])
    assert "sdkdb" in [d.name for d in conn.database.databases(created["id"])]
    password = "sdk-" + uuid.uuid4().hex
    conn.database.create_user(created["id"], name="sdkuser", password=password, databases=[{"name": "sdkdb"}])
    settled(keystone_stack, created["id"])
    users = {u.name: u.databases for u in conn.database.users(created["id"])}
    assert users["sdkuser"] == [{"name": "sdkdb"}]
    assert pg_login(ip_of(http, created["id"]), "sdkuser", password, "sdkdb") == "sdkuser"
    with pytest.raises(sdk_exceptions.NotFoundException):
        list(other.database.databases(created["id"]))

    conn.database.delete_user("sdkuser", instance=created["id"])
    settled(keystone_stack, created["id"])
    conn.database.delete_database("sdkdb", instance=created["id"])
    settled(keystone_stack, created["id"])
    assert "sdkdb" not in [d.name for d in conn.database.databases(created["id"])]
    assert "sdkuser" not in [u.name for u in conn.database.users(created["id"])]


def test_database_backup_create_list_show_delete_and_restore(accounts, http, pg_instance):
    created, password = pg_instance
    alice, bob = accounts["alice"], accounts["bob"]
    with psycopg2.connect(host=ip_of(http, created["id"]), port=5432, user="app", password=password,
                          dbname="appdb", connect_timeout=5) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the backup')")
    backup = cli_json(alice, "database", "backup", "create", "cli-nightly", "--instance", "cli-pg",
                      "--description", "through the CLI")
    restored = None
    try:
        assert (backup["name"], backup["instance_id"], backup["status"]) == ("cli-nightly", created["id"], "NEW")
        assert (backup["datastore"], backup["datastore_version"]) == ("postgresql", "15")
        assert wait_for(lambda: http["alice"].get(f"/backups/{backup['id']}").json()["backup"]["status"]
                        == "COMPLETED", timeout=120)
        shown = cli_json(alice, "database", "backup", "show", "cli-nightly")
        assert (shown["id"], shown["status"], shown["description"]) == (backup["id"], "COMPLETED", "through the CLI")
        assert shown["size_bytes"] > 0 and len(shown["checksum"]) == 64
        rows = cli_json(alice, "database", "backup", "list")
        assert [(r["ID"], r["Name"], r["Status"], r["Instance ID"]) for r in rows] == \
            [(backup["id"], "cli-nightly", "COMPLETED", created["id"])]
        assert [r["ID"] for r in cli_json(alice, "database", "backup", "list", "instance", "cli-pg")] == [backup["id"]]

        # The other project: nothing listed, nothing shown, deleted or taken of alice's instance.
        assert cli_json(bob, "database", "backup", "list") == []
        assert "No backup with a name or ID" in cli_fails(bob, "database", "backup", "show", backup["id"])
        assert "Unable to delete" in cli_fails(bob, "database", "backup", "delete", backup["id"])
        assert "could not be found" in cli_fails(bob, "database", "backup", "create", "x", "--instance", created["id"])

        # Restore: a new instance from the backup (by name), with the data it held.
        restored = cli_json(alice, "database", "instance", "create", "cli-restored", "--flavor", "db.tiny",
                            "--size", "1", "--backup", "cli-nightly")
        assert (restored["datastore"], restored["status"]) == ("postgresql", "BUILD")
        active = http["alice"].wait_status(restored["id"])
        with psycopg2.connect(host=active["ip"][0], port=5432, user="app", password=password, dbname="appdb",
                              connect_timeout=5) as conn, conn.cursor() as cur:
            cur.execute("SELECT v FROM kept")
            assert cur.fetchone() == ("before the backup",)

        done = cli(alice, "database", "backup", "delete", "cli-nightly")
        assert f"Request to delete database backup {backup['id']} has been accepted." in done.stdout, done.stderr
        assert wait_for(lambda: cli_json(alice, "database", "backup", "list") == [], timeout=60)
    finally:
        if restored:
            http["alice"].delete_and_wait(restored["id"])
        http["alice"].delete(f"/backups/{backup['id']}")


# Instance actions: restart, resize flavor and volume, reset status, force delete.

def server_pid(keystone_stack, instance_id):
    (local,) = [i for i in keystone_stack.embedded.driver.list() if (i.owner or {}).get("stack_id") == instance_id]
    return local.pid


def test_database_instance_restart_resize_reset_and_force_delete(accounts, keystone_stack, http):
    alice, bob = accounts["alice"], accounts["bob"]
    created = cli_json(alice, "database", "instance", "create", "cli-ops", "--flavor", "db.tiny", "--size", "1",
                       "--datastore", "redis", "--datastore-version", "7")
    iid = created["id"]
    try:
        http["alice"].wait_status(iid)
        before = server_pid(keystone_stack, iid)
        done = cli(alice, "database", "instance", "restart", "cli-ops")
        assert done.returncode == 0, done.stderr
        settled(keystone_stack, iid)
        assert server_pid(keystone_stack, iid) not in (None, before)

        done = cli(alice, "database", "instance", "resize", "flavor", "cli-ops", "db.medium")
        assert done.returncode == 0, done.stderr
        settled(keystone_stack, iid)
        done = cli(alice, "database", "instance", "resize", "volume", iid, "3")
        assert done.returncode == 0, done.stderr
        settled(keystone_stack, iid)
        shown = cli_json(alice, "database", "instance", "show", "cli-ops")
        assert (shown["status"], shown["flavor"], shown["volume"]) == ("ACTIVE", "3", 3), shown
        assert shown["operating_status"] == "HEALTHY" and shown["volume_used"] >= 0

        # Refusals come back as the client's own errors; bob cannot touch it.
        assert "already has flavor" in cli_fails(alice, "database", "instance", "resize", "flavor", iid, "db.medium")
        assert "larger" in cli_fails(alice, "database", "instance", "resize", "volume", iid, "2")
        for args in (("restart", iid), ("resize", "volume", iid, "5"), ("reset", "status", iid)):
            assert NOT_FOUND in cli_fails(bob, "database", "instance", *args) or \
                "404" in cli_fails(bob, "database", "instance", *args)

        done = cli(alice, "database", "instance", "reset", "status", "cli-ops")   # a check: still ACTIVE
        assert done.returncode == 0, done.stderr
        settled(keystone_stack, iid)
        assert cli_json(alice, "database", "instance", "show", iid)["status"] == "ACTIVE"

        done = cli(alice, "database", "instance", "force", "delete", "cli-ops")   # reset status, then delete
        assert done.returncode == 0, done.stderr
        http["alice"].wait_status(iid, ("GONE",))
    finally:
        http["alice"].delete_and_wait(iid)


def test_sdk_restart_and_resizes(accounts, keystone_stack, http):
    conn = sdk(accounts["alice"])
    instance = conn.database.create_instance(name="sdk-ops", flavor="1", volume={"size": 1},
                                             datastore={"type": "redis", "version": "7"})
    try:
        resource.wait_for_status(conn.database, instance, "ACTIVE", ["ERROR"], 0.1, 120)
        before = server_pid(keystone_stack, instance.id)
        instance.restart(conn.database)              # {"restart": null}
        settled(keystone_stack, instance.id)
        assert server_pid(keystone_stack, instance.id) not in (None, before)
        instance.resize(conn.database, "2")          # {"resize": {"flavorRef": "2"}}
        settled(keystone_stack, instance.id)
        instance.resize_volume(conn.database, 2)     # {"resize": {"volume": 2}}
        settled(keystone_stack, instance.id)
        shown = conn.database.get_instance(instance.id)
        assert (shown.status, shown.flavor["id"], shown.volume["size"]) == ("ACTIVE", "2", 2)
        # The sdk's actions do not raise on an error answer (its proxy does not raise): the
        # refused shrink shows as the instance left as it was.
        instance.resize_volume(conn.database, 1)
        assert conn.database.get_instance(instance.id).volume["size"] == 2
    finally:
        conn.database.delete_instance(instance, ignore_missing=True)
        resource.wait_for_delete(conn.database, instance, 0.1, 120)


def test_database_cluster_create_list_show_shrink_delete(accounts, keystone_stack, http):
    """python-troveclient's cluster commands against a Redis Cluster (quick to build); shrink
    looks each member up with GET /instances/{id}, as Trove answers it for cluster members."""
    alice = accounts["alice"]
    created = cli_json(alice, "database", "cluster", "create", "cli-cache", "redis", "7",
                       *["--instance=flavor=1,volume=1"] * 4)
    assert created["name"] == "cli-cache" and created["task_name"] == "BUILDING" and created["instance_count"] == 4
    settled(keystone_stack, created["id"], timeout=240)
    listed = cli_json(alice, "database", "cluster", "list")
    assert [(c["ID"], c["Task Name"]) for c in listed] == [(created["id"], "NONE")]
    shown = cli_json(alice, "database", "cluster", "show", created["id"])
    assert shown["datastore"] == "redis" and shown["instance_count"] == 4 and len(shown["ip"].split(", ")) == 4
    members = cli_json(alice, "database", "cluster", "list", "instances", created["id"])
    assert [(m["Name"], m["Flavor ID"], m["Size"], m["Status"]) for m in members] == [
        (f"cli-cache-member-{n}", "1", 1, "ACTIVE") for n in (1, 2, 3, 4)]   # the fourth is the replica
    assert cli_fails(accounts["bob"], "database", "cluster", "show", created["id"])
    done = cli(alice, "database", "cluster", "shrink", created["id"], members[3]["ID"])
    assert done.returncode == 0, done.stderr
    settled(keystone_stack, created["id"], timeout=240)
    after = http["alice"].get(f"/clusters/{created['id']}").json()["cluster"]
    assert [m["id"] for m in after["instances"]] == [m["ID"] for m in members[:3]]
    done = cli(alice, "database", "cluster", "delete", created["id"])
    assert done.returncode == 0, done.stderr
    wait_for(lambda: http["alice"].get(f"/clusters/{created['id']}").status_code == 404, timeout=120)
