"""Operations for cloud administrators across every project (Trove's ``/mgmt`` API). The
policy keeps them to the admin role; the stacks are the same service-project stacks, read
with the ``dbaas`` marker tag alone instead of one project's owner tag."""
from dataclasses import dataclass

from dbaas_api import errors, records
from dbaas_api.service import reading


@dataclass(frozen=True)
class OwnedInstance:
    project_id: str
    instance: reading.Instance


class ManagementService:
    def __init__(self, gateway):
        self.gateway = gateway

    def list_instances(self, limit, marker=None, project_id=None):
        """One page of every project's instances (or one project's), newest first, with
        their owners; one Heat call, like the project's own list."""
        return records.stack.page(self.gateway, records.instance.owners(project_id), limit, marker, _owned)

    def owner_of(self, instance_id):
        """The project that owns instance ``instance_id`` (any project's): 404 when there is no
        such instance. One stack read."""
        record = records.stack.owner(self.gateway, instance_id, records.instance.TAGS)
        if record is None:
            raise errors.NotFound(f"Instance '{instance_id}' could not be found.")
        return record.project_id


def _owned(stack):
    return OwnedInstance(records.instance.TAGS.decode(stack.get("tags")).project_id, reading.from_stack(stack))
