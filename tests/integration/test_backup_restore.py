"""Each datastore's backup tool into real storage and back into a new server, through the
local driver (no Heat): the restored content equals the source's at backup time."""
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from dbaas_api import datastores
from dbaas_api.backup import storage as backup_storage
from dbaas_api.backup.streams import Source, StoredBackup, take
from dbaas_api.config import Settings
from dbaas_api.drivers.local import ServerSpec
from tests import backup_content

ADMIN, NEW_ADMIN = "Admin-Pw-1", "Other-Admin-2"
FLAVOR = datastores.find_flavor("2")
# Where the admin logs in: the database the content goes to, and the admin's user name.
TARGET = {"postgresql": ("appdb", "os_admin"), "mariadb": ("appdb", "os_admin"), "redis": (None, "default")}


# A local backup is one file (the default: the restore's tool reads it while a worker
# verifies it), or segments of at most segment_size (the path every Swift backup takes).
@pytest.fixture(params=[None, 256 << 10], ids=["one-file", "segments"])
def storage(request):
    root = Path(tempfile.mkdtemp(prefix="dbaas-backups-", dir="/tmp"))
    try:
        yield backup_storage.LocalStorage(root, segment_size=request.param)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def new_server(driver, name, password=ADMIN, restore=None):
    ds = datastores.get(name)
    key = f"{name[:5]}-{uuid.uuid4().hex[:8]}"
    return driver.create(key, ServerSpec(ds, ds.default_version, FLAVOR, password, owner={"test": True}, restore=restore))


def backup(driver, instance, storage, parent=None):
    ds = datastores.get(instance.datastore)
    workdir = Path(tempfile.mkdtemp(prefix="dbaas-bk-", dir="/tmp"))
    try:
        source = Source(instance.address, instance.port, ADMIN, instance.version,
                        datadir=instance.datadir, workdir=workdir)
        prefix = uuid.uuid4().hex
        stored, position = take(storage, prefix, ds, source, parent and parent["position"])
        return {"prefix": prefix, "location": stored.location, "checksum": stored.checksum,
                "size": stored.size, "position": position}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def chain_of(storage, *backups):
    """As the engine opens a chain: each backup read, verified and written into the restore's
    tool (or file) by a worker process (streams.StoredBackup.copy_to)."""
    return [(StoredBackup(Settings.from_env(), b["location"], b["checksum"]), b["position"]) for b in backups]


def prepare(driver, name):
    instance = new_server(driver, name)
    database, admin = TARGET[name]
    if database:
        with datastores.get(name).admin_session(instance.address, instance.port, ADMIN) as session:
            session.create_database(database)
    return instance, (instance.address, admin, ADMIN, database)


def content(name, instance, admin_password=ADMIN):
    database, admin = TARGET[name]
    return backup_content.fingerprint(name, instance.address, admin, admin_password, database)


@pytest.mark.parametrize("name", ["postgresql", "mariadb", "redis"])
def test_full_backup_restores_identical_content(driver, storage, name):
    source, login = prepare(driver, name)
    backup_content.fill(name, *login, "items", 3000)
    expected = content(name, source)
    taken = backup(driver, source, storage)
    assert taken["size"] > 0 and len(taken["checksum"]) == 64
    segments = len(storage.manifest(taken["prefix"])["segments"])
    assert segments == 1 if storage.segment_size is None else segments >= 1
    backup_content.fill(name, *login, "items", 100, start=10000)   # after the backup: not restored

    restored = new_server(driver, name, NEW_ADMIN, restore=chain_of(storage, taken))
    assert restored.address != source.address
    assert content(name, restored, NEW_ADMIN) == expected
    # The backup's admin password is not the restored server's.
    assert not datastores.get(name).probe(restored.address, restored.port, ADMIN)


def test_mariadb_incremental_chain_restores_each_point(driver, storage):
    source, login = prepare(driver, "mariadb")
    backup_content.fill("mariadb", *login, "items", 2000)
    full = backup(driver, source, storage)
    at_full = content("mariadb", source)
    backup_content.fill("mariadb", *login, "items", 500, start=5000)
    backup_content.change("mariadb", *login, "items")
    first = backup(driver, source, storage, parent=full)
    at_first = content("mariadb", source)
    backup_content.fill("mariadb", *login, "more", 300)
    second = backup(driver, source, storage, parent=first)
    at_second = content("mariadb", source)
    assert second["size"] < full["size"]   # only what changed
    assert at_full != at_first != at_second

    for chain, expected in (((full,), at_full), ((full, first), at_first), ((full, first, second), at_second)):
        restored = new_server(driver, "mariadb", NEW_ADMIN, restore=chain_of(storage, *chain))
        assert content("mariadb", restored, NEW_ADMIN) == expected
        driver.destroy(restored.key)


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_damaged_backup_fails_the_restore_and_leaves_nothing(driver, storage, damage):
    source, login = prepare(driver, "postgresql")
    backup_content.fill("postgresql", *login, "items", 3000)
    taken = backup(driver, source, storage)
    damaged = backup_storage.segment_name(0 if storage.segment_size is None else 1)
    segment = storage.root / taken["prefix"] / damaged
    if damage == "corrupt":
        data = bytearray(segment.read_bytes())
        data[100] ^= 0xFF
        segment.write_bytes(bytes(data))
    else:
        segment.unlink()
    before = set(driver.keys())
    with pytest.raises(backup_storage.CorruptBackup) as failure:
        new_server(driver, "postgresql", NEW_ADMIN, restore=chain_of(storage, taken))
    assert damaged in failure.value.message
    assert ("missing" if damage == "missing" else "corrupt") in failure.value.message
    assert set(driver.keys()) == before


def test_checksum_recorded_must_match(driver, storage):
    source, login = prepare(driver, "redis")
    taken = backup(driver, source, storage)
    with pytest.raises(backup_storage.CorruptBackup, match="does not match"):
        list(storage.read(taken["prefix"], "0" * 64))


def test_failed_tool_leaves_no_objects(driver, storage):
    source, _login = prepare(driver, "postgresql")
    ds = datastores.get("postgresql")
    wrong = Source(source.address, source.port, "wrong-password", source.version)
    with pytest.raises(Exception) as failure:
        take(storage, "failed", ds, wrong)
    assert "wrong-password" not in str(failure.value)
    assert storage.names("failed") == []


def test_postgresql_incremental_chain_restores_each_point(driver, storage):
    """Full, then two incrementals (the WAL archived since each parent): each point of the
    chain restores to the source's content at that backup, by content."""
    source, login = prepare(driver, "postgresql")
    backup_content.fill("postgresql", *login, "items", 2000)
    full = backup(driver, source, storage)
    at_full = content("postgresql", source)
    assert full["position"]["wal_from"] > 0
    backup_content.fill("postgresql", *login, "items", 500, start=5000)
    backup_content.change("postgresql", *login, "items")
    first = backup(driver, source, storage, parent=full)
    at_first = content("postgresql", source)
    backup_content.fill("postgresql", *login, "more", 300)
    second = backup(driver, source, storage, parent=first)
    at_second = content("postgresql", source)
    assert first["position"]["stop_lsn"] < second["position"]["stop_lsn"]
    assert at_full != at_first != at_second
    archive = source.datadir.parent / "wal-archive"
    assert archive.stat().st_mode & 0o777 == 0o700
    assert {path.stat().st_mode & 0o777 for path in archive.iterdir()} == {0o600}

    for chain, expected in (((full, first), at_first), ((full, first, second), at_second)):
        restored = new_server(driver, "postgresql", NEW_ADMIN, restore=chain_of(storage, *chain))
        assert content("postgresql", restored, NEW_ADMIN) == expected
        assert not datastores.get("postgresql").probe(restored.address, restored.port, ADMIN)
        driver.destroy(restored.key)
    # The instance and its archive go; its backups keep the WAL they need.
    driver.destroy(source.key)
    restored = new_server(driver, "postgresql", NEW_ADMIN, restore=chain_of(storage, full, first, second))
    assert content("postgresql", restored, NEW_ADMIN) == at_second


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_postgresql_damaged_wal_fails_the_restore(driver, storage, damage):
    source, login = prepare(driver, "postgresql")
    backup_content.fill("postgresql", *login, "items", 1000)
    full = backup(driver, source, storage)
    backup_content.fill("postgresql", *login, "items", 1000, start=5000)
    incremental = backup(driver, source, storage, parent=full)
    damaged = backup_storage.segment_name(0 if storage.segment_size is None else 1)
    segment = storage.root / incremental["prefix"] / damaged
    if damage == "corrupt":
        data = bytearray(segment.read_bytes())
        data[len(data) // 2] ^= 0xFF
        segment.write_bytes(bytes(data))
    else:
        segment.unlink()
    before = set(driver.keys())
    with pytest.raises(backup_storage.CorruptBackup) as failure:
        new_server(driver, "postgresql", NEW_ADMIN, restore=chain_of(storage, full, incremental))
    assert damaged in failure.value.message and incremental["prefix"] in failure.value.message
    assert set(driver.keys()) == before


def test_postgresql_incremental_needs_an_archived_parent(driver, storage):
    source, _login = prepare(driver, "postgresql")
    with pytest.raises(Exception, match="without WAL archiving"):
        backup(driver, source, storage, parent={"position": {}})
