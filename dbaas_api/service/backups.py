"""Backup operations: a backup is a Heat stack of its own, as an instance is.

Each backup stack lives in the service project, tagged ``dbaas-backup``, ``project:<id>``,
``instance:<id>``, ``datastore:``, ``version:``, ``parent:<id>`` for an incremental, and its
name and description (records/backup.py), so a page of backups is one Heat call. Its one resource,
DBaaS::Backup, stores the backup; its outputs are the location, size, SHA-256 and position.
The stack's status is the backup's:

    CREATE_IN_PROGRESS -> BUILDING    CREATE_COMPLETE -> COMPLETED    CREATE_FAILED -> FAILED
    DELETE_IN_PROGRESS -> DELETING    DELETE_FAILED   -> DELETE_FAILED

A backup is independent of its instance's stack: it outlives the instance. Deleting a backup
that has incremental children is refused (409): delete the children first, newest first.
No Flask here.
"""
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from dbaas_api import datastores, errors, records, status
from dbaas_api.backup import storage as backup_storage
from dbaas_api.service import reading
from dbaas_api.service.backup_strategies import checked_container

NEW, BUILDING, COMPLETED, FAILED = "NEW", "BUILDING", "COMPLETED", "FAILED"
DELETING, DELETE_FAILED = "DELETING", "DELETE_FAILED"
STATUSES = {
    "INIT_IN_PROGRESS": NEW, "CREATE_IN_PROGRESS": BUILDING, "CREATE_COMPLETE": COMPLETED,
    "CREATE_FAILED": FAILED, "DELETE_IN_PROGRESS": DELETING, "DELETE_FAILED": DELETE_FAILED,
}
MAX_CHAIN = 100
MAX_PAGE = 100


@dataclass(frozen=True)
class Backup:
    id: str
    name: str
    description: str | None
    status: str
    instance_id: str
    datastore: str
    version: str
    parent_id: str | None
    created: str
    updated: str
    size: int | None = None        # bytes, once COMPLETED
    checksum: str | None = None    # SHA-256 of its segments' digests, once COMPLETED
    location: str | None = None
    position: dict | None = None
    fault: str | None = None

    def link(self):
        """What a restore or an incremental needs of this backup."""
        return {"location": self.location, "checksum": self.checksum, "position": self.position or {}}


@dataclass(frozen=True)
class RestorePoint:
    """The backup an instance is created from and its chain, full backup first."""
    backup: Backup
    chain: tuple

    def apply(self, spec):
        """The instance spec with the chain, when its datastore and version are the backup's."""
        if (spec.datastore, spec.version) != (self.backup.datastore, self.backup.version):
            raise errors.BadRequest(
                f"Backup {self.backup.id} is of {self.backup.datastore} {self.backup.version}: it can only "
                f"be restored to {self.backup.datastore} {self.backup.version}.")
        return replace(spec, restore=tuple(link.link() for link in self.chain))


class BackupService:
    def __init__(self, settings, gateway, renderer, *, quotas, strategies, health):
        self.settings = settings
        self.gateway = gateway
        self.renderer = renderer
        self.quotas = quotas
        self.strategies = strategies
        self.health = health   # the live signal: an instance whose server died is not backed up

    def create(self, project_id, body):
        """Start a backup of ``body["instance"]`` (the shape-validated ``backup`` object)."""
        instance = self._as_shown(project_id, body["instance"])
        if instance.status == status.BACKUP:
            raise errors.Conflict(f"A backup of instance {instance.id} is already running.")
        if instance.status != status.ACTIVE:
            raise errors.UnprocessableEntity(
                f"Instance {instance.id} is {instance.status}: only an ACTIVE instance can be backed up.")
        parent = self._parent(project_id, instance, body)
        container = body.get("swift_container")
        container = (checked_container(container) if container is not None
                     else self.strategies.container_for(project_id, instance.id))
        rendered = self.renderer.render_backup(instance.datastore, instance.version, instance.id,
                                               parent.link() if parent else None, container)
        record = records.backup.BackupTags(
            project_id=project_id, instance_id=instance.id, datastore=instance.datastore,
            version=instance.version, name=body["name"], description=body.get("description"),
            parent_id=parent.id if parent else None)
        with self.quotas.claim(project_id, backups=1) as claim:
            stack_id = self.gateway.create_stack(name=f"dbaas-backup-{uuid.uuid4().hex[:12]}", rendered=rendered,
                                                 tags=records.backup.TAGS.encode(record) + claim.tags
                                                 + ([f"container:{container}"] if container else []))
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return _backup(stack_id, record, NEW, created=now, updated=now)

    def list(self, project_id, limit, marker=None, instance_id=None, datastore=None):
        """One page, newest first, from the stack list alone."""
        if datastore:
            datastore = _canonical(datastore)
        return records.stack.page(
            self.gateway, records.backup.matching(project_id, instance_id=instance_id, datastore=datastore),
            limit, marker, lambda stack: self._with_location(_from_stack(stack), stack), what="a backup")

    def _with_location(self, backup, stack):
        """A list has no outputs, but a completed backup's location follows from its
        ``container:`` tag and its id (Storage.location), and its size and checksum are in
        its manifest there: what show reads from the outputs, the storage wrote first."""
        if backup.status != COMPLETED or backup.location:
            return backup
        container = records.tags.fields_of(stack).get("container")
        try:
            storage = backup_storage.from_settings(self.settings, container)
            backup = replace(backup, location=storage.location(backup.id))
            manifest = storage.manifest(backup.id)
        except errors.DBaaSError:
            return backup   # no manifest readable: the list leaves size out, show still has it
        if not isinstance(manifest, dict):
            return backup
        return replace(backup, size=_int(manifest.get("size")), checksum=manifest.get("sha256"))

    def list_of_instance(self, project_id, instance_id, limit, marker=None):
        """GET /instances/{id}/backups: the instance must exist (its backups may outlive it:
        GET /backups?instance_id=... lists them after)."""
        records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        return self.list(project_id, limit, marker, instance_id=instance_id)

    def get(self, project_id, backup_id):
        return _from_stack(self._owned_stack(project_id, backup_id, resolve_outputs=True))

    def delete(self, project_id, backup_id):
        backup = _from_stack(self._owned_stack(project_id, backup_id, resolve_outputs=False))
        if backup.status in (NEW, BUILDING):
            raise errors.Conflict(f"Backup {backup_id} is still being taken; delete it when it has finished.")
        children = self.gateway.list_stacks(tags=records.backup.matching(project_id, parent_id=backup_id), limit=1)
        if children:
            raise errors.Conflict(f"Backup {backup_id} has incremental backups ({children[0]['id']}...): "
                                  "delete those first.")
        self.gateway.delete_stack(backup_id)

    def shown(self, project_id, instance):
        """The instance as show presents it: BACKUP instead of ACTIVE while a backup of it runs
        (one Heat call; a list shows ACTIVE, as it costs one call per page)."""
        if instance.status == status.ACTIVE and self.running(project_id, instance.id):
            return replace(instance, status=status.BACKUP)
        return instance

    def _as_shown(self, project_id, instance_id):
        """The instance with its status as show has it (its live health; BACKUP while a
        backup runs) but none of show's other reads: one stack read without outputs and one
        list, for deciding whether it can be backed up now."""
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        (instance,) = reading.live((reading.from_stack(stack),), self.health)
        return self.shown(project_id, instance)

    def running(self, project_id, instance_id):
        """Whether a backup of the instance is being taken (one Heat call). Backups of an
        instance are taken one at a time, so a running one is the newest. (Heat cannot
        combine its tags filter with a status filter: that query fails in Heat 27.)"""
        newest = self.gateway.list_stacks(tags=records.backup.matching(project_id, instance_id=instance_id), limit=1)
        return bool(newest) and STATUSES.get(newest[0].get("stack_status")) in (NEW, BUILDING)

    def restore_point(self, project_id, body):
        """(body, RestorePoint or None) for an instance create body with ``restorePoint``;
        the body gets the backup's datastore and version when it names none."""
        point = body.get("restorePoint")
        if point is None:
            return body, None
        reference = point.get("backupRef") if isinstance(point, dict) else None
        if not isinstance(reference, str) or not reference:
            raise errors.BadRequest("restorePoint.backupRef must be the id of a backup.")
        try:
            chain = self._chain(project_id, reference)
        except errors.NotFound as exc:
            raise errors.BadRequest(exc.message) from None
        backup = chain[-1]
        if not body.get("datastore"):
            body = {**body, "datastore": {"type": backup.datastore, "version": backup.version}}
        return body, RestorePoint(backup, tuple(chain))

    # ---- reading records -------------------------------------------------------------------

    def _parent(self, project_id, instance, body):
        """The parent of an incremental (parent_id, or with incremental=1 the instance's
        latest completed backup), or None for a full backup."""
        parent_id, incremental = body.get("parent_id"), body.get("incremental")
        if not parent_id and not incremental:
            return None
        datastore = datastores.get(instance.datastore)
        if not datastore.supports_incremental_backups:
            raise errors.BadRequest(
                f"{datastore.title} backups are always full: incremental backups are not supported.")
        if not parent_id:
            recent = self.gateway.list_stacks(
                tags=records.backup.matching(project_id, instance_id=instance.id), limit=MAX_PAGE)
            completed = [stack["id"] for stack in recent if STATUSES.get(stack.get("stack_status")) == COMPLETED]
            if not completed:
                raise errors.BadRequest(f"Instance {instance.id} has no completed backup to be incremental to.")
            parent_id = completed[0]
        parent = self._completed(project_id, parent_id)
        if parent.instance_id != instance.id:
            raise errors.BadRequest(f"Backup {parent_id} is of another instance: an incremental's parent "
                                    "must be a backup of the same instance.")
        problem = datastore.incremental_parent_problem(parent.position)
        if problem:
            raise errors.BadRequest(f"Backup {parent_id} cannot be an incremental's parent: {problem}.")
        return parent

    def _completed(self, project_id, backup_id):
        try:
            backup = self.get(project_id, backup_id)
        except errors.NotFound:
            raise errors.BadRequest(f"Backup '{backup_id}' could not be found.") from None
        if backup.status != COMPLETED or not backup.location:
            raise errors.BadRequest(f"Backup {backup_id} is {backup.status}, not COMPLETED.")
        return backup

    def _chain(self, project_id, backup_id):
        """[full, incremental, ...] ending with backup_id, each COMPLETED."""
        chain = [self._completed(project_id, backup_id)]
        while chain[0].parent_id:
            if len(chain) >= MAX_CHAIN:
                raise errors.BadRequest(f"Backup {backup_id} has more than {MAX_CHAIN} ancestors.")
            chain.insert(0, self._completed(project_id, chain[0].parent_id))
        return chain

    def _owned_stack(self, project_id, backup_id, resolve_outputs):
        return records.stack.owned(self.gateway, project_id, backup_id, records.backup.TAGS, what="Backup",
                                   resolve_outputs=resolve_outputs)


def _canonical(name):
    """The registry's name for a datastore ('mysql' -> 'mariadb'); unknown names as given."""
    try:
        return datastores.get(name).name
    except errors.NotFound:
        return name


def _from_stack(stack):
    record = records.backup.TAGS.decode(stack.get("tags"))
    outputs = records.stack.outputs(stack)
    backup_status = STATUSES.get(stack.get("stack_status"), FAILED)
    created = stack.get("creation_time") or ""
    fault = status.fault_message(stack.get("stack_status_reason")) if backup_status in (FAILED, DELETE_FAILED) else None
    complete = backup_status == COMPLETED
    return _backup(
        stack["id"], record, backup_status, created=created, updated=stack.get("updated_time") or created,
        size=_int(outputs.get("size")) if complete else None,
        checksum=outputs.get("checksum") if complete else None,
        location=outputs.get("location") if complete else None,
        position=outputs.get("position") if complete else None, fault=fault)


def _backup(stack_id, record, backup_status, **fields):
    return Backup(id=stack_id, name=record.name, description=record.description, status=backup_status,
                  instance_id=record.instance_id, datastore=record.datastore, version=record.version,
                  parent_id=record.parent_id, **fields)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
