"""What every datastore module provides. Subclasses hold data and the datastore's own
statements; nothing here knows about Heat or Flask.

A datastore module answers four kinds of question, all from its own class attributes and
methods so that no other code has to ask "which datastore is this?":
- which names and passwords it can store (``validate_*``: a clear 400 instead of a crash);
- which configuration parameters users may set, per version, and what values they take
  (``configuration_parameters``: rules as data, CloudNativePG style; ``validate_configuration``);
- how to manage databases, users, root and configuration on a running server (``admin_session``);
- how to run one as a local process (``config_files``, ``override_files``, ``initialise``,
  ``start_argv``, ...), which ``dbaas_api/drivers/local.py`` uses without knowing which
  datastore it runs.
"""
import contextlib
import hmac
import math
import re
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from dbaas_api import errors

# Configuration parameter types, as Trove names them.
INTEGER, STRING, BOOLEAN, FLOAT = "integer", "string", "boolean", "float"
_PYTHON_TYPES = {INTEGER: (int,), FLOAT: (int, float), BOOLEAN: (bool,), STRING: (str,)}
MAX_STRING_VALUE = 255
# What any string value may hold when its rule names no allowed values: it ends up in a
# config file, so no quotes, backslashes, comment characters or line breaks.
SAFE_STRING = r"[A-Za-z0-9 _.,:/+@-]*"


@dataclass(frozen=True)
class Parameter:
    """One configuration parameter users may set and the rules for its value.

    ``min``/``max`` bound numbers; ``allowed`` lists the only values a string may take
    (compared case-insensitively, stored as listed here); ``pattern`` constrains other
    strings; ``restart_required`` says the running server only takes a new value when it
    restarts; ``default`` is the server's own default where the admin connection cannot
    reset a value by itself (Redis); ``option`` is the name a config file knows it by, when
    that differs (MariaDB's tx_isolation is transaction-isolation there)."""
    name: str
    type: str
    min: float | None = None
    max: float | None = None
    allowed: tuple = ()
    restart_required: bool = False
    pattern: str = SAFE_STRING
    default: object = None
    unit: str = ""
    option: str = ""

    def check(self, value, field):
        """The value as it will be stored, or errors.UnprocessableEntity saying why not."""
        if not isinstance(value, _PYTHON_TYPES[self.type]) or (self.type != BOOLEAN and isinstance(value, bool)):
            raise errors.UnprocessableEntity(
                f"{field}: must be of type {self.type}, not {_json_type(value)}.")
        if self.type == FLOAT and not math.isfinite(value):
            raise errors.UnprocessableEntity(f"{field}: must be a finite number.")
        if self.min is not None and value < self.min:
            raise errors.UnprocessableEntity(f"{field}: {value} is less than the minimum, {self.min}.")
        if self.max is not None and value > self.max:
            raise errors.UnprocessableEntity(f"{field}: {value} is greater than the maximum, {self.max}.")
        if self.type == STRING:
            return self._check_string(value, field)
        return value

    def _check_string(self, value, field):
        if self.allowed:
            for allowed in self.allowed:
                if value.casefold() == allowed.casefold():
                    return allowed
            raise errors.UnprocessableEntity(
                f"{field}: must be one of {', '.join(repr(a) for a in self.allowed)}.")
        if len(value) > MAX_STRING_VALUE or not re.fullmatch(self.pattern, value):
            raise errors.UnprocessableEntity(
                f"{field}: must be at most {MAX_STRING_VALUE} characters matching {self.pattern}.")
        return value


def parameter_rules(*parameters):
    """{name: Parameter} from Parameter objects, refusing a name given twice."""
    rules = {}
    for parameter in parameters:
        if parameter.name in rules:
            raise ValueError(f"parameter {parameter.name} is listed twice")
        rules[parameter.name] = parameter
    return rules


def _json_type(value):
    for name, kind in (("boolean", bool), ("integer", int), ("float", float), ("string", str),
                       ("object", dict), ("array", list)):
        if isinstance(value, kind):
            return name
    return "null"


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


class Datastore:
    name = ""             # registry key and Trove's datastore type
    title = ""            # how messages name it
    versions = ()         # version names offered, newest first
    default_version = ""
    port = 0              # the standard port; every instance has its own address
    supports_databases = True
    supports_users = True
    supports_user_hosts = False   # only MariaDB has 'user'@'host' accounts
    supports_root = True          # POST /root makes a superuser account named root_user
    admin_user = ""
    root_user = "root"

    # Configuration: {version: {name: Parameter}} users may set, and names they may never
    # set because the service manages them (asked for, they get a message saying so).
    configuration_parameters = {}
    blocked_parameters = frozenset()
    override_file = "overrides.conf"   # the local driver's file of a configuration's values

    # Names: lengths are counted in name_length_unit ("bytes" of UTF-8 or "characters").
    # Reserved names are compared case-insensitively: refusing 'Postgres' costs nothing and
    # avoids names that read like the system's own.
    max_database_name = 64
    max_user_name = 64
    name_length_unit = "characters"
    reserved_databases = frozenset()
    reserved_users = frozenset()
    reserved_user_prefixes = ()
    reserved_database_prefixes = ()
    max_password = 255
    max_host = 255

    # Access by client address on the local driver (on a cloud a security group does it).
    # The service's own connections (engine plugins, backups, a replica on this host) come
    # from SERVICE_ADDRESS, the source the kernel picks for any 127.0.0.0/8 destination.
    filters_clients = False   # the server itself can refuse clients by their address
    access_file = None        # the local driver's file of the allowed networks (see access_files)
    SERVICE_ADDRESS = "127.0.0.1"

    # Trove's guest logs: name -> the file, under the local instance's home, that holds it.
    # All are SYS logs (always on); a datastore names its own (docs/api.md, Instance logs).
    guest_logs = {}

    # Local processes.
    system_user = None            # the OS user the server runs as when we are root
    stop_signal = signal.SIGTERM  # the signal that makes the server shut down cleanly and soon
    ready_poll_interval = 0.02    # seconds between readiness probes

    def version_id(self, version):
        """A stable UUID per datastore version, as Trove clients expect ids to look."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"heat-dbaas:{self.name}:{version}"))

    def datastore_id(self):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"heat-dbaas:{self.name}"))

    # ---- names and passwords -------------------------------------------------------------

    def validate_database_name(self, name, field="database"):
        if not self.supports_databases:
            raise errors.NotImplementedYet(f"{self.title} has no databases.")
        self._check_name(field, name, self.max_database_name,
                         self.reserved_databases, self.reserved_database_prefixes)
        self._check_identifier(field, name)

    def database_options(self, character_set, collate, field="database"):
        """Trove's ``character_set`` and ``collate`` of a database (either may be None) as the
        server's CREATE DATABASE takes them: (character set, collation), each None for the
        server's default; 400 naming ``<field>.character_set`` or ``.collate`` for what the
        server does not offer. A datastore that offers them overrides this."""
        for name, value in (("character_set", character_set), ("collate", collate)):
            if value:
                raise errors.BadRequest(f"field '{field}.{name}': {self.title} databases have none.")
        return None, None

    def requested_database_options(self, requested, field="databases"):
        """{name: (character_set, collate)} of a request's databases that ask for them."""
        found = {}
        for index, database in enumerate(requested):
            options = self.database_options(database.get("character_set"), database.get("collate"),
                                            field=f"{field}[{index}]")
            if any(options):
                found[database["name"]] = options
        return found

    def validate_user_name(self, name, field="user"):
        if not self.supports_users:
            raise errors.NotImplementedYet(f"{self.title} has no users.")
        self._check_name(field, name, self.max_user_name,
                         self.reserved_users, self.reserved_user_prefixes)
        self._check_identifier(field, name)

    def validate_password(self, password, field="password"):
        """Never echoes the value: messages are shown to users and end up in logs."""
        if not isinstance(password, str) or not password:
            raise errors.BadRequest(f"field '{field}': must be a non-empty string.")
        if len(password) > self.max_password:
            raise errors.BadRequest(f"field '{field}': must be at most {self.max_password} characters.")
        if "\x00" in password:
            raise errors.BadRequest(f"field '{field}': must not contain the NUL character.")

    def validate_host(self, host, field="host"):
        """'%' (anywhere) is the only host of datastores without per-host accounts."""
        if not self.supports_user_hosts:
            if host not in (None, "", "%"):
                raise errors.BadRequest(f"field '{field}': {self.title} users have no host part; use '%'.")
            return
        if not isinstance(host, str) or not host:
            raise errors.BadRequest(f"field '{field}': must be a non-empty string.")
        if len(host) > self.max_host or "\x00" in host:
            raise errors.BadRequest(
                f"field '{field}': must be at most {self.max_host} characters, without NUL.")

    def _check_name(self, field, name, limit, reserved, prefixes):
        if not isinstance(name, str) or not name:
            raise errors.BadRequest(f"field '{field}': must be a non-empty string.")
        if "\x00" in name:
            raise errors.BadRequest(f"field '{field}': must not contain the NUL character.")
        size = len(name.encode("utf-8")) if self.name_length_unit == "bytes" else len(name)
        if size > limit:
            raise errors.BadRequest(
                f"field '{field}': is {size} {self.name_length_unit} long; "
                f"{self.title} allows at most {limit}.")
        folded = name.casefold()
        if folded in reserved or folded.startswith(tuple(prefixes)):
            raise errors.BadRequest(f"field '{field}': '{name}' is reserved by {self.title}.")

    def _check_identifier(self, field, name):
        """Datastore-specific limits beyond length and reserved names (none by default)."""

    # ---- configuration parameters --------------------------------------------------------

    def parameters(self, version):
        """{name: Parameter} of ``version`` (empty when it has no configuration support)."""
        return dict(self.configuration_parameters.get(version, {}))

    def normalise_parameter(self, name):
        """The rules' spelling of a parameter name (names are case-insensitive, as in Trove)."""
        return str(name).lower()

    def parameter(self, version, name):
        found = self.parameters(version).get(self.normalise_parameter(name))
        if found is None:
            raise errors.NotFound(f"Configuration parameter '{name}' cannot be found for "
                                  f"{self.title} {version}.")
        return found

    def validate_configuration(self, version, values, field="values"):
        """The values as they will be stored ({canonical name: value}), or errors.
        UnprocessableEntity naming the first parameter that is unknown, managed by the
        service, of the wrong type or out of range (Trove answers these with 422 too)."""
        rules = self.parameters(version)
        if not rules:
            raise errors.UnprocessableEntity(
                f"Configuration groups are not supported for {self.title} {version}.")
        checked = {}
        for name, value in values.items():
            key = self.normalise_parameter(name)
            where = f"{field}.{name}"
            if key in self.blocked_parameters:
                raise errors.UnprocessableEntity(
                    f"{where}: is managed by the service and cannot be set.")
            if key not in rules:
                raise errors.UnprocessableEntity(
                    f"{where}: is not a configuration parameter of {self.title} {version} "
                    f"(GET .../datastores/{self.name}/versions/{version}/parameters lists them).")
            if key in checked:
                raise errors.UnprocessableEntity(f"{where}: is given more than once.")
            checked[key] = rules[key].check(value, where)
        return checked

    def option_name(self, name):
        """How a config file names parameter ``name`` (Parameter.option, else the name)."""
        for rules in self.configuration_parameters.values():
            if name in rules and rules[name].option:
                return rules[name].option
        return name

    def restart_required(self, version, before, after):
        """Whether going from applied values ``before`` to ``after`` changes a parameter the
        running server only takes at a restart."""
        rules = self.parameters(version)
        return any(rules[name].restart_required and before.get(name) != after.get(name)
                   for name in set(before) | set(after) if name in rules)

    def base_settings(self, flavor):
        """The settings every instance of ``flavor`` starts from (its config file's values)."""
        settings = dict(getattr(self, "STATIC_SETTINGS", {}))
        settings.update(self.flavor_settings(flavor))
        return settings

    def baseline(self, version, flavor, name):
        """The value ``name`` has when no configuration overrides it: the instance's own
        config file's, else the server's default (None: the server knows its default)."""
        for key, value in self.base_settings(flavor).items():
            if key.replace("-", "_") == name.replace("-", "_"):
                return value
        return self.parameters(version)[name].default

    def override_files(self, values):
        """{file name in paths.home: text}: a configuration's values in the form the server's
        config file includes (see config_files). Holds no secrets (none can be set)."""
        raise NotImplementedError

    def access_files(self, allowed_cidrs):
        """{file name in paths.home: text}: the server's rules for ``allowed_cidrs`` (IPv4
        networks as text; empty: every address), in the form its config reads. The admin's
        connections from SERVICE_ADDRESS are always let in."""
        return {}

    # ---- the admin endpoint --------------------------------------------------------------

    def admin_session(self, host, port, password):
        """A context manager yielding an AdminSession connected as ``admin_user``."""
        raise errors.NotImplementedYet(f"{self.title} has no admin session.")

    # ---- local processes (used by dbaas_api/drivers/local.py) ----------------------------

    def flavor_settings(self, flavor):
        """The server's memory and connection settings for a flavor, as {setting: value}."""
        raise NotImplementedError

    def config_files(self, paths, address, port, flavor):
        """{file name in paths.home: text}. Written before initialise() and rewritten on
        resize, so they hold no secrets."""
        raise NotImplementedError

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

    # ---- backups (see dbaas_api/backup/ and heat_plugins/backup.py) ----------------------

    supports_incremental_backups = False
    backup_format = ""    # what the stream is, for the backup's record (e.g. "pg_basebackup-tar")

    def backup_stream(self, source, parent_position=None):
        """The datastore's own backup tool's output as an iterable of bytes-like chunks (each
        may be reused for the next, so it is consumed before the next is asked for), taken
        from the running server ``source`` (a backup.streams.Source). Once exhausted its
        ``position`` is what an incremental backup on top of it needs (``parent_position``
        of the next one). Raises errors.DBaaSError when the tool fails."""
        raise errors.NotImplementedYet(f"{self.title} backups are not supported.")

    def restore(self, paths, version, admin_password, runner, chain):
        """Instead of initialise(): fill the empty paths.data from ``chain``, a list of
        (chunks, position) pairs, a full backup first and then its incrementals in order,
        and make admin_user/admin_password the admin (the backup's own admin password is
        not known here). ``runner.feed(argv, chunks)`` runs a command as the datastore user
        with the chunks on its stdin; ``runner.mkdir(path)`` makes a directory that user owns."""
        raise errors.NotImplementedYet(f"Restoring {self.title} backups is not supported.")

    # ---- replication (see docs/replication.md, drivers/local.py, heat_plugins/local_server.py) --
    # A member of a replication set is a primary (takes writes) or a replica (follows one).
    # Every member has the same admin password (a replica's stack copies its source's).
    # A ``source`` below is an object with ``host``, ``port`` and ``password`` (that admin
    # password); ``position`` is an int that grows with what a server has written or
    # replayed (PostgreSQL: the WAL LSN), comparable between the members of one set.
    # seed_replica's source is a backup.streams.Source (datadir and a scratch workdir too:
    # tools that read the source's files need them).

    supports_replication = False
    # Whether a replica's server has its source's databases and users (they are replicated):
    # then a replica shows its source's record and a promoted one takes it over.
    replicates_accounts = True
    fence_stops_server = False   # True: fencing a primary is stopping it (see stopped_position)

    def replication_password(self, admin_password):
        """The replication account's password: derived from the admin password every member
        shares, so nothing more is kept anywhere in Heat, and it opens replication only."""
        return hmac.new(admin_password.encode(), b"heat-dbaas replication", "sha256").hexdigest()

    def check_replica_flavor(self, source_flavor, replica_flavor):
        """Refuse (errors.BadRequest) a replica flavor the datastore cannot follow a source
        of ``source_flavor`` with (default: any will do)."""

    def prepare_source(self, source):
        """On the primary, before a replica is seeded from it: what replication needs there
        (an account of its own, say). Idempotent; safe when several replicas do it at once."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def seed_replica(self, paths, version, runner, source):
        """Instead of initialise(): fill the empty paths.data from the running ``source``
        and configure the server to follow it from its first start."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def after_replica_start(self, paths, address, port, password, source):
        """Steps that need the running replica, once, right after its first start (default none)."""

    def replication_state(self, address, port, password):
        """What the running server says: {"role": "primary" or "replica", "position": int}.
        Raises errors.DBaaSError when it cannot be asked."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def follow(self, paths, runner, address, port, password, source, running, restart):
        """Make the server follow ``source`` (a primary or a replica until now). ``running``:
        whether it runs; ``restart()`` stops it if it runs and starts it (when only a
        restart makes it follow)."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def promote(self, paths, runner, address, port, password):
        """The running replica stops following and takes writes; returns once it does."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def fence(self, address, port, password):
        """The running primary stops taking writes; returns its final position (for
        datastores whose fence_stops_server is False)."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def unfence(self, address, port, password):
        """Undo fence() when the switchover cannot go on: the primary takes writes again."""

    def stopped_position(self, paths, version):
        """The final position of a cleanly stopped server (fence_stops_server datastores)."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def wait_replayed(self, address, port, password, position, timeout):
        """Return once the running replica has replayed everything up to ``position``;
        errors.DBaaSError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.replication_state(address, port, password)
            if state["position"] >= position:
                return state
            if time.monotonic() > deadline:
                raise errors.DBaaSError(f"The replica at {address} did not replay up to the old primary's "
                                        f"position within {timeout:.0f} s.")
            time.sleep(0.01)

    # ---- clusters (see service/clusters.py and heat_plugins/cluster.py) ------------------
    # A cluster member is a local server with a ``membership``: a dict the renderer and the
    # DBaaS::ClusterMember plugin fill in: {"cluster": a name of safe characters (the stack's
    # id), "role": one of cluster_roles, "peers": [addresses of the members made before it],
    # "primary": the address of the member a replica follows, or None}. The first member of a
    # new cluster has no peers: it starts the cluster.

    cluster_kind = ""             # what a cluster of this datastore is ("" = no clusters)
    min_cluster_members = 0
    cluster_roles = ()            # the roles a member may have, the default one first

    def plan_cluster(self, requested):
        """The members of a new cluster, one per entry of ``requested`` (the role each
        instance asked for, or None), in creation order (a replica after the member it
        follows): [(role, index of the member it follows or None)]. errors.BadRequest when
        they would not make a working cluster."""
        raise errors.BadRequest(f"{self.title} does not support clusters.")

    def initial_shares(self, plan):
        """For each member of a new cluster's plan, its part of the data as a tuple of
        integers (Redis Cluster: the first and last hash slot a master takes), or ()."""
        return [()] * len(plan)

    def plan_growth(self, roles, requested):
        """New members for ``requested`` ([role or None]) joining members with ``roles``
        (in creation order): [(role, index among all members of the one it follows or None)]."""
        raise errors.BadRequest(f"{self.title} does not support clusters.")

    def plan_shrink(self, roles, follows, removed):
        """What is left when the members at indexes ``removed`` go: the new ``follows``
        (index of the member each one follows, or None) for every member, removed ones
        included (ignored). errors.BadRequest when what is left would not be a working cluster."""
        raise errors.BadRequest(f"{self.title} does not support clusters.")

    def cluster_files(self, paths, address, membership):
        """{file name in paths.home: text}: what the config includes for a member (no secrets)."""
        raise errors.BadRequest(f"{self.title} does not support clusters.")

    def member_initialises(self, membership):
        """Whether a new member needs initialise() (False: it receives its data from the cluster)."""
        return True

    def prepare_member(self, paths, runner, admin_password, membership):
        """Before a member's first start: files only its datastore user may read (0600,
        ``runner.write``) that it needs at every start, e.g. how a replica logs in to its master."""

    def member_start_args(self, membership):
        """Extra arguments of a member's first start (the first member starts the cluster)."""
        return []

    def forget_member_state(self, paths):
        """A member that failed its first start moves to another address: drop what it
        recorded about the cluster under the old one."""

    def join_cluster(self, address, port, admin_password, membership):
        """After the member's first start: whatever makes it a working part of the cluster."""

    def can_start_cluster(self, paths):
        """Whether this stopped member may start its cluster alone when no other member runs
        (Galera: it left last). Members that need no such thing (Redis) say False."""
        return False

    def follow_primary(self, address, port, admin_password, membership):
        """A running member's ``primary`` changed (its master is being removed): follow the new one."""

    def leave_cluster(self, address, port, admin_password, membership, others):
        """Before a member that is removed (not the whole cluster) is destroyed: hand its share
        of the data to ``others`` (addresses of the members that stay) and leave cleanly."""

    def member_status(self, address, port, admin_password):
        """What the member says of itself and the cluster, as {name: value} (for tests, docs)."""
        return {}


class AdminSession:
    """Databases and users on one running server, through its admin account.

    Every method validates its names first (bad input is a 400, never a server error),
    then runs the datastore's own statements with driver-side quoting.
    Missing things raise errors.NotFound, existing ones errors.Conflict.
    """

    def __init__(self, datastore):
        self.datastore = datastore

    def _no_databases(self, *args, **kwargs):
        raise errors.NotImplementedYet(f"{self.datastore.title} has no databases.")

    def _no_root(self, *args, **kwargs):
        raise errors.NotImplementedYet(f"{self.datastore.title} has no root user.")

    def ping(self):
        raise NotImplementedError

    def create_database(self, name, character_set=None, collate=None):
        """``character_set`` and ``collate`` as Datastore.database_options returns them."""
        raise NotImplementedError

    def drop_database(self, name):
        raise NotImplementedError

    def list_databases(self):
        """Names of the databases users can have, system ones left out, sorted."""
        raise NotImplementedError

    def create_user(self, spec):
        """Create the account of a model.UserSpec and grant it spec.databases."""
        raise NotImplementedError

    def drop_user(self, name, host="%"):
        raise NotImplementedError

    def set_password(self, name, password, host="%"):
        raise NotImplementedError

    def rename_user(self, name, host, new_name, new_host, password):
        """Give the account ``name``@``host`` a new name and host, keeping its grants and
        what it owns; ``password`` is the one it has (for datastores that cannot keep it).
        NotFound when it is not there, Conflict when the new account exists."""
        raise NotImplementedError

    def _check_accounts(self, *accounts):
        for name, host in accounts:
            self.datastore.validate_user_name(name)
            self.datastore.validate_host(host)

    def grant(self, user, database, host="%"):
        raise NotImplementedError

    def revoke(self, user, database, host="%"):
        raise NotImplementedError

    def list_users(self):
        """[{"name", "host", "databases": [...]}] for the accounts users made, sorted by name."""
        raise NotImplementedError

    def list_user_databases(self, user, host="%"):
        raise NotImplementedError

    def enable_root(self, password):
        """Create the superuser datastore.root_user with ``password``, or give it that
        password when it exists."""
        raise NotImplementedError

    def disable_root(self):
        """Remove datastore.root_user (tolerates it being gone)."""
        raise NotImplementedError

    def apply_access(self, allowed_cidrs):
        """Make the running server follow the access file just written for ``allowed_cidrs``
        (a reload, or the same rule set live), without a restart."""
        raise errors.NotImplementedYet(f"{self.datastore.title} cannot filter clients by address.")

    def apply_configuration(self, version, flavor, values, previous):
        """Make the running server follow ``values`` where ``previous`` was applied before:
        set the new and changed ones, return the ones no longer given to their baseline.
        Parameters that need a restart are recorded where the server reads them at start
        and left to the restart."""
        raise NotImplementedError


@contextlib.contextmanager
def closing_session(session, connection):
    """Yield session and always close the connection behind it."""
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):
            connection.close()
