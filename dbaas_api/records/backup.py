"""A backup's record: what it is of (its parameters) and its tags; where it is stored are
the stack's outputs."""
from dataclasses import dataclass

from dbaas_api.records.stack import to_json
from dbaas_api.records.tags import OPTIONAL, TEXT, Codec, Field, checked, owner_filter

MARKER = "dbaas-backup"


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


TAGS = Codec(BackupTags, MARKER, (
    Field("project_id", "project"), Field("instance_id", "instance", OPTIONAL),
    Field("parent_id", "parent", OPTIONAL), Field("datastore", "datastore", OPTIONAL),
    Field("version", "version"), Field("name", "name", TEXT), Field("description", "desc", TEXT)))


def matching(project_id, instance_id=None, parent_id=None, datastore=None):
    """The tags of the backups of ``project_id``, narrowed to an instance, a parent, a datastore."""
    tags = owner_filter(project_id, MARKER)
    for key, value in (("instance", instance_id), ("parent", parent_id), ("datastore", datastore)):
        if value:
            tags.append(f"{key}:{value}")
    return checked(tags)


def parameters(datastore, version, instance_id, parent=None, container=None):
    """``parent``: the parent backup's {location, checksum, position} for an incremental;
    ``container``: where it goes (None: the operator's)."""
    return {"instance_id": instance_id, "datastore": datastore, "datastore_version": version,
            "parent": to_json(parent or {}), "container": container or ""}
