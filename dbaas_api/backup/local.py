"""LocalStorage: a backup as files under a directory (the embedded default, ``<state>/backups``)."""
import os
import shutil
from pathlib import Path

from dbaas_api.backup.backend import CorruptBackup, Storage, checked_prefix, segment_name
from dbaas_api.backup.segments import TrailingHash, file_chunks

FULL_BELOW = 1 << 20   # bytes free: less is a full file system


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
        hashing = TrailingHash(path)
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
        path = self.root / checked_prefix(prefix) / segment_name(0)
        return path if len(segments) == 1 and segments[0].get("name") == path.name and path.is_file() else None

    def _directory(self, prefix):
        directory = self.root / checked_prefix(prefix)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        return directory

    def location(self, prefix):
        return f"file://{self.root / checked_prefix(prefix)}"

    def put_stream(self, prefix, name, chunks, headers=None):
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
        directory = self.root / checked_prefix(prefix)
        for path in (*sorted(directory.iterdir()), directory):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def get_stream(self, prefix, name):
        path = self.root / checked_prefix(prefix) / name
        try:
            handle = open(path, "rb", buffering=0)
        except FileNotFoundError:
            raise CorruptBackup(f"Backup {self.location(prefix)}: object {name} is missing.") from None
        return file_chunks(handle)

    def delete_prefix(self, prefix):
        shutil.rmtree(self.root / checked_prefix(prefix), ignore_errors=True)

    def names(self, prefix):
        directory = self.root / checked_prefix(prefix)
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []

