"""MariaDB backups: mariadb-backup's xbstream, full and incremental, and a restore from a chain."""
import shutil
from pathlib import Path

from dbaas_api import errors
from dbaas_api.backup.streams import ToolStream
from dbaas_api.datastores.base import Backups
from dbaas_api.datastores.mariadb.client import native_hash


class MariaDBBackups(Backups):
    supports_incremental_backups = True
    backup_format = "mariadb-backup-xbstream"
    backup_bin = "/usr/bin/mariadb-backup"
    mbstream_bin = "/usr/bin/mbstream"

    def backup_stream(self, source, parent_position=None):
        """mariadb-backup --stream=xbstream: it copies the server's files while the server
        runs (so it needs source.datadir) and the redo log written meanwhile. An incremental
        copies only the pages changed since its parent's checkpoint LSN (--incremental-lsn),
        which the parent's position records. --no-defaults: the host's my.cnf is not ours."""
        if source.datadir is None or source.workdir is None:
            raise errors.DBaaSError("mariadb-backup reads the server's own files: it needs the data "
                                    "directory and a scratch directory on this machine.")
        argv = [self.backup_bin, "--no-defaults", "--backup", "--stream=xbstream", f"--host={source.host}",
                f"--port={source.port}", f"--user={self.admin_user}", f"--datadir={source.datadir}",
                f"--target-dir={source.workdir}", f"--extra-lsndir={source.workdir}"]
        if parent_position is not None:
            argv.append(f"--incremental-lsn={int(parent_position['to_lsn'])}")
        return ToolStream(argv, env={"MYSQL_PWD": source.password}, secret=source.password,
                          position_from=lambda: _checkpoint_lsn(source.workdir))

    def restore(self, paths, version, admin_password, runner, chain):
        """The full backup is unpacked into the data dir and prepared (its redo log
        applied), then each incremental is unpacked beside it and applied in order. The
        admin's password is set with the server in bootstrap mode (no network, statements
        from stdin), as mariadb-install-db does: the backup's own admin password is not ours."""
        (chunks, _position), *incrementals = chain
        runner.feed([self.mbstream_bin, "-x", "-C", str(paths.data)], chunks)
        runner.run([self.backup_bin, "--no-defaults", "--prepare", f"--target-dir={paths.data}"])
        for index, (chunks, _position) in enumerate(incrementals):
            delta = paths.home / f"incremental-{index}"
            runner.mkdir(delta)
            try:
                runner.feed([self.mbstream_bin, "-x", "-C", str(delta)], chunks)
                runner.run([self.backup_bin, "--no-defaults", "--prepare", f"--target-dir={paths.data}",
                            f"--incremental-dir={delta}"])
            finally:
                shutil.rmtree(delta, ignore_errors=True)
        for leftover in (*paths.data.glob("xtrabackup_*"), paths.data / "backup-my.cnf"):
            leftover.unlink(missing_ok=True)
        statements = ("FLUSH PRIVILEGES;\n"
                      f"ALTER USER '{self.admin_user}'@'%' IDENTIFIED BY PASSWORD '{native_hash(admin_password)}';\n")
        runner.run([self.server_bin, f"--defaults-file={paths.conf('my.cnf')}", f"--datadir={paths.data}",
                    "--bootstrap"], stdin=statements.encode())


def _checkpoint_lsn(workdir):
    """The LSN an incremental on top of this backup starts from (xtrabackup_checkpoints)."""
    fields = {}
    for line in (Path(workdir) / "xtrabackup_checkpoints").read_text().splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip()
    return {"to_lsn": int(fields["to_lsn"])}


