"""Replication: replicas are instances of their own, and role changes are stack updates.

A replica is an instance (its own stack, its own id) made with ``replica_of``: its stack is
the source's datastore and version rendered in the ``replica`` topology (its admin secret is
copied from the source's stack inside the engine, never a parameter) with the server's
``replica_of`` set to the source's id, and tagged ``replica_of:<source id>``, so a source's
replicas are one tag-filtered stack list. Which server follows which is a stack parameter;
changing it is a stack update through service/changes.py like every change:

- promote_to_replica_source (switchover, the source alive): the chosen replica's server
  fences the old primary, waits until it has replayed everything the old primary wrote,
  then takes writes (``replica_fence``); the old primary and the other replicas are
  updated to follow it (their servers wait until it takes writes).
- eject_replica_source (failover, the source dead; asked of the source as in Trove, or of
  one of its replicas): the most advanced replica (positions read live from each stack's
  ``replication`` output) takes writes at once; the others follow it. The dead source's
  stack is left alone, out of the set: delete it.
- detach (``PUT replica_of: null``): the replica takes writes at once, standalone.

Which server is alive and how far it has replayed is the servers' own answer, read through
the ``replication`` output (the engine's plugin asks the server on every stack show): the
API never talks to a database itself. See docs/replication.md.
"""
from dataclasses import replace

from dbaas_api import datastores, errors, records, status
from dbaas_api.service import catalog
from dbaas_api.service.changes import Change

PROMOTE, EJECT, DETACH = "PROMOTE", "EJECT", "DETACH"
MAX_REPLICAS = 5   # per source; Trove's max_replicas_per_master is 3
ALL = 100          # stacks per Heat call when every replica of a source is needed
PRIMARY, REPLICA, UNREACHABLE = "primary", "replica", "unreachable"
# Create fields that make no sense for a replica: it has its source's data and accounts.
NOT_FOR_REPLICAS = ("databases", "users", "restorePoint")


class Replication:
    def __init__(self, gateway, changes, specs):
        self.gateway = gateway
        self.changes = changes   # the one InstanceChanges: every role change is a change
        self.create_specs = specs   # service/specs.py: a replica's spec is a create's, checked

    # ---- create --------------------------------------------------------------------------

    def specs(self, project_id, body):
        """The InstanceSpecs of the ``replica_count`` replicas ``body`` asks for, checked."""
        source_id = body["replica_of"]
        if not isinstance(source_id, str):
            raise errors.BadRequest("replica_of must be the id of an instance.")
        source_id = source_id.rstrip("/").rsplit("/", 1)[-1]   # an id or a link, as for flavors
        try:
            stack = records.stack.owned(self.gateway, project_id, source_id, records.instance.TAGS)
        except errors.NotFound as exc:
            raise errors.BadRequest(f"replica_of: {exc.message}") from None
        source = records.instance.spec_from_stack(stack)
        if source.replica_of:
            raise errors.BadRequest(f"replica_of: instance '{source_id}' is itself a replica (of "
                                    f"'{source.replica_of}'); make replicas of that one.")
        if stack.get("stack_status") not in records.stack.CHANGEABLE:
            raise errors.Conflict(f"replica_of: instance '{source_id}' is "
                                  f"{_shown_status(stack)}"
                                  "; replicas are made of an ACTIVE instance.")
        datastore = datastores.get(source.datastore)
        if not datastore.supports_replication:
            raise errors.NotImplementedYet(f"Replicas of {datastore.title} instances are not supported yet.")
        for field in NOT_FOR_REPLICAS:
            if body.get(field):
                raise errors.BadRequest(f"{field}: a replica has its source's data and accounts; remove it.")
        self._same_datastore(body.get("datastore") or {}, source)
        count = body.get("replica_count", 1)
        if not isinstance(count, int) or count < 1:
            raise errors.BadRequest("replica_count must be 1 or more.")
        existing = len(self.replica_ids(project_id, source_id))
        if existing + count > MAX_REPLICAS:
            raise errors.BadRequest(f"replica_count: instance '{source_id}' has {existing} replicas; at most "
                                    f"{MAX_REPLICAS} are allowed per source.")
        flavor = source.flavor if body.get("flavorRef") is None and body.get("flavor") is None else None
        volume = body.get("volume") or {"size": source.volume_size}
        spec = self.create_specs.instance(project_id, {
            **{k: v for k, v in body.items() if k not in ("replica_of", "replica_count")},
            "datastore": {"type": source.datastore, "version": source.version},
            **({"flavorRef": flavor.id} if flavor else {}), "volume": volume})
        datastore.check_replica_flavor(source.flavor, spec.flavor)
        if spec.volume_size < source.volume_size:
            raise errors.BadRequest(f"volume.size: the replica needs at least the source's "
                                    f"{source.volume_size} GB.")
        spec = replace(spec, replica_of=stack["id"], replica_seed=stack["id"])
        names = [spec.name] if count == 1 else [f"{spec.name}-{index}" for index in range(1, count + 1)]
        return [replace(spec, name=name) for name in names]

    @staticmethod
    def _same_datastore(requested, source):
        try:
            datastore = catalog.find_datastore(requested.get("type")) if requested.get("type") else None
        except errors.NotFound as exc:
            raise errors.BadRequest(exc.message) from None
        version = requested.get("version") or requested.get("version_number")
        if (datastore and datastore.name != source.datastore) or (version and version != source.version):
            raise errors.BadRequest(f"datastore: a replica runs its source's {source.datastore} {source.version}.")

    # ---- reading the set -----------------------------------------------------------------

    def replica_ids(self, project_id, source_id):
        """The ids of the instances that follow ``source_id`` (one Heat call)."""
        return replica_ids(self.gateway, project_id, source_id)

    def live(self, project_id, instance_id):
        """What the instance's server says now: {"role", "position"} from its stack's
        ``replication`` output (read live by the engine's plugin), or role unreachable."""
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS,
                                    resolve_outputs=True)
        return stack, live_state(stack)

    def smaller_replicas(self, project_id, source_id, size):
        """{id: volume size} of the source's replicas with a volume under ``size`` GB (to
        grow with it); 409 when one of them cannot be changed now."""
        replicas = self.replica_ids(project_id, source_id)
        self._settled(project_id, replicas)
        sizes = {rid: records.instance.spec_from_stack(records.stack.owned(
            self.gateway, project_id, rid, records.instance.TAGS)).volume_size for rid in replicas}
        return {rid: have for rid, have in sizes.items() if have < size}

    def refuse_delete_with_replicas(self, project_id, instance_id):
        replicas = self.replica_ids(project_id, instance_id)
        if replicas:
            raise errors.BadRequest(f"Instance '{instance_id}' is the source of {len(replicas)} replica(s) "
                                    f"({', '.join(replicas)}): detach or delete them first.")

    # ---- role changes --------------------------------------------------------------------

    def promote(self, project_id, instance_id):
        """Switchover: ``instance_id`` (a replica) takes writes; its source and siblings follow it."""
        replica = self._replica(project_id, instance_id, "promote_to_replica_source")
        source_id = replica.spec.replica_of
        try:
            source_stack, source_state = self.live(project_id, source_id)
        except errors.NotFound:
            raise errors.Conflict(f"The source '{source_id}' of instance '{instance_id}' is gone: use "
                                  "eject_replica_source.") from None
        if source_state["role"] != PRIMARY:
            raise errors.Conflict(f"The source '{source_id}' of instance '{instance_id}' is not answering as a "
                                  "primary: use eject_replica_source to fail over.")
        siblings = [rid for rid in self.replica_ids(project_id, source_id) if rid != instance_id]
        self._settled(project_id, [source_id] + siblings)
        self._apply(project_id, instance_id, PROMOTE, replica_of=None, fence=source_id, carry=source_id)
        for follower in [source_id] + siblings:
            self._apply(project_id, follower, PROMOTE, replica_of=instance_id)

    def eject(self, project_id, instance_id):
        """Failover. Asked of the dead source, as Trove does, or of one of its replicas:
        the most advanced replica takes writes and the others follow it. The dead source is
        left out of the set. Returns the new primary's id."""
        current = self.changes.read(project_id, instance_id)
        if current.spec.replica_of:
            source_id, preferred = current.spec.replica_of, instance_id
        elif self.replica_ids(project_id, instance_id):
            source_id, preferred = instance_id, None
        else:
            raise errors.BadRequest(f"eject_replica_source: instance '{instance_id}' is neither a replica "
                                    "source nor a replica.")
        try:
            _, source_state = self.live(project_id, source_id)
        except errors.NotFound:
            source_state = {"role": UNREACHABLE}
        if source_state["role"] != UNREACHABLE:
            # 400 as in Trove (a request that cannot be right now, not a transient conflict).
            raise errors.BadRequest(f"The replica source '{source_id}' is alive: use promote_to_replica_source on "
                                  "one of its replicas for a switchover.")
        members = sorted(self.replica_ids(project_id, source_id), key=lambda member: member != preferred)
        self._settled(project_id, members)
        positions = {}
        for member in members:
            _, state = self.live(project_id, member)
            if state["role"] == REPLICA and isinstance(state.get("position"), int):
                positions[member] = state["position"]
        if not positions:
            raise errors.Conflict(f"No replica of '{source_id}' is answering: nothing to promote.")
        # The most advanced; the one asked on a tie (max keeps the first of equals).
        winner = max(positions, key=lambda member: positions[member])
        self._apply(project_id, winner, EJECT, replica_of=None, fence=None, carry=source_id)
        for follower in members:
            if follower != winner:
                self._apply(project_id, follower, EJECT, replica_of=winner)
        return winner

    def detach_change(self, current):
        """The Change that makes the replica ``current`` a standalone instance."""
        if not current.spec.replica_of:
            raise errors.BadRequest(f"replica_of: instance '{current.id}' is not a replica.")
        spec = self._carried(current.spec, current.spec.replica_of)
        return Change(replace(spec, replica_of=None, replica_fence=None), operation=DETACH)

    def _replica(self, project_id, instance_id, action):
        current = self.changes.read(project_id, instance_id)
        if not current.spec.replica_of:
            raise errors.BadRequest(f"{action}: instance '{instance_id}' is not a replica.")
        return current

    def _settled(self, project_id, instance_ids):
        """Refuse before changing anything when an instance of the set is busy or broken."""
        for other in instance_ids:
            stack = records.stack.owned(self.gateway, project_id, other, records.instance.TAGS)
            if stack.get("stack_status") not in records.stack.CHANGEABLE:
                shown = _shown_status(stack)
                raise errors.Conflict(f"Instance '{other}' of the replication set is {shown}; try again "
                                      "when it is ACTIVE.")

    def _apply(self, project_id, instance_id, operation, replica_of, fence=None, carry=None):
        """``carry``: the source whose databases and users the instance takes over as it
        stops following it."""
        def change(current):
            spec = self._carried(current.spec, carry) if carry else current.spec
            return Change(replace(spec, replica_of=replica_of, replica_fence=fence), operation=operation)
        self.changes.apply(project_id, instance_id, change)

    def _carried(self, spec, source_id):
        """``spec`` with its source's databases and users as its own: its server has them
        (replicated), and from now on it is the record of them. Its stack makes a resource
        for each that keeps what the server has (a user keeps its password: none is sent).
        What its own record had stays in it: nothing of a record is dropped here."""
        if not datastores.get(spec.datastore).replicates_accounts:
            return spec
        try:
            source = records.instance.spec_from_stack(
                records.stack.owned(self.gateway, spec.project_id, source_id, records.instance.TAGS))
        except errors.NotFound:
            return spec
        have = {(user.name, user.host) for user in spec.users}
        users = tuple(replace(user, password=None, key=None)   # a key of its own stack's
                      for user in source.users if (user.name, user.host) not in have)
        databases = tuple(name for name in source.databases if name not in spec.databases)
        options = {name: source.database_options[name] for name in databases if name in source.database_options}
        return replace(spec, databases=tuple(sorted(spec.databases + databases)),
                       database_options={**spec.database_options, **options},
                       users=tuple(sorted(spec.users + users, key=lambda user: (user.name, user.host))))


def replica_ids(gateway, project_id, source_id):
    """The ids of the instances that follow ``source_id`` (one Heat call)."""
    stacks = gateway.list_stacks(tags=records.instance.replicas(project_id, source_id), limit=ALL)
    return tuple(stack["id"] for stack in stacks if not status.is_gone(stack.get("stack_status")))


def check_flavor_change(gateway, current, spec):
    """A resize keeps every follower able to follow (PostgreSQL: a replica's connections
    at least its source's): checked against the source of a replica and the replicas of
    a source, only when the flavor changes. One of the rules every change passes
    (InstanceChanges.checks, given by create_app)."""
    if spec.flavor == current.spec.flavor:
        return
    datastore = datastores.get(spec.datastore)
    if current.spec.replica_of:
        try:
            source = records.instance.spec_from_stack(records.stack.owned(
                gateway, spec.project_id, current.spec.replica_of, records.instance.TAGS))
        except errors.NotFound:
            return
        datastore.check_replica_flavor(source.flavor, spec.flavor)
    for replica in replica_ids(gateway, spec.project_id, current.id):
        follower = records.instance.spec_from_stack(
            records.stack.owned(gateway, spec.project_id, replica, records.instance.TAGS))
        try:
            datastore.check_replica_flavor(spec.flavor, follower.flavor)
        except errors.BadRequest as exc:
            raise errors.BadRequest(f"{exc.message} Resize replica '{replica}' first.") from None


def _shown_status(stack):
    return status.instance_status(stack.get("stack_status"), records.instance.TAGS.decode(stack.get("tags")))


def live_state(stack):
    """The ``replication`` output of a stack read with its outputs."""
    value = records.stack.outputs(stack).get("replication")
    return value if isinstance(value, dict) and value.get("role") in (PRIMARY, REPLICA) else {"role": UNREACHABLE}
