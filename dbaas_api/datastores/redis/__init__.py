"""Redis: everything heat-dbaas knows about it, one module per role."""
from dbaas_api.datastores.redis.admin import RedisAdmin, RedisSession
from dbaas_api.datastores.redis.backup import RedisBackups
from dbaas_api.datastores.redis.cluster import RedisCluster
from dbaas_api.datastores.redis.knowledge import PARAMETERS_7, RedisKnowledge
from dbaas_api.datastores.redis.process import RedisProcess
from dbaas_api.datastores.redis.replication import RedisReplication

__all__ = ["PARAMETERS_7", "Redis", "RedisSession"]


class Redis(RedisKnowledge, RedisAdmin, RedisProcess, RedisBackups, RedisReplication, RedisCluster):
    """Parameters, ACL users, local process, RDB backups, replicaof, Redis Cluster."""
