"""The cluster role (see service/clusters.py and heat_plugins/cluster.py)."""
from dbaas_api import errors


class Clustering:
    """A datastore whose servers can form one cluster."""

    # A cluster member is a local server with a ``membership``: a dict the renderer and the
    # DBaaS::ClusterMember plugin fill in: {"cluster": a name of safe characters (the stack's
    # id), "role": one of cluster_roles, "peers": [addresses of the members made before it],
    # "primary": the address of the member a replica follows, or None}. The first member of a
    # new cluster has no peers: it starts the cluster.

    cluster_kind = ""             # what a cluster of this datastore is ("" = no clusters)
    min_cluster_members = 0
    cluster_roles = ()            # the roles a member may have, the default one first

    def plan_cluster(self, requested):
        """The members of a new cluster, one per entry of ``requested`` (the role each
        instance asked for, or None), in creation order (a replica after the member it
        follows): [(role, index of the member it follows or None)]. errors.BadRequest when
        they would not make a working cluster."""
        raise errors.BadRequest(f"{self.title} does not support clusters.")

    def initial_shares(self, plan):
        """For each member of a new cluster's plan, its part of the data as a tuple of
        integers (Redis Cluster: the first and last hash slot a master takes), or ()."""
        return [()] * len(plan)

    def plan_growth(self, roles, requested):
        """New members for ``requested`` ([role or None]) joining members with ``roles``
        (in creation order): [(role, index among all members of the one it follows or None)]."""
        raise errors.BadRequest(f"{self.title} does not support clusters.")

    def plan_shrink(self, roles, follows, removed):
        """What is left when the members at indexes ``removed`` go: the new ``follows``
        (index of the member each one follows, or None) for every member, removed ones
        included (ignored). errors.BadRequest when what is left would not be a working cluster."""
        raise errors.BadRequest(f"{self.title} does not support clusters.")

    def cluster_files(self, paths, address, membership):
        """{file name in paths.home: text}: what the config includes for a member (no secrets)."""
        raise errors.BadRequest(f"{self.title} does not support clusters.")

    def member_initialises(self, membership):
        """Whether a new member needs initialise() (False: it receives its data from the cluster)."""
        return True

    def prepare_member(self, paths, runner, admin_password, membership):
        """Before a member's first start: files only its datastore user may read (0600,
        ``runner.write``) that it needs at every start, e.g. how a replica logs in to its master."""

    def member_start_args(self, membership):
        """Extra arguments of a member's first start (the first member starts the cluster)."""
        return []

    def forget_member_state(self, paths):
        """A member that failed its first start moves to another address: drop what it
        recorded about the cluster under the old one."""

    def join_cluster(self, address, port, admin_password, membership):
        """After the member's first start: whatever makes it a working part of the cluster."""

    def can_start_cluster(self, paths):
        """Whether this stopped member may start its cluster alone when no other member runs
        (Galera: it left last). Members that need no such thing (Redis) say False."""
        return False

    def follow_primary(self, address, port, admin_password, membership):
        """A running member's ``primary`` changed (its master is being removed): follow the new one."""

    def leave_cluster(self, address, port, admin_password, membership, others):
        """Before a member that is removed (not the whole cluster) is destroyed: hand its share
        of the data to ``others`` (addresses of the members that stay) and leave cleanly."""

    def member_status(self, address, port, admin_password):
        """What the member says of itself and the cluster, as {name: value} (for tests, docs)."""
        return {}


