"""The stack is the record: everything about reading and writing this service's records.

Every record (an instance, a backup, a configuration group, a cluster) is a Heat stack in the
service project. ``stack`` reads one the caller owns, pages through a list, reads outputs and
says whether Heat is working on it; ``tags`` is the one tag codec; ``instance``, ``backup``,
``configuration`` and ``cluster`` hold, each for its kind, both directions between what the
service means (a spec, a tags dataclass) and what Heat stores (parameters and tags).
Nothing here talks HTTP; the services in service/ are the only callers.
"""
from dbaas_api.records import backup, cluster, configuration, datastore_version, instance, stack, tags  # noqa: F401,E402
