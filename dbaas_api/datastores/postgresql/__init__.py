"""PostgreSQL: everything heat-dbaas knows about it, one module per role."""
from dbaas_api.datastores.base import Clustering
from dbaas_api.datastores.postgresql.admin import PostgreSQLAdmin, PostgreSQLSession
from dbaas_api.datastores.postgresql.backup import PostgreSQLBackups
from dbaas_api.datastores.postgresql.client import scram_verifier
from dbaas_api.datastores.postgresql.knowledge import PARAMETERS_15, PostgreSQLKnowledge
from dbaas_api.datastores.postgresql.process import PostgreSQLProcess
from dbaas_api.datastores.postgresql.replication import PostgreSQLReplication

__all__ = ["PARAMETERS_15", "PostgreSQL", "PostgreSQLSession", "scram_verifier"]


class PostgreSQL(PostgreSQLKnowledge, PostgreSQLAdmin, PostgreSQLProcess, PostgreSQLBackups, PostgreSQLReplication,
                 Clustering):
    """Parameters, admin session, local process, backups, streaming replication; no clusters."""
