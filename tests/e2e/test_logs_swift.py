"""Instance logs in a cloud's Swift (Keystone profile): the unmodified ``openstack database log
save`` and ``log tail`` read a published log with the user's own credentials.

Its own world, started once for the module and removed afterwards: a real Keystone, a real
Swift that authenticates with it (tests/swift_harness.py, one account per project, in the
catalog as ``object-store``), and a stack whose API and Heat use them. Publishing writes into
the caller's own account with the caller's token (service/logs.py); troveclient then finds
Swift in the catalog, lists the prefix the API answered and fetches every object under it.
Passwords reach the CLI only as OS_* variables (tests/e2e/test_clients.py's ``cli``)."""
import contextlib
import uuid

import pytest

from tests.e2e.support import admin_password, connected, settled
from tests.e2e.test_clients import cli, cli_json
from tests.harness import Stack
from tests.keystone import Keystone
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
        # Swift storage; no backup is taken here, so the operator's own Swift credentials
        # (DBAAS_SWIFT_*) are not needed: logs go to the caller's account.
        stack = Stack(auth_strategy="keystone", config_file=config_file, backup_storage="swift")
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
