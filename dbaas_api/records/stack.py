"""Reading a record's stack: ownership, pages, outputs, whether it may change now.

A stack is ours when it carries the record's marker and its ``project:`` tag is the
caller's; anything else (another project's, another kind of record, a deleted one, a name
instead of an id) is simply not found, so no caller ever learns that it exists.
"""
import json
import re
from dataclasses import dataclass, replace

from dbaas_api import errors, status

STACK_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
HIDDEN = "******"   # how Heat shows a hidden parameter
# A change may start from these: the stack is settled and its server exists. UPDATE_FAILED
# and CHECK_FAILED too, so that an instance whose last change failed, or whose check
# (reset_status) found its server down, can be put right by another change (removing the
# user that could not be made, a restart). Our resources are updated in place after a
# failure, never replaced (heat_plugins: needs_replace_failed), so no data is lost by it.
CHANGEABLE = frozenset({
    "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED", "ROLLBACK_COMPLETE", "RESUME_COMPLETE",
    "CHECK_COMPLETE", "CHECK_FAILED", "ADOPT_COMPLETE", "SNAPSHOT_COMPLETE", "RESTORE_COMPLETE"})


def is_id(text):
    """Whether ``text`` can be a stack id (a name or junk is never sent to Heat, which would
    look up stack names)."""
    return bool(STACK_ID.match(text or ""))


def owned(gateway, project_id, stack_id, codec, what="Instance", resolve_outputs=False):
    """The stack of ``project_id``'s record ``stack_id`` of the kind ``codec`` decodes
    (records.instance.TAGS...); 404 for anything else."""
    not_found = errors.NotFound(f"{what} '{stack_id}' could not be found.")
    stack = gateway.get_stack(stack_id, resolve_outputs=resolve_outputs) if is_id(stack_id) else None
    if stack is None or status.is_gone(stack.get("stack_status")):
        raise not_found
    record = codec.decode(stack.get("tags"))
    if record is None or record.project_id != project_id:
        raise not_found
    return stack


def owner(gateway, stack_id, codec):
    """The decoded tags of record ``stack_id`` of any project; None when there is none."""
    stack = gateway.get_stack(stack_id, resolve_outputs=False) if is_id(stack_id) else None
    if stack is None or status.is_gone(stack.get("stack_status")):
        return None
    return codec.decode(stack.get("tags"))


@dataclass(frozen=True)
class Page:
    items: tuple
    next_marker: str | None  # the last id of this page when a further page exists


def page(gateway, wanted, limit, marker, build, what="an instance", **list_args):
    """One page of the stacks tagged ``wanted``, newest first, each made into ``build(stack)``:
    one Heat call asking for one more than the page, so the extra says whether a next page
    exists. ``marker`` must be the id of ``what``."""
    if marker is not None and not is_id(marker):
        raise errors.BadRequest(f"marker must be the id of {what}.")
    stacks = gateway.list_stacks(tags=wanted, limit=limit + 1, marker=marker, **list_args)
    items = tuple(build(stack) for stack in stacks[:limit])
    return Page(items, stacks[limit - 1]["id"] if len(stacks) > limit and items else None)


def outputs(stack):
    """{output key: value} of a stack read with its outputs (an output in error is left out)."""
    return {output.get("output_key"): output.get("output_value")
            for output in stack.get("outputs") or () if not output.get("output_error")}


def busy(stack):
    """Whether Heat is working on the stack (``*_IN_PROGRESS``)."""
    return status.is_busy((stack or {}).get("stack_status"))


def unchanged_since(gateway, stack):
    """Whether the stack is as ``stack`` read it (no action started or ran since): the last
    look before an update, which would otherwise overwrite what another change made."""
    again = gateway.get_stack(stack["id"], resolve_outputs=False) or {}
    return ((again.get("stack_status"), again.get("updated_time")) ==
            (stack.get("stack_status"), stack.get("updated_time")))


def as_update(rendered, stack):
    """``rendered`` (a RenderedStack) as a PATCH update of ``stack`` sends it: only the
    parameters that are new or changed (Heat keeps the others, hidden ones included)."""
    return replace(rendered, parameters=changed_parameters(rendered.parameters, stack.get("parameters") or {}))


def changed_parameters(parameters, current):
    """The parameters Heat needs for a PATCH update: the new ones and those whose value
    changed. A hidden value (a password) is only ever rendered when it is new: always sent."""
    return {key: value for key, value in parameters.items()
            if current.get(key) in (None, HIDDEN) or not _same(value, current[key])}


def to_json(value):
    """A json stack parameter's text, stable for comparisons (sorted keys, like Heat's)."""
    return json.dumps(value, sort_keys=True)


def from_json(text, default):
    """A json stack parameter's value; ``default`` when it is empty or not json."""
    try:
        return json.loads(text) if text not in (None, "") else default
    except ValueError:
        return default


def _same(value, current):
    if str(value) == current:
        return True
    try:
        return json.loads(value) == json.loads(current)
    except (TypeError, ValueError):
        return False
