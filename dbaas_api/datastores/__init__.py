"""The datastore registry: which datastores, versions and flavors this service offers.

Everything about one datastore lives in its own package (a module per role); this package
only collects them.
"""
from dbaas_api import errors
from dbaas_api.model import Flavor
from dbaas_api.datastores.mariadb import MariaDB
from dbaas_api.datastores.postgresql import PostgreSQL
from dbaas_api.datastores.redis import Redis

_DATASTORES = {ds.name: ds for ds in (PostgreSQL(), MariaDB(), Redis())}
_ALIASES = {"mysql": "mariadb", "postgres": "postgresql"}

# The local driver turns ram_mb and max_connections into each datastore's own settings.
FLAVORS = (
    Flavor(id="1", name="db.tiny", ram_mb=256, vcpus=1, max_connections=50),
    Flavor(id="2", name="db.small", ram_mb=512, vcpus=1, max_connections=100),
    Flavor(id="3", name="db.medium", ram_mb=1024, vcpus=2, max_connections=200),
    Flavor(id="4", name="db.large", ram_mb=2048, vcpus=4, max_connections=400),
)


def all():  # noqa: A001 - reads as datastores.all()
    return tuple(_DATASTORES.values())


def get(name):
    """The datastore called ``name`` (case-insensitive; 'mysql' and 'postgres' are aliases)."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    try:
        return _DATASTORES[key]
    except KeyError:
        raise errors.NotFound(f"Datastore '{name}' cannot be found.") from None


def find_flavor(id_or_name):
    for flavor in FLAVORS:
        if str(id_or_name) in (flavor.id, flavor.name):
            return flavor
    raise errors.NotFound(f"Flavor '{id_or_name}' cannot be found.")
