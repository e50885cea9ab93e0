"""``POST /instances/{id}/action``: Trove's one endpoint for the verbs on an instance.

The body names exactly one action (``{"restart": {}}``, ``{"resize": {"flavorRef": ...}}``,
...). Each action is one method of ``InstanceActions`` registered in ``ACTIONS`` with the
name Trove uses; lifecycle verbs (restart, resize, reset_status) and replication verbs
(promote_to_replica_source, eject_replica_source) all come through here, so the dispatch,
its errors and the 202 live in one place. An action that changes the instance goes through
service/changes.py like every other change.

An action that finds a database, user, root, configuration or access change under way (the
instance shows ACTIVE) waits its turn, up to ``Settings.change_wait``; one that finds the
instance building, restarting or resized is 409 at once, as Trove refuses an action on an
instance that is not ACTIVE. Two resizes sent together: one wins, the other is 409. An
instance that is RESTART_REQUIRED takes every action, as in Trove. Actions are answered
once Heat has accepted them (asynchronous, as in Trove); see changes.py.

- ``restart`` (``{"restart": {}}``; openstacksdk sends ``null``): the server is stopped and
  started in place by raising its ``restart_generation`` (a server that died comes back with
  its data); what the server now runs with becomes ``started_with``, which clears
  RESTART_REQUIRED. Status REBOOT while Heat works.
- ``resize`` ``{"flavorRef": id}``: the server's memory and connection settings change in
  place (the server restarts with them, data kept; its pending restart-required values are
  then applied too). Same flavor or unknown flavor: 400. Status RESIZE while Heat works.
- ``resize`` ``{"volume": {"size": N}}`` (openstacksdk: ``{"volume": N}``): growing only,
  up to ``Settings.max_volume_size``; shrinking or the same size is 400. Status RESIZE. A
  replication source's replicas with a smaller volume grow to N with it (each is checked
  settled first: one busy is 409 before anything changes).
- ``reset_status`` (``{"reset_status": {}}``): for an instance stuck in, or left by, a
  transitional state. The stack is the record, so the reset is Heat's to do, never a status
  of ours painted over it: a create or update still running (``BUILD``, ``RESIZE``, ``REBOOT``
  for ever: a plugin that hangs) is cancelled without rollback (Heat's
  ``cancel_without_rollback``; the stack ends ``*_FAILED``: ``ERROR``, with the reason; one
  that ends before the cancel reaches Heat is checked as a settled one is); a
  failed stack (``ERROR``; also what an engine that died mid-action leaves once it is up
  again, since the engine marks those stacks FAILED when it starts) is checked (Heat's stack
  check: the server exists and runs, every database, user and setting answers over the
  admin connection): ``CHECK_COMPLETE`` is ``ACTIVE`` again, ``CHECK_FAILED`` is ``ERROR``
  with what is wrong, and a restart (or any change) may follow. A settled instance is
  checked the same way (an ACTIVE one stays ACTIVE; one whose server died becomes ERROR,
  saying so). A delete, a check or a backup under way is left to finish (202, nothing
  changes), so ``openstack database instance force delete`` (reset_status, then delete) works.
"""
from dataclasses import replace

from dbaas_api import errors, records, status
from dbaas_api.service import catalog
from dbaas_api.service.changes import Change
from dbaas_api.service.quotas import flavor_ram

# Trove's action names -> InstanceActions method names. Whoever adds an action adds it here.
ACTIONS = {
    "restart": "restart",
    "resize": "resize",
    "reset_status": "reset_status",
    "promote_to_replica_source": "promote_to_replica_source",
    "eject_replica_source": "eject_replica_source",
}


class InstanceActions:
    def __init__(self, settings, gateway, *, changes, quotas, replication):
        self.settings = settings
        self.gateway = gateway
        self.changes = changes
        self.quotas = quotas
        self.replication = replication

    def run(self, project_id, instance_id, body):
        """Dispatch the body's one action; the action raises errors.* to refuse."""
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest(f"The body must name exactly one action: one of {', '.join(sorted(ACTIONS))}.")
        (name, arguments), = body.items()
        if name not in ACTIONS:
            raise errors.BadRequest(f"Unknown action '{name}': one of {', '.join(sorted(ACTIONS))}.")
        return getattr(self, ACTIONS[name])(project_id, instance_id, arguments)

    def restart(self, project_id, instance_id, arguments):
        _no_arguments("restart", arguments)

        def change(current):
            spec = current.spec
            return Change(replace(spec, started_with=_applied(spec), restarts=spec.restarts + 1),
                          operation=status.REBOOT, restart_required=False)
        self.changes.apply(project_id, instance_id, change, action=True)

    def resize(self, project_id, instance_id, arguments):
        if not isinstance(arguments, dict) or len(arguments) != 1 or set(arguments) - {"flavorRef", "volume"}:
            raise errors.BadRequest("resize takes exactly one of 'flavorRef' (a flavor) or "
                                    "'volume' ({\"size\": GB}).")
        current = records.instance.TAGS.decode(records.stack.owned(
            self.gateway, project_id, instance_id, records.instance.TAGS).get("tags"))
        replicas = {}
        if "flavorRef" in arguments:
            change = self._flavor_change(arguments["flavorRef"])
            more = {"ram": catalog.find_flavor_ref(arguments["flavorRef"]).ram_mb - flavor_ram(current.flavor_id)}
        else:
            size = _volume_size(arguments["volume"], self.settings.max_volume_size)
            change = self._volume_change(size)
            # A source's replicas grow with it, as in Trove: each keeps at least its volume.
            replicas = self.replication.smaller_replicas(project_id, instance_id, size)
            more = {"volumes": size - (current.volume_size or 0) + sum(size - have for have in replicas.values())}
        # Only growth is claimed. With Heat's convergence engine (both profiles) the stack's new
        # tags are stored before the update call returns, so the claim can go then.
        with self.quotas.claim(project_id, **more):
            self.changes.apply(project_id, instance_id, change, action=True)
            for replica_id in replicas:
                self.changes.apply(project_id, replica_id, change, action=True)

    @staticmethod
    def _flavor_change(flavor_ref):
        if not isinstance(flavor_ref, (str, int)) or isinstance(flavor_ref, bool):
            raise errors.BadRequest("resize.flavorRef must be a flavor id or link.")
        flavor = catalog.find_flavor_ref(flavor_ref)

        def change(current):
            if flavor.id == current.spec.flavor.id:
                raise errors.BadRequest(f"resize.flavorRef: instance '{current.id}' already has "
                                        f"flavor '{flavor.id}' ({flavor.name}).")
            # The server restarts with the new settings: it then runs what is configured.
            return Change(replace(current.spec, flavor=flavor, started_with=_applied(current.spec)),
                          operation=status.RESIZE, restart_required=False)
        return change

    @staticmethod
    def _volume_change(size):
        def change(current):
            if size <= current.spec.volume_size:
                raise errors.BadRequest(f"resize.volume.size must be larger than the current "
                                        f"{current.spec.volume_size} GB: volumes only grow.")
            return Change(replace(current.spec, volume_size=size), operation=status.RESIZE)
        return change

    def reset_status(self, project_id, instance_id, arguments):
        _no_arguments("reset_status", arguments)
        gateway = self.gateway
        stack = records.stack.owned(gateway, project_id, instance_id, records.instance.TAGS)
        stack_status = stack.get("stack_status") or ""
        if stack_status in ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"):
            try:
                gateway.cancel_stack_action(stack["id"])
                return
            except errors.BadRequest:
                # Heat's 400 when nothing runs any more: it ended between the read and the
                # cancel (seen in Trove's suite). Settled now: checked as a settled one is.
                again = gateway.get_stack(stack["id"], resolve_outputs=False) or {}
                if status.is_busy(again.get("stack_status") or ""):
                    raise
            gateway.check_stack(stack["id"])
        elif stack_status.startswith("DELETE") or status.is_busy(stack_status):
            # Heat is at work on something we do not cancel (a delete, a check, a backup):
            # nothing to reset. Accepted all the same: the OSC client's ``force delete``
            # sends reset_status and then the delete, which retries a failed one.
            return
        else:
            gateway.check_stack(stack["id"])

    # Replication (service/replication.py): role changes are updates of every stack of the set.

    def promote_to_replica_source(self, project_id, instance_id, arguments):
        self.replication.promote(project_id, instance_id)

    def eject_replica_source(self, project_id, instance_id, arguments):
        self.replication.eject(project_id, instance_id)


def _no_arguments(action, arguments):
    if arguments not in (None, {}):
        raise errors.BadRequest(f"{action} takes no arguments: send {{\"{action}\": {{}}}}.")


def _applied(spec):
    """The configuration values a server runs with once it has (re)started."""
    return dict(spec.configuration.values) if spec.configuration else {}


def _volume_size(volume, maximum):
    """Trove's ``{"size": N}``, or openstacksdk's bare N; a whole number of GB."""
    size = volume.get("size") if isinstance(volume, dict) else volume
    if isinstance(size, str) and size.strip().isascii() and size.strip().isdigit():
        size = int(size)
    if not isinstance(size, int) or isinstance(size, bool):
        raise errors.BadRequest("resize.volume.size must be a whole number of GB.")
    if size < 1 or size > maximum:
        raise errors.BadRequest(f"resize.volume.size must be between 1 and {maximum} GB.")
    return size
