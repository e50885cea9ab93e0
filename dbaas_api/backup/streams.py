"""Backup streams: a datastore's own backup tool, its standard output read chunk by chunk.

Nothing here holds more than one chunk of a backup. The tool's password travels in its
environment (PGPASSWORD, MYSQL_PWD, REDISCLI_AUTH: readable only by its own user and root),
never in argv; its stderr goes to an anonymous temporary file, and only its last line, with
any password masked, reaches an error message.
"""
import contextlib
import fcntl
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dbaas_api import errors
from dbaas_api.backup import client
from dbaas_api.backup import storage as backup_storage

CHUNK = 1 << 20        # bytes handed on at a time, from one buffer reused for every chunk
PIPE_SIZE = 1 << 20    # the tool's stdout pipe (Linux' default is 64 KiB: sixteen times the reads)
TOOL_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC", "HOME": "/nonexistent"}


@dataclass(frozen=True)
class Source:
    """The running server a backup is taken from. ``datadir`` is set when the server's files
    are on this machine (the local driver); tools that read files (mariadb-backup) need it."""
    host: str
    port: int
    password: str
    version: str
    datadir: Path | None = None
    workdir: Path | None = None   # a private scratch directory for the tool, removed afterwards


# The tools running in this process. A tool writing into a file gets no SIGPIPE when the
# process that started it dies, so the backup worker stops them itself (stop_running_tools).
RUNNING = set()


def stop_running_tools():
    for process in list(RUNNING):
        with contextlib.suppress(OSError):
            process.kill()


class ToolStream:
    """Iterate to run ``argv`` and get its stdout in chunks: memoryviews of one buffer, each
    valid until the next is asked for (see Datastore.backup_stream). A non-zero exit raises
    errors.DBaaSError at the end of the stream; ``position`` is then what ``position_from()``
    returned (e.g. the LSN an incremental backup starts from next time)."""

    def __init__(self, argv, env=None, secret=None, position_from=None):
        self.argv = list(argv)
        self.env = dict(TOOL_ENV, **(env or {}))
        self.secret = secret
        self.position_from = position_from
        self.position = {}

    @property
    def tool(self):
        return Path(self.argv[0]).name

    def __iter__(self):
        with self.output() as output:
            yield from output.chunks()

    @contextlib.contextmanager
    def output(self, into=None):
        """Run the tool for the block: a ToolOutput, its stdout pipe, or with ``into`` (a
        file's descriptor) the tool writing into that file itself, as ``tool > file`` does
        (LocalStorage). A tool still running when the block ends (the consumer gave up) is
        stopped."""
        with tempfile.TemporaryFile() as stderr:
            process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE if into is None else into,
                                       stderr=stderr, env=self.env, close_fds=True, bufsize=0)
            RUNNING.add(process)
            try:
                if process.stdout is not None:
                    with contextlib.suppress(OSError):   # a bigger pipe is only faster, not needed
                        fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_SIZE)
                yield ToolOutput(self, process, stderr)
            finally:
                if process.poll() is None:   # the consumer gave up: stop the tool
                    process.kill()
                    process.wait()
                if process.stdout is not None:
                    process.stdout.close()
                RUNNING.discard(process)


class ToolOutput:
    """A running tool and its stdout, ``pipe`` (raw, unbuffered; None when it writes into a
    file). Whoever reads it to its end calls ``finish()``, which waits for the tool and
    raises errors.DBaaSError when it failed (before the backup counts as stored);
    ``chunks()`` does both."""

    def __init__(self, stream, process, stderr):
        self.stream, self.pipe = stream, process.stdout
        self._process, self._stderr = process, stderr

    def chunks(self):
        yield from read_chunks(self.pipe)
        self.finish()

    def finish(self):
        code = self._process.wait()
        if code != 0:
            raise errors.DBaaSError(f"{self.stream.tool} failed (exit code {code}): {self._last_line()}")
        if self.stream.position_from is not None:
            self.stream.position = self.stream.position_from() or {}

    def _last_line(self):
        stderr = self._stderr
        stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, stderr.tell() - 4096))
        lines = [line.strip() for line in stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        text = lines[-1] if lines else "no message"
        if self.stream.secret:
            text = text.replace(self.stream.secret, "******")
        return text[:300]


def read_chunks(raw, size=CHUNK):
    """A raw (unbuffered) file's bytes as memoryviews of one buffer of ``size`` bytes, each
    filled before it is handed on (but the last) and valid until the next is asked for: no
    allocation and no copy per chunk, whatever the stream's size."""
    view = memoryview(bytearray(size))
    while True:
        filled = 0
        while filled < size and (got := raw.readinto(view[filled:])):
            filled += got
        if filled:
            yield view[:filled]
        if filled < size:
            return


@contextlib.contextmanager
def closing(stream):
    """Make sure a half-read generator stream stops its tool."""
    iterator = iter(stream)
    try:
        yield iterator
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def take(storage, prefix, datastore, source, parent_position=None):
    """Run ``datastore``'s backup tool against ``source`` straight into ``storage`` under
    ``prefix``. Returns (storage.Stored, position). On any failure what was stored so far is
    deleted (delete of the backup removes it too, should this process die first)."""
    stream = datastore.backup_stream(source, parent_position)
    try:
        if hasattr(stream, "output"):   # a tool: the storage may have it write into its file itself
            stored = storage.write_tool(prefix, stream)
        else:
            with closing(stream) as chunks:
                stored = storage.write(prefix, chunks)
    except BaseException:
        with contextlib.suppress(Exception):
            storage.delete_prefix(prefix)
        raise
    after_stored = getattr(stream, "after_stored", None)   # e.g. prune what no backup needs now
    if after_stored is not None:
        after_stored()
    return stored, dict(getattr(stream, "position", None) or {})


class StoredBackup:
    """One backup of a restore's chain. Iterated, its verified chunks (read in this process);
    ``deliver`` and ``copy_to`` have a worker process (dbaas_api/backup/worker.py) read and
    verify it instead, out of the Heat engine's process and its GIL (what the local driver
    does); either way a missing or altered object raises CorruptBackup naming it."""

    def __init__(self, settings, location, checksum):
        self.storage, self.prefix = backup_storage.for_location(settings, location)
        self.location, self.checksum = location, checksum

    def __iter__(self):
        return iter(self.storage.read(self.prefix, self.checksum))

    def deliver(self, start):
        """Start a restore's tool on this backup, ``start(stdin)`` with the descriptor it is
        to read, and return once it has been given every byte, verified. A backup stored as
        one local file is the tool's stdin itself (it reads as from any file) while a worker
        verifies the file beside it; anything else a worker writes, verified, into the
        tool's 1 MiB stdin pipe."""
        whole_file = self.storage.whole_file(self.prefix)
        if whole_file is not None:
            with open(whole_file, "rb", buffering=0) as stdin:
                start(stdin.fileno())
            self._in_worker(None)
            return
        read_end, write_end = os.pipe()
        try:
            with contextlib.suppress(OSError):   # a bigger pipe is only faster, not needed
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
            start(read_end)
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        try:
            self.copy_to(write_end)
        finally:
            os.close(write_end)

    def copy_to(self, fd):
        """Write the verified backup into the inherited descriptor ``fd``; returns its size."""
        return self._in_worker(fd)

    def _in_worker(self, fd):
        request = client.restore_request(self.location, self.checksum, fd)
        return client.call(request, pass_fds=() if fd is None else (fd,))["size"]


def open_chain(settings, chain):
    """A restore's chain, [{"location", "checksum", "position"}] with the full backup first,
    as [(StoredBackup, position)] for Datastore.restore. Nothing is read until used."""
    return [(StoredBackup(settings, link["location"], link["checksum"]), dict(link.get("position") or {}))
            for link in chain]
