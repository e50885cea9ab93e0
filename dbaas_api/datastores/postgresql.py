"""PostgreSQL: everything heat-dbaas knows about it."""
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import os
import signal
import subprocess
import time
import uuid

import psycopg2
import psycopg2.errors
from psycopg2 import extensions, sql

from dbaas_api import errors
from dbaas_api.backup.streams import ToolStream
from dbaas_api.datastores.base import (
    BOOLEAN, FLOAT, INTEGER, STRING, AdminSession, Datastore, Parameter, closing_session, parameter_rules)

NO_PASSFILE = os.path.join(os.devnull, "pgpass")

# Server errors that mean something about the request rather than a fault (SQLSTATE codes).
SQLSTATE_ERRORS = {
    "42P04": errors.Conflict,   # duplicate_database
    "42710": errors.Conflict,   # duplicate_object: the role exists
    "55006": errors.Conflict,   # object_in_use
    "2BP01": errors.Conflict,   # dependent_objects_still_exist
    "3D000": errors.NotFound,   # invalid_catalog_name: no such database
    "42704": errors.NotFound,   # undefined_object: no such role
}

INT_MAX = 2147483647
# What users may set, read from PostgreSQL 15's pg_settings (vartype, min_val, max_val,
# enumvals; context 'postmaster' = restart_required). Integers are in the unit pg_settings
# shows (kB, 8kB pages, ms, s, MB), exactly as ALTER SYSTEM reads a bare number. Left out:
# strings PostgreSQL checks against the machine (timezone, huge_pages), which a pattern
# here could not, and which would leave a server that cannot start again.
PARAMETERS_15 = parameter_rules(
    Parameter("max_connections", INTEGER, 1, 262143, restart_required=True),
    Parameter("shared_buffers", INTEGER, 16, 1073741823, restart_required=True, unit="8kB"),
    Parameter("max_worker_processes", INTEGER, 0, 262143, restart_required=True),
    Parameter("max_locks_per_transaction", INTEGER, 10, INT_MAX, restart_required=True),
    Parameter("max_prepared_transactions", INTEGER, 0, 262143, restart_required=True),
    Parameter("autovacuum_max_workers", INTEGER, 1, 262143, restart_required=True),
    Parameter("wal_buffers", INTEGER, -1, 262143, restart_required=True, unit="8kB"),
    Parameter("track_activity_query_size", INTEGER, 100, 1048576, restart_required=True, unit="B"),
    Parameter("work_mem", INTEGER, 64, INT_MAX, unit="kB"),
    Parameter("maintenance_work_mem", INTEGER, 1024, INT_MAX, unit="kB"),
    Parameter("temp_buffers", INTEGER, 100, 1073741823, unit="8kB"),
    Parameter("effective_cache_size", INTEGER, 1, INT_MAX, unit="8kB"),
    Parameter("temp_file_limit", INTEGER, -1, INT_MAX, unit="kB"),
    Parameter("random_page_cost", FLOAT, 0, 1e300),
    Parameter("seq_page_cost", FLOAT, 0, 1e300),
    Parameter("effective_io_concurrency", INTEGER, 0, 1000),
    Parameter("default_statistics_target", INTEGER, 1, 10000),
    Parameter("max_parallel_workers", INTEGER, 0, 1024),
    Parameter("max_parallel_workers_per_gather", INTEGER, 0, 1024),
    Parameter("jit", BOOLEAN),
    Parameter("statement_timeout", INTEGER, 0, INT_MAX, unit="ms"),
    Parameter("lock_timeout", INTEGER, 0, INT_MAX, unit="ms"),
    Parameter("idle_in_transaction_session_timeout", INTEGER, 0, INT_MAX, unit="ms"),
    Parameter("idle_session_timeout", INTEGER, 0, INT_MAX, unit="ms"),
    Parameter("deadlock_timeout", INTEGER, 1, INT_MAX, unit="ms"),
    Parameter("default_transaction_isolation", STRING,
              allowed=("serializable", "repeatable read", "read committed", "read uncommitted")),
    Parameter("default_transaction_read_only", BOOLEAN),
    Parameter("synchronous_commit", STRING, allowed=("local", "remote_write", "remote_apply", "on", "off")),
    Parameter("client_min_messages", STRING,
              allowed=("debug5", "debug4", "debug3", "debug2", "debug1", "log", "notice", "warning", "error")),
    Parameter("autovacuum", BOOLEAN),
    Parameter("autovacuum_naptime", INTEGER, 1, 2147483, unit="s"),
    Parameter("autovacuum_vacuum_scale_factor", FLOAT, 0, 100),
    Parameter("autovacuum_analyze_scale_factor", FLOAT, 0, 100),
    Parameter("checkpoint_timeout", INTEGER, 30, 86400, unit="s"),
    Parameter("checkpoint_completion_target", FLOAT, 0, 1),
    Parameter("max_wal_size", INTEGER, 2, INT_MAX, unit="MB"),
    Parameter("min_wal_size", INTEGER, 2, INT_MAX, unit="MB"),
    Parameter("log_min_duration_statement", INTEGER, -1, INT_MAX, unit="ms"),
    Parameter("log_statement", STRING, allowed=("none", "ddl", "mod", "all")),
    Parameter("log_connections", BOOLEAN),
    Parameter("log_disconnections", BOOLEAN),
    Parameter("log_lock_waits", BOOLEAN),
    Parameter("log_checkpoints", BOOLEAN),
    Parameter("log_temp_files", INTEGER, -1, INT_MAX, unit="kB"),
    Parameter("log_autovacuum_min_duration", INTEGER, -1, INT_MAX, unit="ms"),
    Parameter("track_io_timing", BOOLEAN),
)

# What a database's ENCODING may be (PostgreSQL 15's server encodings; the others are for
# clients only) and its LC_COLLATE / LC_CTYPE: the locales every server has, on this host and
# in the upstream image alike (initdb's is C.UTF-8). A UTF-8 locale needs UTF8; C and POSIX
# take any encoding. Matched as the server matches encoding names: case and punctuation aside.
ENCODINGS = (
    "EUC_CN", "EUC_JIS_2004", "EUC_JP", "EUC_KR", "EUC_TW", "ISO_8859_5", "ISO_8859_6", "ISO_8859_7",
    "ISO_8859_8", "KOI8R", "KOI8U", "LATIN1", "LATIN2", "LATIN3", "LATIN4", "LATIN5", "LATIN6",
    "LATIN7", "LATIN8", "LATIN9", "LATIN10", "MULE_INTERNAL", "SQL_ASCII", "UTF8", "WIN866", "WIN874",
    "WIN1250", "WIN1251", "WIN1252", "WIN1253", "WIN1254", "WIN1255", "WIN1256", "WIN1257", "WIN1258")
LOCALES = ("C", "POSIX", "C.UTF-8")


def _lookup(offered, value):
    key = "".join(char for char in value.lower() if char.isalnum())
    return next((name for name in offered if "".join(c for c in name.lower() if c.isalnum()) == key), None)


class PostgreSQL(Datastore):
    name = "postgresql"
    title = "PostgreSQL"
    versions = ("15",)
    default_version = "15"
    port = 5432
    admin_user = "os_admin"   # superuser made by initdb; the only one

    # NAMEDATALEN is 64: identifiers are at most 63 bytes, longer ones are silently truncated.
    max_database_name = 63
    max_user_name = 63
    name_length_unit = "bytes"
    reserved_databases = frozenset({"postgres", "template0", "template1"})
    # 'public', 'none' and the current_* words are refused by CREATE ROLE; pg_ is the system's prefix.
    reserved_users = frozenset({"postgres", "os_admin", "os_repl", "root", "public", "none",
                                "current_user", "session_user", "current_role"})
    reserved_user_prefixes = ("pg_",)

    configuration_parameters = {"15": PARAMETERS_15}
    # Set by the service (addresses, files, security, replication): never by a configuration.
    blocked_parameters = frozenset({
        "listen_addresses", "port", "data_directory", "config_file", "hba_file", "ident_file",
        "external_pid_file", "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
        "password_encryption", "ssl", "ssl_cert_file", "ssl_key_file", "ssl_ca_file",
        "shared_preload_libraries", "local_preload_libraries", "session_preload_libraries",
        "dynamic_library_path", "archive_mode", "archive_command", "restore_command",
        "wal_level", "max_wal_senders", "primary_conninfo", "hot_standby",
        "logging_collector", "log_directory", "log_filename", "log_min_error_statement",
        "log_line_prefix", "lc_messages"})

    system_user = "postgres"
    # stderr (logging_collector off): start, stop, errors and warnings; no statement text
    # (log_min_error_statement panic), so never a password.
    guest_logs = {"error": "server.log"}
    stop_signal = signal.SIGINT   # "fast" shutdown; SIGTERM ("smart") waits for every client to leave
    bin_dir = "/usr/lib/postgresql/{version}/bin"

    # Settings every instance gets. Memory and connections come from the flavor.
    STATIC_SETTINGS = {
        "unix_socket_directories": "",          # TCP only: nothing to clash with the host's server
        "password_encryption": "scram-sha-256",
        # A failing statement is otherwise logged in full, and it may carry a password.
        "log_min_error_statement": "panic",
        "log_line_prefix": "%m [%p] ",
        "logging_collector": "off",             # stderr is server.log
        "timezone": "UTC",
        "log_timezone": "UTC",
        "datestyle": "iso, ymd",
        "lc_messages": "C.UTF-8",
        "lc_monetary": "C.UTF-8",
        "lc_numeric": "C.UTF-8",
        "lc_time": "C.UTF-8",
        "default_text_search_config": "pg_catalog.english",
        "dynamic_shared_memory_type": "posix",
        "wal_level": "replica",                 # ready for a streaming replica later
        "max_wal_senders": 10,
        "wal_keep_size": "64MB",                # a replica that was away a moment catches up
    }

    filters_clients = True        # pg_hba.conf: first matching line wins, no match is refused
    access_file = "pg_hba.conf"

    def database_options(self, character_set, collate, field="database"):
        """Trove's ENCODING and LC_COLLATE (LC_CTYPE follows it); an encoding that is not
        UTF8 gets the C locale unless one is asked for."""
        encoding = _lookup(ENCODINGS, character_set) if character_set else None
        if character_set and encoding is None:
            raise errors.BadRequest(f"field '{field}.character_set': '{character_set}' is not a PostgreSQL "
                                    f"server encoding ({', '.join(ENCODINGS)}).")
        locale = _lookup(LOCALES, collate) if collate else None
        if collate and locale is None:
            raise errors.BadRequest(f"field '{field}.collate': '{collate}' is not a locale this service's "
                                    f"PostgreSQL servers have ({', '.join(LOCALES)}).")
        if locale == "C.UTF-8" and encoding not in (None, "UTF8"):
            raise errors.BadRequest(f"field '{field}.collate': C.UTF-8 needs character_set UTF8, "
                                    f"not {encoding} (C and POSIX take any).")
        if encoding not in (None, "UTF8") and locale is None:
            locale = "C"
        return encoding, locale

    # ---- the admin endpoint --------------------------------------------------------------

    def connect(self, host, port, password, dbname="postgres", timeout=5):
        # passfile: a path that cannot exist, so no ~/.pgpass of the engine's user ever
        # supplies or masks a password (/dev/null itself draws a warning from libpq).
        return psycopg2.connect(host=host, port=port, user=self.admin_user, password=password,
                                dbname=dbname, connect_timeout=timeout, passfile=NO_PASSFILE,
                                application_name="heat-dbaas")

    def admin_session(self, host, port, password):
        try:
            connection = self.connect(host, port, password)
        except psycopg2.Error as exc:
            raise errors.ServiceUnavailable(f"Cannot connect to PostgreSQL at {host}:{port} "
                                            f"as {self.admin_user}: {_reason(exc)}") from None
        connection.autocommit = True
        return closing_session(PostgreSQLSession(self, connection, host, port, password), connection)

    # ---- local processes -----------------------------------------------------------------

    def flavor_settings(self, flavor):
        """shared_buffers a quarter of the RAM (PostgreSQL's own advice), the planner told
        that the rest is mostly page cache."""
        return {
            "max_connections": flavor.max_connections,
            "shared_buffers": f"{max(flavor.ram_mb // 4, 16)}MB",
            "effective_cache_size": f"{max(flavor.ram_mb * 3 // 4, 32)}MB",
            "maintenance_work_mem": f"{max(flavor.ram_mb // 16, 16)}MB",
        }

    def config_files(self, paths, address, port, flavor):
        """A complete postgresql.conf outside the data dir (the server reads it through
        config_file, and pg_hba.conf, see access_files, through hba_file), so initdb gets
        the empty dir it insists on."""
        settings = {"listen_addresses": address, "port": port,
                    "hba_file": str(paths.conf("pg_hba.conf"))}
        settings.update(self.STATIC_SETTINGS)
        settings.update(self.flavor_settings(flavor))
        lines = ["# Written by heat-dbaas; rewritten on resize."]
        lines += [f"{name} = {_conf_value(value)}" for name, value in settings.items()]
        # Which primary a replica follows (see follow); absent on a primary.
        lines.append(f"include_if_exists = {_conf_value(str(paths.conf(self.replica_file)))}")
        # Last, so that an attached configuration's values win (see override_files).
        lines.append(f"include_if_exists = {_conf_value(str(paths.conf(self.override_file)))}")
        return {"postgresql.conf": "\n".join(lines) + "\n"}

    def access_files(self, allowed_cidrs):
        """pg_hba.conf. Every connection needs a password. The admin (and replication, for
        backups and replicas on this host) from the service's address; then clients from
        the allowed networks only, or from anywhere when none are given. A client that no
        line matches is refused before authentication ("no pg_hba.conf entry")."""
        networks = [str(ipaddress.IPv4Network(cidr)) for cidr in allowed_cidrs] or ["all"]
        lines = ["# Written by heat-dbaas from the instance's allowed_cidrs; reloaded in place.",
                 "local all all scram-sha-256",
                 f"host all {self.admin_user} {self.SERVICE_ADDRESS}/32 scram-sha-256",
                 f"host replication all {self.SERVICE_ADDRESS}/32 scram-sha-256"]
        for network in networks:
            lines += [f"host all all {network} scram-sha-256", f"host replication all {network} scram-sha-256"]
        return {self.access_file: "\n".join(lines) + "\n"}

    def override_files(self, values):
        """The configuration's values, included at the end of postgresql.conf: the server
        starts with them (ALTER SYSTEM, see the session, keeps them too)."""
        lines = ["# An attached configuration group's values; written by heat-dbaas."]
        lines += [f"{name} = {_conf_value(value)}" for name, value in sorted(values.items())]
        return {self.override_file: "\n".join(lines) + "\n"}

    def initialise(self, paths, version, admin_password, runner):
        """initdb without fsync (the server syncs at its first checkpoint), the admin's
        password read from a pipe: never in argv, never in a file."""
        if "\n" in admin_password or "\r" in admin_password:
            raise errors.BadRequest("field 'admin_password': must be a single line.")
        runner.run([
            f"{self.bin_dir.format(version=version)}/initdb", "-D", str(paths.data),
            "--no-sync", "--auth=scram-sha-256", f"--username={self.admin_user}",
            "--pwfile=/dev/stdin", "--encoding=UTF8", "--locale=C.UTF-8",
        ], stdin=(admin_password + "\n").encode())

    def start_argv(self, paths, version):
        return [f"{self.bin_dir.format(version=version)}/postgres", "-D", str(paths.data),
                "-c", f"config_file={paths.conf('postgresql.conf')}"]

    def probe(self, address, port, password=None):
        try:
            connection = self.connect(address, port, password or "", timeout=1)
        except psycopg2.OperationalError as exc:
            # Without a password, being asked for one means the server is up and accepting.
            return password is None and "no password supplied" in str(exc)
        with contextlib.closing(connection), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return True

    # ---- backups -------------------------------------------------------------------------

    backup_format = "pg_basebackup-tar"

    def backup_stream(self, source, parent_position=None):
        """pg_basebackup of the whole cluster as one tar on stdout, with the WAL that makes
        it consistent (-X fetch) and an immediate checkpoint (-c fast; the default spread
        checkpoint makes even a tiny backup wait). Full backups only: PostgreSQL 15 has no
        incremental base backup, and incrementals from archived WAL need an archive this
        service does not keep (see docs/operators.md)."""
        if parent_position is not None:
            raise errors.BadRequest("PostgreSQL backups are always full: incremental backups are not supported.")
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
        [(chunks, _position)] = chain
        runner.feed(["tar", "-x", "-f", "-", "-C", str(paths.data)], chunks)
        # A replica's backup carries its standby.signal: the restored server is a primary.
        (paths.data / "standby.signal").unlink(missing_ok=True)
        runner.write(paths.data / "postgresql.auto.conf", "# Reset by heat-dbaas when restoring.\n")
        statement = f"ALTER ROLE {self.admin_user} PASSWORD '{scram_verifier(admin_password)}'\n"
        runner.run([f"{self.bin_dir.format(version=version)}/postgres", "--single", "-D", str(paths.data),
                    "-c", f"config_file={paths.conf('postgresql.conf')}", "postgres"], stdin=statement.encode())

    # ---- replication (streaming, physical) -------------------------------------------------
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
                     f"primary_conninfo = {_conf_value(self._conninfo(paths, source))}\n"
                     "recovery_target_timeline = 'latest'\n")
        runner.write(paths.data / "standby.signal", "")

    @contextlib.contextmanager
    def _connected(self, host, port, password, timeout=5):
        try:
            connection = self.connect(host, port, password, timeout=timeout)
        except psycopg2.Error as exc:
            raise errors.ServiceUnavailable(f"Cannot connect to PostgreSQL at {host}:{port}: {_reason(exc)}") from None
        connection.autocommit = True
        try:
            with contextlib.closing(connection), connection.cursor() as cursor:
                yield cursor
        except psycopg2.Error as exc:
            raise errors.DBaaSError(f"PostgreSQL at {host}:{port}: {_reason(exc)}") from None


class _WalKept:
    """A backup stream during which the server keeps every WAL file written since it began.
    pg_basebackup -X fetch collects the WAL at the end; a busy server could have recycled it
    by then and the backup would fail. A temporary physical replication slot, reserved at
    once, keeps it: the slot belongs to our own session and goes with it, also when this
    process dies, so no slot is ever left to hold WAL forever."""

    def __init__(self, datastore, source, stream):
        self.datastore, self.source, self.stream = datastore, source, stream

    @property
    def position(self):
        return self.stream.position

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
                                    f"{_reason(exc)}") from None
        with contextlib.closing(connection):
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_create_physical_replication_slot(%s, true, true)",
                               (f"dbaas_backup_{uuid.uuid4().hex}",))
            yield


class PostgreSQLSession(AdminSession):
    """Users are LOGIN roles, databases are databases.

    Access to a database is CONNECT on it (``REVOKE ALL ... FROM PUBLIC`` on every database we
    create, so a user not granted one is refused at connect time) plus USAGE and CREATE on its
    ``public`` schema. PostgreSQL 15 took CREATE on public away from PUBLIC; granting it per user
    (rather than making the user the database or schema owner) lets several users share one
    database, each creating tables there. Tables stay owned by whoever created them.
    """

    def __init__(self, datastore, connection, host, port, password):
        super().__init__(datastore)
        self.connection = connection
        self._endpoint = (host, port, password)

    def _execute(self, statement, params=None, connection=None):
        try:
            with (connection or self.connection).cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall() if cursor.description else None
        except psycopg2.Error as exc:
            cls = SQLSTATE_ERRORS.get(exc.pgcode, errors.DBaaSError)
            raise cls(f"PostgreSQL: {_reason(exc)}") from exc

    @contextlib.contextmanager
    def _in_database(self, database):
        """An admin connection to another database: schema privileges live inside each one."""
        host, port, password = self._endpoint
        try:
            connection = self.datastore.connect(host, port, password, dbname=database)
        except psycopg2.Error as exc:
            raise errors.ServiceUnavailable(
                f"Cannot connect to database '{database}': {_reason(exc)}") from None
        connection.autocommit = True
        with contextlib.closing(connection):
            yield connection

    def _require_user(self, name):
        if not self._execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)):
            raise errors.NotFound(f"User '{name}' does not exist.")

    def ping(self):
        return self._execute("SELECT 1") == [(1,)]

    def create_database(self, name, character_set=None, collate=None):
        self.datastore.validate_database_name(name)
        encoding, locale = self.datastore.database_options(character_set, collate)
        ident = sql.Identifier(name)
        statement = sql.SQL("CREATE DATABASE {} ENCODING {}").format(ident, sql.Literal(encoding or "UTF8"))
        if locale:   # template1 has initdb's locale: another one starts from template0
            statement += sql.SQL(" LC_COLLATE {0} LC_CTYPE {0} TEMPLATE template0").format(sql.Literal(locale))
        self._execute(statement)
        self._execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))

    def drop_database(self, name):
        self.datastore.validate_database_name(name)
        self._execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))

    def list_databases(self):
        rows = self._execute(
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> ALL(%s) ORDER BY 1",
            (sorted(self.datastore.reserved_databases),))
        return [row[0] for row in rows]

    def create_user(self, spec):
        ds = self.datastore
        ds.validate_user_name(spec.name)
        ds.validate_password(spec.password)
        ds.validate_host(spec.host)
        for database in spec.databases:
            ds.validate_database_name(database)
        self._execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(spec.name), sql.Literal(self._verifier(spec.name, spec.password))))
        try:
            for database in spec.databases:
                self.grant(spec.name, database)
        except Exception:
            with contextlib.suppress(errors.DBaaSError):
                self._execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(spec.name)))
            raise

    def drop_user(self, name, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_host(host)
        self._require_user(name)
        self._drop_role(name)

    def _drop_role(self, name):
        """Objects the role owns are handed to the admin (their data stays), then it goes."""
        ident = sql.Identifier(name)
        self._execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
        rows = self._execute("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate")
        for (database,) in rows:
            with self._in_database(database) as connection:
                self._execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                    ident, sql.Identifier(self.datastore.admin_user)), connection=connection)
                self._execute(sql.SQL("DROP OWNED BY {}").format(ident), connection=connection)
        self._execute(sql.SQL("DROP ROLE {}").format(ident))

    def set_password(self, name, password, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_password(password)
        self.datastore.validate_host(host)
        self._require_user(name)
        self._execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(self._verifier(name, password))))

    def rename_user(self, name, host, new_name, new_host, password):
        """ALTER ROLE ... RENAME TO: its grants and objects stay its own. PostgreSQL clears
        an MD5 password on a rename (the name is its salt; a SCRAM one stays): set again."""
        self._check_accounts((name, host), (new_name, new_host))
        self._require_user(name)
        if self._execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (new_name,)):
            raise errors.Conflict(f"User '{new_name}' already exists.")
        self._execute(sql.SQL("ALTER ROLE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(new_name)))
        if self._execute("SELECT 1 FROM pg_authid WHERE rolname = %s AND rolpassword IS NULL", (new_name,)):
            self.set_password(new_name, password)

    def grant(self, user, database, host="%"):
        self._check(user, database, host)
        self._execute(sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(
            sql.Identifier(database), sql.Identifier(user)))
        with self._in_database(database) as connection:
            self._execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(user)),
                          connection=connection)

    def revoke(self, user, database, host="%"):
        self._check(user, database, host)
        self._execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
            sql.Identifier(database), sql.Identifier(user)))
        with self._in_database(database) as connection:
            self._execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(sql.Identifier(user)),
                          connection=connection)

    def list_users(self):
        rows = self._execute("""
            SELECT r.rolname,
                   ARRAY(SELECT d.datname FROM pg_database d
                         WHERE NOT d.datistemplate AND d.datname <> ALL(%s)
                           AND has_database_privilege(r.oid, d.oid, 'CONNECT') ORDER BY 1)
            FROM pg_roles r
            WHERE r.rolcanlogin AND NOT r.rolsuper AND r.rolname <> %s
            ORDER BY 1""", (sorted(self.datastore.reserved_databases), self.datastore.admin_user))
        return [{"name": name, "host": "%", "databases": list(databases)} for name, databases in rows]

    def list_user_databases(self, user, host="%"):
        self.datastore.validate_user_name(user)
        self._require_user(user)
        rows = self._execute("""
            SELECT datname FROM pg_database
            WHERE NOT datistemplate AND datname <> ALL(%s)
              AND has_database_privilege(%s, oid, 'CONNECT') ORDER BY 1""",
                             (sorted(self.datastore.reserved_databases), user))
        return [row[0] for row in rows]

    def enable_root(self, password):
        self.datastore.validate_password(password)
        name = self.datastore.root_user
        verb = "ALTER" if self._execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)) else "CREATE"
        self._execute(sql.SQL(verb + " ROLE {} LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS "
                              "PASSWORD {}").format(sql.Identifier(name), sql.Literal(self._verifier(name, password))))

    def disable_root(self):
        name = self.datastore.root_user
        if self._execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)):
            self._drop_role(name)

    def apply_access(self, allowed_cidrs):
        """Reload pg_hba.conf (new connections follow it; open ones stay), after checking
        that the server reads the file without an error (it would keep the old rules).
        Returns once a new connection sees the reload: the postmaster applies it a moment
        after it is asked, and a client right after the change must meet the new rules."""
        broken = self._execute("SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL")
        if broken:
            raise errors.DBaaSError(f"PostgreSQL cannot read pg_hba.conf line {broken[0][0]}: {broken[0][1]}")
        [(before,)] = self._execute("SELECT pg_conf_load_time()")
        self._execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self._in_database("postgres") as connection:
                [(loaded,)] = self._execute("SELECT pg_conf_load_time()", connection=connection)
            if loaded > before:
                return
            time.sleep(0.01)
        raise errors.DBaaSError("PostgreSQL did not reload pg_hba.conf within 10 s.")

    def apply_configuration(self, version, flavor, values, previous):
        """ALTER SYSTEM (kept by the server in postgresql.auto.conf), then a reload; what
        needs a restart stays pending (pg_settings.pending_restart) until one."""
        values = self.datastore.validate_configuration(version, values)  # only known names and values
        rules = self.datastore.parameters(version)
        for name in sorted(set(previous) - set(values)):
            if name in rules:
                self._execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
        for name, value in sorted(values.items()):
            self._execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(
                sql.Identifier(name), sql.Literal(_setting_value(value))))
        self._execute("SELECT pg_reload_conf()")

    def _check(self, user, database, host):
        self.datastore.validate_user_name(user)
        self.datastore.validate_database_name(database)
        self.datastore.validate_host(host)

    def _verifier(self, user, password):
        """The SCRAM verifier, computed here: the password itself never travels to the server,
        so it cannot show up in pg_stat_activity or a server log."""
        return extensions.encrypt_password(password, user, self.connection, "scram-sha-256")


def _setting_value(value):
    """A parameter's value as PostgreSQL reads it: booleans as on/off, numbers as they are."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def scram_verifier(password, iterations=4096):
    """PostgreSQL's stored form of a password (SCRAM-SHA-256, RFC 7677), computed without a
    server: what ALTER ROLE ... PASSWORD takes instead of the password itself."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
    return (f"SCRAM-SHA-256${iterations}:{b64(salt)}$"
            f"{b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}")


def _conf_value(value):
    """A postgresql.conf value: numbers bare, strings single-quoted with quotes doubled."""
    value = _setting_value(value)
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def _reason(exc):
    """The server's own one-line message (never contains the statement or a password)."""
    diag = getattr(exc, "diag", None)
    text = ((diag and diag.message_primary) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
