"""Redis Cluster."""
import contextlib
import subprocess
import time

import redis

from dbaas_api import errors
from dbaas_api.datastores.base import Clustering
from dbaas_api.datastores.redis.client import Client
from dbaas_api.waiting import TimedOut, poll_until


class RedisCluster(Client, Clustering):
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

    def _replicate(self, client, primary, port, admin_password):
        with self._replication_client(primary, port, admin_password) as master:
            master_id = master.execute_command("CLUSTER", "MYID")
        deadline = time.monotonic() + self.CLUSTER_TIMEOUT
        try:   # the node must know the master first (gossip after MEET)
            poll_until(lambda: client.execute_command("CLUSTER", "REPLICATE", master_id), until=lambda _: True,
                       timeout=self.CLUSTER_TIMEOUT, interval=0.1, retry=(redis.ResponseError,))
        except TimedOut as exc:
            raise exc.last from None   # the node's own refusal
        try:
            poll_until(lambda: client.info("replication").get("master_link_status") == "up",
                       timeout=deadline - time.monotonic(), interval=0.05)
        except TimedOut:
            raise errors.DBaaSError(f"The Redis Cluster replica did not link to {primary} within "
                                    f"{self.CLUSTER_TIMEOUT:.0f} s.") from None

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
        state = {}   # what the node said last

        def settled():
            with self._replication_client(address, port, admin_password, timeout=2) as client:
                status = self.member_status(address, port, admin_password)
                state.clear()
                state.update(status)
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
                return done
        try:
            poll_until(settled, timeout=self.CLUSTER_TIMEOUT, interval=0.05,
                       retry=(redis.RedisError, errors.DBaaSError))
        except TimedOut:
            timeout = f"{self.CLUSTER_TIMEOUT:.0f} s"
            raise errors.DBaaSError(f"The Redis Cluster at {address} did not settle within {timeout} "
                                    f"(state: {state.get('cluster_state', 'unknown')}).") from None

    def _cli(self, admin_password, *args):
        """redis-cli with the password in its environment; its output only in the error."""
        completed = subprocess.run([self.cli_bin, *args],
                                   env={"REDISCLI_AUTH": admin_password, "PATH": "/usr/bin:/bin"},
                                   stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=self.CLUSTER_TIMEOUT * 2)
        if completed.returncode != 0 or "[ERR]" in completed.stdout:
            output = (completed.stdout + completed.stderr).replace(admin_password, "******")
            raise errors.DBaaSError(f"redis-cli {' '.join(args[:2])} failed: {output.strip()[-500:]}")
        return completed.stdout

