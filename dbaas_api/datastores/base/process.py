"""The local process role: how to run one server as a local process (``config_files``,
``override_files``, ``initialise``, ``start_argv``, ...), which ``dbaas_api/drivers/local/``
uses without knowing which datastore it runs."""
import signal
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """Where one local instance keeps its files: the config files the driver writes in
    ``home`` (root-owned, no secrets in them), the server's own files in ``home/data``."""
    home: Path

    @property
    def data(self):
        return self.home / "data"

    def conf(self, name):
        return self.home / name


@dataclass(frozen=True)
class UserLog:
    """One of Trove's USER logs (off until enabled): ``file`` is where the server writes it,
    under the local instance's home; ``restart``: the server takes it only at a start
    (Trove's "Restart Required"), else it is set on the running server."""
    file: str
    restart: bool = False


class LocalProcess:
    """A datastore the local driver can run as a process of this machine."""

    override_file = "overrides.conf"   # the local driver's file of a configuration's values

    # Access by client address on the local driver (on a cloud a security group does it).
    # The service's own connections (engine plugins, backups, a replica on this host) come
    # from SERVICE_ADDRESS, the source the kernel picks for any 127.0.0.0/8 destination.
    filters_clients = False   # the server itself can refuse clients by their address
    access_file = None        # the local driver's file of the allowed networks (see access_files)
    SERVICE_ADDRESS = "127.0.0.1"

    # Trove's guest logs: name -> the file, under the local instance's home, that holds it.
    # All are SYS logs (always on); a datastore names its own (docs/api.md, Instance logs).
    guest_logs = {}
    # Trove's USER logs: name -> UserLog; the local driver's file of their settings (included
    # by the server's config, rewritten at every start and by DBaaS::Server's guest_logs).
    user_logs = {}
    log_settings_file = None

    # Local processes.
    system_user = None            # the OS user the server runs as when we are root
    stop_signal = signal.SIGTERM  # the signal that makes the server shut down cleanly and soon
    ready_poll_interval = 0.02    # seconds between readiness probes

    def override_files(self, values):
        """{file name in paths.home: text}: a configuration's values in the form the server's
        config file includes (see config_files). Holds no secrets (none can be set)."""
        raise NotImplementedError

    def access_files(self, allowed_cidrs):
        """{file name in paths.home: text}: the server's rules for ``allowed_cidrs`` (IPv4
        networks as text; empty: every address), in the form its config reads. The admin's
        connections from SERVICE_ADDRESS are always let in."""
        return {}

    def log_settings(self, paths, enabled, started):
        """{setting: value} that turn on the USER logs ``enabled`` (names) and the others off,
        on a server that started with ``started`` on: one whose UserLog.restart is set stays
        as the server started until its next start (the driver passes started=enabled then)."""
        return {}

    def log_files(self, settings):
        """{file name in paths.home: text}: log_settings() as the server's config includes them."""
        return {}

    def flavor_settings(self, flavor):
        """The server's memory and connection settings for a flavor, as {setting: value}."""
        raise NotImplementedError

    def private_dirs(self, paths):
        """Directories the server writes outside its data dir (0700, its user's), made by the
        local driver before every start: e.g. PostgreSQL's WAL archive."""
        return ()

    def config_files(self, paths, address, port, flavor):
        """{file name in paths.home: text}. Written before initialise() and rewritten on
        resize, so they hold no secrets."""
        raise NotImplementedError

    def _main_config(self, paths, name, lines, include, primary_text):
        """config_files() of a server whose main config ``name`` is ``lines`` and, last,
        ``include`` of the override file, so that an attached configuration's values win
        (see override_files); with the replica file (``replica_file``, the replication role's)
        of a primary, ``primary_text``: a replica's is written by follow."""
        lines = [*lines, f"{include} {paths.conf(self.override_file)}"]
        files = {name: "\n".join(lines) + "\n"}
        if not paths.conf(self.replica_file).exists():
            files[self.replica_file] = primary_text
        return files

    def initialise(self, paths, version, admin_password, runner):
        """Turn the empty paths.data into a server whose admin is admin_user/admin_password.
        ``runner.run(argv, stdin=b"")`` runs a command as the datastore user (no shell);
        ``runner.write(path, text)`` writes a 0600 file owned by that user."""
        raise NotImplementedError

    def start_argv(self, paths, version):
        """The server in the foreground (no daemonizing wrapper), so the pid we record is
        the server's own; its argv names paths.data so the driver can check that pid is ours."""
        raise NotImplementedError

    def after_first_start(self, paths, address, port, admin_password, wait):
        """Steps that need the running server, once, right after initialise (default none).
        ``wait(check, what)`` polls check() until it returns something true, failing early
        if the server exits and when the driver's deadline passes."""

    def probe(self, address, port, password=None):
        """One quick readiness check. With a password: an authenticated admin round trip.
        Without (restarts, when the driver holds no password): the server answers its
        protocol, an authentication refusal included."""
        raise NotImplementedError

