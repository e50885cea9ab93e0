"""Finding datastores and versions the way Trove clients name them: by name or by id.

Both the datastore endpoints and instance create resolve names here, so "postgres",
"postgresql" and the datastore's UUID all mean the same thing everywhere.
"""
from dbaas_api import datastores, errors

DEFAULT_DATASTORE = "postgresql"


def find_datastore(name_or_id=None):
    """The datastore called or identified by ``name_or_id``; the default one when omitted."""
    if not name_or_id:
        return datastores.get(DEFAULT_DATASTORE)
    for datastore in datastores.all():
        if name_or_id == datastore.datastore_id():
            return datastore
    return datastores.get(name_or_id)


def find_version(datastore, name_or_id=None):
    """The version of ``datastore`` called or identified by ``name_or_id``; its default
    version when omitted."""
    if not name_or_id:
        return datastore.default_version
    for version in datastore.versions:
        if str(name_or_id) in (version, datastore.version_id(version)):
            return version
    raise errors.NotFound(f"Datastore version '{name_or_id}' cannot be found "
                          f"for datastore '{datastore.name}'.")


def find_version_by_id(version_id):
    """(datastore, version) for a version UUID, as ``GET /datastores/versions/{id}`` needs."""
    for datastore in datastores.all():
        for version in datastore.versions:
            if version_id == datastore.version_id(version):
                return datastore, version
    raise errors.NotFound(f"Datastore version '{version_id}' cannot be found.")


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


def requested_datastore(requested, field=""):
    """(Datastore, version) a request's ``datastore`` object names (``type``; ``version`` or
    ``version_number``; defaults when omitted); 400, prefixed with ``field``, when unknown."""
    try:
        datastore = find_datastore(requested.get("type"))
        version = find_version(datastore, requested.get("version") or requested.get("version_number"))
    except errors.NotFound as exc:
        raise errors.BadRequest(f"{field}{exc.message}") from None
    return datastore, version
