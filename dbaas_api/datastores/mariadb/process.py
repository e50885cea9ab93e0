"""MariaDB as a local process: my.cnf and its included files, the system tables, the
first admin account, readiness."""
import contextlib
import ipaddress
import socket

import pymysql

from dbaas_api import errors
from dbaas_api.datastores.base import LocalProcess, UserLog
from dbaas_api.datastores.mariadb.admin import access_check
from dbaas_api.datastores.mariadb.client import Client, quoted_account, native_hash, os_user


class MariaDBProcess(Client, LocalProcess):
    override_file = "overrides.cnf"
    # MariaDB has no host-based rules apart from accounts' host parts; see access_files.
    filters_clients = True
    access_file = "access.cnf"

    system_user = "mysql"
    # The error log (stderr, no log-error file): start, stop, warnings, aborted connections;
    # statements never. The general and slow query logs are off until a user enables them
    # (Trove's USER logs), set live with SET GLOBAL (admin.py) and kept in logs.cnf for every
    # start. They record users' statements, never the service's (client.py's SERVICE_SESSION).
    guest_logs = {"error": "server.log"}
    user_logs = {"general": UserLog("data/general.log"), "slow_query": UserLog("data/slow_query.log")}
    log_settings_file = "logs.cnf"
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
        lines.append(f"!include {paths.conf(self.log_settings_file)}")
        return self._main_config(paths, "my.cnf", lines, "!include", self.PRIMARY_CNF)

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

    def log_settings(self, paths, enabled, started):
        """Both logs are files in the data dir (the server's user writes there); the slow
        log's threshold is long_query_time, a configuration parameter (10 s by default)."""
        settings = {}
        for name, switch in (("general", "general_log"), ("slow_query", "slow_query_log")):
            settings[f"{switch}_file"] = str(paths.home / self.user_logs[name].file)
            settings[switch] = "ON" if name in enabled else "OFF"
        return settings

    def log_files(self, settings):
        lines = ["# The USER logs that are on; written by heat-dbaas, applied live with SET GLOBAL.", "[mariadbd]"]
        lines += [f"{name} = {value}" for name, value in settings.items()]
        return {self.log_settings_file: "\n".join(lines) + "\n"}

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
            f"--auth-root-socket-user={os_user()}",
        ])

    def start_argv(self, paths, version):
        # --defaults-file must come first; --datadir repeats it so argv names the data dir.
        return [self.server_bin, f"--defaults-file={paths.conf('my.cnf')}", f"--datadir={paths.data}"]

    def after_first_start(self, paths, address, port, admin_password, wait):
        """Over the unix socket (unix_socket authentication: we are the OS user it names),
        create os_admin@'%', then drop the socket accounts, so that no account without a
        password exists anywhere. TCP never offers a passwordless root, not even briefly."""
        me = os_user()
        socket_path = str(paths.data / self.socket_name)

        def attempt():
            with contextlib.suppress(pymysql.MySQLError, OSError):
                return self.connect(user=me, unix_socket=socket_path, timeout=1, io_timeout=5)
        connection = wait(attempt, "MariaDB's socket")
        with contextlib.closing(connection), connection.cursor() as cursor:
            account = quoted_account(connection, self.admin_user, "%")
            cursor.execute(f"CREATE USER {account} IDENTIFIED BY PASSWORD "
                           f"{connection.escape(native_hash(admin_password))}")
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")
            dropped = {quoted_account(connection, user, "localhost") for user in {"root", me}}
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


def _option_value(value):
    """A value in an option file: ON/OFF, numbers as they are, strings bare (a configuration's
    strings are checked against allowed values or a pattern without quotes or '#')."""
    if isinstance(value, bool):
        return "ON" if value else "OFF"
    return str(value)


