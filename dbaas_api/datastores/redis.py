"""Redis: everything heat-dbaas knows about it."""
import contextlib
import hashlib
import socket
import subprocess
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dbaas_api import errors
from dbaas_api.datastores.base import (
    BOOLEAN, INTEGER, STRING, AdminSession, Datastore, Parameter, closing_session, parameter_rules)

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


class Redis(Datastore):
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

    system_user = "redis"    # its own system user, as PostgreSQL and MariaDB have (Debian makes it)
    guest_logs = {"error": "server.log"}   # its log (logfile ""): events, never commands
    server_bin = "/usr/bin/redis-server"

    # What a user gets: every key and channel, every command but the @dangerous ones
    # (FLUSHALL, CONFIG, DEBUG, SHUTDOWN, KEYS, ACL ...), which stay the admin's.
    USER_RULES = ("on", "~*", "&*", "+@all", "-@dangerous")
    ADMIN_RULES = ("on", "~*", "&*", "+@all")

    STATIC_SETTINGS = {
        "protected-mode": "yes",
        "daemonize": "no",
        "supervised": "no",
        "logfile": '""',                 # stdout is server.log
        "appendonly": "yes",             # every write survives a stop/start
        "appendfsync": "everysec",
        "maxmemory-policy": "noeviction",
        "repl-diskless-sync-delay": 0,   # the default 5 s makes a replica take 5 s to link
        "set-proc-title": "no",          # keep argv (it names the instance) for the driver's pid check
    }

    def _check_identifier(self, field, name):
        """ACL user names cannot hold spaces (the ACL file is space-separated)."""
        if any(char.isspace() for char in name):
            raise errors.BadRequest(f"field '{field}': Redis user names cannot contain spaces.")

    # ---- the admin endpoint --------------------------------------------------------------

    def connect(self, host, port, password, timeout=5, io_timeout=60):
        # No hidden retries: redis-py's default backoff turns one refused connect into 4 s.
        return redis.Redis(host=host, port=port, password=password, socket_connect_timeout=timeout,
                           socket_timeout=io_timeout, decode_responses=True,
                           retry=Retry(NoBackoff(), 0))

    def admin_session(self, host, port, password):
        client = self.connect(host, port, password)
        try:
            client.ping()
        except redis.RedisError as exc:
            client.close()
            raise errors.ServiceUnavailable(
                f"Cannot connect to Redis at {host}:{port} as {self.admin_user}: {exc}") from None
        return closing_session(RedisSession(self, client), client)

    # ---- local processes -----------------------------------------------------------------

    def flavor_settings(self, flavor):
        """maxmemory three quarters of the RAM: the rest is headroom for the fork that
        rewrites the append-only file."""
        return {"maxmemory": f"{max(flavor.ram_mb * 3 // 4, 16)}mb",
                "maxclients": flavor.max_connections}

    def config_files(self, paths, address, port, flavor):
        """No secret here: passwords live, hashed, in the ACL file in the data dir."""
        settings = {"bind": address, "port": port, "dir": str(paths.data),
                    "aclfile": str(paths.data / "users.acl")}
        settings.update(self.STATIC_SETTINGS)
        settings.update(self.flavor_settings(flavor))
        lines = ["# Written by heat-dbaas; rewritten on resize."]
        lines += [f"{name} {value}" for name, value in settings.items()]
        lines.append(f"include {paths.conf(self.replica_file)}")
        if paths.conf(self.cluster_file).exists():   # a Redis Cluster node (see cluster_files)
            lines.append(f"include {paths.conf(self.cluster_file)}")
        # Last, so that an attached configuration's values win (see override_files).
        lines.append(f"include {paths.conf(self.override_file)}")
        files = {"redis.conf": "\n".join(lines) + "\n"}
        if not paths.conf(self.replica_file).exists():   # a primary's; a replica's is written by follow
            files[self.replica_file] = self.PRIMARY_CONF
        return files

    def override_files(self, values):
        """The configuration's values, included at the end of redis.conf: what keeps them
        across a restart (CONFIG REWRITE would rewrite our own redis.conf instead)."""
        lines = ["# An attached configuration group's values; written by heat-dbaas."]
        lines += [f"{name} {_conf_value(value)}" for name, value in sorted(values.items())]
        return {self.override_file: "\n".join(lines) + "\n"}

    def initialise(self, paths, version, admin_password, runner):
        """The ACL file with the admin (default) user and its password's SHA-256: Redis
        accepts hashed passwords there, so the plain password is stored nowhere."""
        runner.write(paths.data / "users.acl",
                     f"user {self.admin_user} {' '.join(self.ADMIN_RULES)} #{_sha256(admin_password)}\n")

    def start_argv(self, paths, version):
        # The trailing --dir repeats the config so that argv names the data dir.
        return [self.server_bin, str(paths.conf("redis.conf")), "--dir", str(paths.data)]

    def probe(self, address, port, password=None):
        client = self.connect(address, port, password, timeout=0.5, io_timeout=1)
        try:
            return client.ping()
        except redis.AuthenticationError:
            return password is None   # asked to log in: up, and we had nothing to log in with
        except redis.RedisError:
            return False              # refused, or still loading its data (BusyLoadingError)
        finally:
            client.close()

    # ---- backups -------------------------------------------------------------------------

    backup_format = "redis-rdb"

    def backup_stream(self, source, parent_position=None):
        """An RDB snapshot through Redis' own replication handshake (what redis-cli --rdb
        does). Always full: an RDB is the whole dataset."""
        if parent_position is not None:
            raise errors.BadRequest("Redis backups are always full: incremental backups are not supported.")
        return _RdbStream(source.host, source.port, source.password)

    def restore(self, paths, version, admin_password, runner, chain):
        """The RDB becomes the base of the append-only file (Redis 7's multi-part AOF: a
        manifest naming an RDB-format base), which the server loads at start and appends to.
        Users live in the ACL file, not in the RDB: the restored server has its new admin and
        the users its own request names."""
        [(chunks, _position)] = chain
        self.initialise(paths, version, admin_password, runner)
        aof = paths.data / "appendonlydir"
        runner.mkdir(aof)
        runner.write_stream(aof / "appendonly.aof.1.base.rdb", chunks)
        runner.write(aof / "appendonly.aof.manifest", "file appendonly.aof.1.base.rdb seq 1 type b\n")

    # ---- replication (replicaof) ------------------------------------------------------------
    # A replica follows its source as the ACL user os_repl (replication commands only),
    # whose password derives from the admin password every member shares; replica.conf
    # (included by redis.conf: replicaof, masteruser, masterauth; 0600) keeps it following
    # across restarts. Redis does not replicate its ACL: a new replica starts with a copy of
    # its source's ACL file (hashes only), so the source's users can read it; users made on
    # the source later are not on its replicas (docs/replication.md). Positions are the
    # replication offset (PSYNC2 keeps it across a promotion).

    supports_replication = True
    replicates_accounts = False   # the ACL is not replicated (above)
    replication_user = "os_repl"
    REPLICATION_RULES = ("on", "resetkeys", "resetchannels", "-@all", "+psync", "+replconf", "+ping", "+sync")
    replica_file = "replica.conf"
    PRIMARY_CONF = "# A primary: takes writes; written by heat-dbaas.\n"
    LINK_TIMEOUT = 60.0

    def prepare_source(self, source):
        password = self.replication_password(source.password)
        with self._replication_client(source.host, source.port, source.password) as client:
            client.execute_command("ACL", "SETUSER", self.replication_user, "reset",
                                   f"#{_sha256(password)}", *self.REPLICATION_RULES)
            client.execute_command("ACL", "SAVE")

    def seed_replica(self, paths, version, runner, source):
        """The source's ACL file (its users' hashes, os_repl's and the shared admin's), and
        replica.conf: the server loads the source's data over replication at its first start."""
        acl = source.datadir / "users.acl" if source.datadir is not None else None
        if acl is not None and acl.exists():
            runner.write(paths.data / "users.acl", acl.read_text())
        else:
            self.initialise(paths, version, source.password, runner)
        self._write_replica_conf(paths, runner, source)

    def after_replica_start(self, paths, address, port, password, source):
        """Done once the link to the source is up (the first full sync is loaded)."""
        deadline = time.monotonic() + self.LINK_TIMEOUT
        while self._info(address, port, password).get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise errors.DBaaSError(f"The Redis replica at {address} did not link to its source within "
                                        f"{self.LINK_TIMEOUT:.0f} s.")
            time.sleep(0.05)

    def replication_state(self, address, port, password):
        info = self._info(address, port, password)
        return {"role": "primary" if info.get("role") == "master" else "replica",
                "position": int(info.get("master_repl_offset", 0))}

    def fence(self, address, port, password):
        """CLIENT PAUSE WRITE: clients' writes wait (and time out), the replication stream
        still flows; returns the offset every replica must reach."""
        with self._replication_client(address, port, password) as client:
            client.execute_command("CLIENT", "PAUSE", int(self.LINK_TIMEOUT * 1000), "WRITE")
            return int(client.info("replication").get("master_repl_offset", 0))

    def unfence(self, address, port, password):
        with self._replication_client(address, port, password) as client:
            client.execute_command("CLIENT", "UNPAUSE")

    def follow(self, paths, runner, address, port, password, source, running, restart):
        self._write_replica_conf(paths, runner, source)
        if not running:
            restart()
            return
        with self._replication_client(address, port, password) as client:
            client.execute_command("CONFIG", "SET", "masteruser", self.replication_user)
            client.execute_command("CONFIG", "SET", "masterauth", self.replication_password(source.password))
            client.execute_command("REPLICAOF", source.host, str(source.port))
            client.execute_command("CLIENT", "UNPAUSE")   # a fenced old primary: it follows now

    def promote(self, paths, runner, address, port, password):
        with self._replication_client(address, port, password) as client:
            client.execute_command("REPLICAOF", "NO", "ONE")
        runner.write(paths.conf(self.replica_file), self.PRIMARY_CONF)

    def _write_replica_conf(self, paths, runner, source):
        runner.write(paths.conf(self.replica_file),
                     "# The primary this replica follows; written by heat-dbaas.\n"
                     f"replicaof {source.host} {int(source.port)}\n"
                     f"masteruser {self.replication_user}\n"
                     f"masterauth {self.replication_password(source.password)}\n")

    def _info(self, address, port, password):
        with self._replication_client(address, port, password, timeout=2) as client:
            return client.info("replication")

    @contextlib.contextmanager
    def _replication_client(self, host, port, password, timeout=5):
        client = self.connect(host, port, password, timeout=timeout, io_timeout=30)
        try:
            yield client
        except redis.RedisError as exc:
            raise errors.DBaaSError(f"Redis at {host}:{port}: {exc}") from None
        finally:
            client.close()


    # ---- Redis Cluster --------------------------------------------------------------------
    # Masters share the 16384 hash slots; a replica follows one master. The first master
    # takes every slot; each later member meets the cluster through a member made before it;
    # a master then takes its fair share of the slots, keys included (redis-cli --cluster
    # rebalance, which MIGRATEs them), a replica follows its master (CLUSTER REPLICATE). A
    # master that leaves first hands its slots to the others (rebalance with weight 0), then
    # every node forgets it (redis-cli --cluster del-node). redis-cli gets the admin password
    # in its environment (REDISCLI_AUTH), never in argv. Replicas authenticate to their
    # master with the replication account (os_repl, its password derived from the admin's,
    # in the member's 0600 replica.conf as for a replication set's replicas).

    cluster_kind = "redis-cluster"
    min_cluster_members = 3       # Redis Cluster needs three masters
    cluster_roles = ("master", "replica")
    cluster_file = "cluster.conf"
    cli_bin = "/usr/bin/redis-cli"
    CLUSTER_SLOTS = 16384
    CLUSTER_TIMEOUT = 60.0

    def plan_cluster(self, requested):
        roles = self._roles(requested)
        if all(role is None for role in roles):   # no types: three masters, the rest replicas
            roles = ["master" if i < max(3, (len(roles) + 1) // 2) else "replica" for i in range(len(roles))]
        roles = [role or "master" for role in roles]
        masters = [i for i, role in enumerate(roles) if role == "master"]
        if len(masters) < self.min_cluster_members:
            raise errors.BadRequest(f"A Redis Cluster needs at least {self.min_cluster_members} masters; "
                                    f"{len(masters)} requested.")
        # Masters first, then each replica following the masters in turn.
        plan = [("master", None)] * len(masters)
        replicas = len(roles) - len(masters)
        return plan + [("replica", i % len(masters)) for i in range(replicas)]

    def initial_shares(self, plan):
        """The slots split evenly over the masters of a new cluster, as redis-cli --cluster
        create does: each master takes its range when it joins, so nothing is migrated."""
        masters = [i for i, (role, _) in enumerate(plan) if role == "master"]
        shares = [()] * len(plan)
        for n, index in enumerate(masters):
            shares[index] = (n * self.CLUSTER_SLOTS // len(masters), (n + 1) * self.CLUSTER_SLOTS // len(masters) - 1)
        return shares

    def plan_growth(self, roles, requested):
        roles = list(roles)
        follows_count = {}
        plan = []
        for role in self._roles(requested):
            role = role or "master"
            masters = [i for i, r in enumerate(roles) if r == "master"]
            if role == "replica":
                target = min(masters, key=lambda i: (follows_count.get(i, 0), i))
                follows_count[target] = follows_count.get(target, 0) + 1
                plan.append(("replica", target))
            else:
                plan.append(("master", None))
            roles.append(role)
        return plan

    def plan_shrink(self, roles, follows, removed):
        removed = set(removed)
        masters = [i for i, role in enumerate(roles) if role == "master" and i not in removed]
        if len(masters) < self.min_cluster_members:
            raise errors.BadRequest(f"A Redis Cluster keeps at least {self.min_cluster_members} masters; "
                                    f"this shrink would leave {len(masters)}.")
        follows = list(follows)
        load = {i: sum(1 for j, f in enumerate(follows) if f == i and j not in removed) for i in masters}
        for index, target in enumerate(follows):
            if roles[index] == "replica" and index not in removed and target in removed:
                new = min(masters, key=lambda i: (load[i], i))   # an orphan follows the least followed
                load[new] += 1
                follows[index] = new
        return follows

    @staticmethod
    def _roles(requested):
        for role in requested:
            if role not in (None, "master", "replica"):
                raise errors.BadRequest(f"Redis Cluster instance type '{role}' is not known: use 'master' or "
                                        "'replica' (or leave it out).")
        return list(requested)

    def cluster_files(self, paths, address, membership):
        settings = {
            "cluster-enabled": "yes",
            "cluster-config-file": str(paths.data / "nodes.conf"),   # the node's own record
            "cluster-node-timeout": 5000,
            "cluster-announce-ip": address,
            "cluster-allow-replica-migration": "yes",
        }
        lines = ["# A Redis Cluster node; written by heat-dbaas (no secrets)."]
        lines += [f"{name} {value}" for name, value in settings.items()]
        return {self.cluster_file: "\n".join(lines) + "\n"}

    def prepare_member(self, paths, runner, admin_password, membership):
        """replica.conf (0600, included by redis.conf): every member may become a replica (a
        replica from the start, a master after a failover), so each knows how to log in to a
        master at every start, as a replica of a replication set does (docs/replication.md)."""
        runner.write(paths.conf(self.replica_file),
                     "# How this cluster node logs in to a master; written by heat-dbaas.\n"
                     f"masteruser {self.replication_user}\n"
                     f"masterauth {self.replication_password(admin_password)}\n")

    def join_cluster(self, address, port, admin_password, membership):
        with self._replication_client(address, port, admin_password) as client:
            self._replication_account(client, admin_password)
            share = membership.get("share") or ()
            if not membership["peers"]:
                first, last = share or (0, self.CLUSTER_SLOTS - 1)
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
                self._wait_cluster(address, port, admin_password, members=1, covered=not share)
                return
            peer = membership["peers"][-1]
            with self._replication_client(peer, port, admin_password) as other:
                known = len(self._nodes(other))
            client.execute_command("CLUSTER", "MEET", peer, port)
            # A new cluster is ok only once its last master took its share; a working one must
            # be ok from the new node's view too before it moves slots (a master that just
            # started keeps it down for two seconds).
            self._wait_cluster(address, port, admin_password, members=known + 1, peers=membership["peers"],
                               covered=not share)
            if membership["role"] == "replica":
                self._replicate(client, membership["primary"], port, admin_password)
                self._wait_cluster(address, port, admin_password)
                return
            if share:   # a master of a new cluster: its own range; the cluster is ok once all are taken
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", *share)
                info = self.member_status(address, port, admin_password)
                if int(info.get("cluster_slots_assigned", 0)) == self.CLUSTER_SLOTS:
                    self._wait_cluster(address, port, admin_password)
                return
        # A master that joins a working cluster takes its share from the others, keys included.
        self._cli(admin_password, "--cluster", "rebalance", f"{address}:{port}", "--cluster-use-empty-masters",
                  "--cluster-yes")
        self._wait_cluster(address, port, admin_password)

    def follow_primary(self, address, port, admin_password, membership):
        """A replica whose master is being removed follows another one."""
        if membership["role"] == "replica" and membership.get("primary"):
            with self._replication_client(address, port, admin_password) as client:
                self._replicate(client, membership["primary"], port, admin_password)

    def leave_cluster(self, address, port, admin_password, membership, others):
        """A master's slots (and keys) go to the other masters first; then every node forgets it."""
        with self._replication_client(address, port, admin_password) as client:
            me = client.execute_command("CLUSTER", "MYID")
            mine = self._nodes(client)[me]
        if not others:
            return
        if mine["slots"]:
            self._cli(admin_password, "--cluster", "rebalance", f"{address}:{port}", "--cluster-weight", f"{me}=0",
                      "--cluster-yes")
        # del-node sends CLUSTER FORGET to every other node and gives its replicas another master.
        self._cli(admin_password, "--cluster", "del-node", f"{others[0]}:{port}", me)
        self._wait_cluster(others[0], port, admin_password, forgotten=me)
        # Its data is the others' now: stop at once (no save, no wait for replicas).
        with contextlib.suppress(redis.RedisError, errors.DBaaSError):
            with self._replication_client(address, port, admin_password, timeout=2) as client:
                client.execute_command("SHUTDOWN", "NOSAVE", "NOW", "FORCE")

    def member_status(self, address, port, admin_password):
        with self._replication_client(address, port, admin_password) as client:
            info = client.execute_command("CLUSTER", "INFO")
            if isinstance(info, str):
                info = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
            return dict(info)

    def _replication_account(self, client, admin_password):
        client.execute_command("ACL", "SETUSER", self.replication_user, "reset",
                               f"#{_sha256(self.replication_password(admin_password))}", *self.REPLICATION_RULES)
        client.execute_command("ACL", "SAVE")

    def _replicate(self, client, primary, port, admin_password):
        with self._replication_client(primary, port, admin_password) as master:
            master_id = master.execute_command("CLUSTER", "MYID")
        deadline = time.monotonic() + self.CLUSTER_TIMEOUT
        while True:   # the node must know the master first (gossip after MEET)
            try:
                client.execute_command("CLUSTER", "REPLICATE", master_id)
                break
            except redis.ResponseError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        while client.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise errors.DBaaSError(f"The Redis Cluster replica did not link to {primary} within "
                                        f"{self.CLUSTER_TIMEOUT:.0f} s.")
            time.sleep(0.05)

    @staticmethod
    def _nodes(client):
        """CLUSTER NODES as {id: {"address", "flags", "master", "slots"}}."""
        found = {}
        for line in client.execute_command("CLUSTER", "NODES").splitlines():
            fields = line.split()
            if len(fields) < 8:
                continue
            found[fields[0]] = {"address": fields[1].split("@")[0].rsplit(":", 1)[0], "flags": fields[2],
                                "master": fields[3], "slots": fields[8:]}
        return found

    def _wait_cluster(self, address, port, admin_password, members=None, peers=(), forgotten=None, covered=True):
        """Until the node says the cluster is ok (unless not ``covered`` yet: a new cluster's
        masters before the last), knows ``members`` nodes (and every one of ``peers`` knows it
        too), or no longer knows ``forgotten``."""
        deadline = time.monotonic() + self.CLUSTER_TIMEOUT
        state = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError, errors.DBaaSError):
                with self._replication_client(address, port, admin_password, timeout=2) as client:
                    state = self.member_status(address, port, admin_password)
                    nodes = self._nodes(client)
                    done = state.get("cluster_state") == "ok" or not covered
                    if members is not None:
                        done = done and len(nodes) >= members and all(
                            "handshake" not in node["flags"] for node in nodes.values())
                    if forgotten is not None:
                        done = done and forgotten not in nodes
                    for peer in peers if done else ():
                        with self._replication_client(peer, port, admin_password, timeout=2) as other:
                            done = done and address in {n["address"] for n in self._nodes(other).values()}
                    if done:
                        return
            time.sleep(0.05)
        raise errors.DBaaSError(f"The Redis Cluster at {address} did not settle within {self.CLUSTER_TIMEOUT:.0f} s "
                                f"(state: {state.get('cluster_state', 'unknown')}).")

    def _cli(self, admin_password, *args):
        """redis-cli with the password in its environment; its output only in the error."""
        completed = subprocess.run([self.cli_bin, *args], env={"REDISCLI_AUTH": admin_password, "PATH": "/usr/bin:/bin"},
                                   stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=self.CLUSTER_TIMEOUT * 2)
        if completed.returncode != 0 or "[ERR]" in completed.stdout:
            output = (completed.stdout + completed.stderr).replace(admin_password, "******")
            raise errors.DBaaSError(f"redis-cli {' '.join(args[:2])} failed: {output.strip()[-500:]}")
        return completed.stdout


class _RdbStream:
    """SYNC without 'capa eof', so the master sends a snapshot from disk with its length
    first. (redis-cli --rdb - cannot truncate stdout, so after a diskless transfer it leaves
    the 40-byte end marker in the stream.) The password is sent as AUTH's argument only."""

    def __init__(self, host, port, password, timeout=60):
        self.host, self.port, self.password, self.timeout = host, port, password, timeout
        self.position = {}

    def __iter__(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=10) as sock:
                sock.settimeout(self.timeout)
                reader = sock.makefile("rb")
                for command in (("AUTH", self.password), ("REPLCONF", "rdb-only", "1")):
                    sock.sendall(_resp(command))
                    answer = reader.readline()
                    if not answer.startswith(b"+"):
                        raise errors.DBaaSError(f"Redis refused {command[0]}: {_line(answer)}")
                sock.sendall(_resp(("SYNC",)))
                header = b"\n"
                while header in (b"\n", b"\r\n"):   # newlines keep the link while the snapshot is written
                    header = reader.readline()
                if not header.startswith(b"$") or header.startswith(b"$EOF:"):
                    raise errors.DBaaSError(f"Redis answered SYNC with {_line(header)}")
                remaining = int(header[1:])
                while remaining:
                    chunk = reader.read(min(1 << 20, remaining))
                    if not chunk:
                        raise errors.DBaaSError("Redis closed the connection in the middle of its snapshot.")
                    remaining -= len(chunk)
                    yield chunk
        except OSError as exc:
            raise errors.DBaaSError(f"Redis snapshot from {self.host}:{self.port} failed: {exc}") from None


def _resp(args):
    """A command in the Redis protocol (RESP)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode("utf-8")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _line(raw):
    return raw.decode("utf-8", "replace").strip()[:200] or "nothing"


class RedisSession(AdminSession):
    """Users are ACL users (``ACL SETUSER name reset on >password`` + USER_RULES), saved to
    the ACL file after every change so they survive a restart. Redis has no databases to
    grant: those calls raise errors.NotImplementedYet."""

    create_database = drop_database = list_databases = AdminSession._no_databases
    grant = revoke = list_user_databases = AdminSession._no_databases
    enable_root = disable_root = AdminSession._no_root

    def __init__(self, datastore, client):
        super().__init__(datastore)
        self.client = client

    def _command(self, *args):
        try:
            return self.client.execute_command(*args)
        except redis.RedisError as exc:
            raise errors.DBaaSError(f"Redis: {exc}") from None

    def _exists(self, name):
        return self._command("ACL", "GETUSER", name) is not None

    def ping(self):
        return bool(self._command("PING"))

    def create_user(self, spec):
        ds = self.datastore
        ds.validate_user_name(spec.name)
        ds.validate_password(spec.password)
        ds.validate_host(spec.host)
        if spec.databases:
            raise errors.NotImplementedYet("Redis has no databases: a user cannot be granted any.")
        if self._exists(spec.name):
            raise errors.Conflict(f"User '{spec.name}' already exists.")
        self._command("ACL", "SETUSER", spec.name, "reset", f"#{_sha256(spec.password)}",
                      *self.datastore.USER_RULES)
        self._command("ACL", "SAVE")

    def drop_user(self, name, host="%"):
        """ACL DELUSER also disconnects the user's clients."""
        self.datastore.validate_user_name(name)
        self.datastore.validate_host(host)
        if not self._command("ACL", "DELUSER", name):
            raise errors.NotFound(f"User '{name}' does not exist.")
        self._command("ACL", "SAVE")

    def set_password(self, name, password, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_password(password)
        self.datastore.validate_host(host)
        if not self._exists(name):
            raise errors.NotFound(f"User '{name}' does not exist.")
        self._command("ACL", "SETUSER", name, "resetpass", f"#{_sha256(password)}")
        self._command("ACL", "SAVE")

    def rename_user(self, name, host, new_name, new_host, password):
        """Redis cannot rename an ACL user: the same rules and password under the new name,
        then the old one goes (its clients are disconnected). Keys belong to no user."""
        self._check_accounts((name, host), (new_name, new_host))
        if not self._exists(name):
            raise errors.NotFound(f"User '{name}' does not exist.")
        if self._exists(new_name):
            raise errors.Conflict(f"User '{new_name}' already exists.")
        self._command("ACL", "SETUSER", new_name, "reset", f"#{_sha256(password)}", *self.datastore.USER_RULES)
        self._command("ACL", "DELUSER", name)
        self._command("ACL", "SAVE")

    def list_users(self):
        return [{"name": name, "host": "%", "databases": []}
                for name in sorted(self._command("ACL", "USERS"))
                if name not in (self.datastore.admin_user, self.datastore.replication_user)]

    def apply_configuration(self, version, flavor, values, previous):
        """CONFIG SET what the running server can change (the driver's override file keeps
        the values for the next start); a value no longer given goes back to the instance's
        own setting, else to Redis's default."""
        values = self.datastore.validate_configuration(version, values)  # only known names and values
        rules = self.datastore.parameters(version)
        for name in sorted(set(previous) - set(values)):
            if name in rules and not rules[name].restart_required:
                self._command("CONFIG", "SET", name, _wire(self.datastore.baseline(version, flavor, name)))
        for name, value in sorted(values.items()):
            if not rules[name].restart_required:
                self._command("CONFIG", "SET", name, _wire(value))


def _wire(value):
    """A value as CONFIG SET and redis.conf read it: booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _conf_value(value):
    """Strings in double quotes (an empty one must still be an argument); a configuration's
    strings hold no quotes or backslashes (allowed values or a pattern without them)."""
    return f'"{value}"' if isinstance(value, str) else _wire(value)


def _sha256(password):
    """The form Redis keeps passwords in (ACL '#<hex>'); sent this way the password itself
    never reaches the server or its ACL file."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()
