"""PostgreSQL incremental backups: continuous WAL archiving, and the WAL since a parent.

Every PostgreSQL instance archives its WAL, continuously, from its first start: the server's
archiver copies each completed segment (archive_command, run by the server as its system
user) into ``<home>/wal-archive`` (0700 directory, 0600 files, the server user's, inside the
root-owned instance home: nothing of it is readable by anyone else). A segment is copied to a
``.part`` name, fsynced, then renamed: a segment in the archive is whole.

A full backup (pg_basebackup, backup.py) records where WAL starts that it cannot do
without: ``wal_from``, the insert position before it began, and the timeline. An incremental
is the archived WAL since its parent: it switches the server to a new segment (so the last
one is complete and archived), waits for the archiver, and stores a tar of a label
(``dbaas-wal-label.json``: timeline, from and stop LSN, segment names) and every segment from
the parent's position up to its stop point, as any backup is stored (segments, manifest,
SHA-256: a missing or altered object fails the restore naming it). So each incremental holds
its own WAL in the backup storage, local or Swift: deleting the instance, and its archive,
takes nothing a backup needs.

A restore of a chain unpacks the full backup, then every incremental's WAL into one private
directory, checks each label's segments are all there, and runs the server once in archive
recovery (restore_command copies from that directory; no TCP listener, a private socket,
hot_standby off so nothing connects before the end) to the end of that WAL, where it
promotes. The new timeline's history file says where replay ended: short of the last
incremental's stop point is a fault naming the backup, never a silently older restore.

The archive is pruned when a full backup is stored: segments before that full's ``wal_from``
can serve only incrementals of older chains, which then fail with a message to take a new
full backup. This archive is what a point-in-time restore will replay from.
"""
import contextlib
import json
import os
import shlex
import shutil
import uuid
from pathlib import Path

from dbaas_api import errors
from dbaas_api.backup.streams import ToolStream
from dbaas_api.waiting import TimedOut, poll_until

ARCHIVE_DIR = "wal-archive"
LABEL = "dbaas-wal-label.json"
ARCHIVE_WAIT = 60      # seconds the archiver may take to copy the segment an incremental ends with
SEGMENT_NAME_LENGTH = 24


def archive_dir(home):
    return Path(home) / ARCHIVE_DIR


def archive_settings(home):
    """archive_mode and archive_command for postgresql.conf. An already archived segment is
    only accepted again when identical (the archiver may retry one it had copied); anything
    else fails, and the server keeps the segment and retries."""
    directory = shlex.quote(str(archive_dir(home)))
    target, part = f"{directory}/%f", f"{directory}/%f.part"
    command = (f"if test -f {target}; then cmp -s %p {target}; "
               f"else cp %p {part} && sync {part} && mv {part} {target} && sync {directory}; fi")
    return {"archive_mode": "on", "archive_command": command}


def segment_name(timeline, lsn, segment_size):
    """The WAL file holding byte ``lsn`` (as pg_walfile_name names it for a non-boundary LSN)."""
    number = lsn // segment_size
    per_id = 0x100000000 // segment_size
    return f"{timeline:08X}{number // per_id:08X}{number % per_id:08X}"


def segment_names(timeline, start, stop, segment_size):
    """Every WAL file with a byte in [start, stop)."""
    return [segment_name(timeline, number * segment_size, segment_size)
            for number in range(start // segment_size, (stop - 1) // segment_size + 1)] if stop > start else []


def full_position(cursor):
    """What an incremental on top of a full backup starts from, read before pg_basebackup
    begins (so at or before its start): {} when the server does not archive into our
    archive (a replica, or an instance made before archiving), and then no incremental can
    have it as parent."""
    cursor.execute("SELECT pg_is_in_recovery(), current_setting('archive_mode'), "
                   "current_setting('archive_command')")
    in_recovery, mode, command = cursor.fetchone()
    if in_recovery or mode != "on" or ARCHIVE_DIR not in command:
        return {}
    cursor.execute("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint, pg_walfile_name(pg_current_wal_lsn())")
    lsn, name = cursor.fetchone()
    return {"wal_from": int(lsn), "timeline": int(name[:8], 16), "wal_segment": name}


def parent_problem(position):
    """Why a backup with this position cannot be an incremental's parent, or None."""
    if not isinstance(position, dict) or not isinstance(position.get("wal_from"), int):
        return ("it was taken without WAL archiving (a replica's backup, a server not run by this host, or one "
                "from before this service archived WAL): take a full backup first")
    return None


def prune(home, position):
    """Drop archived segments before a just-stored full backup's first one: only
    incrementals of older chains could use them. History files stay. (Names order as
    segments do past their timeline's 8 digits.)"""
    first = position.get("wal_segment") if isinstance(position, dict) else None
    if not first:
        return
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(archive_dir(home)):
            name = entry.name.removesuffix(".part")
            if len(name) == SEGMENT_NAME_LENGTH and _is_hex(name) and name[8:] < first[8:]:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


class WalSince:
    """A backup stream of the archived WAL since ``parent_position`` (see the module's
    docstring): a ToolStream of ``tar`` over the label and the segments, made once the
    server has switched and archived the last one. ``position`` afterwards is the next
    incremental's start."""

    def __init__(self, datastore, source, parent_position):
        problem = parent_problem(parent_position)
        if problem:
            raise errors.DBaaSError(f"The parent backup cannot have a PostgreSQL incremental: {problem}.")
        if source.datadir is None or source.workdir is None:
            raise errors.DBaaSError("PostgreSQL incremental backups read the instance's WAL archive: they need "
                                    "the server's files on this machine and a scratch directory.")
        self.datastore, self.source, self.parent = datastore, source, parent_position
        self.position = {}

    def __iter__(self):
        with self.output() as output:
            yield from output.chunks()

    @contextlib.contextmanager
    def output(self, into=None):
        stream, position = self._prepare()
        with stream.output(into) as output:
            yield output
        self.position = position

    def _prepare(self):
        """Switch, wait for the archiver, write the label: (ToolStream, next position)."""
        timeline, stop, size = self._switch()
        if timeline != self.parent["timeline"]:
            raise errors.DBaaSError(f"The server is on timeline {timeline}, its parent backup on "
                                    f"{self.parent['timeline']} (it was promoted since): take a full backup.")
        names = segment_names(timeline, self.parent["wal_from"], stop, size)
        archive = archive_dir(self.source.datadir.parent)
        self._wait_archived(archive, names[-1:])
        missing = [name for name in names if not (archive / name).is_file()]
        if missing:
            raise errors.DBaaSError(f"WAL segment {missing[0]} since the parent backup is no longer in the "
                                    f"instance's archive ({len(missing)} of {len(names)} missing; a newer "
                                    "full backup pruned them): take a full backup, or use a newer parent.")
        histories = sorted(path.name for path in archive.glob("*.history"))
        label = {"format": 1, "timeline": timeline, "from_lsn": self.parent["wal_from"], "stop_lsn": stop,
                 "segment_size": size, "segments": names}
        label_path = Path(self.source.workdir) / LABEL
        fd = os.open(label_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(label, handle)
        stream = ToolStream(["tar", "-c", "-f", "-", "-C", str(self.source.workdir), LABEL,
                             "-C", str(archive), *histories, *names])
        return stream, {"wal_from": stop, "timeline": timeline, "stop_lsn": stop}

    def _switch(self):
        """pg_switch_wal: the segment being written is closed (and so archived); returns
        (timeline, stop LSN: the end of what is closed, segment size)."""
        source = self.source
        with self.datastore._connected(source.host, source.port, source.password) as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            if cursor.fetchone()[0]:
                raise errors.DBaaSError("A PostgreSQL replica does not archive WAL: take incremental "
                                        "backups of its primary.")
            cursor.execute("SELECT (pg_switch_wal() - '0/0'::pg_lsn)::bigint, setting::bigint "
                           "FROM pg_settings WHERE name = 'wal_segment_size'")   # bytes
            stop, size = cursor.fetchone()
            cursor.execute("SELECT pg_walfile_name(pg_current_wal_lsn())")
            (current,) = cursor.fetchone()
        return int(current[:8], 16), int(stop), int(size)

    def _wait_archived(self, archive, names):
        try:
            poll_until(lambda: all((archive / name).is_file() for name in names),
                       timeout=ARCHIVE_WAIT, interval=0.02)
        except TimedOut:
            raise errors.DBaaSError(f"PostgreSQL did not archive WAL segment {names[0]} within {ARCHIVE_WAIT} s "
                                    "(see its server.log: archive_command failing?).") from None


# ---- restore -------------------------------------------------------------------------------

def replay(datastore, paths, version, runner, incrementals):
    """After the full backup is unpacked into paths.data: unpack each incremental's WAL,
    check it, and run the server once in archive recovery to its end (see the module)."""
    wal = paths.home / "restore-wal"
    socket_dir = Path("/tmp") / f"dbaas-pgrestore-{uuid.uuid4().hex[:12]}"   # short: sockets' paths are
    runner.mkdir(wal)                                                        # at most 107 bytes
    runner.mkdir(socket_dir)
    try:
        stop = 0
        for index, (chunks, _position) in enumerate(incrementals):
            part = wal / f"incremental-{index}"
            runner.mkdir(part)
            runner.feed(["tar", "-x", "-f", "-", "-C", str(part)], chunks)
            label = _label(part, chunks)
            for name in (*label["segments"], *(p.name for p in part.glob("*.history"))):
                os.replace(part / name, wal / name)
            stop = label["stop_lsn"]
            last = chunks
        bin_dir = datastore.bin_dir.format(version=version)
        runner.write(paths.data / "postgresql.auto.conf", "\n".join([
            "# Archive recovery of a restore; replaced by heat-dbaas when it ends.",
            f"restore_command = {_quoted('cp ' + shlex.quote(str(wal)) + '/%f %p')}",
            "recovery_target_timeline = 'latest'",
            "hot_standby = off", "listen_addresses = ''",
            f"unix_socket_directories = {_quoted(str(socket_dir))}", ""]))
        runner.write(paths.data / "recovery.signal", "")
        pg_ctl = [f"{bin_dir}/pg_ctl", "-D", str(paths.data), "-s"]
        try:
            # pg_ctl -w returns once recovery has begun (it takes a server in recovery as
            # started): the end of recovery is the postmaster's pid file saying "ready".
            runner.run([*pg_ctl, "-w", "-t", str(int(runner.timeout)), "-o",
                        f"-c {shlex.quote('config_file=' + str(paths.conf('postgresql.conf')))}", "start"])
            _wait_promoted(paths.data, runner.timeout)
        finally:
            with contextlib.suppress(errors.DBaaSError):
                runner.run([*pg_ctl, "-w", "-m", "fast", "stop"])
        reached = _replayed_to(paths.data)
        if reached < stop:
            raise errors.DBaaSError(
                f"Restore of backup {getattr(last, 'location', 'incremental')}: WAL replay ended at "
                f"{_lsn(reached)}, before the backup's stop point {_lsn(stop)} (a WAL segment is missing).")
    finally:
        shutil.rmtree(wal, ignore_errors=True)
        shutil.rmtree(socket_dir, ignore_errors=True)


def _wait_promoted(data, timeout):
    """Until the server in archive recovery has replayed all it was given and promoted: its
    pid file's status line (the 8th) is "ready" then. A server that stopped is a failure."""
    def status():
        try:
            lines = (data / "postmaster.pid").read_text().splitlines()
        except FileNotFoundError:
            raise errors.DBaaSError("PostgreSQL stopped during the WAL replay of a restore; see its "
                                    "server.log.") from None
        return len(lines) >= 8 and lines[7].strip() == "ready"
    try:
        poll_until(status, timeout=timeout, interval=0.02)
    except TimedOut:
        raise errors.DBaaSError(f"The WAL replay of a restore took longer than {timeout:.0f} s.") from None


def _label(part, chunks):
    where = getattr(chunks, "location", "incremental")
    try:
        label = json.loads((part / LABEL).read_text())
    except (OSError, ValueError):
        raise errors.DBaaSError(f"Backup {where}: no readable WAL label ({LABEL}): not a PostgreSQL "
                                "incremental backup.") from None
    missing = [name for name in label.get("segments", []) if not (part / name).is_file()]
    if missing:
        raise errors.DBaaSError(f"Backup {where}: WAL segment {missing[0]} is missing from it.")
    return label


def _replayed_to(data):
    """Where archive recovery ended: the switch point of the newest timeline history file
    (written at promotion); 0 when recovery did not promote."""
    histories = sorted((data / "pg_wal").glob("*.history"))
    if not histories:
        return 0
    lines = [line.split() for line in histories[-1].read_text().splitlines() if line.strip()
             and not line.startswith("#")]
    high, low = lines[-1][1].split("/")
    return int(high, 16) << 32 | int(low, 16)


def _lsn(value):
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def _quoted(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _is_hex(text):
    return all(char in "0123456789ABCDEF" for char in text)

