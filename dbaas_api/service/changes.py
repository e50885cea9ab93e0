"""Changing an instance: the one read-modify-update path every change takes.

The stack is the record, so a change is: read the instance's stack, rebuild the
InstanceSpec it holds from its parameters (names are plain parameters; passwords are hidden
ones nobody reads back, so a rebuilt user's password is None, "keep"), let the caller turn
that into the new intent, re-render the WHOLE template and PATCH the stack (heatclient's
``existing=True``) with only the parameters that are new or changed. Heat keeps every
parameter it is not sent, hidden ones included, so existing users keep their passwords.

Concurrency. Heat's legacy engine (the embedded Heat's and the production profile's: with
convergence Heat would take both, the later superseding the earlier, docs/operators.md)
holds a lock on a stack while an action runs: a second update meanwhile gets 409. A change therefore starts only from a
settled stack and, when the instance is busy with another change, waits for it (up to
``Settings.change_wait`` seconds, re-reading the stack each time so nothing the other
change did is lost) and then answers 409 Conflict. Just before the update the stack is read
once more: had another change started and finished in between, this one starts over from
the new state instead of overwriting it. (No Heat API can make read-and-update atomic; what
is left is a change that starts and completes inside that last few milliseconds.)

Later changes (resize, restart, access...) come through ``InstanceChanges.apply`` too: they
return a ``Change`` with their own ``operation`` (the status shown while Heat works, the
``op:`` tag) and, when they settle it, whether a restart is required. The restart action
(issue 4) is expected to return ``Change(replace(spec, started_with=<the configuration
values now applied>), operation=status.REBOOT, restart_required=False)``: that is what
clears RESTART_REQUIRED.
"""
import json
import re
import time
from dataclasses import dataclass, replace

from dbaas_api import datastores, errors, status, tags
from dbaas_api.model import AccessSpec, ConfigurationSpec, InstanceSpec, Placement, RootSpec, UserSpec
from dbaas_api.rendering import PLACEMENT_PARAMETERS

STACK_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
HIDDEN = "******"   # how Heat shows a hidden parameter
POLL_INTERVAL = 0.1
_DATABASE_NAME = re.compile(r"^(database_[0-9a-f]{16})_name$")
_USER_NAME = re.compile(r"^(user_[0-9a-f]{16})_name$")
# A change may start from these: the stack is settled and its server exists. UPDATE_FAILED
# and CHECK_FAILED too, so that an instance whose last change failed, or whose check
# (reset_status) found its server down, can be put right by another change (removing the
# user that could not be made, a restart). Our resources are updated in place after a
# failure, never replaced (heat_plugins: needs_replace_failed), so no data is lost by it.
CHANGEABLE = frozenset({
    "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED", "ROLLBACK_COMPLETE", "RESUME_COMPLETE",
    "CHECK_COMPLETE", "CHECK_FAILED", "ADOPT_COMPLETE", "SNAPSHOT_COMPLETE", "RESTORE_COMPLETE"})


@dataclass(frozen=True)
class Current:
    """An instance as its stack records it."""
    id: str
    stack: dict
    tags: tags.InstanceTags
    spec: InstanceSpec

    @property
    def datastore(self):
        return datastores.get(self.spec.datastore)

    def user(self, name, host):
        for user in self.spec.users:
            if (user.name, user.host) == (name, host):
                return user
        return None


@dataclass(frozen=True)
class Change:
    """What a change makes of an instance: its whole new intent, the status it shows while
    Heat works, and whether a restart is then required (None: as it was)."""
    spec: InstanceSpec
    operation: str = status.ACTIVE
    restart_required: bool | None = None


class _Busy(Exception):
    """Another change holds the instance: wait, or answer 409."""


def owned_stack(gateway, project_id, stack_id, resolve_outputs=False, decode=tags.decode, what="Instance"):
    """The stack of ``project_id``'s record ``stack_id`` (an instance; a configuration group
    with decode=tags.decode_configuration); 404 for anything else (another project's, another
    kind of record, a deleted one, not an id at all)."""
    not_found = errors.NotFound(f"{what} '{stack_id}' could not be found.")
    if not STACK_ID.match(stack_id or ""):
        raise not_found  # a name or junk: never ask Heat, which would look up stack names
    stack = gateway.get_stack(stack_id, resolve_outputs=resolve_outputs)
    if stack is None or status.is_gone(stack.get("stack_status")):
        raise not_found
    owner = decode(stack.get("tags"))
    if owner is None or owner.project_id != project_id:
        raise not_found
    return stack


def spec_from_stack(stack):
    """The InstanceSpec a stack holds, rebuilt from its parameters and tags."""
    instance_tags = tags.decode(stack.get("tags"))
    parameters = stack.get("parameters") or {}
    databases, users, database_options = [], [], {}
    for key, value in parameters.items():
        database = _DATABASE_NAME.match(key)
        user = _USER_NAME.match(key)
        if not value:
            continue  # a parameter's default: what an update under way is removing
        if database:
            databases.append(value)
            options = tuple(parameters.get(f"{database.group(1)}_{name}") or None
                            for name in ("character_set", "collate"))
            if any(options):
                database_options[value] = options
        elif user:
            users.append(_user(parameters, user.group(1), value))
    configuration = None
    if parameters.get("configuration_id"):
        configuration = ConfigurationSpec(parameters["configuration_id"],
                                          _json(parameters.get("configuration_values"), {}))
    return InstanceSpec(
        project_id=instance_tags.project_id, name=instance_tags.name,
        datastore=parameters["datastore"], version=parameters["datastore_version"],
        flavor=datastores.find_flavor(parameters["flavor"]), volume_size=int(parameters["volume_size"]),
        databases=tuple(sorted(databases)), database_options=database_options, users=tuple(sorted(users, key=lambda u: (u.name, u.host))),
        root=RootSpec() if parameters.get("root_enabled") else None, configuration=configuration,
        started_with=_json(parameters.get("configuration_started_with"), {}),
        restarts=_int(parameters.get("restart_generation")),
        access=access_from_parameters(parameters),
        placement=placement_from_parameters(parameters),
        replica_of=parameters.get("replica_of") or None, replica_seed=parameters.get("replica_seed") or None,
        replica_fence=parameters.get("replica_fence") or None)


def placement_from_parameters(parameters):
    """The instance's network and volume type (a stack made before they existed: all "")."""
    return Placement(**{field: parameters.get(parameter) or "" for parameter, field in PLACEMENT_PARAMETERS.items()})


def access_from_parameters(parameters):
    """The instance's access (a stack made before access existed has none: everyone)."""
    return AccessSpec(is_public=str(parameters.get("is_public", "")).lower() in ("true", "1", "yes", "on"),
                      allowed_cidrs=tuple(_json(parameters.get("allowed_cidrs"), [])))


def _user(parameters, key, name):
    """A user keeps the key it has (a renamed one, the key of its first name): a render
    under another key would drop the account and make a new, empty one."""
    return UserSpec(name=name, password=None, host=parameters.get(f"{key}_host", "%"), key=key,
                    databases=tuple(_json(parameters.get(f"{key}_databases"), [])))


def _int(text):
    try:
        return int(float(text or 0))
    except (TypeError, ValueError):
        return 0


def _json(text, default):
    try:
        return json.loads(text) if text not in (None, "") else default
    except ValueError:
        return default


class InstanceChanges:
    def __init__(self, settings, gateway, renderer):
        self.settings = settings
        self.gateway = gateway
        self.renderer = renderer
        # More rules a change must pass: callables (current, new spec) raising errors.*,
        # registered by the services that know them (service/replication.py).
        self.checks = []

    def read(self, project_id, instance_id):
        """The instance as its stack holds it, whatever its status."""
        stack = owned_stack(self.gateway, project_id, instance_id)
        return Current(id=stack["id"], stack=stack, tags=tags.decode(stack.get("tags")), spec=spec_from_stack(stack))

    def apply(self, project_id, instance_id, change, wait=None):
        """Run ``change(current) -> Change`` against the instance's current state and update
        its stack; returns the Change. ``change`` raises errors.* to refuse (it may run more
        than once: it always sees the latest state). ``wait``: seconds to wait for another
        change to finish (``Settings.change_wait`` when None; 0: 409 at once)."""
        return wait_until_free(self.settings.change_wait if wait is None else wait,
                               lambda: self._attempt(project_id, instance_id, change))

    def _attempt(self, project_id, instance_id, change):
        stack = owned_stack(self.gateway, project_id, instance_id)
        stack_status = stack.get("stack_status") or ""
        if stack_status.endswith("_IN_PROGRESS"):
            raise _Busy(f"Instance '{instance_id}' is busy with another change "
                        f"({status.instance_status(stack_status, tags.decode(stack.get('tags')))}); "
                        "try again when it has finished.")
        if stack_status not in CHANGEABLE:
            raise errors.Conflict(f"Instance '{instance_id}' is "
                                  f"{status.instance_status(stack_status, tags.decode(stack.get('tags')))} "
                                  "and cannot be changed.")
        current = Current(id=stack["id"], stack=stack, tags=tags.decode(stack.get("tags")),
                          spec=spec_from_stack(stack))
        result = change(current)
        _refuse_writes_to_a_replica(current.spec, result.spec)
        for check in self.checks:
            check(current, result.spec)
        result = replace(result, spec=_keeping_secrets(result.spec, stack.get("parameters") or {}))
        rendered = self.renderer.render_instance(result.spec)
        rendered = replace(rendered, parameters=changed_parameters(rendered.parameters, stack.get("parameters") or {}))
        new_tags = replace(
            current.tags, name=result.spec.name, operation=result.operation,
            flavor_id=result.spec.flavor.id, volume_size=result.spec.volume_size,
            restart_required=current.tags.restart_required if result.restart_required is None
            else result.restart_required,
            configuration_id=result.spec.configuration.id if result.spec.configuration else None,
            replica_of=result.spec.replica_of, is_public=result.spec.access.is_public,
            allowed_cidrs=result.spec.access.allowed_cidrs)
        self._unchanged_since(stack)
        try:
            self.gateway.update_stack(stack["id"], rendered, tags.encode(new_tags))
        except errors.Conflict as exc:  # Heat's stack lock: another action started meanwhile
            raise _Busy(exc.message) from None
        return result

    def _unchanged_since(self, stack):
        """The last look before the update: had a change started (or run) since ``stack``
        was read, start over from what it made."""
        again = self.gateway.get_stack(stack["id"], resolve_outputs=False) or {}
        if ((again.get("stack_status"), again.get("updated_time")) !=
                (stack.get("stack_status"), stack.get("updated_time"))):
            raise _Busy(f"Instance '{stack['id']}' changed while this change was prepared; try again.")


def _refuse_writes_to_a_replica(before, after):
    """A replica's databases, users and root are its source's (replicated, read-only there):
    changing them on the replica would fail on the server. 400, naming where to do it."""
    if before.replica_of and after.replica_of and (
            (before.databases, before.users, before.root) != (after.databases, after.users, after.root)):
        raise errors.BadRequest(f"The instance is a read-only replica of '{before.replica_of}': change "
                                "its databases, users and root there (or detach it first).")


def _keeping_secrets(spec, current):
    """``spec`` with every hidden parameter the stack has declared again (emptied, when what
    it belonged to is gone). With encrypted parameters (Heat's encrypt_parameters_and_properties)
    a PATCH update whose template drops a hidden parameter keeps its name in the stack's
    list of encrypted ones, and Heat then fails to store the template (KeyError in
    RawTemplate.from_db_object; the update call never returns). So a secret, once a stack
    has it, stays a parameter; only its value goes."""
    hidden = {name for name, value in current.items() if value == HIDDEN}
    return replace(spec, retired_secrets=tuple(sorted(hidden | set(spec.retired_secrets))))


def wait_until_free(wait, attempt):
    """Run ``attempt`` until it is not _Busy, for at most ``wait`` seconds; then 409."""
    deadline = time.monotonic() + max(wait, 0)
    while True:
        try:
            return attempt()
        except _Busy as busy:
            if time.monotonic() + POLL_INTERVAL > deadline:
                raise errors.Conflict(str(busy)) from None
            time.sleep(POLL_INTERVAL)


def until_stack(gateway, stack_id, reached, wait):
    """Read the stack (None once gone) until ``reached(stack)``, for at most ``wait``
    seconds; whether it was reached. For a DELETE that answers once Heat's delete has got
    far enough that nobody reads the record as it was."""
    deadline = time.monotonic() + wait
    while True:
        if reached(gateway.get_stack(stack_id, resolve_outputs=False)):
            return True
        if time.monotonic() + POLL_INTERVAL > deadline:
            return False
        time.sleep(POLL_INTERVAL)


def busy(message):
    """For callers of wait_until_free: the exception that means "wait and try again"."""
    return _Busy(message)


def changed_parameters(parameters, current):
    """The parameters Heat needs for a PATCH update: the new ones and those whose value
    changed. A hidden value (a password) is only ever rendered when it is new: always sent."""
    return {key: value for key, value in parameters.items()
            if current.get(key) in (None, HIDDEN) or not _same(value, current[key])}


def _same(value, current):
    if str(value) == current:
        return True
    try:
        return json.loads(value) == json.loads(current)
    except (TypeError, ValueError):
        return False
