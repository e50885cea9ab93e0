"""Instance operations: the stack is the record, so these read and write Heat stacks.

No Flask here. ``create`` has service/specs.py check what the request means before anything
reaches the renderer or Heat. Another project's instance and a deleted one are both simply
not found. Changes to an existing instance go through service/changes.py; list and show
read through service/reading.py.
"""
import uuid
from dataclasses import replace
from datetime import datetime, timezone

from dbaas_api import errors, records, status
from dbaas_api.service import access as access_rules
from dbaas_api.service import reading
from dbaas_api.service.changes import Change, until_stack
from dbaas_api.service.configurations import configuration_change

# Seconds a DELETE of an instance Heat is still working on waits for the delete to begin
# (see InstanceService.delete); past it, the answer goes anyway.
DELETE_START_WAIT = 5
# PUT /instances/{id} fields not built yet (name, configuration, access and replica_of work).
NOT_IMPLEMENTED_UPDATES = {
    "datastore_version": "Upgrading the datastore version",
}


class InstanceService:
    """Built once by create_app, on the services below it (none of which calls back)."""

    def __init__(self, settings, gateway, renderer, *, quotas, changes, configurations, specs, backups,
                 replication, health):
        self.settings = settings
        self.gateway = gateway
        self.renderer = renderer
        self.quotas = quotas
        self.changes = changes
        self.configurations = configurations
        self.specs = specs
        self.backups = backups
        self.replication = replication
        self.health = health

    def create(self, project_id, body):
        """Create an instance from the (shape-validated) ``instance`` object of the body; with
        ``replica_of``, ``replica_count`` replicas of that instance, answering with the first."""
        if body.get("replica_of") is not None:
            specs = self.replication.specs(project_id, body)
        else:
            body, restore_point = self.backups.restore_point(project_id, body)
            specs = [self.specs.instance(project_id, body)]
            if restore_point is not None:
                specs = [restore_point.apply(specs[0])]
        with self.quotas.claim(project_id, **held_by(specs)) as claim:
            return [self._create(spec, claim.tags) for spec in specs][0]

    def _create(self, spec, extra_tags=()):
        rendered = self.renderer.render_instance(spec)
        # A configuration attached now is in the server's config from its first start: no
        # restart is required for any of its values.
        instance_tags = records.instance.tags_for(spec)
        stack_id = self.gateway.create_stack(
            name=f"dbaas-{uuid.uuid4().hex[:12]}", rendered=rendered,
            tags=records.instance.TAGS.encode(instance_tags) + list(extra_tags))
        # Heat's create answers with the id alone; now stands in for creation_time until a read.
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return reading.instance(stack_id, instance_tags, status.BUILD, created=now, updated=now,
                                access=spec.access, placement=spec.placement)

    def list(self, project_id, limit, marker=None):
        """One page, newest first, from the stack list alone (no call per instance)."""
        page = records.stack.page(self.gateway, records.instance.owners(project_id), limit, marker,
                                  reading.from_stack)
        instances = reading.live(page.items, self.health)
        addresses = self.health.addresses([instance.id for instance in instances])
        replicas = self._replicas_of(project_id, [i.id for i in instances if not i.replica_of])
        instances = tuple(replace(instance, address=instance.address or addresses.get(instance.id),
                                  replicas=replicas.get(instance.id) or None) for instance in instances)
        return replace(page, items=instances)

    def _replicas_of(self, project_id, source_ids):
        """{source id: its replicas' ids} for a list page: one Heat call (``tags_any``) for
        the whole page, none when no instance on it can be a source."""
        if not source_ids:
            return {}
        stacks = self.gateway.list_stacks(tags=records.instance.owners(project_id), limit=1000,
                                          tags_any=[f"replica_of:{source_id}" for source_id in source_ids])
        found = {}
        for stack in stacks:
            source = records.instance.TAGS.decode(stack.get("tags")).replica_of
            if source and not status.is_gone(stack.get("stack_status")):
                found.setdefault(source, []).append(stack["id"])
        return {source: tuple(ids) for source, ids in found.items()}

    def get(self, project_id, instance_id):
        """The instance with its address and port from the stack outputs, its access from
        the parameters, the instances that replicate it (one Heat call), its live health and
        volume use, its progress while Heat works, and the name of its configuration group
        when one is attached."""
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS, resolve_outputs=True)
        (instance,) = reading.live((reading.from_stack(stack),), self.health)
        used = self.health.used_bytes(instance.id)
        instance = replace(instance, access=records.instance.access_from_parameters(stack.get("parameters") or {}),
                           placement=records.instance.placement_from_parameters(stack.get("parameters") or {}),
                           replicas=self.replication.replica_ids(project_id, instance_id),
                           volume_used=None if used is None else round(used / 1024 ** 3, 2),
                           progress=self._progress(stack))
        if instance.configuration_id:
            try:
                group = self.configurations.get_record(project_id, instance.configuration_id)
                instance = replace(instance, configuration_name=group.name)
            except errors.NotFound:
                pass
        return self.backups.shown(project_id, instance)

    def update(self, project_id, instance_id, body):
        """PUT /instances/{id}: a new name and/or a configuration group to attach (an id or
        link) or detach (null, or an empty body), new ``access`` (service/access.py), or
        ``replica_of: null`` or ``""`` (Trove's older ``slave_of``) to detach a replica, as Trove takes
        them: at most one attribute besides the name."""
        if len(set(body) - {"name"}) > 1:
            raise errors.BadRequest("Only one attribute (besides 'name') may be updated at a time.")
        for field, feature in NOT_IMPLEMENTED_UPDATES.items():
            if field in body:
                raise errors.NotImplementedYet(f"{feature} ('{field}') is not supported yet.")
        unknown = set(body) - {"name", "configuration", "access", "replica_of", "slave_of"}
        if unknown:
            raise errors.BadRequest(f"instance.{sorted(unknown)[0]}: cannot be updated.")
        detach = next((field for field in ("replica_of", "slave_of") if field in body), None)
        if detach and body[detach] not in (None, ""):
            raise errors.BadRequest(f"instance.{detach}: only null (detach the replica) can be set; make a "
                                    "new replica with replica_of at create.")

        def change(current):
            spec = replace(current.spec, name=body.get("name", current.spec.name))
            current = replace(current, spec=spec)
            if detach:
                return self.replication.detach_change(current)
            if "access" in body:
                access = access_rules.requested(body["access"], spec.access)
                access_rules.check_driver(access, current.datastore, self.settings)
                return Change(replace(spec, access=access))
            if body and "configuration" not in body:
                return Change(spec)
            reference = body.get("configuration")
            configuration = None
            if reference:
                configuration = self.configurations.spec_for(project_id, reference, spec.datastore, spec.version)
                attached = current.spec.configuration
                if attached is not None and attached.id != configuration.id:
                    raise errors.BadRequest(f"configuration: instance '{current.id}' already has configuration "
                                            f"group '{attached.id}' attached; detach it first.")
            return configuration_change(current, configuration)
        self.changes.apply(project_id, instance_id, change)

    def owner(self, instance_id):
        """The project that owns instance ``instance_id``; None when it is no instance (for
        the calls whose policy lets an admin act on any project's: api/common.instance_project)."""
        owner = records.stack.owner(self.gateway, instance_id, records.instance.TAGS)
        return owner.project_id if owner is not None else None

    def delete(self, project_id, instance_id):
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        self.replication.refuse_delete_with_replicas(project_id, instance_id)
        self.gateway.delete_stack(instance_id)
        if records.stack.busy(stack):
            # Heat deletes a stack it is still creating or updating by cancelling that
            # first; until its delete begins the stack reads *_FAILED ("Operation
            # cancelled"), which shows as ERROR. The answer waits for the delete to begin,
            # so an instance being deleted is never shown as failed.
            until_stack(self.gateway, instance_id, _deleting, DELETE_START_WAIT)

    def _progress(self, stack):
        """(done, total) of the stack's resources while Heat works on it, else None: one
        Heat call, on show only. A resource is done once its last action completed (a
        resource Heat has not started is INIT)."""
        if not records.stack.busy(stack):
            return None
        try:
            resources = self.gateway.resources(stack["id"])
        except errors.NotFound:
            return None
        done = sum(1 for resource in resources   # resource_status is Heat's "<ACTION>_<STATUS>"
                   if (resource.get("resource_status") or "").endswith("_COMPLETE")
                   and not resource["resource_status"].startswith("INIT"))
        return done, len(resources)

def held_by(specs):
    """What instances made from ``specs`` hold of a project's quota."""
    return {"instances": len(specs), "volumes": sum(spec.volume_size for spec in specs),
            "ram": sum(spec.flavor.ram_mb for spec in specs)}


def _deleting(stack):
    return stack is None or (stack.get("stack_status") or "").startswith("DELETE_")
