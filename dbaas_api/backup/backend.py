"""The backup format, and the interface each backend (local.py, swift.py) fills.

A backup is stored under a prefix (the backup's id) as numbered segment objects followed by
a manifest, written last::

    <prefix>/segment-000000, segment-000001, ...   at most segment_size bytes each (Swift's)
    <prefix>/manifest.json   {"version", "size", "sha256", "segments": [{"name", "size", "sha256"}]}

The backup's checksum (the manifest's ``sha256``) is the SHA-256 of its segments' SHA-256
digests, concatenated in order (a hash list, as S3 multipart ETags are made): every byte is
hashed once, not twice, and the checksum still changes with any byte of the stream.

So a backup without a manifest is incomplete whatever else is there, and delete removes
everything under the prefix, complete or not. The writer streams: it holds at most
segments.Prefetched.BUFFERS chunks of CHUNK bytes, allocated once, whatever the backup's size.
The reader checks every segment's size and SHA-256 against the manifest and the hash list against the checksum the
backup record holds; any difference or missing object is a ``CorruptBackup`` that says
which object.
"""
import contextlib
import hashlib
import json
import math
import os
import queue
import threading
from dataclasses import dataclass

from dbaas_api import errors
from dbaas_api.backup.segments import Prefetched, Segment, next_chunk

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


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

    def put_stream(self, prefix, name, chunks, headers=None):
        """Store the object from an iterable of bytes; returns nothing, raises on failure.
        ``headers``: Swift metadata for the object (``X-Object-Meta-*``); a file has none."""
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
        source = Prefetched(chunks)
        try:
            pending = next_chunk(source)
            while pending is not None or not segments:   # an empty stream is one empty segment
                name = segment_name(len(segments))
                segment = Segment(source, pending, self.segment_size or math.inf, self.etag_md5)
                self.put_stream(prefix, name, segment)
                if segment.sha256 is None:
                    raise errors.DBaaSError(f"Storing {prefix}/{name} ended before the segment did.")
                segments.append({"name": name, "size": segment.size, "sha256": segment.sha256})
                pending = segment.rest if segment.rest is not None else next_chunk(source)
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


def checked_prefix(prefix):
    if not prefix or "/" in prefix or prefix in (".", ".."):
        raise errors.BadRequest(f"Not a backup prefix: {prefix!r}.")
    return prefix
