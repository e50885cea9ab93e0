"""PostgreSQL backups: pg_basebackup's tar with the WAL kept meanwhile, and a restore."""
import contextlib
import uuid

import psycopg2

from dbaas_api import errors
from dbaas_api.backup.streams import ToolStream
from dbaas_api.datastores.base import Backups
from dbaas_api.datastores.postgresql import wal
from dbaas_api.datastores.postgresql.client import NO_PASSFILE, reason, scram_verifier


class PostgreSQLBackups(Backups):
    backup_format = "pg_basebackup-tar"
    supports_incremental_backups = True   # the archived WAL since the parent: wal.py

    def incremental_parent_problem(self, position):
        return wal.parent_problem(position)

    def backup_stream(self, source, parent_position=None):
        """pg_basebackup of the whole cluster as one tar on stdout, with the WAL that makes
        it consistent (-X fetch) and an immediate checkpoint (-c fast; the default spread
        checkpoint makes even a tiny backup wait). An incremental is the WAL archived since
        its parent (wal.WalSince): PostgreSQL 15 has no incremental base backup."""
        if parent_position is not None:
            return wal.WalSince(self, source, parent_position)
        return _WalKept(self, source, ToolStream(
            [f"{self.bin_dir.format(version=source.version)}/pg_basebackup", "-h", source.host,
             "-p", str(source.port), "-U", self.admin_user, "-D", "-", "-F", "tar", "-X", "fetch",
             "-c", "fast", "-w"],
            env={"PGPASSWORD": source.password, "PGPASSFILE": NO_PASSFILE, "PGCONNECT_TIMEOUT": "10",
                 "PGAPPNAME": "heat-dbaas-backup"},
            secret=source.password))

    def restore(self, paths, version, admin_password, runner, chain):
        """The base backup becomes the data dir; its backup_label makes the server replay
        the WAL inside it to a consistent state. The source's admin password is replaced in
        single-user mode (no listener at all) by a SCRAM verifier computed here, and the
        source's ALTER SYSTEM settings (its configuration group) are dropped."""
        if "\n" in admin_password or "\r" in admin_password:
            raise errors.BadRequest("field 'admin_password': must be a single line.")
        (chunks, _position), *incrementals = chain
        runner.feed(["tar", "-x", "-f", "-", "-C", str(paths.data)], chunks)
        # A replica's backup carries its standby.signal: the restored server is a primary.
        (paths.data / "standby.signal").unlink(missing_ok=True)
        if incrementals:   # their WAL replayed on top, in archive recovery
            wal.replay(self, paths, version, runner, incrementals)
        runner.write(paths.data / "postgresql.auto.conf", "# Reset by heat-dbaas when restoring.\n")
        statement = f"ALTER ROLE {self.admin_user} PASSWORD '{scram_verifier(admin_password)}'\n"
        runner.run([f"{self.bin_dir.format(version=version)}/postgres", "--single", "-D", str(paths.data),
                    "-c", f"config_file={paths.conf('postgresql.conf')}", "postgres"], stdin=statement.encode())


class _WalKept:
    """A backup stream during which the server keeps every WAL file written since it began.
    pg_basebackup -X fetch collects the WAL at the end; a busy server could have recycled it
    by then and the backup would fail. A temporary physical replication slot, reserved at
    once, keeps it: the slot belongs to our own session and goes with it, also when this
    process dies, so no slot is ever left to hold WAL forever. Its position is where the WAL
    an incremental on top needs begins (wal.full_position), read at the same time."""

    def __init__(self, datastore, source, stream):
        self.datastore, self.source, self.stream = datastore, source, stream
        self.wal_position = {}

    @property
    def position(self):
        return {**self.stream.position, **self.wal_position}

    def after_stored(self):
        """The backup is whole: archived WAL from before it serves no new incremental."""
        if self.source.datadir is not None:
            wal.prune(self.source.datadir.parent, self.wal_position)

    def __iter__(self):
        with self._slot():
            yield from self.stream

    @contextlib.contextmanager
    def output(self, into=None):
        """The running tool (streams.ToolOutput), the slot kept meanwhile."""
        with self._slot(), self.stream.output(into) as output:
            yield output

    @contextlib.contextmanager
    def _slot(self):
        try:
            connection = self.datastore.connect(self.source.host, self.source.port, self.source.password)
        except psycopg2.Error as exc:
            raise errors.DBaaSError(f"Cannot connect to PostgreSQL at {self.source.host}:{self.source.port}: "
                                    f"{reason(exc)}") from None
        with contextlib.closing(connection):
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_create_physical_replication_slot(%s, true, true)",
                               (f"dbaas_backup_{uuid.uuid4().hex}",))
                self.wal_position = wal.full_position(cursor)
            yield


