"""Backup strategies (Trove's ``/backup_strategies``): where a project's backups go, for the
whole project or for one instance; a backup created without ``swift_container`` goes to its
instance's strategy's container, else the project's, else the operator's.

A strategy is a record stack in the service project with no resources, tagged
``dbaas-backup-strategy``, ``project:<id>``, ``instance:<id>`` (none for the project's own)
and ``container:<name>``: a list, and the lookup a backup create makes, are one Heat call.
Creating one for a scope that has one replaces it (the newest wins; the older is deleted).
"""
import uuid
from dataclasses import dataclass

from dbaas_api import errors, records
from dbaas_api.backup.storage import CONTAINER

MARKER = "dbaas-backup-strategy"


@dataclass(frozen=True)
class BackupStrategy:
    project_id: str
    instance_id: str      # "" for the project's own, as Trove shows it
    container: str
    backend: str          # "swift" or "local" (a directory under the backup dir)


def checked_container(container, field="swift_container"):
    """A container name a user gave: 400 unless it is safe for Swift, a directory and a tag."""
    if not isinstance(container, str) or not CONTAINER.match(container):
        raise errors.BadRequest(f"{field}: a container name is 1 to 64 letters, digits, '_', '.' or '-', "
                                "starting with a letter or digit.")
    return container


class BackupStrategyService:
    def __init__(self, settings, gateway, renderer):
        self.settings = settings
        self.gateway = gateway
        self.renderer = renderer

    def create(self, project_id, instance_id, container):
        container = checked_container(container)
        if instance_id:
            # 404 for another project's
            records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        older = self._records(project_id, instance_id or "")
        tags = [MARKER, f"project:{project_id}", f"container:{container}"]
        if instance_id:
            tags.append(f"instance:{instance_id}")
        self.gateway.create_stack(name=f"dbaas-bs-{uuid.uuid4().hex[:12]}",
                                  rendered=self.renderer.render_record(), tags=tags)
        for stack in older:
            self.gateway.delete_stack(stack["id"])
        return self._strategy(project_id, instance_id or "", container)

    def list(self, project_id, instance_id=None):
        return [self._strategy(project_id, fields.get("instance", ""), fields.get("container", ""))
                for fields in (records.tags.fields_of(stack) for stack in self._records(project_id, instance_id))]

    def delete(self, project_id, instance_id=None):
        """Delete the strategy of ``instance_id`` (None or "": the project's own)."""
        for stack in self._records(project_id, instance_id or ""):
            self.gateway.delete_stack(stack["id"])

    def container_for(self, project_id, instance_id):
        """The container a backup of ``instance_id`` goes to by strategy; None: the operator's."""
        found = {records.tags.fields_of(stack).get("instance", ""): records.tags.fields_of(stack).get("container")
                 for stack in reversed(self._records(project_id, None))}   # newest last: it wins
        return found.get(instance_id) or found.get("") or None

    def _records(self, project_id, instance_id):
        """The strategy stacks of ``project_id``, newest first; ``instance_id`` None: all,
        "": the project's own, else that instance's."""
        tags = [MARKER, f"project:{project_id}"] + ([f"instance:{instance_id}"] if instance_id else [])
        stacks = [stack for stack in self.gateway.list_stacks(tags=tags, limit=1000)
                  if not (stack.get("stack_status") or "").startswith("DELETE")]
        if instance_id == "":
            stacks = [stack for stack in stacks if "instance" not in records.tags.fields_of(stack)]
        return stacks

    def _strategy(self, project_id, instance_id, container):
        return BackupStrategy(project_id, instance_id, container,
                              "swift" if self.settings.backup_storage == "swift" else "local")
