"""Instance logs end to end (no-auth profile): real servers made through the real Heat
engine, their own log file published into the backup storage's ``database_logs`` container
(local storage here: a directory under the backup dir), fetched back and read."""
import uuid

import pytest

from tests.e2e.support import admin_password

READY = {"postgresql": b"database system is ready to accept connections",
         "mariadb": b"ready for connections", "redis": b"Ready to accept connections"}


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb", "redis"])
def test_the_error_log_is_listed_published_fetched_and_discarded(stack, datastore):
    client = stack.client(f"log-{uuid.uuid4().hex[:8]}")
    created = client.create_instance(name="logs", flavorRef="1", volume={"size": 1}, datastore={"type": datastore})
    iid = created["id"]
    try:
        client.wait_status(iid)
        (listed,) = client.get(f"/instances/{iid}/log").json()["logs"]
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
        assert client.post(f"/instances/{iid}/log", {"name": "slow_query"}).status_code == 404
        assert stack.client("someone-else").get(f"/instances/{iid}/log").status_code == 404
        discarded = client.post(f"/instances/{iid}/log", {"name": "error", "discard": 1}).json()["log"]
        assert (discarded["status"], discarded["published"]) == ("Ready", 0) and not prefix.exists()
    finally:
        client.delete_and_wait(iid)
