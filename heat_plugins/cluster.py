"""DBaaS::Local::ClusterMember: one member of a cluster, as a local process.

The cluster templates (``templates/<datastore>/cluster.yaml.j2``) use the logical
``DBaaS::ClusterMember``; the environment maps it here. A member is a ``DBaaS::Local::Server``
with a membership (see ``Datastore.cluster_files``): which cluster, its role, the addresses
of the members made before it (its peers, through which it joins) and, for a replica, the
address of the member it follows. The datastore module says what joining and leaving mean
(Galera: start with the peers in gcomm://, wait until Synced; Redis Cluster: meet, take a
share of the slots or follow a master); this plugin only calls it at the right moments:

- create: make the server with its membership, then ``join_cluster`` (one step of the
  driver's, as LocalServer's create);
- update: new peers (a member before it was removed) are written for its next start;
- delete of one member while the cluster stays (a shrink): ``leave_cluster`` first, handing
  its data to the members that stay, then the server goes; when the whole stack is deleted
  the servers just go.
"""
from heat.common import exception
from heat.common.i18n import _
from heat.engine import constraints, properties

from dbaas_api import datastores
from heat_plugins.failures import resource_in_error
from heat_plugins.local_server import LocalServer


class LocalClusterMember(LocalServer):
    """A cluster member running as a local process; CREATE_COMPLETE once it has joined."""

    MEMBER_PROPERTIES = (CLUSTER, ROLE, PEERS, PRIMARY, SHARE) = ("cluster", "role", "peers", "primary", "share")

    properties_schema = dict(LocalServer.properties_schema, **{
        CLUSTER: properties.Schema(
            properties.Schema.STRING,
            _("The cluster's name (letters, digits, '-'): every member of one cluster has the same."),
            required=True,
            constraints=[constraints.AllowedPattern(r"^[A-Za-z0-9-]{1,64}$")],
        ),
        ROLE: properties.Schema(
            properties.Schema.STRING,
            _("The member's role, one of its datastore's cluster roles (Galera: member; "
              "Redis Cluster: master or replica)."),
            required=True,
        ),
        PEERS: properties.Schema(
            properties.Schema.LIST,
            _("Addresses of the members made before this one: it joins through them. Empty "
              "for the member that starts the cluster. Changes in place (for its next start)."),
            default=[],
            update_allowed=True,
        ),
        PRIMARY: properties.Schema(
            properties.Schema.STRING,
            _("For a replica: the address of the member it follows."),
            default="",
            update_allowed=True,
        ),
    })

    properties_schema[SHARE] = properties.Schema(
        properties.Schema.LIST,
        _("The member's part of the data when the cluster is made (Redis Cluster: its first and "
          "last hash slot); empty for a member that joins a working cluster. Used at create only."),
        default=[],
        update_allowed=True,
    )

    def validate(self):
        super().validate()
        datastore = datastores.get(self.properties[self.DATASTORE])
        if not datastore.cluster_kind:
            raise exception.StackValidationFailed(message=_("%s has no clusters") % datastore.title)
        if self.properties[self.ROLE] not in datastore.cluster_roles:
            raise exception.StackValidationFailed(message=_("Unknown %(ds)s cluster role %(role)s") % {
                "ds": datastore.title, "role": self.properties[self.ROLE]})

    def _membership(self, peers=None, primary=None):
        return {"cluster": self.properties[self.CLUSTER], "role": self.properties[self.ROLE],
                "peers": [str(p) for p in (self.properties[self.PEERS] if peers is None else peers)],
                "primary": (self.properties[self.PRIMARY] if primary is None else primary) or None,
                "share": [int(n) for n in self.properties[self.SHARE]]}

    def handle_create(self):
        """Create the server and join the cluster: one step, for check_create_complete."""
        key = self.physical_resource_name()
        self.resource_id_set(key)   # before anything exists, so that delete can always find it
        spec = dict(self._spec(), owner=dict(self._owner(), cluster=self.properties[self.CLUSTER]),
                    membership=self._membership(), restore=None, replica_of=None, band=None, fixed_ip=None,
                    allowed_cidrs=())
        return self._step([("create", {"spec": spec}), ("join_cluster", {"membership": self._membership()})])

    def _update_calls(self, prop_diff):
        calls = super()._update_calls(prop_diff)
        if self.PEERS in prop_diff or self.PRIMARY in prop_diff:
            membership = self._membership(prop_diff.get(self.PEERS), prop_diff.get(self.PRIMARY))
            calls.append(("set_membership", {"membership": membership}))
            if self.PRIMARY in prop_diff:
                calls.append(("follow_primary", {"membership": membership}))
        return calls

    def handle_delete(self):
        if not self.resource_id:
            return
        driver = self.driver()
        instance = driver.get(self.resource_id)
        if instance is not None and instance.pid is not None and self.stack.action != self.stack.DELETE:
            # A shrink: the cluster stays, so leave it cleanly before the server goes.
            with resource_in_error():
                datastores.get(instance.datastore).leave_cluster(
                    instance.address, instance.port, self.properties[self.ADMIN_PASSWORD],
                    driver.membership(self.resource_id) or self._membership(), self._others(driver))
        driver.destroy(self.resource_id)  # tolerates "already gone"

    def _others(self, driver):
        """Addresses of this cluster's other running members, in creation order."""
        found = []
        for resource in sorted(self.stack.values(), key=lambda r: r.name):
            if (resource is not self and isinstance(resource, LocalClusterMember) and resource.resource_id
                    and resource.action != resource.DELETE):
                other = driver.get(resource.resource_id)
                if other is not None and other.pid is not None:
                    found.append(other.address)
        return found


def resource_mapping():
    return {"DBaaS::Local::ClusterMember": LocalClusterMember}
