"""The storage's segmenting, manifest and verification, on the local backend (files in a
temporary directory; the Swift backend runs against a real Swift in tests/e2e)."""
import hashlib
import json
import threading

import pytest

from dbaas_api import errors
from dbaas_api.backup import storage as backup_storage
from dbaas_api.backup.streams import ToolStream, read_chunks, take


@pytest.fixture
def local(tmp_path):
    return backup_storage.LocalStorage(tmp_path, segment_size=10)


@pytest.mark.parametrize("chunks,sizes", [
    ([], [0]),                                 # an empty stream is one empty segment
    ([b"x" * 10], [10]),                       # exactly one segment
    ([b"abc", b"defghij", b"k"], [10, 1]),     # chunks cut at the boundary
    ([b"y" * 25], [10, 10, 5]),                # a chunk longer than a segment
    ([b"z" * 10, b"", b"z" * 10], [10, 10]),   # empty chunks change nothing
])
def test_segments_and_manifest(local, chunks, sizes):
    stored = local.write("b1", chunks)
    data = b"".join(chunks)
    manifest = local.manifest("b1")
    assert [s["size"] for s in manifest["segments"]] == sizes
    assert stored.size == manifest["size"] == len(data)
    assert [s["sha256"] for s in manifest["segments"]] == [
        hashlib.sha256(data[i * 10:(i + 1) * 10]).hexdigest() for i in range(len(sizes))]
    assert stored.checksum == manifest["sha256"] == backup_storage.hash_list(s["sha256"] for s in manifest["segments"])
    assert stored.location == f"file://{local.root / 'b1'}"
    assert b"".join(local.read("b1", stored.checksum)) == data
    assert local.names("b1") == sorted(["manifest.json"] + [backup_storage.segment_name(i) for i in range(len(sizes))])


def test_a_source_that_reuses_one_buffer(local):
    """Tools' streams hand on views of one buffer, refilled for every chunk: what is stored
    must still be every byte, in order, across segment boundaries."""
    data = bytes(range(256)) * 3

    def reusing(step=7):
        buffer = bytearray(step)
        for start in range(0, len(data), step):
            piece = data[start:start + step]
            buffer[:len(piece)] = piece
            yield memoryview(buffer)[:len(piece)]
    stored = local.write("b7", reusing())
    assert stored.size == len(data) and b"".join(local.read("b7", stored.checksum)) == data
    assert [s["size"] for s in local.manifest("b7")["segments"]] == [10] * 76 + [8]


def test_read_chunks_fills_each_chunk_but_the_last(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"a" * 25)
    with open(path, "rb", buffering=0) as raw:
        assert [bytes(chunk) for chunk in read_chunks(raw, size=10)] == [b"a" * 10, b"a" * 10, b"a" * 5]
    path.write_bytes(b"b" * 20)
    with open(path, "rb", buffering=0) as raw:
        assert [len(chunk) for chunk in read_chunks(raw, size=10)] == [10, 10]


def test_a_source_error_reaches_the_caller_and_stops_the_reader(local):
    def failing():
        yield b"a" * 15
        raise errors.DBaaSError("the tool died")
    with pytest.raises(errors.DBaaSError, match="the tool died"):
        local.write("b2", failing())
    assert not [t for t in threading.enumerate() if t.name == "backup-reader"]


def test_a_storage_error_stops_the_tool(tmp_path):
    class Refusing(backup_storage.LocalStorage):
        def put_stream(self, prefix, name, chunks):
            raise errors.ServiceUnavailable("storage is down")
    stream = ToolStream(["yes"])   # endless output: only being stopped ends it
    with pytest.raises(errors.ServiceUnavailable):
        take(Refusing(tmp_path, 1 << 20), "b3", _Tool(stream), source=None)
    assert not [t for t in threading.enumerate() if t.name == "backup-reader"]


class _Tool:
    """A datastore whose backup tool is the given stream."""

    def __init__(self, stream):
        self.stream = stream

    def backup_stream(self, source, parent_position=None):
        return self.stream


@pytest.mark.parametrize("damage", ["segment", "manifest-size", "missing", "checksum"])
def test_every_difference_is_caught(local, damage):
    stored = local.write("b4", [b"0123456789" * 3])
    segment = local.root / "b4" / backup_storage.segment_name(1)
    checksum = stored.checksum
    if damage == "segment":
        segment.write_bytes(b"012345678X")
    elif damage == "manifest-size":
        manifest = json.loads((local.root / "b4" / "manifest.json").read_text())
        manifest["segments"][1]["size"] = 11
        (local.root / "b4" / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "missing":
        segment.unlink()
    else:
        checksum = "0" * 64
    with pytest.raises(backup_storage.CorruptBackup) as failure:
        b"".join(local.read("b4", checksum))
    if damage != "checksum":
        assert backup_storage.segment_name(1) in failure.value.message


def _copied(local, prefix, checksum, reader_stops_after=None):
    """copy_to into a pipe whose reader takes ``reader_stops_after`` bytes (all when None)
    and closes it; what it got."""
    import os
    read_end, write_end = os.pipe()
    got = bytearray()

    def drain():
        with open(read_end, "rb", buffering=0) as reader:
            while (reader_stops_after is None or len(got) < reader_stops_after) and (chunk := reader.read(7)):
                got.extend(chunk)
    thread = threading.Thread(target=drain)
    thread.start()
    try:
        size = local.copy_to(prefix, checksum, write_end)
    finally:
        os.close(write_end)
        thread.join()
    return size, bytes(got)


def test_copy_to_writes_every_byte_verified(local):
    data = bytes(range(256)) * 3
    stored = local.write("c1", [data])
    size, got = _copied(local, "c1", stored.checksum)
    assert size == len(data) and got == data


@pytest.mark.parametrize("damage", ["segment", "missing", "checksum"])
def test_copy_to_raises_on_any_difference(local, damage):
    stored = local.write("c2", [b"0123456789" * 3])
    segment = local.root / "c2" / backup_storage.segment_name(1)
    if damage == "segment":
        segment.write_bytes(b"012345678X")
    elif damage == "missing":
        segment.unlink()
    with pytest.raises(backup_storage.CorruptBackup) as failure:
        _copied(local, "c2", "0" * 64 if damage == "checksum" else stored.checksum)
    if damage != "checksum":
        assert backup_storage.segment_name(1) in failure.value.message


def test_copy_to_verifies_the_rest_when_its_reader_stops_early(local):
    """A tool that stops reading (it found the end of its archive) must not let a damaged
    later segment pass: the rest is read and verified all the same."""
    stored = local.write("c3", [b"a" * 10 * 20])
    (local.root / "c3" / backup_storage.segment_name(19)).write_bytes(b"b" * 10)
    with pytest.raises(backup_storage.CorruptBackup, match=backup_storage.segment_name(19)):
        _copied(local, "c3", stored.checksum, reader_stops_after=5)
    intact = local.write("c4", [b"a" * 10 * 20])
    assert _copied(local, "c4", intact.checksum, reader_stops_after=5)[0] == 200


def test_a_worker_process_copies_a_restore(local, monkeypatch, tmp_path):
    """StoredBackup.copy_to: the worker process reads, verifies and writes into the fd it
    inherits; a damaged object fails with CorruptBackup naming it."""
    import os
    from dbaas_api.backup.streams import StoredBackup
    from dbaas_api.config import Settings
    monkeypatch.setenv("DBAAS_STATE_DIR", str(tmp_path / "state"))
    data = bytes(range(256)) * 40
    stored = local.write("w1", [data])
    backup = StoredBackup(Settings.from_env(), stored.location, stored.checksum)
    target = tmp_path / "restored"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        assert backup.copy_to(fd) == len(data)
    finally:
        os.close(fd)
    assert target.read_bytes() == data and b"".join(bytes(c) for c in backup) == data
    (local.root / "w1" / backup_storage.segment_name(3)).write_bytes(b"x" * 10)
    fd = os.open(tmp_path / "again", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with pytest.raises(backup_storage.CorruptBackup, match=backup_storage.segment_name(3)):
            backup.copy_to(fd)
    finally:
        os.close(fd)


def test_delete_removes_everything_under_the_prefix_only(local):
    local.write("b5", [b"x" * 30])
    local.write("b6", [b"y"])
    (local.root / "b5" / "leftover-of-a-dead-engine").write_bytes(b"z")
    local.delete_prefix("b5")
    local.delete_prefix("b5")   # already gone
    assert local.names("b5") == [] and local.names("b6") != []


@pytest.mark.parametrize("location,kind,prefix", [
    ("file:///var/lib/dbaas/backups/abc", backup_storage.LocalStorage, "abc"),
    ("swift://dbaas_backups/abc", backup_storage.SwiftStorage, "abc"),
])
def test_a_location_names_its_backend(location, kind, prefix):
    from dbaas_api.config import Settings
    storage, found = backup_storage.for_location(Settings(), location)
    assert isinstance(storage, kind) and found == prefix and storage.location(prefix) == location


def test_prefixes_cannot_escape(local):
    for bad in ("", "..", "a/b"):
        with pytest.raises(errors.BadRequest):
            local.location(bad)


def _tool_backup(storage, prefix, argv):
    """A backup of a tool's stdout, as the worker takes it (streams.take's pipe path)."""
    return storage.write_tool(prefix, ToolStream(argv))


def test_a_tool_writes_one_local_file_hashed_as_it_is_written(tmp_path):
    """The default local backend: the tool's stdout is the file itself, and a thread hashes
    it behind the writer (here a writer that pauses, so the hash catches up and waits);
    the manifest is the same as ever."""
    source = tmp_path / "source"
    source.write_bytes(bytes(range(256)) * ((3 << 20) // 256) + b"tail")   # several pipefuls
    storage = backup_storage.LocalStorage(tmp_path / "backups")
    stored = _tool_backup(storage, "p1", ["sh", "-c", f"head -c 1000000 {source}; sleep 0.2; tail -c +1000001 {source}"])
    data = source.read_bytes()
    [segment] = storage.manifest("p1")["segments"]
    assert segment == {"name": backup_storage.segment_name(0), "size": len(data),
                       "sha256": hashlib.sha256(data).hexdigest()}
    assert stored.size == len(data) and stored.checksum == backup_storage.hash_list([segment["sha256"]])
    assert (storage.root / "p1" / segment["name"]).read_bytes() == data
    assert storage.whole_file("p1") == storage.root / "p1" / segment["name"]
    empty = _tool_backup(storage, "p2", ["true"])
    assert empty.size == 0 and storage.manifest("p2")["segments"][0]["sha256"] == hashlib.sha256().hexdigest()


def test_a_failing_tool_leaves_no_manifest(tmp_path):
    storage = backup_storage.LocalStorage(tmp_path)
    with pytest.raises(errors.DBaaSError, match=r"exit code 3\): broken"):
        _tool_backup(storage, "p3", ["sh", "-c", "head -c 100000 /dev/zero; echo broken >&2; exit 3"])
    assert "manifest.json" not in storage.names("p3")


def test_a_one_file_backup_is_the_restore_tools_stdin_verified_beside_it(monkeypatch, tmp_path):
    """StoredBackup.deliver: the tool reads the file itself (a regular file, not a pipe)
    while a worker process verifies it; a damaged file fails the restore, naming it."""
    import os
    import stat
    import subprocess
    from dbaas_api.backup.streams import StoredBackup
    from dbaas_api.config import Settings
    monkeypatch.setenv("DBAAS_STATE_DIR", str(tmp_path / "state"))
    storage = backup_storage.LocalStorage(tmp_path / "backups")
    data = bytes(range(256)) * 4000
    stored = storage.write("d1", [data])
    backup = StoredBackup(Settings.from_env(), stored.location, stored.checksum)
    tools, stdin_kinds = [], []

    def start(stdin):
        stdin_kinds.append(stat.S_ISREG(os.fstat(stdin).st_mode))
        tools.append(subprocess.Popen(["sha256sum"], stdin=stdin, stdout=subprocess.PIPE))
    backup.deliver(start)
    assert stdin_kinds == [True]
    assert tools[0].communicate()[0].split()[0].decode() == hashlib.sha256(data).hexdigest()
    damaged = storage.root / "d1" / backup_storage.segment_name(0)
    damaged.write_bytes(b"x" + data[1:])
    with pytest.raises(backup_storage.CorruptBackup, match=f"{backup_storage.segment_name(0)} is corrupt"):
        backup.deliver(start)
    tools[1].wait()


def test_a_worker_started_ahead_answers_the_next_request(monkeypatch, tmp_path):
    """client.call(ahead=True): the request goes to the worker started after the previous
    one (its imports done while nothing waited), and the next is started; a worker started
    ahead stops when its engine goes (its stdin ends) without having been asked."""
    from dbaas_api.backup import client
    monkeypatch.setenv("DBAAS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(client, "_ahead", None)
    storage = backup_storage.LocalStorage(tmp_path / "backups")
    stored = storage.write("a1", [b"z" * 5000])
    request = client.restore_request(stored.location, stored.checksum, None)
    try:
        assert client.call(request, ahead=True) == {"size": 5000}
        first_ahead = client._ahead
        assert first_ahead.process.poll() is None   # started, waiting
        assert client.call(request, ahead=True) == {"size": 5000}
        # it answered and ended (0, or 3 when it saw its stdin close before its own exit)
        assert first_ahead.process.returncode in (0, 3) and client._ahead is not first_ahead
    finally:
        spare = client._ahead
        spare.process.stdin.close()   # as when the engine dies
        assert spare.process.wait(timeout=30) == 0
        spare.process.stdout.close()
        spare.stderr.close()


def test_a_tool_writing_into_a_file_is_stopped_with_its_worker(tmp_path):
    """A tool whose stdout is a file gets no SIGPIPE when the worker dies: the worker's
    parent-watch stops the tools still running (streams.stop_running_tools)."""
    import os
    from dbaas_api.backup import streams
    fd = os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(errors.DBaaSError, match="exit code -9"):
            with ToolStream(["sleep", "60"]).output(into=fd) as output:
                assert len(streams.RUNNING) == 1
                streams.stop_running_tools()
                output.finish()
    finally:
        os.close(fd)
    assert not streams.RUNNING
