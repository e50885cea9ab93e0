"""Redis's admin session: ACL users and CONFIG SET on a running server (no databases, no root)."""
import redis

from dbaas_api import errors
from dbaas_api.datastores.base import Admin, AdminSession, closing_session
from dbaas_api.datastores.redis.client import Client, sha256, wire


class RedisAdmin(Client, Admin):
    # What a user gets: every key and channel, every command but the @dangerous ones
    # (FLUSHALL, CONFIG, DEBUG, SHUTDOWN, KEYS, ACL ...), which stay the admin's.
    USER_RULES = ("on", "~*", "&*", "+@all", "-@dangerous")

    def admin_session(self, host, port, password):
        client = self.connect(host, port, password)
        try:
            client.ping()
        except redis.RedisError as exc:
            client.close()
            raise errors.ServiceUnavailable(
                f"Cannot connect to Redis at {host}:{port} as {self.admin_user}: {exc}") from None
        return closing_session(RedisSession(self, client), client)


class RedisSession(AdminSession):
    """Users are ACL users (``ACL SETUSER name reset on >password`` + USER_RULES), saved to
    the ACL file after every change so they survive a restart. Redis has no databases to
    grant: those calls raise errors.NotImplementedYet."""

    create_database = drop_database = list_databases = AdminSession._no_databases
    grant = revoke = list_user_databases = AdminSession._no_databases
    enable_root = disable_root = AdminSession._no_root

    def __init__(self, datastore, client):
        super().__init__(datastore)
        self.client = client

    def _command(self, *args):
        try:
            return self.client.execute_command(*args)
        except redis.RedisError as exc:
            raise errors.DBaaSError(f"Redis: {exc}") from None

    def _exists(self, name):
        return self._command("ACL", "GETUSER", name) is not None

    def ping(self):
        return bool(self._command("PING"))

    def create_user(self, spec):
        ds = self.datastore
        ds.validate_user_name(spec.name)
        ds.validate_password(spec.password)
        ds.validate_host(spec.host)
        if spec.databases:
            raise errors.NotImplementedYet("Redis has no databases: a user cannot be granted any.")
        if self._exists(spec.name):
            raise errors.Conflict(f"User '{spec.name}' already exists.")
        self._command("ACL", "SETUSER", spec.name, "reset", f"#{sha256(spec.password)}",
                      *self.datastore.USER_RULES)
        self._command("ACL", "SAVE")

    def drop_user(self, name, host="%"):
        """ACL DELUSER also disconnects the user's clients."""
        self.datastore.validate_user_name(name)
        self.datastore.validate_host(host)
        if not self._command("ACL", "DELUSER", name):
            raise errors.NotFound(f"User '{name}' does not exist.")
        self._command("ACL", "SAVE")

    def set_password(self, name, password, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_password(password)
        self.datastore.validate_host(host)
        if not self._exists(name):
            raise errors.NotFound(f"User '{name}' does not exist.")
        self._command("ACL", "SETUSER", name, "resetpass", f"#{sha256(password)}")
        self._command("ACL", "SAVE")

    def rename_user(self, name, host, new_name, new_host, password):
        """Redis cannot rename an ACL user: the same rules and password under the new name,
        then the old one goes (its clients are disconnected). Keys belong to no user."""
        self._check_accounts((name, host), (new_name, new_host))
        if not self._exists(name):
            raise errors.NotFound(f"User '{name}' does not exist.")
        if self._exists(new_name):
            raise errors.Conflict(f"User '{new_name}' already exists.")
        self._command("ACL", "SETUSER", new_name, "reset", f"#{sha256(password)}", *self.datastore.USER_RULES)
        self._command("ACL", "DELUSER", name)
        self._command("ACL", "SAVE")

    def list_users(self):
        return [{"name": name, "host": "%", "databases": []}
                for name in sorted(self._command("ACL", "USERS"))
                if name not in (self.datastore.admin_user, self.datastore.replication_user)]

    def apply_configuration(self, version, flavor, values, previous):
        """CONFIG SET what the running server can change (the driver's override file keeps
        the values for the next start); a value no longer given goes back to the instance's
        own setting, else to Redis's default."""
        values = self.datastore.validate_configuration(version, values)  # only known names and values
        rules = self.datastore.parameters(version)
        for name in sorted(set(previous) - set(values)):
            if name in rules and not rules[name].restart_required:
                self._command("CONFIG", "SET", name, wire(self.datastore.baseline(version, flavor, name)))
        for name, value in sorted(values.items()):
            if not rules[name].restart_required:
                self._command("CONFIG", "SET", name, wire(value))


