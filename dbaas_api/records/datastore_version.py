"""A datastore version's record: an operator's version (``datastore version create``) or an
operator's change to a built-in one (``datastore version set``), as the tags of a record
stack with no resources in the service project. Everything is in the tags, so the catalog
every API process reads is one Heat call (service/catalog.py).

A record is never updated: a change writes a new record of the same ``version_id`` and
deletes the older ones, so the newest record of a version (``written``, nanoseconds) is
what the version is, also when two API processes write at once."""
from dataclasses import dataclass

from dbaas_api.records.tags import FLAG, INDEXED, NUMBER, OPTIONAL, TEXT, Codec, Field

MARKER = "dbaas-datastore-version"


@dataclass(frozen=True)
class VersionTags:
    version_id: str
    datastore: str
    number: str             # the built-in version it runs (datastores/<name>/knowledge.py knows its rules)
    name: str
    written: int | None = None
    active: bool = False
    default: bool = False
    builtin: bool = False   # a change to a built-in version, not a version of its own
    image: str | None = None
    image_tags: tuple = ()
    packages: tuple = ()
    project_id: str = ""    # who wrote it (the admin's project)


TAGS = Codec(VersionTags, MARKER, (
    Field("version_id", "vid"), Field("datastore", "datastore"), Field("number", "number"),
    Field("written", "at", NUMBER), Field("active", "active", FLAG), Field("default", "default", FLAG),
    Field("builtin", "builtin", FLAG), Field("image", "image", OPTIONAL), Field("image_tags", "itag", INDEXED),
    Field("packages", "pkg", INDEXED), Field("project_id", "project", OPTIONAL), Field("name", "name", TEXT)))
