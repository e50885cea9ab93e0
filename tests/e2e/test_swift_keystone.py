"""Swift in the Keystone profile, as a cloud has it: the unmodified ``openstack database log
save`` and ``log tail`` read a published log with the user's own credentials, and backup
strategies change the container backups land in.

Its own world, started once for the module and removed afterwards: a real Keystone, a real
Swift that authenticates with it (tests/swift_harness.py, one account per project, in the
catalog as ``object-store``), and a stack whose API and Heat use them; backups go to the
service project's account as the dbaas service user. Publishing a log writes into the
caller's own account with the caller's token (service/logs.py); troveclient then finds Swift
in the catalog, lists the prefix the API answered and fetches every object under it.
Passwords reach the CLI only as OS_* variables (tests/e2e/test_clients.py's ``cli``), and the
engine only as DBAAS_SWIFT_KEY in its environment."""
import contextlib
import uuid

import pytest

from tests.e2e.support import admin_password, connected, settled
from tests.e2e.test_clients import cli, cli_json
from tests.harness import Stack
from tests.keystone import Keystone, wait_for
from tests.swift_harness import SwiftAIO


@pytest.fixture(scope="module")
def cloud():
    """(keystone, swift, stack), all stopped and removed afterwards, also on failure."""
    with contextlib.ExitStack() as stop:
        identity = Keystone()
        stop.callback(identity.down)
        identity.up()
        swift = SwiftAIO(keystone=identity)
        stop.callback(swift.stop)
        swift.start()
        config_file = identity.dir / "dbaas-api.conf"
        config_file.write_text(identity.dbaas_conf())
        config_file.chmod(0o600)
        service = identity.account("dbaas")
        stack = Stack(auth_strategy="keystone", config_file=config_file, backup_storage="swift",
                      swift_auth_url=service.auth_url, swift_auth_version="3", swift_user=service.username,
                      swift_key=service.password, swift_project=service.project_name)
        stop.callback(stack.destroy)
        identity.register_database(stack.url)
        identity.register_object_store(swift.url)
        stack.up()
        yield identity, swift, stack


def test_log_save_and_tail_read_the_published_general_log_from_the_users_swift(cloud, tmp_path):
    identity, swift, stack = cloud
    alice, bob = identity.account("alice"), identity.account("bob")
    http = stack.client(identity.project_ids["alpha"], identity.token("alice"))
    password = "App-" + uuid.uuid4().hex
    created = http.create_instance(
        name="saved-logs", flavorRef="1", volume={"size": 1}, datastore={"type": "mariadb"},
        databases=[{"name": "appdb"}], users=[{"name": "app", "password": password, "databases": [{"name": "appdb"}]}])
    iid = created["id"]
    try:
        host = http.wait_status(iid)["ip"][0]
        assert cli_json(alice, "database", "log", "set", iid, "general", "--enable")["status"] in ("Enabled", "Ready")
        settled(stack, iid)
        marker = f"saved-{uuid.uuid4().hex}"
        with connected("mariadb", host, "app", password, "appdb") as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT '{marker}'")
        published = cli_json(alice, "database", "log", "set", iid, "general", "--publish")
        assert (published["status"], published["container"]) == ("Published", "database_logs")

        # In alice's own account, as Trove lays it out: objects with their line counts under
        # the prefix, the metafile beside it.
        account = swift.connection_for(identity.account("alice"))
        _, listing = account.get_container("database_logs")
        names = [obj["name"] for obj in listing]
        under = [name for name in names if name.startswith(published["prefix"])]
        assert under and published["metafile"] in names and not published["metafile"].startswith(published["prefix"])
        assert int(account.head_object("database_logs", under[0])["x-object-meta-lines"]) > 0

        saved = tmp_path / "general.log"
        done = cli(alice, "database", "log", "save", iid, "general", "--file", str(saved))
        assert done.returncode == 0 and f"written to {saved}" in done.stdout, done.stdout + done.stderr
        text = saved.read_text()
        assert marker in text and len(text.encode()) == published["published"]
        assert "log_header_digest" not in text   # the metafile is not part of the log
        assert password not in text
        assert admin_password(stack, iid, identity.project_ids["service"], identity.token("dbaas")) not in text
        assert not [secret for secret in identity.secrets if secret in text]

        tail = cli(alice, "database", "log", "tail", iid, "general", "--lines", "20")
        assert tail.returncode == 0 and marker in tail.stdout, tail.stdout + tail.stderr
        assert len(tail.stdout.splitlines()) <= 20

        # bob's catalog is his own account: the instance is not his, and neither are the objects.
        elsewhere = tmp_path / "bob.log"
        cli(bob, "database", "log", "save", iid, "general", "--file", str(elsewhere))
        assert not elsewhere.exists()

        assert cli_json(alice, "database", "log", "set", iid, "general", "--discard")["published"] == 0
        assert account.get_container("database_logs")[1] == []
    finally:
        http.delete_and_wait(iid)


def test_backup_strategies_change_the_container_backups_land_in(cloud):
    """The unmodified CLI's ``backup strategy create`` (the project's, then one instance's):
    each backup's objects are in that container of the service project's account, none in the
    operator's default one; ``strategy delete`` goes back to it."""
    identity, swift, stack = cloud
    alice = identity.account("alice")
    http = stack.client(identity.project_ids["alpha"], identity.token("alice"))
    service = swift.connection_for(identity.account("dbaas"))
    source = http.create_instance(name="strategies", flavorRef="1", volume={"size": 1}, datastore={"type": "redis"})
    iid, backups = source["id"], []

    def backup_in(container):
        backup = cli_json(alice, "database", "backup", "create", f"bk-{len(backups)}", "--instance", iid)
        backups.append(backup["id"])
        assert wait_for(lambda: http.get(f"/backups/{backup['id']}").json()["backup"]["status"] == "COMPLETED",
                        timeout=120)
        assert http.get(f"/backups/{backup['id']}").json()["backup"]["locationRef"] == \
            f"swift://{container}/{backup['id']}"
        return {name: objects(service, name, backup["id"]) for name in ("project-box", "instance-box", "dbaas_backups")}

    try:
        http.wait_status(iid)
        made = cli_json(alice, "database", "backup", "strategy", "create", "--swift-container", "project-box")
        assert (made["swift_container"], made["backend"]) == ("project-box", "swift")
        landed = backup_in("project-box")
        assert "manifest.json" in landed["project-box"] and not landed["instance-box"] + landed["dbaas_backups"]
        cli_json(alice, "database", "backup", "strategy", "create", "--instance-id", iid,
                 "--swift-container", "instance-box")
        landed = backup_in("instance-box")
        assert "manifest.json" in landed["instance-box"] and not landed["project-box"] + landed["dbaas_backups"]
        for args in (("--instance-id", iid), ()):
            done = cli(alice, "database", "backup", "strategy", "delete", *args)
            assert done.returncode == 0, done.stderr
        assert cli_json(alice, "database", "backup", "strategy", "list") == []
        landed = backup_in("dbaas_backups")
        assert "manifest.json" in landed["dbaas_backups"]
    finally:
        for backup in reversed(backups):
            http.delete(f"/backups/{backup}")
        assert wait_for(lambda: all(http.get(f"/backups/{b}").status_code == 404 for b in backups), timeout=120)
        http.delete_and_wait(iid)
    for container in ("project-box", "instance-box", "dbaas_backups"):
        assert not [name for backup in backups for name in objects(service, container, backup)]


def objects(connection, container, prefix):
    """Names of the objects under ``prefix/`` in the container (none: no container yet)."""
    from swiftclient import ClientException
    try:
        return [obj["name"].split("/", 1)[1] for obj in
                connection.get_container(container, prefix=f"{prefix}/", full_listing=True)[1]]
    except ClientException as exc:
        if exc.http_status == 404:
            return []
        raise
