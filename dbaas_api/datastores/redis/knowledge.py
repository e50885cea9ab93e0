"""Redis: what it is, the user names it can store and the configuration parameters users
may set (rules as data, with Redis's own defaults)."""
from dbaas_api import errors
from dbaas_api.datastores.base import BOOLEAN, INTEGER, STRING, Knowledge, Parameter, parameter_rules

INT_MAX = 2147483647
LLONG_MAX = 9223372036854775807
# What users may set, with Redis 7.0's own defaults (CONFIG GET on a fresh server): CONFIG SET
# has no "back to the default", so a value a configuration no longer sets is set back to
# these (or to the instance's own setting). Immutable configs are restart_required.
PARAMETERS_7 = parameter_rules(
    Parameter("maxmemory-policy", STRING, default="noeviction", allowed=(
        "volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu", "volatile-random",
        "allkeys-random", "volatile-ttl", "noeviction")),
    Parameter("maxmemory-samples", INTEGER, 1, 64, default=5),
    Parameter("maxmemory", INTEGER, 0, LLONG_MAX, default=0, unit="B"),
    Parameter("maxclients", INTEGER, 1, INT_MAX, default=10000),
    Parameter("timeout", INTEGER, 0, INT_MAX, default=0, unit="s"),
    Parameter("tcp-keepalive", INTEGER, 0, INT_MAX, default=300, unit="s"),
    Parameter("hz", INTEGER, 1, 500, default=10),
    Parameter("notify-keyspace-events", STRING, default="", pattern=r"[KEg$lshzxetmdnA]*"),
    Parameter("slowlog-log-slower-than", INTEGER, -1, LLONG_MAX, default=10000, unit="us"),
    Parameter("slowlog-max-len", INTEGER, 0, LLONG_MAX, default=128),
    Parameter("latency-monitor-threshold", INTEGER, 0, LLONG_MAX, default=0, unit="ms"),
    Parameter("busy-reply-threshold", INTEGER, 0, LLONG_MAX, default=5000, unit="ms"),
    Parameter("appendfsync", STRING, default="everysec", allowed=("always", "everysec", "no")),
    Parameter("lazyfree-lazy-eviction", BOOLEAN, default=False),
    Parameter("lazyfree-lazy-expire", BOOLEAN, default=False),
    Parameter("lazyfree-lazy-server-del", BOOLEAN, default=False),
    Parameter("lfu-log-factor", INTEGER, 0, INT_MAX, default=10),
    Parameter("lfu-decay-time", INTEGER, 0, INT_MAX, default=1),
    Parameter("active-expire-effort", INTEGER, 1, 10, default=1),
    Parameter("hash-max-listpack-entries", INTEGER, 0, LLONG_MAX, default=512),
    Parameter("hash-max-listpack-value", INTEGER, 0, LLONG_MAX, default=64),
    Parameter("zset-max-listpack-entries", INTEGER, 0, LLONG_MAX, default=128),
    Parameter("zset-max-listpack-value", INTEGER, 0, LLONG_MAX, default=64),
    Parameter("set-max-intset-entries", INTEGER, 0, LLONG_MAX, default=512),
    Parameter("list-max-listpack-size", INTEGER, -5, INT_MAX, default=-2),
    Parameter("stream-node-max-entries", INTEGER, 0, LLONG_MAX, default=100),
    Parameter("auto-aof-rewrite-percentage", INTEGER, 0, INT_MAX, default=100),
    Parameter("databases", INTEGER, 1, INT_MAX, default=16, restart_required=True),
    Parameter("io-threads", INTEGER, 1, 128, default=1, restart_required=True),
    Parameter("tcp-backlog", INTEGER, 0, INT_MAX, default=511, restart_required=True),
)



class RedisKnowledge(Knowledge):
    name = "redis"
    title = "Redis"
    versions = ("7",)
    default_version = "7"
    port = 6379
    supports_databases = False
    supports_root = False    # the admin is Redis's default user; there is no other superuser
    admin_user = "default"   # the user AUTH <password> logs in as; its password is the admin's

    max_user_name = 128
    reserved_users = frozenset({"default", "os_admin", "os_repl"})

    configuration_parameters = {"7": PARAMETERS_7}
    # Set by the service (addresses, files, secrets, replication): never by a configuration.
    blocked_parameters = frozenset({
        "bind", "port", "dir", "dbfilename", "appendfilename", "appenddirname", "aclfile",
        "requirepass", "masterauth", "masteruser", "replicaof", "slaveof", "unixsocket",
        "unixsocketperm", "logfile", "pidfile", "daemonize", "supervised", "protected-mode",
        "rename-command", "include", "enable-debug-command", "enable-module-command",
        "enable-protected-configs", "loadmodule", "appendonly", "set-proc-title",
        "tls-port", "tls-cert-file", "tls-key-file", "tls-ca-cert-file"})

    def _check_identifier(self, field, name):
        """ACL user names cannot hold spaces (the ACL file is space-separated)."""
        if any(char.isspace() for char in name):
            raise errors.BadRequest(f"field '{field}': Redis user names cannot contain spaces.")

