"""MariaDB replication by GTID."""
import shutil

from dbaas_api.datastores.base import Replication
from dbaas_api.datastores.mariadb.client import Client, quoted_account, native_hash


class MariaDBReplication(Client, Replication):
    # A replica is seeded from a mariadb-backup of its source (the backup's GTID position
    # becomes its gtid_slave_pos) and follows it as os_repl (REPLICATION SLAVE only), whose
    # password derives from the admin password every member shares. Its replica.cnf
    # (included by my.cnf, no secrets) keeps it read_only across restarts; MariaDB keeps the
    # source's address and that password in its own master.info in the data dir.
    # Every server logs what it replicates (log-slave-updates), so any replica can become
    # the primary the others follow (MASTER_USE_GTID=current_pos).

    supports_replication = True
    replication_user = "os_repl"
    replica_file = "replica.cnf"
    PRIMARY_CNF = "# A primary: takes writes; written by heat-dbaas.\n[mariadbd]\n"
    REPLICA_CNF = ("# A replica: read-only but for its source's writes; written by heat-dbaas.\n"
                   "[mariadbd]\nread_only = ON\n")
    seed_position_file = "seed-gtid"

    def prepare_source(self, source):
        with self._replication_cursor(source.host, source.port, source.password) as (connection, cursor):
            account = quoted_account(connection, self.replication_user, "%")
            hashed = connection.escape(native_hash(self.replication_password(source.password)))
            cursor.execute(f"CREATE USER IF NOT EXISTS {account} IDENTIFIED BY PASSWORD {hashed}")
            cursor.execute(f"ALTER USER {account} IDENTIFIED BY PASSWORD {hashed}")
            cursor.execute(f"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {account}")

    def seed_replica(self, paths, version, runner, source):
        """The source's files through mariadb-backup (as a backup is taken), prepared in
        place; the GTID position the backup ends at is kept for after_replica_start."""
        if source.workdir is not None:
            source.workdir.mkdir(mode=0o700, exist_ok=True)
        try:
            runner.feed([self.mbstream_bin, "-x", "-C", str(paths.data)], self.backup_stream(source))
        finally:
            if source.workdir is not None:
                shutil.rmtree(source.workdir, ignore_errors=True)
        runner.run([self.backup_bin, "--no-defaults", "--prepare", f"--target-dir={paths.data}"])
        info = (paths.data / "xtrabackup_binlog_info").read_text().split() if (
            paths.data / "xtrabackup_binlog_info").exists() else []
        runner.write(paths.conf(self.seed_position_file), (info[2] if len(info) > 2 else "") + "\n")
        for leftover in (*paths.data.glob("xtrabackup_*"), paths.data / "backup-my.cnf"):
            leftover.unlink(missing_ok=True)
        runner.write(paths.conf(self.replica_file), self.REPLICA_CNF)

    def after_replica_start(self, paths, address, port, password, source):
        position = paths.conf(self.seed_position_file).read_text().strip()
        with self._replication_cursor(address, port, password) as (connection, cursor):
            cursor.execute(f"SET GLOBAL gtid_slave_pos = {connection.escape(position)}")
            self._change_master(connection, cursor, source)
        paths.conf(self.seed_position_file).unlink(missing_ok=True)

    def replication_state(self, address, port, password):
        with self._replication_cursor(address, port, password, timeout=2) as (_, cursor):
            cursor.execute("SELECT @@read_only, @@gtid_current_pos")
            read_only, gtid = cursor.fetchone()
            cursor.execute("SHOW SLAVE STATUS")
            following = cursor.fetchone() is not None
        return {"role": "replica" if following or read_only else "primary", "position": gtid_position(gtid)}

    def fence(self, address, port, password):
        """read_only: accounts without READ_ONLY ADMIN (every user's) can no longer write; a
        commit under way finishes first. Returns the binlog's GTID position."""
        with self._replication_cursor(address, port, password) as (_, cursor):
            cursor.execute("SET GLOBAL read_only = ON")
            cursor.execute("SELECT @@gtid_binlog_pos")
            return gtid_position(cursor.fetchone()[0])

    def unfence(self, address, port, password):
        with self._replication_cursor(address, port, password) as (_, cursor):
            cursor.execute("SET GLOBAL read_only = OFF")

    def follow(self, paths, runner, address, port, password, source, running, restart):
        runner.write(paths.conf(self.replica_file), self.REPLICA_CNF)
        if not running:
            restart()
        with self._replication_cursor(address, port, password) as (connection, cursor):
            cursor.execute("SET GLOBAL read_only = ON")
            self._change_master(connection, cursor, source)

    def promote(self, paths, runner, address, port, password):
        with self._replication_cursor(address, port, password) as (_, cursor):
            cursor.execute("STOP SLAVE")
            cursor.execute("RESET SLAVE ALL")
            cursor.execute("SET GLOBAL read_only = OFF")
        runner.write(paths.conf(self.replica_file), self.PRIMARY_CNF)

    def _change_master(self, connection, cursor, source):
        """Follow ``source`` from where this server's GTID state is (current_pos: its own
        binlog, which has what it replicated, or the seeded slave position)."""
        cursor.execute("STOP SLAVE")
        cursor.execute(
            f"CHANGE MASTER TO MASTER_HOST={connection.escape(source.host)}, MASTER_PORT={int(source.port)}, "
            f"MASTER_USER={connection.escape(self.replication_user)}, "
            f"MASTER_PASSWORD={connection.escape(self.replication_password(source.password))}, "
            "MASTER_USE_GTID=current_pos, MASTER_CONNECT_RETRY=1")
        cursor.execute("START SLAVE")


def gtid_position(gtid):
    """A GTID list ('0-1-42,1-7-3') as one number that grows with every transaction: the sum
    of its sequence numbers (each domain's only grows; gtid-strict-mode)."""
    return sum(int(part.rsplit("-", 1)[1]) for part in (gtid or "").split(",") if part.strip())


