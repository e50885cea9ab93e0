"""What a list needs, carried as Heat stack tags: instances and configuration groups.

Heat's stack list returns tags but no parameters or outputs, so everything a list view shows
lives here and a page costs one Heat call. Heat's rules shape the encoding: a tag is at most
80 characters and cannot contain a comma (the API joins tags with commas), and Heat may
return them in any order. Free text (an instance's or group's name, a group's description:
commas, quotes, emoji, 255 characters) travels as base64url chunks ``name0:...``,
``name1:...`` that decode back to exactly what the user sent.

Besides what it shows, an instance carries what its status needs while and after a change:
``op:<STATUS>`` (what ``UPDATE_IN_PROGRESS`` means: the status of the change under way),
``restart-required`` (a configuration value waits for a restart) and
``configuration:<id>`` (the attached group, so a group's instances are one filtered list)
and ``replica_of:<id>`` (the instance a replica follows, so a source's replicas are one
filtered list). Access, which a list shows: ``public`` and ``cidr<N>:<network>``, one per
allowed network.
"""
import base64
import re
from dataclasses import dataclass

MARKER = "dbaas"
CONFIGURATION_MARKER = "dbaas-configuration"
BACKUP_MARKER = "dbaas-backup"
CLUSTER_MARKER = "dbaas-cluster"
RESTART_REQUIRED = "restart-required"
PUBLIC = "public"
_CIDR_KEY = re.compile(r"^cidr(\d+)$")
MAX_TAG_LENGTH = 80
_CHUNK = 72  # len("name99:") + 72 <= 80
_TEXT_TAG = re.compile(r"^(name|desc)(\d+):(.*)$")
_OPERATION = re.compile(r"^[A-Z_]{1,40}$")


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


@dataclass(frozen=True)
class ConfigurationTags:
    project_id: str
    datastore: str
    version: str
    name: str
    description: str | None = None


@dataclass(frozen=True)
class BackupTags:
    """A backup's record: whose, of which instance (which may be gone since), its parent
    when it is an incremental, and the user's name and description."""
    project_id: str
    instance_id: str
    datastore: str
    version: str
    name: str
    description: str | None = None
    parent_id: str | None = None


def owner_filter(project_id, marker=MARKER):
    """The tags every stack of ``project_id`` has: Heat's ``tags=`` filter (all must match)."""
    return [marker, f"project:{project_id}"]


def configuration_filter(project_id, configuration_id):
    """The tags of every instance of ``project_id`` that has ``configuration_id`` attached."""
    return owner_filter(project_id) + [f"configuration:{configuration_id}"]


def replicas_filter(project_id, source_id):
    """The tags of every instance of ``project_id`` that follows ``source_id``."""
    return owner_filter(project_id) + [f"replica_of:{source_id}"]


def encode(instance):
    """InstanceTags -> list of tags, each valid for Heat."""
    tags = owner_filter(instance.project_id) + [
        f"datastore:{instance.datastore}",
        f"version:{instance.version}",
        f"flavor:{instance.flavor_id}",
    ]
    if instance.volume_size is not None:
        tags.append(f"volume:{int(instance.volume_size)}")
    if instance.operation:
        if not _OPERATION.match(instance.operation):
            raise ValueError(f"not a status: {instance.operation!r}")
        tags.append(f"op:{instance.operation}")
    if instance.restart_required:
        tags.append(RESTART_REQUIRED)
    if instance.configuration_id:
        tags.append(f"configuration:{instance.configuration_id}")
    if instance.replica_of:
        tags.append(f"replica_of:{instance.replica_of}")
    if instance.is_public:
        tags.append(PUBLIC)
    tags += [f"cidr{index}:{cidr}" for index, cidr in enumerate(instance.allowed_cidrs)]
    return _checked(tags + _encode_text("name", instance.name))


def decode(tags):
    """Heat's tags (any order) -> InstanceTags, or None when the stack is not an instance."""
    found = _decode(tags, MARKER)
    if found is None:
        return None
    fields, texts, flags = found
    volume = fields.get("volume", "")
    operation = fields.get("op")
    return InstanceTags(
        project_id=fields.get("project", ""),
        datastore=fields.get("datastore", ""),
        version=fields.get("version", ""),
        flavor_id=fields.get("flavor", ""),
        volume_size=int(volume) if volume.isdigit() else None,
        name=texts.get("name", ""),
        operation=operation if operation and _OPERATION.match(operation) else None,
        restart_required=RESTART_REQUIRED in flags,
        configuration_id=fields.get("configuration") or None,
        replica_of=fields.get("replica_of") or None,
        is_public=PUBLIC in flags,
        allowed_cidrs=tuple(fields[key] for key in sorted(
            (key for key in fields if _CIDR_KEY.match(key)), key=lambda key: int(key[4:]))),
    )


def encode_configuration(group):
    """ConfigurationTags -> list of tags, each valid for Heat."""
    tags = owner_filter(group.project_id, CONFIGURATION_MARKER) + [
        f"datastore:{group.datastore}", f"version:{group.version}"]
    tags += _encode_text("name", group.name)
    if group.description is not None:
        tags += _encode_text("desc", group.description)
    return _checked(tags)


def decode_configuration(tags):
    """Heat's tags -> ConfigurationTags, or None when the stack is not a configuration group."""
    found = _decode(tags, CONFIGURATION_MARKER)
    if found is None:
        return None
    fields, texts, _ = found
    return ConfigurationTags(
        project_id=fields.get("project", ""), datastore=fields.get("datastore", ""),
        version=fields.get("version", ""), name=texts.get("name", ""), description=texts.get("desc"))


def backup_filter(project_id, instance_id=None, parent_id=None, datastore=None):
    """The tags of the backups of ``project_id``, narrowed to an instance, a parent, a datastore."""
    tags = owner_filter(project_id, BACKUP_MARKER)
    for key, value in (("instance", instance_id), ("parent", parent_id), ("datastore", datastore)):
        if value:
            tags.append(f"{key}:{value}")
    return _checked(tags)


def encode_backup(backup):
    """BackupTags -> list of tags, each valid for Heat."""
    tags = backup_filter(backup.project_id, backup.instance_id, backup.parent_id, backup.datastore)
    tags += [f"version:{backup.version}"] + _encode_text("name", backup.name)
    if backup.description is not None:
        tags += _encode_text("desc", backup.description)
    return _checked(tags)


def decode_backup(tags):
    """Heat's tags -> BackupTags, or None when the stack is not a backup."""
    found = _decode(tags, BACKUP_MARKER)
    if found is None:
        return None
    fields, texts, _ = found
    return BackupTags(
        project_id=fields.get("project", ""), instance_id=fields.get("instance", ""),
        datastore=fields.get("datastore", ""), version=fields.get("version", ""),
        name=texts.get("name", ""), description=texts.get("desc"), parent_id=fields.get("parent") or None)


@dataclass(frozen=True)
class ClusterTags:
    """A cluster's record: whose, which datastore, its name, and while Heat works on it
    the task under way (``op:``, e.g. GROWING_CLUSTER); ``members``: its members' keys
    (``member:<key>``), so that a member is found from its id with one stack list."""
    project_id: str
    datastore: str
    version: str
    name: str
    operation: str | None = None
    members: tuple = ()


def encode_cluster(cluster):
    """ClusterTags -> list of tags, each valid for Heat."""
    tags = owner_filter(cluster.project_id, CLUSTER_MARKER) + [
        f"datastore:{cluster.datastore}", f"version:{cluster.version}"]
    if cluster.operation:
        if not _OPERATION.match(cluster.operation):
            raise ValueError(f"not a task: {cluster.operation!r}")
        tags.append(f"op:{cluster.operation}")
    tags += [f"member:{key}" for key in cluster.members]
    return _checked(tags + _encode_text("name", cluster.name))


def decode_cluster(tags):
    """Heat's tags -> ClusterTags, or None when the stack is not a cluster."""
    found = _decode(tags, CLUSTER_MARKER)
    if found is None:
        return None
    fields, texts, _ = found
    operation = fields.get("op")
    return ClusterTags(
        project_id=fields.get("project", ""), datastore=fields.get("datastore", ""),
        version=fields.get("version", ""), name=texts.get("name", ""),
        operation=operation if operation and _OPERATION.match(operation) else None,
        members=tuple(sorted(tag.partition(":")[2] for tag in tags if tag.startswith("member:"))))


def _checked(tags):
    for tag in tags:
        if len(tag) > MAX_TAG_LENGTH or "," in tag:
            raise ValueError(f"cannot be a Heat tag: {tag!r}")
    return tags


def _decode(tags, marker):
    """(fields, texts, flags) of a stack carrying ``marker``, else None."""
    tags = list(tags or ())
    if marker not in tags:
        return None
    fields, chunks, flags = {}, {}, set()
    for tag in tags:
        text_chunk = _TEXT_TAG.match(tag)
        if text_chunk:
            chunks.setdefault(text_chunk.group(1), {})[int(text_chunk.group(2))] = text_chunk.group(3)
        elif ":" in tag:
            key, _, value = tag.partition(":")
            fields.setdefault(key, value)
        else:
            flags.add(tag)
    return fields, {prefix: _decode_text(parts) for prefix, parts in chunks.items()}, flags


def _encode_text(prefix, text):
    encoded = base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")
    pieces = [encoded[i:i + _CHUNK] for i in range(0, len(encoded), _CHUNK)] or [""]
    return [f"{prefix}{index}:{piece}" for index, piece in enumerate(pieces)]


def _decode_text(chunks):
    text = "".join(chunks[index] for index in sorted(chunks))
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        return ""
