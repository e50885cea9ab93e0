"""What a datastore is made of: one small interface per role, each in its own module.

- ``knowledge``: what it is, which names and passwords it can store, which configuration
  parameters users may set (rules as data); every datastore has it.
- ``admin``: databases, users, root, access and configuration on a running server
  (``admin_session``).
- ``process``: how to run one as a local process (``dbaas_api/drivers/local/``).
- ``backup``, ``replication``, ``cluster``: what those need of the server.

A datastore package (``datastores/<name>/``) fills each role in a module of its own and
composes them into one class, so no other code has to ask "which datastore is this?".
Subclasses hold data and the datastore's own statements; nothing here knows about Heat or
Flask.
"""
from dbaas_api.datastores.base.admin import Admin, AdminSession, closing_session
from dbaas_api.datastores.base.backup import Backups
from dbaas_api.datastores.base.cluster import Clustering
from dbaas_api.datastores.base.knowledge import (
    BOOLEAN, FLOAT, INTEGER, MAX_STRING_VALUE, SAFE_STRING, STRING, Knowledge, Parameter, parameter_rules)
from dbaas_api.datastores.base.process import LocalProcess, Paths, UserLog
from dbaas_api.datastores.base.replication import Replication

__all__ = ["Admin", "AdminSession", "BOOLEAN", "Backups", "Clustering", "Datastore", "FLOAT", "INTEGER",
           "Knowledge", "LocalProcess", "MAX_STRING_VALUE", "Parameter", "Paths", "Replication", "SAFE_STRING",
           "STRING", "UserLog", "closing_session", "parameter_rules"]


class Datastore(Knowledge, Admin, LocalProcess, Backups, Replication, Clustering):
    """Every role, with the defaults of the ones a datastore does not fill."""
