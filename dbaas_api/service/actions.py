"""``POST /instances/{id}/action``: Trove's one endpoint for the verbs on an instance.

The body names exactly one action (``{"restart": {}}``, ``{"resize": {"flavorRef": ...}}``,
...). Each action is one method of ``InstanceActions`` registered in ``ACTIONS`` with the
name Trove uses; lifecycle verbs (restart, resize, reset_status) and replication verbs
(promote_to_replica_source, eject_replica_source) all come through here, so the dispatch,
its errors and the 202 live in one place. An action that changes the instance goes through
service/changes.py like every other change.
"""
from dbaas_api import errors

# Trove's action names -> InstanceActions method names. Whoever adds an action adds it here.
ACTIONS = {
    "restart": "restart",
    "resize": "resize",
    "reset_status": "reset_status",
    "promote_to_replica_source": "promote_to_replica_source",
    "eject_replica_source": "eject_replica_source",
}


class InstanceActions:
    def __init__(self, instances):
        self.instances = instances  # the InstanceService: its gateway, renderer and changes

    def run(self, project_id, instance_id, body):
        """Dispatch the body's one action; the action raises errors.* to refuse."""
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest(f"The body must name exactly one action: one of {', '.join(sorted(ACTIONS))}.")
        (name, arguments), = body.items()
        if name not in ACTIONS:
            raise errors.BadRequest(f"Unknown action '{name}': one of {', '.join(sorted(ACTIONS))}.")
        return getattr(self, ACTIONS[name])(project_id, instance_id, arguments)

    def _not_yet(self, what):
        raise errors.NotImplementedYet(f"The {what} action is not supported yet.")

    def restart(self, project_id, instance_id, arguments):
        self._not_yet("restart")

    def resize(self, project_id, instance_id, arguments):
        self._not_yet("resize")

    def reset_status(self, project_id, instance_id, arguments):
        self._not_yet("reset_status")

    def promote_to_replica_source(self, project_id, instance_id, arguments):
        self._not_yet("promote_to_replica_source")

    def eject_replica_source(self, project_id, instance_id, arguments):
        self._not_yet("eject_replica_source")
