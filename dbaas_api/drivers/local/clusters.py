"""Cluster members on the local driver.

A member is an instance whose config includes the datastore's cluster file (written
from its ``membership``, see Datastore.cluster_files), recorded in membership.json so
that a later change of its peers can rewrite it. The datastore joins and leaves.
Members take addresses from 127.0.MEMBER_BAND.1 up: a joining Galera member binds its
port only after its state transfer, so for seconds its address looks free to servers of
another state dir (which do not see our claims), and the single servers those make
churn through the lowest addresses.
"""
from dbaas_api import datastores
from dbaas_api.datastores.base import Paths
from dbaas_api.drivers.local.layout import flock, read_json


class ClusterSteps:
    """The cluster part of LocalDriver (which gives it start, is_running, keys, _record)."""

    def set_membership(self, key, membership):
        """Rewrite a member's cluster file (its peers changed): read at its next start."""
        home = self._existing_home(key)
        with flock(home / ".lock"):
            record = self._record(home)
            self._write_membership(datastores.get(record["datastore"]), Paths(home), record["address"], membership)

    def membership(self, key):
        return read_json(self._home(key) / "membership.json")

    def _member_restart(self, key, ds, paths):
        """Before a stopped member starts again: it may join any member of its cluster in this
        state dir (its cluster file lists them all). When none of them runs, the one that can
        start the cluster alone (Galera: the last to leave) starts first, this one included."""
        membership = self.membership(key)
        if membership is None:
            return ()
        siblings = [other for other in self.keys()
                    if other != key and (self.membership(other) or {}).get("cluster") == membership["cluster"]]
        records = [record for record in (self._record(self._home(other)) for other in siblings) if record]
        self._write_membership(ds, paths, self._record(paths.home)["address"],
                               dict(membership, peers=[record["address"] for record in records]))
        if any(self.is_running(other) for other in siblings):
            return ()
        if ds.can_start_cluster(paths):
            return tuple(ds.member_start_args(dict(membership, peers=[])))
        for other in siblings:
            if ds.can_start_cluster(Paths(self._home(other))):
                self.start(other)
                break
        return ()
