"""Heat's database and message bus for the production profile: a private MariaDB and a
private RabbitMQ node under the state dir, on loopback ports of their own (so that the profile
needs nothing a fresh machine does not have), and the probes that tell, before any Heat
service starts, whether the ones Heat is configured with answer.

Both are ordinary lifecycle Components (pid file, own session, log under logs/); what differs
is how each is made the first time and how it is asked whether it is ready.
"""
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from dbaas_api.embedded.lifecycle import Component

PROBE_TIMEOUT = 5
MARIADB_USER = "mysql"
# mariadbd sets its own umask (files 0660, for its group): Heat's database is the service's alone.
MARIADB_MODES = {"UMASK": "0600", "UMASK_DIR": "0700"}


class Unreachable(RuntimeError):
    """A backing service of Heat does not answer: the message names which one and where."""


@dataclass(frozen=True)
class Probed(Component):
    """A component that is asked with a function instead of an HTTP GET."""
    probe: object = None

    def healthy(self):
        try:
            self.probe()
            return True
        except Unreachable:
            return False


def _secret(path):
    """A password kept in a 0600 file under the state dir, made on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(16))
    return path.read_text().strip()


def _endpoint(url):
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port, parts


# ---- probes (for private and external servers alike) ----------------------------------------

def probe_database(url, timeout=PROBE_TIMEOUT):
    """Log in to Heat's database (a mysql+pymysql:// URL) or raise Unreachable."""
    import pymysql
    host, port, parts = _endpoint(url)
    try:
        pymysql.connect(host=host, port=port or 3306, user=unquote(parts.username or ""),
                        password=unquote(parts.password or ""), database=parts.path.lstrip("/") or None,
                        connect_timeout=timeout).close()
    except pymysql.MySQLError as exc:
        raise Unreachable(f"Heat's database (MariaDB) at {host}:{port or 3306} does not answer: "
                          f"{exc.args[-1] if exc.args else type(exc).__name__}") from None


def probe_rabbit(url, timeout=PROBE_TIMEOUT):
    """Log in to the RabbitMQ vhost of a rabbit:// transport URL or raise Unreachable."""
    import amqp
    host, port, parts = _endpoint(url)
    vhost = unquote(parts.path[1:]) if parts.path.startswith("/") and len(parts.path) > 1 else "/"
    connection = amqp.Connection(f"{host}:{port or 5672}", userid=unquote(parts.username or "guest"),
                                 password=unquote(parts.password or "guest"), virtual_host=vhost,
                                 connect_timeout=timeout)
    try:
        connection.connect()
    except (OSError, amqp.exceptions.AMQPError) as exc:
        raise Unreachable(f"Heat's message bus (RabbitMQ) at {host}:{port or 5672}, vhost {vhost!r}, "
                          f"does not answer: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            connection.collect()


def free_tcp(host, port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


# ---- the private MariaDB ----------------------------------------------------------------------

class PrivateMariaDB:
    """mariadbd on 127.0.0.1:<port>, data in <state>/mariadb, run as the mysql user. Heat
    gets its own database and user (password in <state>/mariadb/heat-password, 0600); the
    only other account is root by unix socket, for the OS user root (no password, no TCP)."""

    def __init__(self, state_dir, port):
        self.dir = Path(state_dir) / "mariadb"
        self.data = self.dir / "data"
        self.socket = self.dir / "mariadbd.sock"
        self.port = port
        self.cnf = self.dir / "my.cnf"
        self.component = Probed(
            "mariadb", ("setpriv", f"--reuid={MARIADB_USER}", f"--regid={MARIADB_USER}", "--init-groups",
                        "/usr/sbin/mariadbd", f"--defaults-file={self.cnf}"),
            "", Path(state_dir), probe=self._probe_socket)

    @property
    def url(self):
        password = _secret(self.dir / "heat-password")
        return f"mysql+pymysql://heat:{quote(password)}@127.0.0.1:{self.port}/heat?charset=utf8mb4"

    def _probe_socket(self):
        import pymysql
        try:
            pymysql.connect(unix_socket=str(self.socket), user="root", connect_timeout=1).close()
        except (pymysql.MySQLError, OSError) as exc:
            raise Unreachable(f"the private MariaDB at {self.socket}: {exc}") from None

    def start(self, env):
        fresh = not (self.data / "mysql").is_dir()
        self._write_cnf()
        if fresh:
            self._initialise()
        elif not self.component.pid() and not free_tcp("127.0.0.1", self.port):
            raise Unreachable(f"Port 127.0.0.1:{self.port} for Heat's private MariaDB is taken; "
                              "set DBAAS_HEAT_DB_PORT to a free one.")
        self.component.start({**env, **MARIADB_MODES})
        self.component.wait_healthy(60)
        if fresh:
            self._create_heat_account()

    def _write_cnf(self):
        """my.cnf, written on every start. Its temporary tables go to a tmpdir of its own: in
        the shared /tmp, something removing old files there failed Heat's queries (``Error on
        delete of '/tmp/#sql-temptable-...' (Errcode: 2)``, a create ERROR, seen here)."""
        user = pwd.getpwnam(MARIADB_USER)
        tmp = self.dir / "tmp"
        for directory in (self.data, tmp):
            directory.mkdir(parents=True, exist_ok=True)
        for directory in (self.dir, self.data, tmp):
            os.chown(directory, user.pw_uid, user.pw_gid)
        tmp.chmod(0o700)
        self.cnf.write_text("\n".join([
            "[mariadbd]", f"datadir = {self.data}", f"tmpdir = {tmp}", "bind-address = 127.0.0.1",
            f"port = {self.port}", f"socket = {self.socket}", f"pid-file = {self.dir / 'mariadbd.pid'}",
            "skip-name-resolve", "character-set-server = utf8mb4", "collation-server = utf8mb4_general_ci",
            "innodb_log_file_size = 16M", "innodb_buffer_pool_size = 128M", "max_connections = 1000",
            "innodb_flush_log_at_trx_commit = 2", ""]))
        os.chown(self.cnf, user.pw_uid, user.pw_gid)   # mariadbd reads it as mysql (dbaas up's umask is 077)

    def _initialise(self):
        subprocess.run(["setpriv", f"--reuid={MARIADB_USER}", f"--regid={MARIADB_USER}", "--init-groups",
                        "/usr/bin/mariadb-install-db", f"--defaults-file={self.cnf}", "--skip-test-db",
                        "--auth-root-authentication-method=socket", "--auth-root-socket-user=root"],
                       check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
                       env={**os.environ, **MARIADB_MODES})

    def _create_heat_account(self):
        import pymysql
        password = _secret(self.dir / "heat-password")
        with contextlib.closing(pymysql.connect(unix_socket=str(self.socket), user="root",
                                                autocommit=True)) as connection:
            with connection.cursor() as cursor:
                cursor.execute("CREATE DATABASE IF NOT EXISTS heat CHARACTER SET utf8mb4")
                cursor.execute("CREATE USER IF NOT EXISTS 'heat'@'127.0.0.1' IDENTIFIED BY %s", (password,))
                cursor.execute("GRANT ALL PRIVILEGES ON heat.* TO 'heat'@'127.0.0.1'")
                # The mysql OS user's socket account: nobody runs as it but the server.
                cursor.execute(f"DROP USER IF EXISTS '{MARIADB_USER}'@'localhost'")

    def stop(self):
        self.component.stop()


# ---- the private RabbitMQ ---------------------------------------------------------------------

class PrivateRabbitMQ:
    """A RabbitMQ node of its own (rabbitmq-server, 3.10 in Debian) on 127.0.0.1:<port>, its
    Erlang distribution on port + 1 and its own port mapper (epmd, started and stopped here,
    so that none outlives the profile) on port + 2; all state in <state>/rabbitmq. Heat gets
    its own vhost and user, made by the node's first start from rabbitmq.conf; guest is off."""

    def __init__(self, state_dir, port):
        self.dir = Path(state_dir) / "rabbitmq"
        self.port = port
        state = Path(state_dir)
        self.epmd = Probed("epmd", ("epmd", "-port", str(port + 2)), "", state, probe=self._probe_epmd)
        self.component = Probed("rabbitmq", ("/usr/lib/rabbitmq/bin/rabbitmq-server",), "", state,
                                probe=lambda: probe_rabbit(self.url, timeout=1))

    @property
    def url(self):
        password = _secret(self.dir / "heat-password")
        return f"rabbit://heat:{quote(password)}@127.0.0.1:{self.port}/heat"

    def _probe_epmd(self):
        try:
            socket.create_connection(("127.0.0.1", self.port + 2), timeout=1).close()
        except OSError as exc:
            raise Unreachable(f"epmd on {self.port + 2}: {exc}") from None

    def env(self, env):
        """rabbitmq-server's environment: every path and port its own."""
        env = dict(env)
        env.update({
            "HOME": str(self.dir),   # its Erlang cookie
            "RABBITMQ_NODENAME": f"dbaas{self.port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 1), "ERL_EPMD_PORT": str(self.port + 2),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"), "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.dir / "rabbitmq.pid"), "RABBITMQ_CONF_ENV_FILE": "/dev/null",
        })
        return env

    def start(self, env):
        if shutil.which("rabbitmq-server") is None and not Path(self.component.argv[0]).exists():
            raise Unreachable("RabbitMQ is not installed (scripts/install-system-deps installs it).")
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        password = _secret(self.dir / "heat-password")
        (self.dir / "rabbitmq.conf").write_text("\n".join([
            f"listeners.tcp.default = 127.0.0.1:{self.port}", "default_vhost = heat", "default_user = heat",
            f"default_pass = {password}", "default_permissions.configure = .*", "default_permissions.read = .*",
            "default_permissions.write = .*", "loopback_users = none", "log.console = true",
            "log.file = false", "log.console.level = warning", ""]))
        (self.dir / "rabbitmq.conf").chmod(0o600)
        (self.dir / "enabled_plugins").write_text("[].\n")
        for port in (self.port, self.port + 1, self.port + 2):
            if not self.component.pid() and not self.epmd.pid() and not free_tcp("127.0.0.1", port):
                raise Unreachable(f"Port 127.0.0.1:{port} for Heat's private RabbitMQ is taken; "
                                  "set DBAAS_RABBIT_PORT (it uses that port and the next two).")
        self.epmd.start(self.env(env))
        self.epmd.wait_healthy(10)
        self.component.start(self.env(env))
        self.component.wait_healthy(90)

    def stop(self):
        self.component.stop()
        self.epmd.stop()
