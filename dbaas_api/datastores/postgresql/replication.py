"""PostgreSQL streaming replication (physical)."""
import contextlib
import subprocess

import psycopg2
import psycopg2.errors
from psycopg2 import sql

from dbaas_api import errors
from dbaas_api.datastores.base import Replication
from dbaas_api.datastores.postgresql.client import Client, conf_value, scram_verifier


class PostgreSQLReplication(Client, Replication):
    # A replica is seeded with pg_basebackup and streams the primary's WAL as the
    # replication account os_repl, whose password derives from the admin password every
    # member shares (so nothing new is stored in Heat). PostgreSQL must reconnect on its
    # own, after any restart, so that password sits in a passfile in the instance's home
    # (0600, the postgres user's): the replication account's, never the admin's.
    # replica.conf (primary_conninfo, no secret) and standby.signal make a server a replica.

    supports_replication = True
    fence_stops_server = True     # a clean shutdown: its walsenders send every WAL record first
    replication_user = "os_repl"
    replica_file = "replica.conf"
    replication_passfile = "replication.pgpass"

    def check_replica_flavor(self, source_flavor, replica_flavor):
        """A hot standby needs max_connections at least its primary's (it pauses replay
        otherwise), and every flavor sets its own."""
        if replica_flavor.max_connections < source_flavor.max_connections:
            raise errors.BadRequest(f"flavorRef: a PostgreSQL replica needs a flavor with at least the source's "
                                    f"max_connections ({source_flavor.max_connections}; flavor "
                                    f"'{replica_flavor.id}' has {replica_flavor.max_connections}).")

    def prepare_source(self, source):
        ident = sql.Identifier(self.replication_user)
        verifier = scram_verifier(self.replication_password(source.password))
        with self._connected(source.host, source.port, source.password) as cursor:
            try:
                cursor.execute(sql.SQL("CREATE ROLE {} REPLICATION LOGIN").format(ident))
            except (psycopg2.errors.DuplicateObject, psycopg2.errors.UniqueViolation):
                pass   # made before, or by a replica seeded at the same moment
            cursor.execute(sql.SQL("ALTER ROLE {} REPLICATION LOGIN PASSWORD {}").format(ident, sql.Literal(verifier)))

    def seed_replica(self, paths, version, runner, source):
        """pg_basebackup of the source with the WAL streamed alongside (-X stream), then the
        source's ALTER SYSTEM settings dropped (the replica has its own configuration)."""
        self._write_passfile(paths, runner, source)
        runner.run([f"{self.bin_dir.format(version=version)}/pg_basebackup", "-d", self._conninfo(paths, source),
                    "-D", str(paths.data), "-X", "stream", "-c", "fast", "--no-sync", "-w"])
        runner.write(paths.data / "postgresql.auto.conf", "# Reset by heat-dbaas when seeding a replica.\n")
        self._write_standby(paths, runner, source)

    def replication_state(self, address, port, password):
        with self._connected(address, port, password, timeout=2) as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), (COALESCE(CASE WHEN pg_is_in_recovery() "
                           "THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END, '0/0') "
                           "- '0/0'::pg_lsn)::bigint")
            in_recovery, position = cursor.fetchone()
        return {"role": "replica" if in_recovery else "primary", "position": int(position)}

    def follow(self, paths, runner, address, port, password, source, running, restart):
        """A replica follows another primary after a reload (primary_conninfo is reloadable;
        recovery_target_timeline 'latest' takes the new primary's timeline). A primary
        becomes a replica only through a restart with standby.signal, and only a cleanly
        stopped (fenced) one can: everything it wrote is then on the new primary."""
        self._write_passfile(paths, runner, source)
        self._write_standby(paths, runner, source)
        if running and self.replication_state(address, port, password)["role"] == "replica":
            with self._connected(address, port, password) as cursor:
                cursor.execute("SELECT pg_reload_conf()")
        else:
            restart()

    def promote(self, paths, runner, address, port, password):
        with self._connected(address, port, password) as cursor:
            cursor.execute("SELECT pg_is_in_recovery()")
            if cursor.fetchone()[0]:
                cursor.execute("SELECT pg_promote(true, 60)")
                if not cursor.fetchone()[0]:
                    raise errors.DBaaSError(f"PostgreSQL at {address} did not finish its promotion within 60 s.")
            with contextlib.suppress(FileNotFoundError):
                paths.conf(self.replica_file).unlink()
            cursor.execute("SELECT pg_reload_conf()")

    def stopped_position(self, paths, version):
        """The end of a cleanly stopped server's WAL: its shutdown checkpoint (pg_controldata),
        plus one, so a replica has replayed all of it when its position is at least that."""
        result = subprocess.run([f"{self.bin_dir.format(version=version)}/pg_controldata", "-D", str(paths.data)],
                                capture_output=True, text=True, env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"},
                                timeout=30, check=False)
        fields = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
        state = fields.get("Database cluster state", "").strip()
        if result.returncode != 0 or state != "shut down":
            raise errors.DBaaSError(f"The old primary was not shut down cleanly ({state or 'no control data'}).")
        high, low = fields["Latest checkpoint location"].strip().split("/")
        return (int(high, 16) << 32) + int(low, 16) + 1

    def _conninfo(self, paths, source):
        return (f"host={source.host} port={source.port} user={self.replication_user} "
                f"passfile={paths.conf(self.replication_passfile)} application_name={paths.home.name} "
                "connect_timeout=10")

    def _write_passfile(self, paths, runner, source):
        password = self.replication_password(source.password)
        runner.write(paths.conf(self.replication_passfile), f"*:*:*:{self.replication_user}:{password}\n")

    def _write_standby(self, paths, runner, source):
        runner.write(paths.conf(self.replica_file),
                     f"# The primary this replica follows; written by heat-dbaas (no secrets).\n"
                     f"primary_conninfo = {conf_value(self._conninfo(paths, source))}\n"
                     "recovery_target_timeline = 'latest'\n")
        runner.write(paths.data / "standby.signal", "")

