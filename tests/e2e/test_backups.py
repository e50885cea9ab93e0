"""Backups end to end, stored in a real Swift: HTTP -> API -> Heat -> DBaaS::Backup ->
the datastore's own tool -> Swift, and back into a new instance. Restores are checked by
content: row counts and checksums per table, every key's value digest.

The Swift all-in-one (tests/swift_harness.py) and an embedded stack configured for it are
started once for this module and removed afterwards, also on failure; every test deletes its
instances and backups and checks that no object of theirs is left in Swift.
"""
import concurrent.futures
import os
import signal
import time
import uuid

import pytest
import requests


from tests import backup_content
from tests.e2e.support import can_login, write_and_read
from tests.harness import Stack
from tests.swift_harness import KEY, USER, SwiftAIO

PASSWORD = "bk-Passw0rd!"
CONTAINER = "dbaas_backups"


@pytest.fixture(scope="module")
def swift():
    server = SwiftAIO()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def swift_stack(swift):
    # 1 MiB segments: even a small backup is several Swift objects.
    stack = Stack(backup_storage="swift", swift_auth_url=swift.auth_url, swift_user=USER, swift_key=KEY,
                  backup_segment_mb=1)
    try:
        stack.up()
        yield stack
    finally:
        stack.destroy()


class Session:
    """One project's instances and backups, all deleted at the end (backups newest first,
    so children go before their parents)."""

    def __init__(self, stack, swift=None):
        self.client = stack.client(f"bk-{uuid.uuid4().hex[:8]}")
        self.swift = swift
        self.instances, self.backups = [], []

    def instance(self, datastore, restore=None, users=True, name="source"):
        body = dict(name=name, flavorRef="2", volume={"size": 1}, datastore={"type": datastore})
        if users:
            body["users"] = [{"name": "app", "password": PASSWORD,
                              "databases": [{"name": "appdb"}] if datastore != "redis" else []}]
        if datastore != "redis" and restore is None:
            body["databases"] = [{"name": "appdb"}]
        if restore is not None:
            body["restorePoint"] = {"backupRef": restore}
        created = self.client.create_instance(**body)
        self.instances.append(created["id"])
        return created["id"]

    def active(self, instance_id):
        return self.client.wait_status(instance_id)["ip"][0]

    def settled(self, instance_id, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            instance = self.client.get(f"/instances/{instance_id}").json()["instance"]
            if instance["status"] in ("ACTIVE", "ERROR"):
                return instance
            time.sleep(0.1)
        raise AssertionError(f"instance {instance_id} did not settle")

    def backup(self, instance_id, expect=202, **fields):
        response = self.client.post("/backups", {"backup": {"name": "bk", "instance": instance_id, **fields}})
        assert response.status_code == expect, response.text
        if expect != 202:
            return response.json()
        backup = response.json()["backup"]
        self.backups.append(backup["id"])
        return backup["id"]

    def wait_backup(self, backup_id, wanted=("COMPLETED",), timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.client.get(f"/backups/{backup_id}")
            if response.status_code == 404 and "GONE" in wanted:
                return None
            backup = response.json()["backup"]
            if backup["status"] in wanted:
                return backup
            assert backup["status"] not in ("FAILED", "DELETE_FAILED"), backup
            time.sleep(0.05)
        raise AssertionError(f"backup {backup_id} not {wanted} within {timeout}s")

    def delete_backup(self, backup_id):
        response = self.client.delete(f"/backups/{backup_id}")
        assert response.status_code in (202, 404), response.text
        self.wait_backup(backup_id, ("GONE",))
        self.backups.remove(backup_id)

    def objects(self, backup_id, container=CONTAINER):
        """The Swift objects stored for a backup."""
        conn = self.swift.connection()
        try:
            listing = conn.get_container(container, prefix=f"{backup_id}/", full_listing=True)[1]
            return [o["name"].split("/", 1)[1] for o in listing]
        except Exception as exc:   # no container yet
            if getattr(exc, "http_status", None) == 404:
                return []
            raise
        finally:
            conn.close()

    def cleanup(self):
        for backup_id in reversed(list(self.backups)):
            self.client.delete(f"/backups/{backup_id}")
            self.wait_backup(backup_id, ("GONE", "FAILED", "DELETE_FAILED"))
        for instance_id in self.instances:
            self.client.delete_and_wait(instance_id)
        if self.swift is not None:
            for backup_id in self.backups:
                assert self.objects(backup_id) == [], f"objects of {backup_id} left in Swift"


@pytest.fixture
def session(swift_stack, swift):
    current = Session(swift_stack, swift)
    try:
        yield current
    finally:
        current.cleanup()


def login(datastore, host):
    """(host, user, password, database) as backup_content takes them."""
    return host, "app", PASSWORD, "appdb" if datastore != "redis" else None


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb", "redis"])
def test_full_backup_restores_identical_content_after_the_source_is_gone(session, datastore):
    source = session.instance(datastore)
    host = session.active(source)
    backup_content.fill(datastore, *login(datastore, host), "items", 5000)
    expected = backup_content.fingerprint(datastore, *login(datastore, host))

    backup_id = session.backup(source, description="first, with a description ☃")
    backup = session.wait_backup(backup_id)
    assert backup["size_bytes"] > 0 and len(backup["checksum"]) == 64
    assert backup["locationRef"] == f"swift://{CONTAINER}/{backup_id}"
    assert backup["description"] == "first, with a description ☃"
    assert (backup["datastore"]["type"], backup["instance_id"], backup["parent_id"]) == (datastore, source, None)
    objects = session.objects(backup_id)
    assert "manifest.json" in objects and len(objects) >= 2
    listed = session.client.get(f"/instances/{source}/backups").json()["backups"]
    assert [b["id"] for b in listed] == [backup_id]
    assert PASSWORD not in session.client.get(f"/backups/{backup_id}").text

    backup_content.fill(datastore, *login(datastore, host), "items", 100, start=100000)  # not in the backup
    session.client.delete_and_wait(source)                                              # backups outlive it
    session.instances.remove(source)
    assert session.client.get(f"/backups/{backup_id}").json()["backup"]["status"] == "COMPLETED"

    # Redis keeps users outside the RDB: the restore request names them, as a new instance does.
    restored = session.instance(datastore, restore=backup_id, users=datastore == "redis", name="restored")
    new_host = session.active(restored)
    assert backup_content.fingerprint(datastore, *login(datastore, new_host)) == expected


def test_mariadb_incremental_chain_restores_by_content(session):
    source = session.instance("mariadb")
    login_ = login("mariadb", session.active(source))
    backup_content.fill("mariadb", *login_, "items", 4000)
    full = session.backup(source)
    session.wait_backup(full)
    backup_content.fill("mariadb", *login_, "items", 1000, start=10000)
    backup_content.change("mariadb", *login_, "items")
    first = session.backup(source, parent_id=full)
    session.wait_backup(first)
    at_first = backup_content.fingerprint("mariadb", *login_)
    backup_content.fill("mariadb", *login_, "more", 500)
    second = session.backup(source, incremental=1)      # parent: the latest completed backup
    second_view = session.wait_backup(second)
    at_second = backup_content.fingerprint("mariadb", *login_)
    assert second_view["parent_id"] == first
    assert second_view["size_bytes"] < session.client.get(f"/backups/{full}").json()["backup"]["size_bytes"]

    for backup_id, expected in ((second, at_second), (first, at_first)):
        restored = session.instance("mariadb", restore=backup_id, users=False, name="restored")
        assert backup_content.fingerprint("mariadb", *login("mariadb", session.active(restored))) == expected

    # A parent with incremental children is not deleted (409); the chain goes newest first.
    response = session.client.delete(f"/backups/{first}")
    assert response.status_code == 409 and second in response.json()["conflict"]["message"]
    for backup_id in (second, first, full):
        session.delete_backup(backup_id)
        assert session.objects(backup_id) == []


def test_postgresql_incremental_chain_restores_by_content_after_the_source_is_gone(session, swift):
    """Incrementals are the WAL archived since their parent, stored in Swift as any backup:
    each point restores by content, also once the source (and its WAL archive) is deleted;
    a damaged WAL object fails the restore naming it."""
    source = session.instance("postgresql")
    login_ = login("postgresql", session.active(source))
    backup_content.fill("postgresql", *login_, "items", 4000)
    full = session.backup(source)
    session.wait_backup(full)
    backup_content.fill("postgresql", *login_, "items", 1000, start=10000)
    backup_content.change("postgresql", *login_, "items")
    first = session.backup(source, parent_id=full)
    first_view = session.wait_backup(first)
    at_first = backup_content.fingerprint("postgresql", *login_)
    backup_content.fill("postgresql", *login_, "more", 500)
    second = session.backup(source, incremental=1)      # parent: the latest completed backup
    second_view = session.wait_backup(second)
    at_second = backup_content.fingerprint("postgresql", *login_)
    assert (first_view["parent_id"], second_view["parent_id"]) == (full, first)
    assert "manifest.json" in session.objects(second)
    session.client.delete_and_wait(source)              # its WAL archive goes; its backups' WAL stays
    session.instances.remove(source)

    for backup_id, expected in ((second, at_second), (first, at_first)):
        restored = session.instance("postgresql", restore=backup_id, users=False, name="restored")
        assert backup_content.fingerprint("postgresql", *login("postgresql", session.active(restored))) == expected

    victim = f"{first}/segment-000001"
    conn = swift.connection()
    try:
        conn.delete_object(CONTAINER, victim)
    finally:
        conn.close()
    failed = session.settled(session.instance("postgresql", restore=second, users=False, name="broken"))
    assert failed["status"] == "ERROR" and "segment-000001" in failed["fault"]["message"]

    # As for MariaDB: a parent with incremental children is not deleted (409).
    response = session.client.delete(f"/backups/{first}")
    assert response.status_code == 409 and second in response.json()["conflict"]["message"]
    for backup_id in (second, first, full):
        session.delete_backup(backup_id)
        assert session.objects(backup_id) == []


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_damaged_backup_fails_the_restore_clearly(session, swift, damage):
    source = session.instance("postgresql")
    backup_content.fill("postgresql", *login("postgresql", session.active(source)), "items", 20000)
    backup_id = session.backup(source)
    session.wait_backup(backup_id)
    victim = f"{backup_id}/segment-000001"
    conn = swift.connection()
    try:
        if damage == "corrupt":
            data = bytearray(conn.get_object(CONTAINER, victim)[1])
            data[1000] ^= 0xFF
            conn.put_object(CONTAINER, victim, bytes(data))
        else:
            conn.delete_object(CONTAINER, victim)
    finally:
        conn.close()

    restored = session.instance("postgresql", restore=backup_id, users=False, name="restored")
    failed = session.settled(restored)
    assert failed["status"] == "ERROR"
    assert "segment-000001" in failed["fault"]["message"]
    assert ("missing" if damage == "missing" else "corrupt") in failed["fault"]["message"]


def big_postgresql(session):
    """An instance with enough data (~150 MB) that its backup takes a while."""
    source = session.instance("postgresql")
    host = session.active(source)
    with backup_content._pg(host, "app", PASSWORD, "appdb") as cur:
        cur.execute("CREATE TABLE big AS SELECT g, repeat(md5(g::text), 12) AS v "
                    "FROM generate_series(1, 350000) g")
    return source


def wait_running(session, source, backup_id):
    """Until the backup is storing objects; the instance shows BACKUP meanwhile."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if session.objects(backup_id):
            assert session.client.get(f"/instances/{source}").json()["instance"]["status"] == "BACKUP"
            return
        time.sleep(0.02)
    raise AssertionError("the backup never started storing")


def test_backup_interrupted_by_killing_the_datastore(session, swift_stack):
    source = big_postgresql(session)
    backup_id = session.backup(source)
    wait_running(session, source, backup_id)
    assert session.backup(source, expect=409)["conflict"]["message"]     # one at a time
    server = next(i for i in swift_stack.embedded.driver.list() if i.owner.get("stack_id") == source)
    os.kill(server.pid, signal.SIGKILL)

    failed = session.wait_backup(backup_id, ("FAILED", "COMPLETED"))
    assert failed["status"] == "FAILED" and failed["fault"]["message"]
    assert failed["locationRef"] is None and failed["size_bytes"] is None
    assert session.objects(backup_id) == []          # a failed backup removes what it stored
    session.delete_backup(backup_id)


def test_backup_interrupted_by_killing_the_engine(session, swift_stack):
    source = big_postgresql(session)
    backup_id = session.backup(source)
    wait_running(session, source, backup_id)
    os.kill(swift_stack.embedded.heat.pid(), signal.SIGKILL)
    # A busy process takes a moment to die; up() would take it for the running engine.
    deadline = time.monotonic() + 30
    while swift_stack.embedded.heat.pid() and time.monotonic() < deadline:
        time.sleep(0.02)
    swift_stack.up()   # the engine again (the API kept running); it marks the backup FAILED

    failed = session.wait_backup(backup_id, ("FAILED", "COMPLETED"))
    assert failed["status"] == "FAILED"
    session.delete_backup(backup_id)
    assert session.objects(backup_id) == []          # delete found what the dead engine left
    assert session.client.get(f"/instances/{source}").json()["instance"]["status"] == "ACTIVE"


@pytest.mark.parametrize("datastore", ["postgresql", "redis"])
def test_local_directory_is_the_embedded_default(stack, datastore):
    """Without Swift settings backups go to <state>/backups, one file each (PostgreSQL's
    restore reads it as tar's stdin, verified beside; Redis' is copied into its RDB), and go
    away with their backup."""
    current = Session(stack)
    try:
        source = current.instance(datastore, users=True)
        login_ = login(datastore, current.active(source))
        backup_content.fill(datastore, *login_, "items", 2000)
        expected = backup_content.fingerprint(datastore, *login_)
        backup_id = current.backup(source)
        backup = current.wait_backup(backup_id)
        directory = stack.state_dir / "backups" / backup_id
        assert backup["locationRef"] == f"local://{backup_id}"      # no path on the server
        [listed] = current.client.get("/backups").json()["backups"]
        assert (listed["locationRef"], listed["status"]) == (f"local://{backup_id}", "COMPLETED")
        assert [listed[key] for key in ("size", "size_bytes", "checksum")] == [
            backup[key] for key in ("size", "size_bytes", "checksum")] and backup["size_bytes"] > 0
        assert sorted(p.name for p in directory.iterdir()) == ["manifest.json", "segment-000000"]
        restored = current.instance(datastore, restore=backup_id, users=datastore == "redis", name="restored")
        assert backup_content.fingerprint(datastore, *login(datastore, current.active(restored))) == expected
        # Its first change renders no restore_from: every read while Heat works on it answers.
        first_change = ("/databases", {"databases": [{"name": "later"}]}) if datastore != "redis" else (
            "/users", {"users": [{"name": "later", "password": PASSWORD}]})
        # The change is answered once applied: the reads run beside it, on their own client.
        reader = requests.Session()
        reader.headers.update(current.client.session.headers)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(current.client.post, f"/instances/{restored}{first_change[0]}", first_change[1])
            reads = 0
            while not answer.done() or not reads:
                shown = reader.get(f"{current.client.base}/instances/{restored}", timeout=30)
                assert shown.status_code == 200, shown.text
                reads += 1
            assert answer.result().status_code == 202, answer.result().text
        current.delete_backup(backup_id)
        assert not directory.exists()
    finally:
        current.cleanup()


def test_backup_strategies_change_the_swift_container_backups_land_in(session, swift):
    """A project's strategy, then one instance's, then the request's own swift_container."""
    source = session.instance("redis")
    session.active(source)
    client = session.client
    assert client.post("/backup_strategies", {"backup_strategy": {"swift_container": "project-box"}}).status_code == 202
    by_project = session.wait_backup(session.backup(source))
    assert by_project["locationRef"] == f"swift://project-box/{by_project['id']}"
    assert "manifest.json" in session.objects(by_project["id"], "project-box")
    assert session.objects(by_project["id"]) == []            # not in the operator's container
    listed = {b["id"]: b for b in client.get("/backups").json()["backups"]}
    assert [listed[by_project["id"]][key] for key in ("locationRef", "size", "size_bytes", "checksum")] == [
        by_project[key] for key in ("locationRef", "size", "size_bytes", "checksum")]   # read from Swift

    assert client.post("/backup_strategies", {"backup_strategy": {
        "instance_id": source, "swift_container": "instance-box"}}).status_code == 202
    strategies = client.get("/backup_strategies").json()["backup_strategies"]
    assert sorted((s["instance_id"], s["swift_container"], s["backend"]) for s in strategies) == [
        ("", "project-box", "swift"), (source, "instance-box", "swift")]
    by_instance = session.wait_backup(session.backup(source))
    assert "manifest.json" in session.objects(by_instance["id"], "instance-box")
    asked = session.wait_backup(session.backup(source, swift_container="asked-box"))
    assert "manifest.json" in session.objects(asked["id"], "asked-box")

    restored = session.instance("redis", restore=by_instance["id"], name="from-instance-box")
    session.active(restored)
    for backup in (asked, by_instance, by_project):
        session.delete_backup(backup["id"])
    assert session.objects(by_instance["id"], "instance-box") == []
    assert client.delete(f"/backup_strategies?instance_id={source}").status_code == 202
    assert client.delete("/backup_strategies").status_code == 202
    assert client.get("/backup_strategies").json() == {"backup_strategies": []}


@pytest.fixture(scope="module")
def refusing_stack(tmp_path_factory):
    """An embedded stack whose backup directory is a tiny tmpfs of its own (mounted here, root
    only), which a test fills or makes read-only."""
    import subprocess
    mount = tmp_path_factory.mktemp("backup-mount")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount)]).returncode:
        pytest.skip("cannot mount a tmpfs here (not root?)")
    stack = Stack(backup_dir=mount)
    try:
        stack.up()
        yield stack, mount
    finally:
        stack.destroy()
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_backup_the_storage_cannot_take_fails_at_once(refusing_stack):
    """Full or read-only storage does not get better on Heat's retries (6 tries, ~69 s of
    BUILDING before): the backup is FAILED within seconds, the instance unharmed."""
    import subprocess
    stack, mount = refusing_stack
    current = Session(stack)
    try:
        source = current.instance("postgresql")
        current.active(source)
        filler = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)     # the storage is full
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(filler)
        for state in ("full", "read-only"):
            if state == "read-only":
                (mount / "filler").unlink()
                subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
            started = time.monotonic()
            backup_id = current.backup(source)
            backup = current.wait_backup(backup_id, wanted=("FAILED",), timeout=60)
            took = time.monotonic() - started
            print(f"\nbackup to {state} storage: FAILED after {took:.1f} s")
            assert took < 15, (state, took)
            assert current.client.get(f"/instances/{source}").json()["instance"]["status"] == "ACTIVE"
            assert backup["status"] == "FAILED"
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(mount)])
        current.cleanup()


@pytest.mark.parametrize("datastore", ["mariadb", "postgresql"])
def test_a_restore_naming_what_the_backup_holds_keeps_it(stack, datastore):
    """Trove's clients restore with the source's databases and users in the request: the
    restored server has them already, so each is kept (the user takes the password asked
    for and the grants named), the data stays, and what is new is made beside it."""
    current = Session(stack)
    try:
        source = current.instance(datastore)
        login_ = login(datastore, current.active(source))
        backup_content.fill(datastore, *login_, "items", 500)
        expected = backup_content.fingerprint(datastore, *login_)
        backup_id = current.backup(source)
        current.wait_backup(backup_id)
        restored = current.client.create_instance(
            name="restored", flavorRef="2", volume={"size": 1}, restorePoint={"backupRef": backup_id},
            databases=[{"name": "appdb"}, {"name": "newdb"}],
            users=[{"name": "app", "password": "New-Passw0rd", "databases": [{"name": "appdb"}, {"name": "newdb"}]},
                   {"name": "fresh", "password": PASSWORD, "databases": [{"name": "newdb"}]}])["id"]
        current.instances.append(restored)
        assert current.settled(restored)["status"] == "ACTIVE"
        host = current.active(restored)
        assert backup_content.fingerprint(datastore, host, "app", "New-Passw0rd", "appdb") == expected
        assert not can_login(datastore, host, "app", PASSWORD, "appdb")
        assert write_and_read(datastore, host, "app", "New-Passw0rd", "newdb") == "v"
        assert can_login(datastore, host, "fresh", PASSWORD, "newdb")
        base = f"/instances/{restored}"
        assert current.client.get(f"{base}/databases").json()["databases"] == [{"name": "appdb"}, {"name": "newdb"}]
        assert {u["name"]: [d["name"] for d in u["databases"]] for u in current.client.get(f"{base}/users").json()[
            "users"]} == {"app": ["appdb", "newdb"], "fresh": ["newdb"]}
    finally:
        current.cleanup()
