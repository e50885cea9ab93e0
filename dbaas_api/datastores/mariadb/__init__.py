"""MariaDB: everything heat-dbaas knows about it, one module per role."""
from dbaas_api.datastores.mariadb.admin import MariaDBAdmin, MariaDBSession, access_check
from dbaas_api.datastores.mariadb.backup import MariaDBBackups
from dbaas_api.datastores.mariadb.cluster import MariaDBCluster
from dbaas_api.datastores.mariadb.knowledge import PARAMETERS_10_11, MariaDBKnowledge
from dbaas_api.datastores.mariadb.process import MariaDBProcess
from dbaas_api.datastores.mariadb.replication import MariaDBReplication, gtid_position

__all__ = ["MariaDB", "MariaDBSession", "PARAMETERS_10_11", "access_check", "gtid_position"]


class MariaDB(MariaDBKnowledge, MariaDBAdmin, MariaDBProcess, MariaDBBackups, MariaDBReplication, MariaDBCluster):
    """Parameters, admin session, local process, backups, GTID replication, Galera."""
