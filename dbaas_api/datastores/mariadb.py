"""MariaDB: everything heat-dbaas knows about it."""
import contextlib
import hashlib
import ipaddress
import os
import pwd
import shutil
import socket
import time
from pathlib import Path

import pymysql

from dbaas_api import errors
from dbaas_api.backup.streams import ToolStream
from dbaas_api.datastores import mariadb_collations as collations
from dbaas_api.datastores.base import (
    BOOLEAN, FLOAT, INTEGER, STRING, AdminSession, Datastore, Parameter, closing_session, parameter_rules)

# Server error numbers that mean something about the request rather than a fault.
ERRNO_ERRORS = {
    1007: errors.Conflict,   # ER_DB_CREATE_EXISTS
    1008: errors.NotFound,   # ER_DB_DROP_EXISTS
    1049: errors.NotFound,   # ER_BAD_DB_ERROR
    1133: errors.NotFound,   # ER_PASSWORD_NO_MATCH: no such user
    1141: errors.NotFound,   # ER_NONEXISTING_GRANT
}

UINT32 = 4294967295
ULONG = 18446744073709551615
SQL_MODES = ("REAL_AS_FLOAT", "PIPES_AS_CONCAT", "ANSI_QUOTES", "IGNORE_SPACE", "IGNORE_BAD_TABLE_OPTIONS",
             "ONLY_FULL_GROUP_BY", "NO_UNSIGNED_SUBTRACTION", "NO_DIR_IN_CREATE", "POSTGRESQL", "ORACLE",
             "MSSQL", "DB2", "MAXDB", "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "NO_FIELD_OPTIONS", "MYSQL323",
             "MYSQL40", "ANSI", "NO_AUTO_VALUE_ON_ZERO", "NO_BACKSLASH_ESCAPES", "STRICT_TRANS_TABLES",
             "STRICT_ALL_TABLES", "NO_ZERO_IN_DATE", "NO_ZERO_DATE", "ALLOW_INVALID_DATES",
             "ERROR_FOR_DIVISION_BY_ZERO", "TRADITIONAL", "NO_AUTO_CREATE_USER", "HIGH_NOT_PRECEDENCE",
             "NO_ENGINE_SUBSTITUTION", "PAD_CHAR_TO_FULL_LENGTH", "EMPTY_STRING_IS_NULL",
             "SIMULTANEOUS_ASSIGNMENT", "TIME_ROUND_FRACTIONAL")
# What users may set, read from MariaDB 10.11's information_schema.SYSTEM_VARIABLES
# (NUMERIC_MIN_VALUE, NUMERIC_MAX_VALUE, ENUM_VALUE_LIST; READ_ONLY = restart_required).
# Left out: variables the server sizes itself at start (thread_cache_size...), whose
# DEFAULT is not what an instance runs with, so a detach could not restore them; and
# start-only ones whose value depends on the machine (innodb_flush_method: O_DIRECT fails
# on some file systems), which would leave a server that cannot start again.
PARAMETERS_10_11 = parameter_rules(
    Parameter("max_connections", INTEGER, 10, 100000),
    Parameter("innodb_buffer_pool_size", INTEGER, 2097152, 18446744073701163008),
    Parameter("max_allowed_packet", INTEGER, 1024, 1073741824),
    Parameter("wait_timeout", INTEGER, 1, 31536000),
    Parameter("interactive_timeout", INTEGER, 1, 31536000),
    Parameter("connect_timeout", INTEGER, 2, 31536000),
    Parameter("net_read_timeout", INTEGER, 1, 31536000),
    Parameter("net_write_timeout", INTEGER, 1, 31536000),
    Parameter("lock_wait_timeout", INTEGER, 0, 31536000),
    Parameter("innodb_lock_wait_timeout", INTEGER, 0, 100000000),
    Parameter("long_query_time", FLOAT, 0, 31536000),
    Parameter("slow_query_log", BOOLEAN),
    Parameter("sort_buffer_size", INTEGER, 1024, ULONG),
    Parameter("join_buffer_size", INTEGER, 128, ULONG),
    Parameter("tmp_table_size", INTEGER, 0, ULONG),
    Parameter("max_heap_table_size", INTEGER, 16384, ULONG),
    Parameter("bulk_insert_buffer_size", INTEGER, 0, ULONG),
    Parameter("group_concat_max_len", INTEGER, 4, 1073741824),
    Parameter("innodb_flush_log_at_trx_commit", INTEGER, 0, 3),
    Parameter("sync_binlog", INTEGER, 0, UINT32),
    Parameter("innodb_io_capacity", INTEGER, 100, UINT32),
    Parameter("innodb_print_all_deadlocks", BOOLEAN),
    Parameter("table_open_cache", INTEGER, 10, 1048576),
    Parameter("table_definition_cache", INTEGER, 400, 2097152),
    Parameter("max_connect_errors", INTEGER, 1, UINT32),
    Parameter("max_user_connections", INTEGER, 0, 2147483647),
    Parameter("max_prepared_stmt_count", INTEGER, 0, UINT32),
    Parameter("auto_increment_increment", INTEGER, 1, 65535),
    Parameter("auto_increment_offset", INTEGER, 1, 65535),
    Parameter("explicit_defaults_for_timestamp", BOOLEAN),
    Parameter("character_set_server", STRING, allowed=("utf8mb4", "utf8mb3", "latin1", "ascii", "binary")),
    Parameter("tx_isolation", STRING, option="transaction-isolation",
              allowed=("READ-UNCOMMITTED", "READ-COMMITTED", "REPEATABLE-READ", "SERIALIZABLE")),
    Parameter("event_scheduler", STRING, allowed=("ON", "OFF")),
    Parameter("sql_mode", STRING, pattern=rf"(?:(?:{'|'.join(SQL_MODES)})(?:,(?:{'|'.join(SQL_MODES)}))*)?"),
    Parameter("performance_schema", BOOLEAN, restart_required=True),
    Parameter("innodb_log_buffer_size", INTEGER, 2097152, 2147479552, restart_required=True),
    Parameter("innodb_open_files", INTEGER, 10, 2147483647, restart_required=True),
)
_SIZE_SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


class MariaDB(Datastore):
    name = "mariadb"
    title = "MariaDB"
    versions = ("10.11",)
    default_version = "10.11"
    port = 3306
    supports_user_hosts = True
    admin_user = "os_admin"   # os_admin@'%' WITH GRANT OPTION; root accounts are dropped

    # Identifiers: 64 characters, user names 80 (MariaDB's limits, counted in characters).
    max_database_name = 64
    max_user_name = 80
    max_host = 255
    reserved_databases = frozenset({"mysql", "information_schema", "performance_schema", "sys",
                                    "lost+found"})
    reserved_database_prefixes = ("#mysql50#",)   # the server's own prefix for old file names
    reserved_users = frozenset({"root", "mysql", "mariadb.sys", "os_admin", "os_repl", "public"})

    configuration_parameters = {"10.11": PARAMETERS_10_11}
    # Set by the service (addresses, files, security, replication): never by a configuration.
    blocked_parameters = frozenset({
        "port", "bind_address", "datadir", "socket", "pid_file", "basedir", "tmpdir", "plugin_dir",
        "skip_networking", "skip_name_resolve", "init_file", "init_connect", "secure_file_priv",
        "log_bin", "log_error", "general_log_file", "slow_query_log_file", "relay_log", "server_id",
        "binlog_format", "gtid_strict_mode", "read_only", "require_secure_transport",
        "ssl_cert", "ssl_key", "ssl_ca", "local_infile"})
    override_file = "overrides.cnf"
    # MariaDB has no host-based rules apart from accounts' host parts; see access_files.
    filters_clients = True
    access_file = "access.cnf"

    system_user = "mysql"
    # The error log (stderr, no log-error file): start, stop, warnings, aborted connections;
    # statements never (the general and slow query logs are off).
    guest_logs = {"error": "server.log"}
    server_bin = "/usr/sbin/mariadbd"
    install_bin = "/usr/bin/mariadb-install-db"
    socket_name = "mysqld.sock"   # in the data dir; used once, to create the admin
    SOCKET_PATH_MAX = 107         # sun_path is 108 bytes with its NUL

    # Settings every instance gets; memory and connections come from the flavor.
    STATIC_SETTINGS = {
        "skip-name-resolve": None,          # accounts match addresses; no DNS on every connect
        "character-set-server": "utf8mb4",
        "collation-server": "utf8mb4_general_ci",
        "innodb_log_file_size": "8M",       # the default makes every instance ~100 MB on disk
        # Binary log in GTID form, ready for a replica later.
        "log-bin": "mariadb-bin",
        "relay-log": "relay-bin",
        "binlog-format": "ROW",
        "gtid-strict-mode": "ON",
        "log-slave-updates": "ON",          # a replica's binlog has its source's writes: it can be promoted
        "binlog_expire_logs_seconds": 7 * 24 * 3600,
    }

    def normalise_parameter(self, name):
        """MariaDB reads max-connections and max_connections alike."""
        return str(name).lower().replace("-", "_")

    def _check_identifier(self, field, name):
        """What MariaDB cannot store: trailing spaces are trimmed (and compare equal), and
        identifiers are utf8mb3, which holds the Basic Multilingual Plane only."""
        if name != name.rstrip(" "):
            raise errors.BadRequest(f"field '{field}': must not end with a space in MariaDB.")
        if any(ord(char) > 0xFFFF for char in name):
            raise errors.BadRequest(
                f"field '{field}': MariaDB names cannot hold characters beyond U+FFFF (such as emoji).")

    def database_options(self, character_set, collate, field="database"):
        """Trove's MySQL rules: a collation alone brings its character set, a character set
        alone its default collation (mariadb_collations.py, read from the server)."""
        charset = collations.canonical(character_set) if character_set else None
        if charset is not None and charset not in collations.COLLATIONS:
            raise errors.BadRequest(f"field '{field}.character_set': '{character_set}' is not a MariaDB "
                                    f"character set ({', '.join(sorted(collations.COLLATIONS))}).")
        if not collate:
            return charset, collations.collations_of(charset)[0] if charset else None
        collation = collations.canonical(collate)
        owner = collations.CHARSET_OF.get(collation)
        if owner is None:
            raise errors.BadRequest(f"field '{field}.collate': '{collate}' is not a MariaDB collation.")
        if charset is not None and owner != charset:
            raise errors.BadRequest(f"field '{field}.collate': '{collate}' is not a collation of "
                                    f"character set '{charset}' (it is {owner}'s).")
        return owner, collation

    # ---- the admin endpoint --------------------------------------------------------------

    def connect(self, host=None, port=None, password="", user=None, unix_socket=None, timeout=5,
                io_timeout=60):
        # Passwords go as UTF-8 bytes (PyMySQL would encode a str as latin-1 and fail on others).
        return pymysql.connect(host=host, port=port or self.port, user=user or self.admin_user,
                               password=password.encode("utf-8"), unix_socket=unix_socket,
                               connect_timeout=timeout, read_timeout=io_timeout, write_timeout=io_timeout,
                               charset="utf8mb4", autocommit=True)

    def admin_session(self, host, port, password):
        try:
            connection = self.connect(host, port, password)
        except pymysql.MySQLError as exc:
            raise errors.ServiceUnavailable(
                f"Cannot connect to MariaDB at {host}:{port} as {self.admin_user}: {_reason(exc)}") from None
        return closing_session(MariaDBSession(self, connection), connection)

    # ---- local processes -----------------------------------------------------------------

    def flavor_settings(self, flavor):
        """The buffer pool gets half the RAM: the usual 70-80% leaves too little beside
        per-connection buffers on small flavors."""
        return {
            "innodb_buffer_pool_size": f"{max(flavor.ram_mb // 2, 32)}M",
            "max_connections": flavor.max_connections,
        }

    def config_files(self, paths, address, port, flavor):
        settings = {
            "datadir": str(paths.data),
            "bind-address": address,
            "port": port,
            "socket": str(paths.data / self.socket_name),
            "pid-file": str(paths.data / "mariadbd.pid"),
            # Unique per host and stable: derived from the instance's own address.
            "server-id": int(ipaddress.ip_address(address)) & 0xFFFFFF,
        }
        settings.update(self.STATIC_SETTINGS)
        settings.update(self.flavor_settings(flavor))
        lines = ["# Written by heat-dbaas; rewritten on resize.", "[mariadbd]"]
        lines += [name if value is None else f"{name} = {value}" for name, value in settings.items()]
        lines.append(f"!include {paths.conf(self.access_file)}")
        lines.append(f"!include {paths.conf(self.replica_file)}")
        if paths.conf(self.cluster_file).exists():   # a Galera member (see cluster_files)
            lines.append(f"!include {paths.conf(self.cluster_file)}")
        # Last, so that an attached configuration's values win (see override_files).
        lines.append(f"!include {paths.conf(self.override_file)}")
        files = {"my.cnf": "\n".join(lines) + "\n"}
        if not paths.conf(self.replica_file).exists():   # a primary's; a replica's is written by follow
            files[self.replica_file] = self.PRIMARY_CNF
        return files

    def access_files(self, allowed_cidrs):
        """access.cnf, included by my.cnf: ``init_connect``, which the server runs for every
        new connection of an account without CONNECTION ADMIN (SUPER) right after it has
        authenticated, and which disconnects the client when it fails. Ours fails unless the
        client's address (USER()'s host part; skip-name-resolve keeps it an address) is in
        one of the networks. The admin (os_admin) and root hold that privilege and are not
        filtered. Chosen over accounts' host parts ('u'@'10.0.0.0/255.0.0.0'), which would
        turn each user into one account per network, each with its own password and grants
        for every user operation to keep in step. The trade-off: the check runs after the
        password, so a client from outside learns whether a password was right
        (docs/api.md, Access)."""
        lines = ["# Written by heat-dbaas from the instance's allowed_cidrs; applied live with SET GLOBAL.",
                 "[mariadbd]"]
        statement = self.access_check(allowed_cidrs)
        if statement:
            lines.append(f'init-connect = "{statement}"')  # no double quote or backslash in it
        return {self.access_file: "\n".join(lines) + "\n"}

    def access_check(self, allowed_cidrs):
        """access_check() letting the replication account in from the service's address too:
        replicas on this host follow their source from there, whatever its networks."""
        return access_check(allowed_cidrs, service_accounts=(f"{self.replication_user}@{self.SERVICE_ADDRESS}",))

    def override_files(self, values):
        """The configuration's values, included at the end of my.cnf: MariaDB has no
        ALTER SYSTEM, so this file is what keeps them across a restart."""
        lines = ["# An attached configuration group's values; written by heat-dbaas.", "[mariadbd]"]
        lines += [f"{self.option_name(name)} = {_option_value(value)}" for name, value in sorted(values.items())]
        return {self.override_file: "\n".join(lines) + "\n"}

    def initialise(self, paths, version, admin_password, runner):
        """System tables only. The one account made here is root@localhost by unix socket
        (no password, socket only); after_first_start replaces it with os_admin@'%'."""
        socket_path = paths.data / self.socket_name
        if len(str(socket_path).encode()) > self.SOCKET_PATH_MAX:
            raise errors.DBaaSError(
                f"The state directory path is too long for MariaDB's socket {socket_path}; "
                "use a shorter one.")
        runner.run([
            self.install_bin, f"--defaults-file={paths.conf('my.cnf')}", f"--datadir={paths.data}",
            "--skip-test-db", "--skip-name-resolve", "--auth-root-authentication-method=socket",
            f"--auth-root-socket-user={_os_user()}",
        ])

    def start_argv(self, paths, version):
        # --defaults-file must come first; --datadir repeats it so argv names the data dir.
        return [self.server_bin, f"--defaults-file={paths.conf('my.cnf')}", f"--datadir={paths.data}"]

    def after_first_start(self, paths, address, port, admin_password, wait):
        """Over the unix socket (unix_socket authentication: we are the OS user it names),
        create os_admin@'%', then drop the socket accounts, so that no account without a
        password exists anywhere. TCP never offers a passwordless root, not even briefly."""
        me = _os_user()
        socket_path = str(paths.data / self.socket_name)

        def attempt():
            with contextlib.suppress(pymysql.MySQLError, OSError):
                return self.connect(user=me, unix_socket=socket_path, timeout=1, io_timeout=5)
        connection = wait(attempt, "MariaDB's socket")
        with contextlib.closing(connection), connection.cursor() as cursor:
            account = _account(connection, self.admin_user, "%")
            cursor.execute(f"CREATE USER {account} IDENTIFIED BY PASSWORD "
                           f"{connection.escape(_native_hash(admin_password))}")
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")
            dropped = {_account(connection, user, "localhost") for user in {"root", me}}
            cursor.execute("DROP USER IF EXISTS " + ", ".join(sorted(dropped)))

    def probe(self, address, port, password=None):
        if password is None:
            # The server greets every TCP client once it is ready; no login, no log noise.
            try:
                with socket.create_connection((address, port), timeout=0.5) as conn:
                    conn.settimeout(0.5)
                    return len(conn.recv(8)) >= 5
            except OSError:
                return False
        try:
            connection = self.connect(address, port, password, timeout=1, io_timeout=1)
        except pymysql.MySQLError:
            return False
        with contextlib.closing(connection):
            connection.ping(reconnect=False)
            return True

    # ---- backups -------------------------------------------------------------------------

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
                      f"ALTER USER '{self.admin_user}'@'%' IDENTIFIED BY PASSWORD '{_native_hash(admin_password)}';\n")
        runner.run([self.server_bin, f"--defaults-file={paths.conf('my.cnf')}", f"--datadir={paths.data}",
                    "--bootstrap"], stdin=statements.encode())

    # ---- replication (GTID) -----------------------------------------------------------------
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
    REPLICA_CNF = "# A replica: read-only but for its source's writes; written by heat-dbaas.\n[mariadbd]\nread_only = ON\n"
    seed_position_file = "seed-gtid"

    def prepare_source(self, source):
        with self._replication_cursor(source.host, source.port, source.password) as (connection, cursor):
            account = _account(connection, self.replication_user, "%")
            hashed = connection.escape(_native_hash(self.replication_password(source.password)))
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

    @contextlib.contextmanager
    def _replication_cursor(self, host, port, password, timeout=5):
        try:
            connection = self.connect(host, port, password, timeout=timeout, io_timeout=30)
        except pymysql.MySQLError as exc:
            raise errors.ServiceUnavailable(f"Cannot connect to MariaDB at {host}:{port}: {_reason(exc)}") from None
        try:
            with contextlib.closing(connection), connection.cursor() as cursor:
                yield connection, cursor
        except pymysql.MySQLError as exc:
            raise errors.DBaaSError(f"MariaDB at {host}:{port}: {_reason(exc)}") from None


    # ---- Galera clusters ------------------------------------------------------------------
    # Every member is a primary (synchronous multi-master, galera-4 from Debian). The first
    # member starts the cluster (--wsrep-new-cluster); each later one joins through the
    # members made before it and receives the data by rsync SST (no account or password is
    # needed for it, unlike mariadb-backup SST, whose credentials would have to sit in a
    # config file). Galera's group, IST and SST ports listen on the member's own address.

    cluster_kind = "galera"
    min_cluster_members = 3       # a majority survives the loss of any one member
    cluster_roles = ("member",)
    cluster_file = "cluster.cnf"
    galera_provider = "/usr/lib/galera/libgalera_smm.so"
    GALERA_PORTS = {"group": 4567, "ist": 4568, "sst": 4444}

    def plan_cluster(self, requested):
        self._members_only(requested)
        if len(requested) < self.min_cluster_members:
            raise errors.BadRequest(f"A Galera cluster needs at least {self.min_cluster_members} instances "
                                    f"(a majority must survive the loss of one); {len(requested)} given.")
        return [("member", None)] * len(requested)

    def plan_growth(self, roles, requested):
        self._members_only(requested)
        return [("member", None)] * len(requested)

    def plan_shrink(self, roles, follows, removed):
        left = len(roles) - len(set(removed))
        if left < self.min_cluster_members:
            raise errors.BadRequest(f"A Galera cluster keeps at least {self.min_cluster_members} instances; "
                                    f"removing {len(set(removed))} of {len(roles)} would leave {left}.")
        return list(follows)

    @staticmethod
    def _members_only(requested):
        for role in requested:
            if role not in (None, "member"):
                raise errors.BadRequest(f"Galera members are all equal: instance type '{role}' is not known "
                                        "(leave 'type' out or use 'member').")

    def cluster_files(self, paths, address, membership):
        ports = self.GALERA_PORTS
        peers = ",".join(membership["peers"])
        provider_options = "; ".join((
            f"gmcast.listen_addr=tcp://{address}:{ports['group']}", f"ist.recv_addr={address}:{ports['ist']}",
            "gcache.size=16M",             # the default 128 MB file per member is too big for tests
            "evs.suspect_timeout=PT5S", "evs.inactive_timeout=PT10S"))
        settings = {
            "wsrep_on": "ON",
            "wsrep_provider": self.galera_provider,
            # gcomm takes group names of at most 31 bytes (a longer one fails every handshake).
            "wsrep_cluster_name": "dbaas-" + hashlib.sha256(membership["cluster"].encode()).hexdigest()[:24],
            "wsrep_cluster_address": f"gcomm://{peers}",
            "wsrep_node_address": f"{address}:{ports['group']}",
            "wsrep_node_name": address,
            "wsrep_sst_method": "rsync",
            "wsrep_sst_receive_address": f"{address}:{ports['sst']}",
            "wsrep_provider_options": f'"{provider_options}"',
            "wsrep_slave_threads": 2,
            "innodb_autoinc_lock_mode": 2,    # Galera needs interleaved auto-increment locks
            "log_slave_updates": "ON",
            "gtid-strict-mode": "OFF",        # Galera orders writes itself
        }
        lines = ["# A Galera member; written by heat-dbaas (no secrets).", "[mariadbd]"]
        lines += [f"{name} = {value}" for name, value in settings.items()]
        return {self.cluster_file: "\n".join(lines) + "\n"}

    def member_initialises(self, membership):
        """Only the first member: the others receive the whole data directory (accounts
        included) from a donor when they join."""
        return not membership["peers"]

    def can_start_cluster(self, paths):
        """Galera marks the member that left a cluster last (it has every write) safe to
        bootstrap in grastate.dat."""
        try:
            return "safe_to_bootstrap: 1" in (paths.data / "grastate.dat").read_text()
        except OSError:
            return False

    def forget_member_state(self, paths):
        """Galera's saved view and state (its primary component, as the old address saw it)."""
        for name in ("gvwstate.dat", "grastate.dat"):
            (paths.data / name).unlink(missing_ok=True)

    def member_start_args(self, membership):
        return [] if membership["peers"] else ["--wsrep-new-cluster"]

    def member_status(self, address, port, admin_password):
        with contextlib.closing(self.connect(address, port, admin_password)) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN "
                               "('wsrep_cluster_size', 'wsrep_local_state_comment', 'wsrep_cluster_status', "
                               "'wsrep_ready')")
                return dict(cursor.fetchall())

    def join_cluster(self, address, port, admin_password, membership, timeout=120):
        """Done when the member says it is Synced with a primary component."""
        deadline = time.monotonic() + timeout
        state = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(pymysql.MySQLError, OSError):
                state = self.member_status(address, port, admin_password)
                if state.get("wsrep_local_state_comment") == "Synced" and state.get("wsrep_cluster_status") == "Primary":
                    return
            time.sleep(0.1)
        raise errors.DBaaSError(f"The Galera member at {address} did not sync within {timeout} s "
                                f"(state: {state.get('wsrep_local_state_comment', 'unknown')}).")

    def leave_cluster(self, address, port, admin_password, membership, others):
        """A clean shutdown is how a Galera member leaves: the others see it go and the
        cluster's size drops by one (the driver stops it with its stop signal)."""


class MariaDBSession(AdminSession):
    """Users are 'name'@'host' accounts, databases are schemas; access is
    ``ALL PRIVILEGES ON `db`.*``.

    Statements are built with backtick-quoted identifiers (backticks doubled) and string
    literals escaped by the connection, and run without PyMySQL's %-formatting. In GRANT and
    REVOKE the database name is a LIKE pattern: '_' and '%' are escaped there, or a grant on
    `my_db` would also open `myXdb`.
    """

    def __init__(self, datastore, connection):
        super().__init__(datastore)
        self.connection = connection

    def _execute(self, statement):
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall()
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args else None
            if "Errcode: 36" in _reason(exc):
                # ENAMETOOLONG: a database is a directory, its name encoded (@002f for '/'...)
                # and the encoded form can pass 255 bytes while the name is within 64 characters.
                raise errors.BadRequest("field 'database': too long for MariaDB once encoded as a "
                                        "file name; use fewer punctuation characters.") from exc
            cls = ERRNO_ERRORS.get(code, errors.DBaaSError)
            raise cls(f"MariaDB: {_reason(exc)}") from exc

    def _literal(self, value):
        return self.connection.escape(value)

    def _account(self, user, host):
        return _account(self.connection, user, host)

    def _exists(self, user, host):
        return bool(self._execute(
            f"SELECT 1 FROM mysql.global_priv WHERE User = {self._literal(user)} "
            f"AND Host = {self._literal(host)}"))

    def _require_user(self, user, host):
        if not self._exists(user, host):
            raise errors.NotFound(f"User '{user}'@'{host}' does not exist.")

    def _require_database(self, database):
        if not self._execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = "
                             + self._literal(database)):
            raise errors.NotFound(f"Database '{database}' does not exist.")

    def ping(self):
        return self._execute("SELECT 1") == ((1,),)

    def create_database(self, name, character_set=None, collate=None):
        self.datastore.validate_database_name(name)
        charset, collation = self.datastore.database_options(character_set, collate)
        # Both are names from mariadb_collations.py's table (letters, digits, _): no quoting.
        options = f" CHARACTER SET {charset} COLLATE {collation}" if charset else ""
        self._execute(f"CREATE DATABASE {_ident(name)}{options}")

    def drop_database(self, name):
        """Grants outlive a dropped database in MariaDB; revoke them first, or a later database
        of the same name would open to the old users."""
        self.datastore.validate_database_name(name)
        self._require_database(name)
        for user, host in self._execute(
                f"SELECT User, Host FROM mysql.db WHERE Db = {self._literal(_pattern(name))}"):
            self._execute(f"REVOKE ALL PRIVILEGES ON {_on(name)} FROM {self._account(user, host)}")
        self._execute(f"DROP DATABASE {_ident(name)}")

    def list_databases(self):
        reserved = self.datastore.reserved_databases
        return sorted(row[0] for row in self._execute("SHOW DATABASES") if row[0].casefold() not in reserved)

    def create_user(self, spec):
        ds = self.datastore
        ds.validate_user_name(spec.name)
        ds.validate_password(spec.password)
        ds.validate_host(spec.host)
        for database in spec.databases:
            ds.validate_database_name(database)
            self._require_database(database)
        if self._exists(spec.name, spec.host):
            raise errors.Conflict(f"User '{spec.name}'@'{spec.host}' already exists.")
        account = self._account(spec.name, spec.host)
        self._execute(f"CREATE USER {account} IDENTIFIED BY PASSWORD "
                      f"{self._literal(_native_hash(spec.password))}")
        for database in spec.databases:
            self._execute(f"GRANT ALL PRIVILEGES ON {_on(database)} TO {account}")

    def drop_user(self, name, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_host(host)
        self._require_user(name, host)
        self._execute(f"DROP USER {self._account(name, host)}")

    def set_password(self, name, password, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_password(password)
        self.datastore.validate_host(host)
        self._require_user(name, host)
        self._execute(f"ALTER USER {self._account(name, host)} IDENTIFIED BY PASSWORD "
                      f"{self._literal(_native_hash(password))}")

    def rename_user(self, name, host, new_name, new_host, password):
        """RENAME USER moves its privileges; its password hash does not depend on the name."""
        self._check_accounts((name, host), (new_name, new_host))
        self._require_user(name, host)
        if self._exists(new_name, new_host):
            raise errors.Conflict(f"User '{new_name}'@'{new_host}' already exists.")
        self._execute(f"RENAME USER {self._account(name, host)} TO {self._account(new_name, new_host)}")

    def grant(self, user, database, host="%"):
        self._check(user, database, host)
        self._execute(f"GRANT ALL PRIVILEGES ON {_on(database)} TO {self._account(user, host)}")

    def revoke(self, user, database, host="%"):
        self._check(user, database, host)
        self._execute(f"REVOKE ALL PRIVILEGES ON {_on(database)} FROM {self._account(user, host)}")

    def list_users(self):
        reserved = self.datastore.reserved_users
        grants = {}
        for user, host, pattern in self._execute("SELECT User, Host, Db FROM mysql.db"):
            grants.setdefault((user, host), []).append(_unpattern(pattern))
        rows = self._execute("SELECT User, Host FROM mysql.global_priv ORDER BY User, Host")
        return [{"name": user, "host": host, "databases": sorted(grants.get((user, host), []))}
                for user, host in rows if user and user.casefold() not in reserved]

    def list_user_databases(self, user, host="%"):
        self.datastore.validate_user_name(user)
        self.datastore.validate_host(host)
        self._require_user(user, host)
        rows = self._execute(f"SELECT Db FROM mysql.db WHERE User = {self._literal(user)} "
                             f"AND Host = {self._literal(host)}")
        return sorted(_unpattern(row[0]) for row in rows)

    def _check(self, user, database, host):
        self.datastore.validate_user_name(user)
        self.datastore.validate_database_name(database)
        self.datastore.validate_host(host)
        self._require_user(user, host)
        self._require_database(database)

    def enable_root(self, password):
        """root@'%' with every privilege and GRANT OPTION, as Trove's root is."""
        self.datastore.validate_password(password)
        account = self._account(self.datastore.root_user, "%")
        verb = "ALTER" if self._exists(self.datastore.root_user, "%") else "CREATE"
        self._execute(f"{verb} USER {account} IDENTIFIED BY PASSWORD {self._literal(_native_hash(password))}")
        self._execute(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")

    def disable_root(self):
        self._execute(f"DROP USER IF EXISTS {self._account(self.datastore.root_user, '%')}")

    def apply_access(self, allowed_cidrs):
        """The same check as access.cnf's, live: new connections follow it at once."""
        self._execute(f"SET GLOBAL init_connect = {self._literal(self.datastore.access_check(allowed_cidrs))}")

    def apply_configuration(self, version, flavor, values, previous):
        """SET GLOBAL for what the running server can change (the driver's override file
        keeps the values for the next start); a value no longer given goes back to the
        instance's own setting, or to the server's DEFAULT when it has none."""
        values = self.datastore.validate_configuration(version, values)  # only known names and values
        rules = self.datastore.parameters(version)
        for name in sorted(set(previous) - set(values)):
            if name in rules and not rules[name].restart_required:
                baseline = self.datastore.baseline(version, flavor, name)
                self._set_global(name, "DEFAULT" if baseline is None else self._value(rules[name], baseline))
        for name, value in sorted(values.items()):
            if not rules[name].restart_required:
                self._set_global(name, self._value(rules[name], value))

    def _set_global(self, name, value_sql):
        self._execute(f"SET GLOBAL {_ident(name)} = {value_sql}")

    def _value(self, rule, value):
        if isinstance(value, bool):
            return "ON" if value else "OFF"
        if rule.type == INTEGER and isinstance(value, str):  # a size from our config: 256M
            value = int(value[:-1]) * _SIZE_SUFFIX[value[-1].upper()] if value[-1:].isalpha() else int(value)
        if isinstance(value, (int, float)):
            return repr(value)
        return self._literal(value)


def access_check(allowed_cidrs, service_accounts=()):
    """A compound statement that fails (SQLSTATE 28000) unless the connecting client's
    address is in one of ``allowed_cidrs`` or it is one of ``service_accounts`` (USER()
    texts, 'os_repl@127.0.0.1': names of ours, never a user's); "" (no check) when every
    address may connect.
    Only numbers from ipaddress go into it. A client with no address (the unix socket,
    which only the server's OS user can reach) is refused as well."""
    networks = [ipaddress.IPv4Network(cidr) for cidr in allowed_cidrs]
    if not networks or any(network.prefixlen == 0 for network in networks):
        return ""
    client = "INET_ATON(SUBSTRING_INDEX(USER(), '@', -1))"
    allowed = " OR ".join([f"({client} & {int(network.netmask)}) = {int(network.network_address)}"
                           for network in networks] + [f"USER() = '{account}'" for account in service_accounts])
    return (f"BEGIN NOT ATOMIC IF NOT COALESCE({allowed}, FALSE) THEN "
            "SIGNAL SQLSTATE '28000' SET MESSAGE_TEXT = 'Access denied: this address is not allowed'; "
            "END IF; END")


def _ident(name):
    return "`" + name.replace("`", "``") + "`"


def _option_value(value):
    """A value in an option file: ON/OFF, numbers as they are, strings bare (a configuration's
    strings are checked against allowed values or a pattern without quotes or '#')."""
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    return str(value)


def _on(database):
    """The target of GRANT/REVOKE for all of one database."""
    return f"{_ident(_pattern(database))}.*"


def _pattern(database):
    """A database name as GRANT reads it: a LIKE pattern, so escape its wildcards."""
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def _unpattern(pattern):
    out, chars = [], iter(pattern)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


def _account(connection, user, host):
    return f"{connection.escape(user)}@{connection.escape(host)}"


def _native_hash(password):
    """mysql_native_password's stored form, computed here so the password never travels in
    a statement (nor shows in the process list)."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode("utf-8")).digest()).hexdigest().upper()


def _checkpoint_lsn(workdir):
    """The LSN an incremental on top of this backup starts from (xtrabackup_checkpoints)."""
    fields = {}
    for line in (Path(workdir) / "xtrabackup_checkpoints").read_text().splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip()
    return {"to_lsn": int(fields["to_lsn"])}


def _os_user():
    return pwd.getpwuid(os.geteuid()).pw_name


def gtid_position(gtid):
    """A GTID list ('0-1-42,1-7-3') as one number that grows with every transaction: the sum
    of its sequence numbers (each domain's only grows; gtid-strict-mode)."""
    return sum(int(part.rsplit("-", 1)[1]) for part in (gtid or "").split(",") if part.strip())


def _reason(exc):
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc) or type(exc).__name__
