"""An instance's record, both ways: InstanceSpec <-> stack parameters, and its tags.

Parameters carry values (the renderer decides structure from the same spec): the scalar
fields go through ``PARAMETERS``, a table read in both directions; databases and users are
parameters named by a hash of each name (``resource_key``), so a change leaves the others'
resources alone. Passwords are hidden parameters nobody reads back: a rebuilt user's
password is None, "keep" (service/changes.py).

Tags are what a list shows and what the status needs.

Besides what it shows, an instance carries what its status needs while and after a change:
``op:<STATUS>`` (what ``UPDATE_IN_PROGRESS`` means: the status of the change under way),
``restart-required`` (a configuration value waits for a restart),
``configuration:<id>`` (the attached group, so a group's instances are one filtered list)
and ``replica_of:<id>`` (the instance a replica follows, so a source's replicas are one
filtered list). Access, which a list shows: ``public`` and ``cidr<N>:<network>``, one per
allowed network.
"""
import hashlib
import re
from dataclasses import dataclass

from dbaas_api import datastores
from dbaas_api.model import AccessSpec, ConfigurationSpec, InstanceSpec, Placement, RootSpec, UserSpec
from dbaas_api.records.stack import from_json, to_json
from dbaas_api.records.tags import FLAG, INDEXED, NUMBER, OPERATION, OPTIONAL, TEXT, Codec, Field, owner_filter

MARKER = "dbaas"
RESTART_REQUIRED = "restart-required"
PUBLIC = "public"


@dataclass(frozen=True)
class InstanceTags:
    project_id: str
    datastore: str
    version: str
    flavor_id: str
    volume_size: int | None
    name: str
    operation: str | None = None          # the Trove status UPDATE_IN_PROGRESS shows
    restart_required: bool = False        # issue a restart to clear (the restart action does)
    configuration_id: str | None = None
    replica_of: str | None = None         # the instance this replica follows
    is_public: bool = False               # access, for a list page: "public", "cidr0:10.0.0.0/8"...
    allowed_cidrs: tuple = ()
    version_id: str | None = None         # an operator's datastore version (records/datastore_version.py)


TAGS = Codec(InstanceTags, MARKER, (
    Field("project_id", "project"), Field("datastore", "datastore"), Field("version", "version"),
    Field("flavor_id", "flavor"), Field("volume_size", "volume", NUMBER), Field("operation", "op", OPERATION),
    Field("restart_required", RESTART_REQUIRED, FLAG), Field("configuration_id", "configuration", OPTIONAL),
    Field("replica_of", "replica_of", OPTIONAL), Field("is_public", PUBLIC, FLAG),
    Field("allowed_cidrs", "cidr", INDEXED), Field("version_id", "dsv", OPTIONAL), Field("name", "name", TEXT)))


def owners(project_id=None):
    """The tags of every instance of ``project_id`` (of every project: None)."""
    return owner_filter(project_id, MARKER) if project_id else [MARKER]


def on_version(version_id):
    """The tags of every instance, of any project, created on datastore version ``version_id``."""
    return [MARKER, f"dsv:{version_id}"]


def with_configuration(project_id, configuration_id):
    """The tags of every instance of ``project_id`` that has ``configuration_id`` attached."""
    return owners(project_id) + [f"configuration:{configuration_id}"]


def replicas(project_id, source_id):
    """The tags of every instance of ``project_id`` that follows ``source_id``."""
    return owners(project_id) + [f"replica_of:{source_id}"]


def tags_for(spec, operation=None, restart_required=False):
    """The tags of an instance that holds ``spec``, while ``operation`` runs."""
    return InstanceTags(
        project_id=spec.project_id, datastore=spec.datastore, version=spec.version, flavor_id=spec.flavor.id,
        volume_size=spec.volume_size, name=spec.name, operation=operation, restart_required=restart_required,
        configuration_id=spec.configuration.id if spec.configuration else None, replica_of=spec.replica_of,
        is_public=spec.access.is_public, allowed_cidrs=spec.access.allowed_cidrs, version_id=spec.version_id)


# ---- parameters ------------------------------------------------------------------------------

def resource_key(kind, *parts):
    digest = hashlib.sha256("\0".join((kind,) + parts).encode()).hexdigest()[:16]
    return f"{kind}_{digest}"


def _int(text):
    try:
        return int(float(text or 0))
    except (TypeError, ValueError):
        return 0


def user_keys(users, key=resource_key):
    """Each user's resource key: the one its stack has it under, else one from its name and
    host; a new user whose name a renamed one had first gets the next free one, so no two
    share a key (the same name and host always find the same key again: the stack holds it)."""
    taken = {user.key for user in users if user.key}
    keys = []
    for user in users:
        if user.key:
            keys.append(user.key)
            continue
        chosen, extra = key("user", user.name, user.host), 1
        while chosen in taken:
            extra += 1
            chosen = key("user", user.name, user.host, str(extra))
        taken.add(chosen)
        keys.append(chosen)
    return keys


@dataclass(frozen=True)
class Parameter:
    """One stack parameter of a spec field: ``write(value)`` -> its text, ``read(text or None)``
    -> the value (a stack made before the parameter existed reads None)."""
    name: str
    field: str
    write: object = str
    read: object = str


def _required(cast):
    def read(text):
        if text is None:
            raise KeyError("a required instance parameter is missing")
        return cast(text)
    return read


PARAMETERS = (
    Parameter("datastore", "datastore", read=_required(str)),
    Parameter("datastore_version", "version", read=_required(str)),
    Parameter("flavor", "flavor", lambda flavor: flavor.id, _required(datastores.find_flavor)),
    Parameter("volume_size", "volume_size", lambda size: size, _required(int)),
    Parameter("configuration_started_with", "started_with", to_json, lambda text: from_json(text, {})),
    Parameter("restart_generation", "restarts", lambda count: count, _int),
    Parameter("replica_of", "replica_of", lambda value: value or "", lambda text: text or None),
    Parameter("replica_fence", "replica_fence", lambda value: value or "", lambda text: text or None),
    Parameter("guest_logs", "guest_logs", lambda logs: to_json(sorted(logs)), lambda text: tuple(from_json(text, []))),
)
ACCESS = (
    Parameter("is_public", "is_public", str,   # as Heat shows a boolean: True, False
              lambda text: str(text or "").lower() in ("true", "1", "yes", "on")),
    Parameter("allowed_cidrs", "allowed_cidrs", lambda cidrs: to_json(list(cidrs)),
              lambda text: tuple(from_json(text, []))),
)
PLACEMENT = tuple(Parameter(name, field, lambda value: value, lambda text: text or "") for name, field in (
    ("network_id", "network_id"), ("subnet_id", "subnet_id"), ("subnet_cidr", "cidr"),
    ("fixed_ip", "fixed_ip"), ("volume_type", "volume_type")))
_DATABASE_NAME = re.compile(r"^(database_[0-9a-f]{16})_name$")
_USER_NAME = re.compile(r"^(user_[0-9a-f]{16})_name$")


def _write(table, value):
    return {parameter.name: parameter.write(getattr(value, parameter.field)) for parameter in table}


def _read(table, parameters):
    return {parameter.field: parameter.read(parameters.get(parameter.name)) for parameter in table}


def parameters(spec, key=resource_key, retired=()):
    """The stack parameters of ``spec``: what a create sends, and what a change compares
    with the stack's (records.stack.changed_parameters). ``retired``: hidden parameters that
    stay declared, emptied. A password of None is not sent: Heat keeps the one it has."""
    values = {**_write(PARAMETERS, spec), **_write(ACCESS, spec.access), **_write(PLACEMENT, spec.placement),
              "configuration_values": to_json(spec.configuration.values if spec.configuration else {})}
    if spec.replica_seed:
        values["replica_seed"] = spec.replica_seed
    for name in spec.databases:
        values[f"{key('database', name)}_name"] = name
        options = spec.database_options.get(name)
        if options:
            values[f"{key('database', name)}_character_set"], values[f"{key('database', name)}_collate"] = (
                value or "" for value in options)
    for user, prefix in zip(spec.users, user_keys(spec.users, key)):
        values.update({f"{prefix}_name": user.name, f"{prefix}_host": user.host,
                       f"{prefix}_databases": to_json(list(user.databases))})
        if user.password is not None:
            values[f"{prefix}_password"] = user.password
    if spec.root is not None:
        values["root_enabled"] = root_mark(spec.root)
        if spec.root.password is not None:
            values["root_password"] = spec.root.password
    values.update({name: "" for name in retired})
    if spec.configuration is not None:
        values["configuration_id"] = spec.configuration.id
    if spec.restore:
        values["restore_from"] = to_json(list(spec.restore))
    return values


def spec_from_stack(stack):
    """The InstanceSpec a stack holds, rebuilt from its parameters and tags."""
    instance_tags = TAGS.decode(stack.get("tags"))
    values = stack.get("parameters") or {}
    databases, users, database_options = [], [], {}
    for name, value in values.items():
        database = _DATABASE_NAME.match(name)
        user = _USER_NAME.match(name)
        if not value:
            continue  # a parameter's default: what an update under way is removing
        if database:
            databases.append(value)
            options = tuple(values.get(f"{database.group(1)}_{option}") or None
                            for option in ("character_set", "collate"))
            if any(options):
                database_options[value] = options
        elif user:
            users.append(_user(values, user.group(1), value))
    configuration = None
    if values.get("configuration_id"):
        configuration = ConfigurationSpec(values["configuration_id"], from_json(values.get("configuration_values"), {}))
    return InstanceSpec(
        project_id=instance_tags.project_id, name=instance_tags.name, version_id=instance_tags.version_id,
        **_read(PARAMETERS, values),
        databases=tuple(sorted(databases)), database_options=database_options,
        users=tuple(sorted(users, key=lambda u: (u.name, u.host))),
        root=root_from(values.get("root_enabled")), configuration=configuration,
        access=access_from_parameters(values), placement=placement_from_parameters(values),
        replica_seed=values.get("replica_seed") or None)


def root_mark(root):
    """``root_enabled``'s text: when and by whom root was enabled ("<time> <user id>"), or
    "yes" when that is not known. Heat keeps it as a plain parameter: no secret in it."""
    return f"{root.enabled_at} {root.enabled_by}".strip() if root.enabled_at else "yes"


def root_from(text):
    """The RootSpec ``root_enabled`` says (None: root is not enabled)."""
    if not text:
        return None
    at, _, by = ("", "", "") if text == "yes" else text.partition(" ")
    return RootSpec(enabled_at=at, enabled_by=by)


def placement_from_parameters(values):
    """The instance's network and volume type (a stack made before they existed: all "")."""
    return Placement(**_read(PLACEMENT, values))


def access_from_parameters(values):
    """The instance's access (a stack made before access existed has none: everyone)."""
    return AccessSpec(**_read(ACCESS, values))


def _user(values, key, name):
    """A user keeps the key it has (a renamed one, the key of its first name): a render
    under another key would drop the account and make a new, empty one."""
    return UserSpec(name=name, password=None, host=values.get(f"{key}_host", "%"), key=key,
                    databases=tuple(from_json(values.get(f"{key}_databases"), [])))
