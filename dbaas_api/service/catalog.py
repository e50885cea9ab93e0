"""Finding datastores and versions the way Trove clients name them: by name or by id.

Both the datastore endpoints and instance create resolve names here, so "postgres",
"postgresql" and the datastore's UUID all mean the same thing everywhere.

The versions are the built-in ones (dbaas_api/datastores/<name>/: what the service knows
how to run) and the operators' records (records/datastore_version.py: ``datastore version
create`` and ``set``), read from Heat in one call per request that needs them (``read``),
so every API process sees the same catalog. An operator's version runs one of the
built-in version numbers (its rules, its binaries) under its own name, id, image and flags.
An inactive version is left out of the users' lists and refused to creates; instances
already on it keep running.
"""
from dataclasses import dataclass, field, replace

from dbaas_api import datastores, errors, records

DEFAULT_DATASTORE = "postgresql"
ALL_RECORDS = 1000   # stacks per read: far more versions than any catalog has


@dataclass(frozen=True)
class Version:
    datastore: object        # the Datastore (datastores/<name>/)
    id: str
    name: str
    number: str              # a built-in version number: what runs
    active: bool = True
    default: bool = False
    builtin: bool = True
    image: str | None = None
    image_tags: tuple = ()
    packages: tuple = ()
    records: tuple = field(default=(), compare=False)   # its record stacks' ids, newest first


class Catalog:
    """Every version of every datastore, built-in ones with the operators' changes applied."""

    def __init__(self, written=()):
        """``written``: (stack id, VersionTags) of the version records, in any order."""
        newest = {}
        for stack_id, tags in sorted(written, key=lambda item: -(item[1].written or 0)):
            newest.setdefault(tags.version_id, []).append((stack_id, tags))
        claims, self._versions = {}, []
        for datastore in datastores.all():
            found = [self._builtin(datastore, number, newest.pop(datastore.version_id(number), []))
                     for number in datastore.versions]
            found += [self._of_record(datastore, mine) for mine in list(newest.values())
                      if mine[0][1].datastore == datastore.name and not mine[0][1].builtin]
            for version, written_at in found:
                if version.active and version.default:
                    claims.setdefault(datastore.name, []).append((written_at, version.id))
            self._versions += [version for version, _ in found]
        default = {name: max(found)[1] for name, found in claims.items()}
        self._versions = [_replace_default(version, default.get(version.datastore.name) == version.id)
                          for version in self._versions]

    @staticmethod
    def _builtin(datastore, number, mine):
        version = Version(datastore, datastore.version_id(number), number, number,
                          default=number == datastore.default_version)
        if not mine:
            return version, 0
        tags = mine[0][1]
        return Version(datastore, version.id, tags.name or number, number, tags.active, tags.default, True,
                       tags.image, tags.image_tags, tags.packages, tuple(i for i, _ in mine)), tags.written or 0

    @staticmethod
    def _of_record(datastore, mine):
        tags = mine[0][1]
        return Version(datastore, tags.version_id, tags.name, tags.number, tags.active, tags.default, False,
                       tags.image, tags.image_tags, tags.packages, tuple(i for i, _ in mine)), tags.written or 0

    def versions(self, datastore=None, everything=False):
        """The versions of ``datastore`` (of all: None), built-in first; only the active ones
        unless ``everything``."""
        return [version for version in self._versions
                if (datastore is None or version.datastore.name == datastore.name)
                and (everything or version.active)]

    def default(self, datastore):
        return next((version for version in self.versions(datastore) if version.default), None)

    def find(self, datastore, name_or_id=None):
        """The version of ``datastore`` called or identified by ``name_or_id`` (an inactive
        one too: an instance on it shows it); its default version when omitted."""
        if not name_or_id:
            found = self.default(datastore)
            if found is None:
                raise errors.NotFound(f"Datastore '{datastore.name}' has no default version: name one.")
            return found
        for version in self.versions(datastore, everything=True):
            if str(name_or_id) in (version.id, version.name) or (version.builtin and str(name_or_id) == version.number):
                return version
        raise errors.NotFound(f"Datastore version '{name_or_id}' cannot be found "
                              f"for datastore '{datastore.name}'.")

    def by_id(self, version_id):
        for version in self._versions:
            if version_id == version.id:
                return version
        raise errors.NotFound(f"Datastore version '{version_id}' cannot be found.")


def _replace_default(version, default):
    return version if version.default == default else replace(version, default=default)


def read(gateway):
    """The catalog as the version records in Heat say now: one Heat call."""
    written = []
    for stack in gateway.list_stacks(tags=[records.datastore_version.MARKER], limit=ALL_RECORDS):
        tags = records.datastore_version.TAGS.decode(stack.get("tags"))
        if tags is not None and tags.version_id and not (stack.get("stack_status") or "").startswith("DELETE"):
            written.append((stack["id"], tags))
    return Catalog(written)


BUILT_IN = Catalog()   # the built-in versions alone, as a release ships them


def find_datastore(name_or_id=None):
    """The datastore called or identified by ``name_or_id``; the default one when omitted."""
    if not name_or_id:
        return datastores.get(DEFAULT_DATASTORE)
    for datastore in datastores.all():
        if name_or_id == datastore.datastore_id():
            return datastore
    return datastores.get(name_or_id)


def find_flavor_ref(flavor_ref):
    """The flavor a request's ``flavorRef`` names (an id, a name, or a flavor link, as Trove
    accepts); 400 when there is none: the request is wrong, not a missing resource."""
    if flavor_ref is None:
        raise errors.BadRequest("flavorRef is required.")
    flavor_id = str(flavor_ref).rstrip("/").rsplit("/", 1)[-1]
    try:
        return datastores.find_flavor(flavor_id)
    except errors.NotFound:
        raise errors.BadRequest(f"Flavor '{flavor_ref}' not found.") from None


def requested_version(requested, field="", known=BUILT_IN):
    """The active Version a request's ``datastore`` object names (``type``; ``version`` or
    ``version_number``; defaults when omitted); 400, prefixed with ``field``, when unknown
    or inactive (Trove's DatastoreVersionInactive)."""
    try:
        datastore = find_datastore(requested.get("type"))
        version = known.find(datastore, requested.get("version") or requested.get("version_number"))
    except errors.NotFound as exc:
        raise errors.BadRequest(f"{field}{exc.message}") from None
    if not version.active:
        raise errors.BadRequest(f"{field}Datastore version '{version.name}' is not active.")
    return version


def requested_datastore(requested, field="", known=BUILT_IN):
    """(Datastore, version number) of ``requested_version``."""
    version = requested_version(requested, field, known)
    return version.datastore, version.number
