"""Plain value types shared by the API, the renderer and the Heat plugins.

No Flask and no Heat here: these are the words the layers use to talk to each other.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Flavor:
    """A size of instance. On the local driver ram_mb and max_connections become
    the datastore's memory and connection settings; on a cloud id maps to a Nova flavor."""
    id: str
    name: str
    ram_mb: int
    vcpus: int
    max_connections: int


@dataclass(frozen=True)
class UserSpec:
    """An account. ``password`` None means "keep the one the stack holds": a stack keeps
    passwords as hidden parameters that nobody, this service included, reads back.
    ``key``: the resource key its stack already has it under (a renamed user keeps the key
    of its first name, so Heat updates it in place); None for a new user."""
    name: str
    password: str | None
    databases: tuple = ()
    host: str = "%"
    key: str | None = None


@dataclass(frozen=True)
class RootSpec:
    """The superuser of ``POST /root``. ``password`` None: keep the stack's. ``enabled_at``
    (UTC, ISO 8601) and ``enabled_by`` (the user id, "" without Keystone): when root was first
    enabled, and by whom, as Trove's root history says ("" for a stack from before)."""
    password: str | None = None
    enabled_at: str = ""
    enabled_by: str = ""


@dataclass(frozen=True)
class ConfigurationSpec:
    """A configuration group attached to an instance: its id and the values applied."""
    id: str
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AccessSpec:
    """Who may connect (Trove's ``access``). ``allowed_cidrs``: IPv4 networks as canonical
    text; empty means every address (Trove's default, 0.0.0.0/0). ``is_public``: an address
    on the public network too (the cloud driver's floating IP; the local driver has none)."""
    is_public: bool = False
    allowed_cidrs: tuple = ()


@dataclass(frozen=True)
class Placement:
    """Where an instance's server lives (Trove's ``nics`` and ``volume.type``), as the
    operator's offer names it (service/networks.py): its network and subnet ids, the
    subnet's CIDR its address comes from (on the local driver a loopback band), the address
    asked for ("" for any free one), and the volume type. All "" on a stack made before
    networks existed: the driver's default band and storage."""
    network_id: str = ""
    subnet_id: str = ""
    cidr: str = ""
    fixed_ip: str = ""
    volume_type: str = ""


@dataclass(frozen=True)
class InstanceSpec:
    """What a user asked for: everything the renderer needs to build a stack. Built from a
    request at create time, and rebuilt from the stack's parameters for every later change."""
    project_id: str
    name: str
    datastore: str
    version: str
    flavor: Flavor
    volume_size: int
    databases: tuple = ()
    # Databases made with a character set and collation: name -> (character_set, collate), as
    # Datastore.database_options returns them; the others have the server's defaults.
    database_options: dict = field(default_factory=dict)
    users: tuple = ()  # of UserSpec
    restore: tuple = ()  # a backup chain to start from: ({location, checksum, position}, ...)
    root: RootSpec | None = None
    configuration: ConfigurationSpec | None = None
    access: AccessSpec = field(default_factory=AccessSpec)
    placement: Placement = field(default_factory=Placement)
    # The configuration values the server last started with (at create; the restart action
    # sets them again): a value that needs a restart is pending while it differs from these.
    started_with: dict = field(default_factory=dict)
    # How many times the restart action has restarted the server: a new value is what makes
    # Heat update (and the driver restart) the server; the count itself means nothing else.
    restarts: int = 0
    # Trove's USER logs that are on (names from Datastore.user_logs; service/logs.py): the
    # server is given them at every start, so a restart or resize keeps them.
    guest_logs: tuple = ()
    # Replication (docs/replication.md). ``replica_of``: the instance this one follows now
    # (None: it takes writes). ``replica_seed``: the instance it was created as a replica of;
    # its admin secret was copied from there, so its stack keeps the replica topology for
    # life, also once promoted or detached. ``replica_fence``: the old primary a promotion
    # fences and catches up with first (a switchover); None promotes at once (eject, detach).
    replica_of: str | None = None
    replica_seed: str | None = None
    replica_fence: str | None = None
    # Hidden parameters of users (or root) that are gone: they stay declared, emptied, because
    # Heat cannot drop a hidden parameter in a PATCH update (see service/changes.py).
    retired_secrets: tuple = ()
    # The operator's datastore version it was created on (service/catalog.py), when not a
    # built-in one: ``version`` is the built-in number that version runs.
    version_id: str | None = None


@dataclass(frozen=True)
class RenderedStack:
    """A stack ready for Heat: the template text plus the values that go beside it."""
    template: str
    parameters: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    template_name: str = ""   # which template it came from (``postgresql/single.yaml.j2``), for errors


@dataclass(frozen=True)
class MemberSpec:
    """One member of a cluster. ``key`` is its resource name in the cluster's stack, chosen
    by the service (``m<12 hex>``), never by a user; ``follows`` is the key of the
    member a replica follows (Redis Cluster), None otherwise."""
    key: str
    flavor: Flavor
    volume_size: int
    role: str
    follows: str | None = None
    number: int = 1   # its name is "<cluster name>-member-<number>"; never reused in one cluster
    share: tuple = ()  # its part of the data when the cluster is made (Redis Cluster: first and last slot)


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster: one stack whose members, in creation order, the service decides."""
    project_id: str
    name: str
    datastore: str
    version: str
    members: tuple = ()  # of MemberSpec
