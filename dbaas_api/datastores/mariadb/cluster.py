"""MariaDB Galera clusters."""
import contextlib
import hashlib

import pymysql

from dbaas_api import errors
from dbaas_api.datastores.base import Clustering
from dbaas_api.datastores.mariadb.client import Client
from dbaas_api.waiting import TimedOut, poll_until


class MariaDBCluster(Client, Clustering):
    # Every member is a primary (synchronous multi-master, galera-4 from Debian). The first
    # member starts the cluster (--wsrep-new-cluster); each later one joins through the
    # members made before it and receives the data by rsync SST (no account or password is
    # needed for it, unlike mariadb-backup SST, whose credentials would have to sit in a
    # config file). Galera's group, IST and SST ports listen on the member's own address.

    cluster_kind = "galera"
    min_cluster_members = 3       # a majority survives the loss of any one member
    cluster_roles = ("member",)
    cluster_file = "cluster.cnf"
    galera_provider = "/usr/lib/galera/libgalera_smm.so"
    GALERA_PORTS = {"group": 4567, "ist": 4568, "sst": 4444}

    def plan_cluster(self, requested):
        self._members_only(requested)
        if len(requested) < self.min_cluster_members:
            raise errors.BadRequest(f"A Galera cluster needs at least {self.min_cluster_members} instances "
                                    f"(a majority must survive the loss of one); {len(requested)} given.")
        return [("member", None)] * len(requested)

    def plan_growth(self, roles, requested):
        self._members_only(requested)
        return [("member", None)] * len(requested)

    def plan_shrink(self, roles, follows, removed):
        left = len(roles) - len(set(removed))
        if left < self.min_cluster_members:
            raise errors.BadRequest(f"A Galera cluster keeps at least {self.min_cluster_members} instances; "
                                    f"removing {len(set(removed))} of {len(roles)} would leave {left}.")
        return list(follows)

    @staticmethod
    def _members_only(requested):
        for role in requested:
            if role not in (None, "member"):
                raise errors.BadRequest(f"Galera members are all equal: instance type '{role}' is not known "
                                        "(leave 'type' out or use 'member').")

    def cluster_files(self, paths, address, membership):
        ports = self.GALERA_PORTS
        peers = ",".join(membership["peers"])
        provider_options = "; ".join((
            f"gmcast.listen_addr=tcp://{address}:{ports['group']}", f"ist.recv_addr={address}:{ports['ist']}",
            "gcache.size=16M",             # the default 128 MB file per member is too big for tests
            "evs.suspect_timeout=PT5S", "evs.inactive_timeout=PT10S"))
        settings = {
            "wsrep_on": "ON",
            "wsrep_provider": self.galera_provider,
            # gcomm takes group names of at most 31 bytes (a longer one fails every handshake).
            "wsrep_cluster_name": "dbaas-" + hashlib.sha256(membership["cluster"].encode()).hexdigest()[:24],
            "wsrep_cluster_address": f"gcomm://{peers}",
            "wsrep_node_address": f"{address}:{ports['group']}",
            "wsrep_node_name": address,
            "wsrep_sst_method": "rsync",
            "wsrep_sst_receive_address": f"{address}:{ports['sst']}",
            "wsrep_provider_options": f'"{provider_options}"',
            "wsrep_slave_threads": 2,
            "innodb_autoinc_lock_mode": 2,    # Galera needs interleaved auto-increment locks
            "log_slave_updates": "ON",
            "gtid-strict-mode": "OFF",        # Galera orders writes itself
        }
        lines = ["# A Galera member; written by heat-dbaas (no secrets).", "[mariadbd]"]
        lines += [f"{name} = {value}" for name, value in settings.items()]
        return {self.cluster_file: "\n".join(lines) + "\n"}

    def member_initialises(self, membership):
        """Only the first member: the others receive the whole data directory (accounts
        included) from a donor when they join."""
        return not membership["peers"]

    def can_start_cluster(self, paths):
        """Galera marks the member that left a cluster last (it has every write) safe to
        bootstrap in grastate.dat."""
        try:
            return "safe_to_bootstrap: 1" in (paths.data / "grastate.dat").read_text()
        except OSError:
            return False

    def forget_member_state(self, paths):
        """Galera's saved view and state (its primary component, as the old address saw it)."""
        for name in ("gvwstate.dat", "grastate.dat"):
            (paths.data / name).unlink(missing_ok=True)

    def member_start_args(self, membership):
        return [] if membership["peers"] else ["--wsrep-new-cluster"]

    def member_status(self, address, port, admin_password):
        with contextlib.closing(self.connect(address, port, admin_password)) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SHOW GLOBAL STATUS WHERE Variable_name IN "
                               "('wsrep_cluster_size', 'wsrep_local_state_comment', 'wsrep_cluster_status', "
                               "'wsrep_ready')")
                return dict(cursor.fetchall())

    def join_cluster(self, address, port, admin_password, membership, timeout=120):
        """Done when the member says it is Synced with a primary component."""
        seen = {}   # what it said last (a refused connection in between says nothing new)

        def status():
            status = self.member_status(address, port, admin_password)
            seen.clear()
            seen.update(status)
            return status
        try:
            poll_until(status, until=lambda state: (state.get("wsrep_local_state_comment") == "Synced"
                                                     and state.get("wsrep_cluster_status") == "Primary"),
                       timeout=timeout, interval=0.1, retry=(pymysql.MySQLError, OSError))
        except TimedOut:
            raise errors.DBaaSError(f"The Galera member at {address} did not sync within {timeout} s "
                                    f"(state: {seen.get('wsrep_local_state_comment', 'unknown')}).") from None

    def leave_cluster(self, address, port, admin_password, membership, others):
        """A clean shutdown is how a Galera member leaves: the others see it go and the
        cluster's size drops by one (the driver stops it with its stop signal)."""

