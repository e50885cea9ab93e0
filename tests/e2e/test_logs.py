"""Instance logs end to end (no-auth profile): real servers made through the real Heat
engine, their own log file published into the backup storage's ``database_logs`` container
(local storage here: a directory under the backup dir), fetched back and read; USER logs
(MariaDB's general and slow_query, PostgreSQL's general) enabled on the running server, kept
across a restart, disabled, and never holding a password the service wrote."""
import contextlib
import uuid

import pytest

from tests.e2e.support import admin_password, change, connected, settled, setting

READY = {"postgresql": b"database system is ready to accept connections",
         "mariadb": b"ready for connections", "redis": b"Ready to accept connections"}


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb", "redis"])
def test_the_error_log_is_listed_published_fetched_and_discarded(stack, datastore):
    client = stack.client(f"log-{uuid.uuid4().hex[:8]}")
    created = client.create_instance(name="logs", flavorRef="1", volume={"size": 1}, datastore={"type": datastore})
    iid = created["id"]
    try:
        client.wait_status(iid)
        listed = logs_of(client, iid)["error"]
        assert (listed["name"], listed["type"], listed["status"]) == ("error", "SYS", "Ready")
        assert listed["pending"] > 0 and listed["published"] == 0
        published = client.post(f"/instances/{iid}/log", {"name": "error", "publish": 1}).json()["log"]
        assert (published["status"], published["pending"], published["published"]) == (
            "Published", 0, listed["pending"])
        assert published["container"] == "database_logs"
        # The published object, fetched from the container: the server's own log.
        prefix = stack.settings.backup_root / "database_logs" / published["prefix"].rstrip("/")
        text = b"".join(part.read_bytes() for part in sorted(prefix.glob("log-*")))
        assert READY[datastore] in text and len(text) == published["published"]
        assert admin_password(stack, iid).encode() not in text
        assert oct(prefix.stat().st_mode & 0o777) == "0o700"
        refused = client.post(f"/instances/{iid}/log", {"name": "error", "enable": 1})
        assert refused.status_code == 400 and "SYSTEM log" in refused.json()["badRequest"]["message"]
        assert client.post(f"/instances/{iid}/log", {"name": "audit"}).status_code == 404
        assert stack.client("someone-else").get(f"/instances/{iid}/log").status_code == 404
        discarded = client.post(f"/instances/{iid}/log", {"name": "error", "discard": 1}).json()["log"]
        assert (discarded["status"], discarded["published"]) == ("Ready", 0) and not prefix.exists()
    finally:
        client.delete_and_wait(iid)


def logs_of(client, iid):
    return {log["name"]: log for log in client.get(f"/instances/{iid}/log").json()["logs"]}


def log_action(client, stack, iid, **body):
    """A log call; when it changed the stack (enable, disable), Heat has carried it out after."""
    response = client.post(f"/instances/{iid}/log", body)
    assert response.status_code == 200, response.text
    settled(stack, iid)
    return response.json()["log"]


def published_text(stack, log):
    prefix = stack.settings.backup_root / "database_logs" / log["prefix"].rstrip("/")
    return b"".join(part.read_bytes() for part in sorted(prefix.glob("log-*")))


def run(datastore, host, user, password, *statements):
    with connected(datastore, host, user, password, "appdb") as connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


@contextlib.contextmanager
def app_instance(stack, datastore):
    """(client, instance id, address, app's password) of a new instance with database appdb
    and user app; deleted afterwards, also on failure."""
    client = stack.client(f"log-{uuid.uuid4().hex[:8]}")
    password = "App-" + uuid.uuid4().hex
    created = client.create_instance(
        name="user-logs", flavorRef="1", volume={"size": 1}, datastore={"type": datastore},
        databases=[{"name": "appdb"}], users=[{"name": "app", "password": password, "databases": [{"name": "appdb"}]}])
    try:
        yield client, created["id"], client.wait_status(created["id"])["ip"][0], password
    finally:
        client.delete_and_wait(created["id"])


def service_passwords(client, stack, iid):
    """Passwords the service writes while the logs are on: a new user's, a changed one's, root's."""
    secrets = ["New-" + uuid.uuid4().hex, "Changed-" + uuid.uuid4().hex]
    change(client, stack, "post", f"/instances/{iid}/users",
           {"users": [{"name": "later", "password": secrets[0], "databases": [{"name": "appdb"}]}]})
    change(client, stack, "put", f"/instances/{iid}/users", {"users": [{"name": "app", "password": secrets[1]}]})
    root = change(client, stack, "post", f"/instances/{iid}/root", expect=200).json()["user"]["password"]
    return secrets + [root, admin_password(stack, iid)]


def test_mariadb_general_and_slow_query_logs_are_enabled_live_kept_and_disabled(stack):
    with app_instance(stack, "mariadb") as (client, iid, host, password):
        listed = logs_of(client, iid)
        assert {name: (log["type"], log["status"]) for name, log in listed.items()} == {
            "error": ("SYS", "Ready"), "general": ("USER", "Disabled"), "slow_query": ("USER", "Disabled")}
        assert log_action(client, stack, iid, name="general", enable=1)["status"] in ("Enabled", "Ready")
        assert log_action(client, stack, iid, name="slow_query", enable=1)["status"] in ("Enabled", "Ready")
        assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "ACTIVE"   # live: no restart
        marker = f"general-{uuid.uuid4().hex}"
        run("mariadb", host, "app", password, f"SELECT '{marker}'",
            "SET SESSION long_query_time = 0", f"SELECT 'slow-{marker}'")
        secrets = [password] + service_passwords(client, stack, iid)
        password = secrets[2]   # app's, changed
        general = log_action(client, stack, iid, name="general", publish=1)
        assert general["status"] == "Published" and general["container"] == "database_logs"
        text = published_text(stack, general)
        assert marker.encode() in text and len(text) == general["published"]
        assert b"IDENTIFIED" not in text and not [s for s in secrets if s.encode() in text]
        slow = published_text(stack, log_action(client, stack, iid, name="slow_query", publish=1))
        assert f"slow-{marker}".encode() in slow and not [s for s in secrets if s.encode() in slow]
        # Kept across a restart: the server starts with both on.
        change(client, stack, "post", f"/instances/{iid}/action", {"restart": {}})
        admin = ("os_admin", admin_password(stack, iid))
        assert setting("mariadb", host, *admin, "general_log") == setting("mariadb", host, *admin, "slow_query_log") == "1"
        assert logs_of(client, iid)["general"]["status"] in ("Ready", "Partial")
        # Disabled: off at once, and the file stops growing.
        assert log_action(client, stack, iid, name="general", disable=1)["status"] == "Disabled"
        size = logs_of(client, iid)["general"]
        run("mariadb", host, "app", password, f"SELECT 'after-{marker}'")
        after = logs_of(client, iid)["general"]
        assert (after["published"] + after["pending"]) == (size["published"] + size["pending"])
        assert setting("mariadb", host, *admin, "general_log") == "0"
        discarded = log_action(client, stack, iid, name="general", discard=1)
        assert (discarded["status"], discarded["published"]) == ("Disabled", 0)


def test_postgresql_general_log_needs_a_restart_then_logs_statements_but_no_password(stack):
    with app_instance(stack, "postgresql") as (client, iid, host, password):
        enabled = log_action(client, stack, iid, name="general", enable=1)
        assert (enabled["type"], enabled["status"]) == ("USER", "Restart Required")
        assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "RESTART_REQUIRED"
        change(client, stack, "post", f"/instances/{iid}/action", {"restart": {}})
        assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "ACTIVE"
        admin = ("os_admin", admin_password(stack, iid))
        assert setting("postgresql", host, *admin, "log_statement") == "all"
        marker = f"general-{uuid.uuid4().hex}"
        run("postgresql", host, "app", password, f"SELECT '{marker}'")
        secrets = [password] + service_passwords(client, stack, iid)
        password = secrets[2]   # app's, changed
        general = log_action(client, stack, iid, name="general", publish=1)
        text = published_text(stack, general)
        assert general["status"] == "Published" and marker.encode() in text
        assert b"PASSWORD '" not in text.upper() and not [s for s in secrets if s.encode() in text]
        assert log_action(client, stack, iid, name="general", disable=1)["status"] == "Disabled"
        assert setting("postgresql", host, *admin, "log_statement") == "none"
        run("postgresql", host, "app", password, f"SELECT 'after-{marker}'")
        assert f"after-{marker}".encode() not in (
            stack.embedded.driver.home(_key(stack, iid)) / "data" / "log" / "general.log").read_bytes()


def _key(stack, iid):
    (local,) = [i for i in stack.embedded.driver.list() if (i.owner or {}).get("stack_id") == iid]
    return local.key
