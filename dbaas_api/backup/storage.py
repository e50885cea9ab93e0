"""Backup storage: one interface, two backends.

A backup is stored under a prefix (the backup's id) as numbered segment objects followed by
a manifest, written last::

    <prefix>/segment-000000, segment-000001, ...   at most segment_size bytes each (Swift's)
    <prefix>/manifest.json   {"version", "size", "sha256", "segments": [{"name", "size", "sha256"}]}

The backup's checksum (the manifest's ``sha256``) is the SHA-256 of its segments' SHA-256
digests, concatenated in order (a hash list, as S3 multipart ETags are made): every byte is
hashed once, not twice, and the checksum still changes with any byte of the stream.

So a backup without a manifest is incomplete whatever else is there, and delete removes
everything under the prefix, complete or not. The writer streams: it holds at most
_Prefetched.BUFFERS chunks of CHUNK bytes, allocated once, whatever the backup's size. The reader checks every
segment's size and SHA-256 against the manifest and the hash list against the checksum the
backup record holds; any difference or missing object is a ``CorruptBackup`` that says
which object.

- ``LocalStorage``: files under a directory (the embedded default, ``<state>/backups``).
- ``SwiftStorage``: objects in one Swift container through python-swiftclient; each segment
  is a streamed (chunked) PUT whose ETag Swift computes and we compare with our own MD5.

A location names its backend (``file:///dir/prefix``, ``swift://container/prefix``), so a
backup is restored from where it was written even after the default changes.
"""
import contextlib
import ctypes
import errno
import hashlib
import json
import math
import os
import queue
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from dbaas_api import errors

MANIFEST = "manifest.json"
# A container a user may name: safe as a Swift container and as a directory name, and short
# enough for a Heat tag (``container:<name>``, at most 80 characters).
CONTAINER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
CHUNK = 1 << 20           # bytes read and written at a time
FORMAT_VERSION = 1


# What a storage answers that a retry will not change: it is full, over quota, read-only,
# or not ours to write. A backup that meets one fails at once (heat_plugins/backup.py).
REFUSALS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


FULL_BELOW = 1 << 20   # bytes free: less is a full file system


class StorageRefused(errors.DBaaSError):
    """The backup storage cannot take a backup, and would not on a retry."""


class CorruptBackup(errors.DBaaSError):
    """A backup's objects are missing or differ from what was recorded."""


@dataclass(frozen=True)
class Stored:
    """What a finished backup is: where, how big, and its SHA-256 (hex)."""
    location: str
    size: int
    checksum: str


def hash_list(digests):
    """SHA-256 (hex) of hex SHA-256 digests, each taken as its 32 bytes, in order."""
    total = hashlib.sha256()
    for digest in digests:
        total.update(bytes.fromhex(digest))
    return total.hexdigest()


def segment_name(index):
    return f"segment-{index:06d}"


class Storage:
    """Base class: subclasses store and fetch whole objects under ``prefix``."""

    scheme = ""
    etag_md5 = False   # whether segments need their MD5 (Swift compares it with its ETag)

    def __init__(self, segment_size=None):
        self.segment_size = segment_size   # the largest object, in bytes; None: no limit

    # ---- what backends provide ---------------------------------------------------------

    def location(self, prefix):
        raise NotImplementedError

    def put_stream(self, prefix, name, chunks):
        """Store the object from an iterable of bytes; returns nothing, raises on failure."""
        raise NotImplementedError

    def get_stream(self, prefix, name):
        """The object's bytes as an iterable of chunks; CorruptBackup when it is missing."""
        raise NotImplementedError

    def delete_prefix(self, prefix):
        """Remove every object under prefix; tolerates none."""
        raise NotImplementedError

    def refusal(self):
        """Why this storage cannot take a backup now and would not on a retry (full,
        read-only), asked after a backup failed; None when that is not known to be so."""
        return None

    def settle(self, prefix):
        """Make what was stored under prefix durable (before the manifest, and after it)."""

    def names(self, prefix):
        """Names of the objects under prefix (for tests and operators)."""
        raise NotImplementedError

    # ---- shared logic --------------------------------------------------------------------

    def write(self, prefix, chunks):
        """Store a backup streamed from ``chunks`` (an iterable of bytes-like chunks, each
        consumed before the next is asked for): segments, then the manifest. Returns Stored.
        The caller deletes the prefix if this raises; the source is closed (its tool
        stopped) either way."""
        segments = []
        source = _Prefetched(chunks)
        try:
            pending = _next_chunk(source)
            while pending is not None or not segments:   # an empty stream is one empty segment
                name = segment_name(len(segments))
                segment = _Segment(source, pending, self.segment_size or math.inf, self.etag_md5)
                self.put_stream(prefix, name, segment)
                if segment.sha256 is None:
                    raise errors.DBaaSError(f"Storing {prefix}/{name} ended before the segment did.")
                segments.append({"name": name, "size": segment.size, "sha256": segment.sha256})
                pending = segment.rest if segment.rest is not None else _next_chunk(source)
        finally:
            source.close()   # a tool's stream stops its process
        return self._complete(prefix, segments)

    def write_tool(self, prefix, stream):
        """Store a backup a tool makes (a streams.ToolStream), as ``write`` does from its
        pipe; a backend the tool can write into itself lets it."""
        with stream.output() as output:
            return self.write(prefix, output.chunks())

    def _complete(self, prefix, segments):
        """The manifest, once every segment is stored: what makes a backup whole."""
        checksum = hash_list(segment["sha256"] for segment in segments)
        size = sum(segment["size"] for segment in segments)
        manifest = {"version": FORMAT_VERSION, "size": size, "sha256": checksum, "segments": segments}
        self.settle(prefix)
        self.put_stream(prefix, MANIFEST, [json.dumps(manifest, indent=1).encode()])
        self.settle(prefix)
        return Stored(location=self.location(prefix), size=size, checksum=checksum)

    def read(self, prefix, checksum):
        """The backup's bytes, verified as they stream; raises CorruptBackup on the first
        difference (missing object, wrong size, wrong SHA-256)."""
        manifest = self.manifest(prefix)
        if manifest.get("sha256") != checksum:
            raise CorruptBackup(f"Backup {self.location(prefix)}: its manifest does not match the "
                                "checksum recorded when it was taken.")
        if hash_list(segment["sha256"] for segment in manifest["segments"]) != checksum:
            raise CorruptBackup(f"Backup {self.location(prefix)}: its manifest's segments do not add "
                                "up to its checksum.")
        for segment in manifest["segments"]:
            digest, size = hashlib.sha256(), 0
            for chunk in self.get_stream(prefix, segment["name"]):
                digest.update(chunk)
                size += len(chunk)
                yield chunk
            if size != segment["size"] or digest.hexdigest() != segment["sha256"]:
                raise CorruptBackup(f"Backup {self.location(prefix)}: object {segment['name']} is "
                                    f"corrupt (checksum or size differs from the manifest).")

    def verify(self, prefix, checksum):
        """Read the whole backup as ``read`` does, only to check it; returns its size."""
        return sum(len(chunk) for chunk in self.read(prefix, checksum))

    def whole_file(self, prefix):
        """The path of a backup stored as one local file (a restore's tool may read it
        directly), or None."""
        return None

    def copy_to(self, prefix, checksum, fd):
        """Write the backup's bytes, verified as ``read`` verifies them, into ``fd`` (a pipe
        to a restore's tool, or a file); returns its size. A thread of its own reads and
        hashes up to AHEAD chunks ahead while this one writes (both let go of the GIL), so
        reading, hashing and the tool's work overlap. Should the reader of ``fd`` stop early
        (its exit code tells why), the rest is still read and verified: a restore is only
        declared good once every segment's size and SHA-256 matched."""
        ahead = queue.Queue(maxsize=self.AHEAD)
        stop = threading.Event()

        def read():
            try:
                for chunk in self.read(prefix, checksum):
                    ahead.put(chunk)
                    if stop.is_set():
                        return
                ahead.put(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the writing thread, raised there
                ahead.put(exc)

        reader = threading.Thread(target=read, name="restore-reader", daemon=True)
        reader.start()
        size, writing = 0, True
        try:
            while (chunk := ahead.get()) is not None:
                if isinstance(chunk, BaseException):
                    raise chunk
                size += len(chunk)
                view = memoryview(chunk)
                while writing and len(view):
                    try:
                        view = view[os.write(fd, view):]
                    except BrokenPipeError:
                        writing = False
        finally:
            stop.set()
            with contextlib.suppress(queue.Empty):
                while True:   # let a reader waiting for room see the stop
                    ahead.get_nowait()
            reader.join()
        return size

    AHEAD = 4   # chunks read ahead by copy_to

    def manifest(self, prefix):
        try:
            return json.loads(b"".join(self.get_stream(prefix, MANIFEST)))
        except ValueError:
            raise CorruptBackup(f"Backup {self.location(prefix)}: its manifest is unreadable.") from None


class LocalStorage(Storage):
    """Files under ``root/<prefix>/``. A file system needs no segments: a backup is one file
    (``segment-000000``) unless a segment size is given (tests use one, for the segmenting
    logic Swift needs). Segments are fsynced all together before the manifest is written,
    not one by one: the kernel writes the first back while the tool makes the next."""

    scheme = "file"

    def __init__(self, root, segment_size=None):
        super().__init__(segment_size)
        self.root = Path(root)

    def refusal(self):
        """A tool writing into a file here reports a full disk as its own failure ("could
        not write to file"), so the file system itself is asked."""
        existing = next(path for path in (self.root, *self.root.parents) if path.exists())
        found = os.statvfs(existing)
        if found.f_flag & os.ST_RDONLY:
            return f"the backup directory {self.root} is on a read-only file system"
        if found.f_bavail * found.f_frsize < FULL_BELOW:
            return f"the backup directory {self.root} is full"
        return None

    def write_tool(self, prefix, stream):
        """One file, which the tool writes itself (its stdout, as in ``tool > file``: no
        pipe, no copy through this process) while a thread reads it back behind it from the
        page cache and hashes it."""
        if self.segment_size is not None:
            return super().write_tool(prefix, stream)
        name = segment_name(0)
        path = self._directory(prefix) / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        hashing = _TrailingHash(path)
        try:
            with stream.output(into=fd) as output:
                output.finish()   # the tool succeeded: only then may the backup be whole
            size = os.fstat(fd).st_size
            os.fsync(fd)   # the disk writes while the hash catches up (settle then finds it done)
        except BaseException:
            hashing.stop()
            raise
        finally:
            os.close(fd)
        digest = hashing.result(size)
        return self._complete(prefix, [{"name": name, "size": size, "sha256": digest}])

    def whole_file(self, prefix):
        try:
            segments = self.manifest(prefix)["segments"]
        except (CorruptBackup, KeyError, TypeError):
            return None   # reading it the usual way says what is wrong
        path = self.root / _checked(prefix) / segment_name(0)
        return path if len(segments) == 1 and segments[0].get("name") == path.name and path.is_file() else None

    def _directory(self, prefix):
        directory = self.root / _checked(prefix)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return directory

    def location(self, prefix):
        return f"file://{self.root / _checked(prefix)}"

    def put_stream(self, prefix, name, chunks):
        path = self._directory(prefix) / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            for chunk in chunks:
                chunk = memoryview(chunk)
                while len(chunk):
                    chunk = chunk[os.write(fd, chunk):]   # straight from the buffer
        finally:
            os.close(fd)

    def settle(self, prefix):
        directory = self.root / _checked(prefix)
        for path in (*sorted(directory.iterdir()), directory):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def get_stream(self, prefix, name):
        path = self.root / _checked(prefix) / name
        try:
            handle = open(path, "rb", buffering=0)
        except FileNotFoundError:
            raise CorruptBackup(f"Backup {self.location(prefix)}: object {name} is missing.") from None
        return _file_chunks(handle)

    def delete_prefix(self, prefix):
        shutil.rmtree(self.root / _checked(prefix), ignore_errors=True)

    def names(self, prefix):
        directory = self.root / _checked(prefix)
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


class SwiftStorage(Storage):
    """Objects ``<prefix>/...`` in one container, created on first use."""

    scheme = "swift"
    etag_md5 = True

    def __init__(self, connect, container, segment_size):
        super().__init__(segment_size)
        self._connect = connect          # () -> swiftclient.Connection
        self.container = container
        self._conn = None
        self._container_ready = False

    @property
    def conn(self):
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def location(self, prefix):
        return f"swift://{self.container}/{_checked(prefix)}"

    def put_stream(self, prefix, name, chunks):
        # A segment comes with its MD5 (the splitter's thread computed it); anything else
        # is hashed here as it is sent.
        md5 = None if hasattr(chunks, "md5") else hashlib.md5(usedforsecurity=False)

        def counted():
            for chunk in chunks:
                if md5 is not None:
                    md5.update(chunk)
                yield chunk
        with _swift_errors(self, prefix, name):
            if not self._container_ready:
                # Before the first byte: a streamed PUT cannot be sent again once it has read
                # its source, so a missing container must not be found by a failed PUT.
                self.conn.put_container(self.container)
                self._container_ready = True
            etag = self.conn.put_object(self.container, f"{prefix}/{name}", counted())
        if etag != (chunks.md5 if md5 is None else md5.hexdigest()):
            raise CorruptBackup(f"Swift stored {prefix}/{name} with ETag {etag}, not the MD5 we sent.")

    def get_stream(self, prefix, name):
        with _swift_errors(self, prefix, name):
            _headers, body = self.conn.get_object(self.container, f"{prefix}/{name}", resp_chunk_size=CHUNK)
        return body

    def delete_prefix(self, prefix):
        from swiftclient import ClientException
        for name in self.names(prefix):
            try:
                self.conn.delete_object(self.container, f"{prefix}/{name}")
            except ClientException as exc:
                if exc.http_status != 404:   # already gone is what we wanted
                    raise errors.ServiceUnavailable(
                        f"Swift refused to delete {prefix}/{name}: {exc.msg} ({exc.http_status}).") from None

    def names(self, prefix):
        from swiftclient import ClientException
        try:
            _headers, objects = self.conn.get_container(self.container, prefix=f"{prefix}/", full_listing=True)
        except ClientException as exc:
            if exc.http_status == 404:
                return []
            raise errors.ServiceUnavailable(f"Swift: {exc.msg} ({exc.http_status}).") from None
        return sorted(obj["name"].split("/", 1)[1] for obj in objects)


def from_settings(settings, container=None):
    """The storage new backups go to: ``container`` (a user's, or a backup strategy's) or
    the operator's; on local storage a container is a directory under the backup dir."""
    if container is not None and not CONTAINER.match(container):
        raise errors.BadRequest(f"Not a container name: {container!r}.")
    if settings.backup_storage == "local":
        return LocalStorage(settings.backup_root / container if container else settings.backup_root)
    if settings.backup_storage == "swift":
        return SwiftStorage(lambda: _swift_connection(settings), container or settings.swift_container,
                            settings.backup_segment_mb << 20)
    raise errors.DBaaSError(f"DBAAS_BACKUP_STORAGE must be 'local' or 'swift', not {settings.backup_storage!r}.")


def for_location(settings, location):
    """(storage, prefix) for a location written by either backend."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        path = Path(parsed.path)
        return LocalStorage(path.parent), path.name
    if parsed.scheme == "swift":
        return (SwiftStorage(lambda: _swift_connection(settings), parsed.netloc, settings.backup_segment_mb << 20),
                parsed.path.strip("/"))
    raise errors.BadRequest(f"Unknown backup location {location!r}.")


def _swift_connection(settings):
    import swiftclient
    if not settings.swift_auth_url:
        raise errors.DBaaSError("Swift backups need DBAAS_SWIFT_AUTH_URL.")
    os_options = {"project_name": settings.swift_project} if settings.swift_project else None
    return swiftclient.Connection(authurl=settings.swift_auth_url, user=settings.swift_user,
                                  key=settings.swift_key, auth_version=settings.swift_auth_version,
                                  os_options=os_options, retries=2, timeout=60)


def _checked(prefix):
    if not prefix or "/" in prefix or prefix in (".", ".."):
        raise errors.BadRequest(f"Not a backup prefix: {prefix!r}.")
    return prefix


@contextlib.contextmanager
def _swift_errors(storage, prefix, name):
    """swiftclient's errors -> ours, naming the object and never the credentials."""
    from swiftclient import ClientException
    try:
        yield
    except ClientException as exc:
        if exc.http_status == 404:
            raise CorruptBackup(f"Backup {storage.location(prefix)}: object {name} is missing.") from None
        raise errors.ServiceUnavailable(
            f"Swift refused {prefix}/{name}: {exc.msg} ({exc.http_status or 'no answer'}).") from None


def _next_chunk(source):
    """The source's next non-empty chunk, or None at its end."""
    for chunk in source:
        if len(chunk):
            return chunk
    return None


def _file_chunks(handle):
    """A file's bytes in chunks of CHUNK, read unbuffered (no copy through a buffer)."""
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _writeback_starter():
    """sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE) from the C library (Python
    has no binding): it starts writing a range of a file to disk and returns at once,
    keeping the pages cached. None where there is no such call."""
    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return lambda fd, offset, length: call(fd, offset, length, 2)


_start_writeback = _writeback_starter()


class _TrailingHash:
    """SHA-256 of a file while another process writes it, by a thread that reads it back
    (from the page cache, into one buffer) up to its current end, where it waits a moment
    and looks again: what a writer has written below the end of a file is final. Behind
    itself it starts the disk writes of what it hashed, every WRITEBACK bytes, so the fsync
    at the end finds little left to do (measured for 1.2 GB: 0.65-0.8 s -> about 0.01 s)."""

    WAIT = 0.005
    WRITEBACK = 16 << 20

    def __init__(self, path):
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._written, self._stopped = threading.Event(), False
        self._sha256, self._read, self._error = hashlib.sha256(), 0, None
        self._thread = threading.Thread(target=self._run, name="backup-hash", daemon=True)
        self._thread.start()

    def result(self, size):
        """The hex digest, once the writer is done and the file (``size`` bytes) all read."""
        self._written.set()
        self._thread.join()
        os.close(self._fd)
        if self._error is not None:
            raise self._error
        if self._read != size:
            raise errors.DBaaSError(f"A backup file changed while it was hashed ({self._read} of {size} bytes).")
        return self._sha256.hexdigest()

    def stop(self):
        self._stopped = True
        self._written.set()
        self._thread.join()
        os.close(self._fd)

    def _run(self):
        buffer, synced = memoryview(bytearray(CHUNK)), 0
        try:
            while not self._stopped:
                written = self._written.is_set()   # before the read: then nothing comes after it
                got = os.preadv(self._fd, [buffer], self._read)
                if got:
                    self._sha256.update(buffer[:got])   # hashlib lets go of the GIL
                    self._read += got
                    if _start_writeback is not None and self._read - synced >= self.WRITEBACK:
                        _start_writeback(self._fd, synced, self._read - synced)
                        synced = self._read
                elif written:
                    return
                else:
                    self._written.wait(self.WAIT)
        except BaseException as exc:  # noqa: BLE001 - raised in the writer's thread by result()
            self._error = exc


class _Segment:
    """One segment's chunks, pulled from the source while the backend stores them and hashed
    as they pass (SHA-256 for the manifest; MD5 too when the backend compares it with an
    ETag) in the thread that stores them. ``first`` is the segment's first chunk (already
    taken from the source, None for an empty stream). Once read to its end: ``size``,
    ``sha256``, ``md5`` (hex) and ``rest``, what the last chunk held past the segment's end
    (the next segment's first chunk, or None)."""

    def __init__(self, source, first, limit, md5):
        self._source, self._first, self._limit, self._md5 = source, first, limit, md5
        self.size, self.sha256, self.md5, self.rest = 0, None, None, None

    def __iter__(self):
        sha256 = hashlib.sha256()
        md5 = hashlib.md5(usedforsecurity=False) if self._md5 else None
        chunk, self._first = self._first, None
        while chunk is not None:
            room = self._limit - self.size
            if len(chunk) > room:
                chunk = memoryview(chunk)
                chunk, self.rest = chunk[:room], chunk[room:]
            if len(chunk):
                sha256.update(chunk)   # hashlib lets go of the GIL for big chunks
                if md5 is not None:
                    md5.update(chunk)
                self.size += len(chunk)
                yield chunk
            if self.rest is not None or self.size == self._limit:
                break
            chunk = next(self._source, None)
        self.sha256 = sha256.hexdigest()
        self.md5 = md5.hexdigest() if md5 is not None else None


class _Prefetched:
    """The source's chunks, read ahead by a thread of its own into BUFFERS buffers of CHUNK
    bytes (allocated once), so the tool keeps writing while the caller's thread hashes and
    stores: the tool, the reading, the hashing and the sending overlap. A chunk is valid
    until the next is asked for; at most BUFFERS chunks are held, whatever the stream's size.
    ``close()`` stops the thread, which closes the source (a tool's stream stops its process)."""

    BUFFERS = 4

    def __init__(self, chunks):
        self._source = chunks
        self._free, self._filled = queue.Queue(), queue.Queue()
        for _ in range(self.BUFFERS):
            self._free.put(memoryview(bytearray(CHUNK)))
        self._held, self._done, self._stop = None, False, False
        self._thread = threading.Thread(target=self._run, name="backup-reader", daemon=True)
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._held is not None:   # the caller is done with the previous chunk
            self._free.put(self._held)
            self._held = None
        item = None if self._done else self._filled.get()
        if item is None:
            self._done = True
            raise StopIteration
        if isinstance(item, BaseException):
            self._done = True
            raise item
        self._held, size = item
        return self._held[:size]

    def close(self):
        self._stop = True
        self._free.put(None)   # wakes the thread if it waits for a buffer
        self._thread.join()

    def _run(self):
        iterator = iter(self._source)
        try:
            for chunk in iterator:
                chunk = memoryview(chunk)
                while len(chunk):
                    buffer = self._free.get()
                    if buffer is None or self._stop:
                        return
                    size = min(len(chunk), len(buffer))
                    buffer[:size] = chunk[:size]
                    chunk = chunk[size:]
                    self._filled.put((buffer, size))
            self._filled.put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            self._filled.put(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
