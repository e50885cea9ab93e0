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

When the answer comes. A change that keeps the instance ACTIVE while Heat works (databases,
users, grants, root, configuration attach and detach, access, a rename) is answered once it
is applied: the stack is read again until Heat's update has settled (up to
``Settings.apply_wait`` seconds), so the caller's next call, to any API process, finds it
done (a new user logs in, a list shows the database, the server runs the attached value).
Trove's guest takes its messages in order, so there too the next call sees the change; the
suite (trove-tempest-plugin) reads at once. An update that FAILED meanwhile is a 503 naming
the server's reason (the request was valid; the instance could not carry it out). Past the
bound the answer is what it would have been (202), and reads show the change once Heat
completes it. A change with its own status (restart, resize, promote...) is asynchronous in
Trove too: answered once Heat has accepted it, its progress shown by GET.

Actions (``action=True``: restart, resize) wait their turn behind such a change under way
(the instance shows ACTIVE), but not behind a build or another action: those show a status
of their own, and Trove refuses an action on an instance that is not ACTIVE (409 at once).

Later changes (resize, restart, access...) come through ``InstanceChanges.apply`` too: they
return a ``Change`` with their own ``operation`` (the status shown while Heat works, the
``op:`` tag) and, when they settle it, whether a restart is required. The restart action
(issue 4) is expected to return ``Change(replace(spec, started_with=<the configuration
values now applied>), operation=status.REBOOT, restart_required=False)``: that is what
clears RESTART_REQUIRED.
"""
from dataclasses import dataclass, replace

from dbaas_api import datastores, errors, records, status
from dbaas_api.model import InstanceSpec
from dbaas_api.waiting import TimedOut, poll_until

POLL_INTERVAL = 0.1


@dataclass(frozen=True)
class Current:
    """An instance as its stack records it."""
    id: str
    stack: dict
    tags: records.instance.InstanceTags
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


class InstanceChanges:
    def __init__(self, settings, gateway, renderer, checks=()):
        self.settings = settings
        self.gateway = gateway
        self.renderer = renderer
        # The rules that span instances, which every change passes: callables (current, new
        # spec) raising errors.* (create_app gives service/replication.py's). One
        # InstanceChanges serves every service, so none can skip them.
        self.checks = tuple(checks)

    def read(self, project_id, instance_id):
        """The instance as its stack holds it, whatever its status."""
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        return _current(stack)

    def apply(self, project_id, instance_id, change, wait=None, action=False):
        """Run ``change(current) -> Change`` against the instance's current state and update
        its stack; returns the Change, once applied when it keeps the instance ACTIVE (see
        the module's docstring). ``change`` raises errors.* to refuse (it may run more than
        once: it always sees the latest state). ``wait``: seconds to wait for another change
        to finish (``Settings.change_wait`` when None; 0: 409 at once). ``action``: wait
        only behind a change that shows ACTIVE."""
        result = wait_until_free(self.settings.change_wait if wait is None else wait,
                                 lambda: self._attempt(project_id, instance_id, change, action))
        if result.operation == status.ACTIVE:
            self._until_applied(instance_id)
        return result

    def _until_applied(self, stack_id):
        """Read the stack until the update just sent has settled (Heat stores
        UPDATE_IN_PROGRESS before its update call returns, in both engines), for at most
        ``Settings.apply_wait`` seconds. A later change another process started meanwhile is
        waited for too: what is read then holds both."""
        try:
            stack = poll_until(lambda: self.gateway.get_stack(stack_id, resolve_outputs=False),
                               until=_settled_or_deleting,
                               timeout=self.settings.apply_wait, interval=POLL_INTERVAL)
        except TimedOut:
            return   # still under way: answered as Trove would; reads show it once complete
        stack_status = (stack or {}).get("stack_status") or ""
        if stack_status.endswith("_FAILED"):
            raise errors.ServiceUnavailable(
                f"Instance '{stack_id}' could not apply the change: "
                f"{status.fault_message(stack.get('stack_status_reason')).rstrip('.')}. It shows ERROR until "
                "another change (or reset_status) succeeds.")

    def _attempt(self, project_id, instance_id, change, action=False):
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        stack_status = stack.get("stack_status") or ""
        if status.is_busy(stack_status):
            shown = _shown_status(stack)
            message = (f"Instance '{instance_id}' is busy with another change ({shown}); "
                       "try again when it has finished.")
            if action and shown not in (status.ACTIVE, status.RESTART_REQUIRED):
                raise errors.Conflict(message)
            raise _Busy(message)
        if stack_status not in records.stack.CHANGEABLE:
            raise errors.Conflict(f"Instance '{instance_id}' is "
                                  f"{_shown_status(stack)} "
                                  "and cannot be changed.")
        current = _current(stack)
        result = change(current)
        _refuse_writes_to_a_replica(current.spec, result.spec)
        for check in self.checks:
            check(current, result.spec)
        result = replace(result, spec=_keeping_secrets(result.spec, stack.get("parameters") or {}))
        rendered = self.renderer.render_instance(result.spec)
        rendered = records.stack.as_update(rendered, stack)
        new_tags = records.instance.tags_for(
            result.spec, result.operation,
            current.tags.restart_required if result.restart_required is None else result.restart_required)
        self._unchanged_since(stack)
        try:
            self.gateway.update_stack(stack["id"], rendered, records.instance.TAGS.encode(new_tags))
        except errors.Conflict as exc:  # Heat's stack lock: another action started meanwhile
            raise _Busy(exc.message) from None
        return result

    def _unchanged_since(self, stack):
        """The last look before the update: had a change started (or run) since ``stack``
        was read, start over from what it made."""
        if not records.stack.unchanged_since(self.gateway, stack):
            raise _Busy(f"Instance '{stack['id']}' changed while this change was prepared; try again.")


def _settled_or_deleting(stack):
    """A delete under way replaces the change: nothing left to wait for."""
    return not records.stack.busy(stack) or (stack.get("stack_status") or "").startswith("DELETE")


def _current(stack):
    return Current(id=stack["id"], stack=stack, tags=records.instance.TAGS.decode(stack.get("tags")),
                   spec=records.instance.spec_from_stack(stack))


def _shown_status(stack):
    return status.instance_status(stack.get("stack_status"), records.instance.TAGS.decode(stack.get("tags")))


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
    hidden = {name for name, value in current.items() if value == records.stack.HIDDEN}
    return replace(spec, retired_secrets=tuple(sorted(hidden | set(spec.retired_secrets))))


def wait_until_free(wait, attempt):
    """Run ``attempt`` until it is not _Busy, for at most ``wait`` seconds; then 409."""
    try:
        return poll_until(attempt, until=lambda _: True, timeout=wait, interval=POLL_INTERVAL, retry=(_Busy,))
    except TimedOut as timed_out:
        raise errors.Conflict(str(timed_out.last)) from None


def until_stack(gateway, stack_id, reached, wait):
    """Read the stack (None once gone) until ``reached(stack)``, for at most ``wait``
    seconds; whether it was reached. For a DELETE that answers once Heat's delete has got
    far enough that nobody reads the record as it was."""
    try:
        return poll_until(lambda: reached(gateway.get_stack(stack_id, resolve_outputs=False)), timeout=wait,
                          interval=POLL_INTERVAL)
    except TimedOut:
        return False


def busy(message):
    """For callers of wait_until_free: the exception that means "wait and try again"."""
    return _Busy(message)
