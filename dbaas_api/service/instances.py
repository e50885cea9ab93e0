"""Instance operations: the stack is the record, so these read and write Heat stacks.

No Flask here. ``create`` checks what the request means (datastore, version, flavor, sizes,
names, grants, configuration group) against the registry before anything reaches the
renderer or Heat, so a bad request never leaves a half-made stack behind. Another project's
instance and a deleted one are both simply not found. Changes to an existing instance go
through service/changes.py.
"""
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from dbaas_api import errors, records, status
from dbaas_api.model import AccessSpec, InstanceSpec, Placement, UserSpec
from dbaas_api.service import access as access_rules
from dbaas_api.service import catalog, networks
from dbaas_api.service import health as live_health
from dbaas_api.service.actions import InstanceActions
from dbaas_api.service.backups import BackupService, shown
from dbaas_api.service.changes import Change, InstanceChanges, until_stack
from dbaas_api.service.configurations import ConfigurationService, configuration_change
from dbaas_api.service.quotas import QuotaService
from dbaas_api.service.replication import Replication

# Seconds a DELETE of an instance Heat is still working on waits for the delete to begin
# (see InstanceService.delete); past it, the answer goes anyway.
DELETE_START_WAIT = 5
# A server that is down while Heat builds the instance or restarts it for a change: what the
# operating_status says instead of SHUTDOWN.
_STARTING = {status.BUILD: "BUILD", status.REBOOT: "RESTARTING", status.RESIZE: "RESTARTING"}
REGION = "RegionOne"

# Trove create fields whose meaning we cannot honour yet: refuse rather than ignore them.
NOT_IMPLEMENTED_FIELDS = {
    "modules": "Modules",
    "locality": "Server-group locality",
    "availability_zone": "Availability zones",
}
# PUT /instances/{id} fields not built yet (name, configuration, access and replica_of work).
NOT_IMPLEMENTED_UPDATES = {
    "datastore_version": "Upgrading the datastore version",
}


@dataclass(frozen=True)
class Instance:
    """What the views show about one instance, read from its stack."""
    id: str
    name: str
    status: str
    datastore: str
    version: str
    flavor_id: str
    volume_size: int | None
    created: str
    updated: str
    address: str | None = None
    port: int | None = None
    fault: str | None = None  # why the last operation failed, when status is ERROR
    configuration_id: str | None = None
    configuration_name: str | None = None  # show only: the group's name costs a Heat call
    access: AccessSpec = AccessSpec()  # a list's from tags; show reads the stack's parameters
    replica_of: str | None = None           # the instance this replica follows
    replicas: tuple | None = None           # show only: the ids of the instances following this one
    operating_status: str = ""  # the database's own health, from a live signal (service/health.py)
    volume_used: float | None = None  # GB under the data dir (show only)
    progress: tuple | None = None  # (done, total) resources while Heat works (show only)
    placement: Placement | None = None  # its network and volume type (show only)
    service_status_updated: str | None = None  # when operating_status was read (it is live)


class InstanceService:
    def __init__(self, settings, gateway, renderer, quotas=None):
        self.settings = settings
        self.quotas = quotas or QuotaService(settings, gateway, renderer)
        self.gateway = gateway
        self.renderer = renderer
        self.backups = BackupService(settings, gateway, renderer, self)
        self.changes = InstanceChanges(settings, gateway, renderer)
        self.configurations = ConfigurationService(settings, gateway, renderer)
        self.actions = InstanceActions(self)
        self.replication = Replication(self)
        self.health = live_health.probe_for(settings)

    def create(self, project_id, body):
        """Create an instance from the (shape-validated) ``instance`` object of the body; with
        ``replica_of``, ``replica_count`` replicas of that instance, answering with the first."""
        if body.get("replica_of") is not None:
            specs = self.replication.specs(project_id, body)
        else:
            body, restore_point = self.backups.restore_point(project_id, body)
            specs = [self.spec_for_create(project_id, body)]
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
        return _instance(stack_id, instance_tags, status.BUILD, created=now, updated=now, access=spec.access,
                         placement=spec.placement)

    def list(self, project_id, limit, marker=None):
        """One page, newest first, from the stack list alone (no call per instance)."""
        page = records.stack.page(self.gateway, records.instance.owners(project_id), limit, marker, from_stack)
        instances = self._live(page.items)
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
        (instance,) = self._live((from_stack(stack),))
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
        return shown(self.backups, project_id, instance)

    def get_status(self, project_id, instance_id):
        """The instance with its status as show has it (its live health; BACKUP while a
        backup runs) but none of show's other reads: one stack read without outputs and one
        list, for deciding whether it can be backed up now."""
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        (instance,) = self._live((from_stack(stack),))
        return shown(self.backups, project_id, instance)

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
                access_rules.check_driver(access, current.datastore, self.settings.environment_file)
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

    def _live(self, instances):
        """The instances with their operating_status from the live signal: HEALTHY while the
        server runs; a server that is not running is SHUTDOWN, and a settled instance (ACTIVE
        or RESTART_REQUIRED) whose server died shows status SHUTDOWN too, as Trove shows it
        (restart brings it back); while Heat builds it or restarts it for a change, the
        server being down is expected: BUILD or RESTARTING."""
        health = self.health.operating_status([instance.id for instance in instances])
        read_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        live = []
        for instance in instances:
            operating = health.get(instance.id, "")
            settled = instance.status in (status.ACTIVE, status.RESTART_REQUIRED)
            if operating == live_health.SHUTDOWN and instance.status in _STARTING:
                operating = _STARTING[instance.status]
            live.append(replace(instance, operating_status=operating,
                                service_status_updated=read_at if operating else None,
                                status=status.SHUTDOWN if settled and operating == live_health.SHUTDOWN else instance.status))
        return tuple(live)

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

    # What the request means: checked here, before the renderer or Heat see anything.

    def spec_for_create(self, project_id, body):
        _refuse_unsupported(body)
        datastore, version = _datastore_and_version(body.get("datastore") or {})
        access = access_rules.requested(body.get("access") or {})
        access_rules.check_driver(access, datastore, self.settings.environment_file)
        databases, options = _databases(datastore, body.get("databases") or [])
        reference = body.get("configuration") or body.get("configuration_id")
        configuration = None
        if reference:
            try:
                configuration = self.configurations.spec_for(project_id, reference, datastore.name, version)
            except errors.NotFound as exc:
                raise errors.BadRequest(f"configuration: {exc.message}") from None
        return InstanceSpec(
            project_id=project_id,
            name=body["name"],
            datastore=datastore.name,
            version=version,
            flavor=catalog.find_flavor_ref(_flavor_ref(body)),
            volume_size=self._volume_size(body.get("volume")),
            databases=databases,
            database_options=options,
            users=_users(datastore, body.get("users") or [], databases),
            configuration=configuration,
            started_with=dict(configuration.values) if configuration else {},
            access=access,
            placement=networks.load(self.settings.networks_file).placement(
                body.get("nics"), (body.get("volume") or {}).get("type")),
        )

    def _volume_size(self, volume):
        if not volume or volume.get("size") is None:
            raise errors.BadRequest("volume.size is required (in GB).")
        size = int(volume["size"])
        if size < 1:
            raise errors.BadRequest("volume.size must be at least 1 GB.")
        if size > self.settings.max_volume_size:
            raise errors.BadRequest(
                f"volume.size {size} GB exceeds the maximum of {self.settings.max_volume_size} GB.")
        return size


def held_by(specs):
    """What instances made from ``specs`` hold of a project's quota."""
    return {"instances": len(specs), "volumes": sum(spec.volume_size for spec in specs),
            "ram": sum(spec.flavor.ram_mb for spec in specs)}


def _refuse_unsupported(body):
    for field, feature in NOT_IMPLEMENTED_FIELDS.items():
        if body.get(field):
            raise errors.NotImplementedYet(f"{feature} ('{field}') is not supported yet.")
    if body.get("replica_count") not in (None, 1) and body.get("replica_of") is None:
        raise errors.BadRequest("replica_count is only valid when creating replicas.")
    if body.get("region_name") not in (None, REGION):
        raise errors.BadRequest(f"Unknown region '{body['region_name']}'; this service is '{REGION}'.")


def _datastore_and_version(requested):
    try:
        datastore = catalog.find_datastore(requested.get("type"))
        version = catalog.find_version(datastore, requested.get("version") or requested.get("version_number"))
    except errors.NotFound as exc:
        raise errors.BadRequest(exc.message) from None
    return datastore, version


def _flavor_ref(body):
    """Trove's ``flavorRef``; openstacksdk's create_instance sends its Instance.flavor instead
    (``"flavor": id`` or ``{"id": ...}``), which Trove ignores: accept it when flavorRef is absent."""
    if body.get("flavorRef") is not None:
        return body["flavorRef"]
    flavor = body.get("flavor")
    return flavor.get("id") if isinstance(flavor, dict) else flavor


def _databases(datastore, requested):
    """(names, {name: (character_set, collate)}) of a create's ``databases``."""
    if requested and not datastore.supports_databases:
        raise errors.BadRequest(f"Datastore '{datastore.name}' has no databases: remove 'databases'.")
    names = [database["name"] for database in requested]
    for database in requested:
        _validate(datastore, "validate_database_name", database["name"])
    _refuse_duplicates("Database", names)
    return tuple(names), datastore.requested_database_options(requested)


def _users(datastore, requested, databases):
    if requested and not datastore.supports_users:
        raise errors.BadRequest(f"Datastore '{datastore.name}' has no users: remove 'users'.")
    users = []
    for user in requested:
        _validate(datastore, "validate_user_name", user["name"])
        _validate(datastore, "validate_password", user["password"])
        _validate(datastore, "validate_host", user.get("host") or "%")
        granted = tuple(database["name"] for database in user.get("databases") or [])
        if granted and not datastore.supports_databases:
            raise errors.BadRequest(
                f"Datastore '{datastore.name}' has no databases: remove 'databases' from user '{user['name']}'.")
        for name in granted:
            if name not in databases:
                raise errors.BadRequest(
                    f"User '{user['name']}' is granted database '{name}', which is not in 'databases'.")
        _refuse_duplicates(f"Database of user '{user['name']}'", granted)
        users.append(UserSpec(name=user["name"], password=user["password"], databases=granted,
                              **({"host": user["host"]} if user.get("host") else {})))
    # MariaDB's 'app'@'%' and 'app'@'10.%' are two accounts.
    _refuse_duplicates("User", [user.name if user.host == "%" else f"{user.name}@{user.host}" for user in users])
    return tuple(users)


def _validate(datastore, validator, value):
    """Run the datastore's own check when it has one (they raise errors.BadRequest)."""
    check = getattr(datastore, validator, None)
    if check is not None:
        check(value)


def _refuse_duplicates(what, names):
    seen = set()
    for name in names:
        if name in seen:
            raise errors.BadRequest(f"{what} '{name}' is listed more than once.")
        seen.add(name)


def _deleting(stack):
    return stack is None or (stack.get("stack_status") or "").startswith("DELETE_")


def from_stack(stack):
    """A stack from Heat's list (tags only) or show (outputs too) -> Instance."""
    instance_tags = records.instance.TAGS.decode(stack.get("tags"))
    outputs = records.stack.outputs(stack)
    created = stack.get("creation_time") or ""
    trove_status = status.instance_status(stack.get("stack_status"), instance_tags)
    fault = status.fault_message(stack.get("stack_status_reason")) if trove_status == status.ERROR else None
    return _instance(
        stack["id"], instance_tags, trove_status,
        created=created, updated=stack.get("updated_time") or created,
        address=outputs.get("address") or None, port=_port(outputs.get("port")), fault=fault)


def _instance(stack_id, instance_tags, trove_status, **fields):
    fields.setdefault("access", AccessSpec(instance_tags.is_public, instance_tags.allowed_cidrs))
    return Instance(
        id=stack_id, name=instance_tags.name, status=trove_status,
        datastore=instance_tags.datastore, version=instance_tags.version,
        flavor_id=instance_tags.flavor_id, volume_size=instance_tags.volume_size,
        configuration_id=instance_tags.configuration_id, replica_of=instance_tags.replica_of, **fields)


def _port(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
