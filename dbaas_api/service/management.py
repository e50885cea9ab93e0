"""Operations for cloud administrators across every project (Trove's ``/mgmt`` API). The
policy keeps them to the admin role; the stacks are the same service-project stacks, read
with the ``dbaas`` marker tag alone instead of one project's owner tag."""
from dataclasses import dataclass

from dbaas_api import errors, tags
from dbaas_api.service import instances


@dataclass(frozen=True)
class OwnedInstance:
    project_id: str
    instance: instances.Instance


class ManagementService:
    def __init__(self, gateway):
        self.gateway = gateway

    def list_instances(self, limit, marker=None, project_id=None):
        """One page of every project's instances (or one project's), newest first, with
        their owners; one Heat call, like the project's own list."""
        if marker is not None and not instances._STACK_ID.match(marker):
            raise errors.BadRequest("marker must be the id of an instance.")
        wanted = tags.owner_filter(project_id) if project_id else [tags.MARKER]
        stacks = self.gateway.list_stacks(tags=wanted, limit=limit + 1, marker=marker)
        page = tuple(OwnedInstance(tags.decode(stack.get("tags")).project_id, instances._from_stack(stack))
                     for stack in stacks[:limit])
        next_marker = page[-1].instance.id if len(stacks) > limit and page else None
        return page, next_marker

    def owner_of(self, instance_id):
        """The project that owns instance ``instance_id`` (any project's): 404 when there is no
        such instance. One stack read."""
        if not instances._STACK_ID.match(instance_id or ""):
            raise errors.NotFound(f"Instance '{instance_id}' could not be found.")
        stack = self.gateway.get_stack(instance_id, resolve_outputs=False)
        record = tags.decode(stack.get("tags")) if stack else None
        if record is None or (stack.get("stack_status") or "") == "DELETE_COMPLETE":
            raise errors.NotFound(f"Instance '{instance_id}' could not be found.")
        return record.project_id
