"""Clusters: one Heat stack per cluster, its members decided here and looped over by the
template (``templates/cluster.yaml.j2``, or a datastore's own ``<ds>/cluster.yaml.j2``).

No Flask here. The stack is the record: tags (``dbaas-cluster``, project, datastore,
version, name, and ``op:`` while a grow or shrink runs) carry what a list shows, the
``members`` parameter holds every member's key, flavor, volume size, role and place in the
creation order, and the ``members`` output their addresses. The datastore module says which
member lists make a working cluster (``plan_cluster``, ``plan_growth``, ``plan_shrink``);
the DBaaS::ClusterMember plugin and the datastore module join and leave.

Members have ids of their own (Trove shows a cluster's instances with ids): a UUID derived
from the cluster's id and the member's key, so it is stable and needs no Heat call. As in
Trove, members are not instances of their own: they are not in ``GET /instances`` (the
cluster's stack is not tagged as an instance) and ``GET /instances/{member id}`` is 404;
they are shown by ``GET /clusters/{id}`` and ``GET /clusters/{id}/instances/{member id}``.

Grow and shrink re-render the whole template with the new member list and PATCH the stack
(the same update path as instance changes, ``service/changes.py``); a cluster that is busy
(building, growing, shrinking, deleting) answers 409 at once.
"""
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from dbaas_api import datastores, errors, records, status
from dbaas_api.model import ClusterSpec, MemberSpec
from dbaas_api.service import catalog
from dbaas_api.service.quotas import Claim
from dbaas_api.service.specs import flavor_ref

_MEMBER_NAMESPACE = uuid.UUID("0d6c3c52-7a53-5bb8-9d0e-6b8f0c7b1e11")


@dataclass(frozen=True)
class Task:
    """Trove's cluster task (trove/cluster/tasks.py): what the cluster is busy with."""
    id: int
    name: str
    description: str


NONE = Task(1, "NONE", "No tasks for the cluster.")
BUILDING = Task(2, "BUILDING", "Building the initial cluster.")
DELETING = Task(3, "DELETING", "Deleting the cluster.")
GROWING = Task(5, "GROWING_CLUSTER", "Increasing the size of the cluster.")
SHRINKING = Task(6, "SHRINKING_CLUSTER", "Decreasing the size of the cluster.")
_BY_OPERATION = {task.name: task for task in (GROWING, SHRINKING)}
# Trove create/grow fields of an instance we cannot honour: refuse rather than ignore.
_MEMBER_NOT_IMPLEMENTED = {"nics": "Choosing networks", "availability_zone": "Availability zones",
                           "modules": "Modules", "region_name": "Regions", "locality": "Locality"}


@dataclass(frozen=True)
class Member:
    """What the views show of one member."""
    id: str
    key: str
    name: str
    role: str
    status: str
    flavor_id: str
    volume_size: int
    address: str | None = None
    port: int | None = None


@dataclass(frozen=True)
class Cluster:
    id: str
    name: str
    datastore: str
    version: str
    task: Task
    created: str
    updated: str
    members: tuple = ()   # of Member; show only (a list page is read from tags alone)
    fault: str | None = None


def member_id(cluster_id, key):
    """A member's id: stable, derived from its cluster's id and its key."""
    return str(uuid.uuid5(_MEMBER_NAMESPACE, f"{cluster_id}:{key}"))


def new_member_key():
    """Short: it becomes part of the member's directory, and MariaDB's socket path is limited."""
    return f"m{uuid.uuid4().hex[:12]}"


class ClusterService:
    MAX_CLUSTERS = 1000   # a project's clusters searched for a member's id (one Heat call)
    def __init__(self, settings, gateway, renderer, *, quotas, specs):
        self.settings = settings
        self.gateway = gateway
        self.renderer = renderer
        self.quotas = quotas
        self.specs = specs   # a member's flavor and volume are checked as an instance's

    def create(self, project_id, body):
        datastore, version = catalog.requested_datastore(body.get("datastore") or {},
                                                         known=catalog.read(self.gateway))
        if not datastore.cluster_kind:
            raise errors.BadRequest(f"Datastore '{datastore.name}' does not support clusters.")
        requested = body.get("instances") or []
        plan = datastore.plan_cluster([item.get("type") for item in requested])
        members = [replace(member, share=tuple(share)) for member, share in
                   zip(self._members(requested, plan, []), datastore.initial_shares(plan))]
        spec = ClusterSpec(project_id=project_id, name=body["name"], datastore=datastore.name,
                           version=version, members=tuple(members))
        cluster_tags = records.cluster.ClusterTags(project_id=project_id, datastore=spec.datastore, version=version,
                                                   name=spec.name, members=tuple(member.key for member in members))
        with self.quotas.claim(project_id, **held_by(members)) as claim:
            stack_id = self.gateway.create_stack(name=f"dbaas-c-{uuid.uuid4().hex[:12]}",
                                                 rendered=self.renderer.render_cluster(spec),
                                                 tags=records.cluster.TAGS.encode(cluster_tags) + claim.tags)
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Cluster(id=stack_id, name=spec.name, datastore=spec.datastore, version=version, task=BUILDING,
                       created=now, updated=now,
                       members=tuple(_member(stack_id, spec.name, member, "BUILD", {}) for member in members))

    def list(self, project_id, limit, marker=None):
        return records.stack.page(self.gateway, records.cluster.TAGS.filter(project_id), limit, marker, _from_stack,
                                  what="a cluster")

    def get(self, project_id, cluster_id):
        """The cluster with its members, their status (from the stack's resources) and addresses."""
        stack = self._stack(project_id, cluster_id, resolve_outputs=True)
        spec = records.cluster.spec_from_stack(stack)
        outputs = records.stack.outputs(stack)
        addresses = outputs.get("members") if isinstance(outputs.get("members"), dict) else {}
        resources = {resource.get("resource_name"): resource for resource in self.gateway.resources(stack["id"])}
        members = tuple(
            _member(stack["id"], spec.name, member, _member_status(resources.get(member.key)),
                    {"address": addresses.get(member.key), "port": outputs.get("port")})
            for member in spec.members)
        return replace(_from_stack(stack), members=members)

    @staticmethod
    def member_of(cluster, instance_id):
        for member in cluster.members:
            if member.id == instance_id:
                return member
        raise errors.NotFound(f"Instance '{instance_id}' of cluster '{cluster.id}' could not be found.")

    def find_member(self, project_id, instance_id):
        """(cluster, member) for the id of a member of one of the project's clusters, from one
        stack list (the members' keys are tags) and the cluster's show; errors.NotFound else.
        As in Trove, a cluster's instance can be shown by its id (clients look members up
        that way), though the instance list leaves them out."""
        not_found = errors.NotFound(f"Instance '{instance_id}' could not be found.")
        if not records.stack.is_id(instance_id):
            raise not_found
        for stack in self.gateway.list_stacks(tags=records.cluster.TAGS.filter(project_id),
                                              limit=self.MAX_CLUSTERS):
            cluster_tags = records.cluster.TAGS.decode(stack.get("tags"))
            if any(member_id(stack["id"], key) == instance_id for key in cluster_tags.members):
                cluster = self.get(project_id, stack["id"])
                return cluster, self.member_of(cluster, instance_id)
        raise not_found

    def delete(self, project_id, cluster_id):
        self._stack(project_id, cluster_id)
        self.gateway.delete_stack(cluster_id)

    def grow(self, project_id, cluster_id, requested):
        """Add members: Heat creates them, each joins through the members before it."""
        if not requested:
            raise errors.BadRequest("grow: list at least one instance to add.")

        added = []

        def change(spec, datastore):
            plan = datastore.plan_growth([member.role for member in spec.members],
                                         [item.get("type") for item in requested])
            added.extend(self._members(requested, plan, spec.members))
            return replace(spec, members=spec.members + tuple(added))
        self._change(project_id, cluster_id, GROWING, change,
                     claim=lambda: self.quotas.claim(project_id, **held_by(added)))

    def shrink(self, project_id, cluster_id, requested):
        """Remove members by id: Heat deletes them, each leaving the cluster cleanly first."""
        if not requested:
            raise errors.BadRequest("shrink: list at least one instance to remove.")

        def change(spec, datastore):
            ids = {member_id(cluster_id, member.key): index for index, member in enumerate(spec.members)}
            removed = []
            for item in requested:
                if item.get("id") not in ids:
                    raise errors.BadRequest(f"shrink: instance '{item.get('id')}' is not a member of "
                                            f"cluster '{cluster_id}'.")
                removed.append(ids[item["id"]])
            if len(set(removed)) != len(removed):
                raise errors.BadRequest("shrink: an instance is listed more than once.")
            keys = [member.key for member in spec.members]
            follows = [keys.index(member.follows) if member.follows else None for member in spec.members]
            follows = datastore.plan_shrink([member.role for member in spec.members], follows, removed)
            return replace(spec, members=tuple(
                replace(member, follows=keys[follows[index]] if follows[index] is not None else None)
                for index, member in enumerate(spec.members) if index not in removed))
        self._change(project_id, cluster_id, SHRINKING, change)

    # ---- helpers -------------------------------------------------------------------------

    def _stack(self, project_id, cluster_id, resolve_outputs=False):
        return records.stack.owned(self.gateway, project_id, cluster_id, records.cluster.TAGS, what="Cluster",
                                   resolve_outputs=resolve_outputs)

    def _change(self, project_id, cluster_id, task, change, claim=None):
        """``claim``: what the change takes of the project's quota (service/quotas.py), asked
        once the new members are known and held until Heat has the new stack."""
        stack = self._stack(project_id, cluster_id)
        if stack.get("stack_status") not in records.stack.CHANGEABLE:
            raise errors.Conflict(f"Cluster '{cluster_id}' is busy ({_task(stack).name}) or cannot be changed "
                                  f"({stack.get('stack_status')}); try again when it has finished.")
        spec = records.cluster.spec_from_stack(stack)
        new = change(spec, datastores.get(spec.datastore))
        rendered = self.renderer.render_cluster(new)
        rendered = records.stack.as_update(rendered, stack)
        cluster_tags = replace(records.cluster.TAGS.decode(stack.get("tags")), operation=task.name,
                               members=tuple(member.key for member in new.members))
        with claim() if claim else nullcontext(Claim(None)) as granted:
            if not records.stack.unchanged_since(self.gateway, stack):
                raise errors.Conflict(f"Cluster '{cluster_id}' changed meanwhile; try again.")
            self.gateway.update_stack(stack["id"], rendered, records.cluster.TAGS.encode(cluster_tags) + granted.tags)

    def _members(self, requested, plan, existing):
        """MemberSpecs for the requested instances as the datastore planned them."""
        keys = [member.key for member in existing]
        new_keys = [new_member_key() for _ in requested]
        all_keys = keys + new_keys
        first_number = max((member.number for member in existing), default=0) + 1
        members = []
        for index, (item, (role, follows)) in enumerate(zip(requested, plan)):
            for field, feature in _MEMBER_NOT_IMPLEMENTED.items():
                if item.get(field):
                    raise errors.NotImplementedYet(f"{feature} ('{field}') is not supported for cluster instances.")
            members.append(MemberSpec(
                key=new_keys[index], flavor=catalog.find_flavor_ref(flavor_ref(item)),
                volume_size=self.specs.volume_size(item.get("volume")),
                role=role, follows=all_keys[follows] if follows is not None else None,
                number=first_number + index))
        return members


def held_by(members):
    """What cluster members hold of a project's quota."""
    return {"instances": len(members), "volumes": sum(member.volume_size for member in members),
            "ram": sum(member.flavor.ram_mb for member in members)}


def _task(stack):
    stack_status = stack.get("stack_status") or ""
    if stack_status in ("CREATE_IN_PROGRESS", "INIT_IN_PROGRESS"):
        return BUILDING
    if stack_status == "DELETE_IN_PROGRESS":
        return DELETING
    if stack_status == "UPDATE_IN_PROGRESS":
        return _BY_OPERATION.get(records.cluster.TAGS.decode(stack.get("tags")).operation or "", GROWING)
    return NONE


def _from_stack(stack):
    cluster_tags = records.cluster.TAGS.decode(stack.get("tags"))
    created = stack.get("creation_time") or ""
    stack_status = stack.get("stack_status") or ""
    fault = status.fault_message(stack.get("stack_status_reason")) if stack_status.endswith("_FAILED") else None
    return Cluster(id=stack["id"], name=cluster_tags.name, datastore=cluster_tags.datastore,
                   version=cluster_tags.version, task=_task(stack), created=created,
                   updated=stack.get("updated_time") or created, fault=fault)


def _member_status(resource):
    """A member's Trove status from its resource in the stack."""
    if resource is None:
        return "BUILD"
    action, _, state = (resource.get("resource_status") or "").partition("_")
    if state == "FAILED":
        return "ERROR"
    if action == "DELETE":
        return "SHUTDOWN"
    if state == "IN_PROGRESS" or action == "INIT":
        return "BUILD"
    return "ACTIVE"


def _member(cluster_id, cluster_name, member, member_status, where):
    port = where.get("port")
    return Member(id=member_id(cluster_id, member.key), key=member.key, name=f"{cluster_name}-member-{member.number}",
                  role=member.role, status=member_status, flavor_id=member.flavor.id,
                  volume_size=member.volume_size, address=where.get("address"),
                  port=int(port) if str(port or "").isdigit() else None)
