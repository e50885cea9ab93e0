"""Heat stack status -> Trove instance status. The stack is the record, so this table is the
whole state machine: there is no status of our own to drift from Heat's.

Choices worth knowing:
- ``UPDATE_IN_PROGRESS`` means whatever change we asked Heat for (resize, upgrade, restart...),
  so the caller says which; RESIZE when it does not.
- ``ROLLBACK_*``: we create stacks with rollback disabled, so a rollback only follows a failed
  update. While it runs the requested change has already failed: ERROR. Once complete the
  instance is back as it was before the change: ACTIVE. A failed rollback: ERROR.
- ``SUSPEND_*`` is a stopped server: SHUTDOWN. ``RESUME_IN_PROGRESS`` is a start: REBOOT.
- ``SNAPSHOT_IN_PROGRESS`` is a backup being taken: BACKUP. ``CHECK_IN_PROGRESS`` changes
  nothing: ACTIVE. ``INIT``, ``ADOPT`` and ``RESTORE`` in progress build the instance: BUILD.
- ``DELETE_COMPLETE`` is no instance at all: ``GONE`` (the API answers 404).
- A status this table does not know (a future Heat) is ERROR, never a crash.
- ``instance_status`` adds what the instance's tags say: the status of the change under way
  (``op:`` tag; databases, users, root and configuration changes keep ACTIVE, as Trove does)
  and RESTART_REQUIRED once a change waits for a restart.
"""
import re

BUILD, ACTIVE, ERROR, SHUTDOWN = "BUILD", "ACTIVE", "ERROR", "SHUTDOWN"
REBOOT, RESIZE, BACKUP = "REBOOT", "RESIZE", "BACKUP"
RESTART_REQUIRED = "RESTART_REQUIRED"
GONE = None
_REQUESTED_UPDATE = object()  # placeholder: the caller's update status

ACTIONS = ("INIT", "CREATE", "DELETE", "UPDATE", "ROLLBACK", "SUSPEND", "RESUME",
           "ADOPT", "SNAPSHOT", "CHECK", "RESTORE")
STATES = ("IN_PROGRESS", "COMPLETE", "FAILED")

_IN_PROGRESS = {
    "INIT": BUILD, "CREATE": BUILD, "DELETE": SHUTDOWN, "UPDATE": _REQUESTED_UPDATE,
    "ROLLBACK": ERROR, "SUSPEND": SHUTDOWN, "RESUME": REBOOT, "ADOPT": BUILD,
    "SNAPSHOT": BACKUP, "CHECK": ACTIVE, "RESTORE": BUILD,
}
_COMPLETE = {
    "INIT": BUILD, "CREATE": ACTIVE, "DELETE": GONE, "UPDATE": ACTIVE, "ROLLBACK": ACTIVE,
    "SUSPEND": SHUTDOWN, "RESUME": ACTIVE, "ADOPT": ACTIVE, "SNAPSHOT": ACTIVE,
    "CHECK": ACTIVE, "RESTORE": ACTIVE,
}
TABLE = {
    **{f"{action}_IN_PROGRESS": status for action, status in _IN_PROGRESS.items()},
    **{f"{action}_COMPLETE": status for action, status in _COMPLETE.items()},
    **{f"{action}_FAILED": ERROR for action in ACTIONS},
}


def trove_status(stack_status, update_status=RESIZE):
    """The Trove status for a Heat ``stack_status`` such as ``CREATE_IN_PROGRESS``;
    ``GONE`` (None) for a deleted stack."""
    status = TABLE.get(stack_status, ERROR)
    return update_status if status is _REQUESTED_UPDATE else status


def instance_status(stack_status, instance_tags):
    """The Trove status of an instance stack, with what its records.instance.InstanceTags add."""
    result = trove_status(stack_status, update_status=instance_tags.operation or RESIZE)
    if result == ACTIVE and instance_tags.restart_required:
        return RESTART_REQUIRED
    return result


def is_gone(stack_status):
    return TABLE.get(stack_status, ERROR) is GONE


def is_busy(stack_status):
    """Whether Heat is working on the stack (any ``<ACTION>_IN_PROGRESS``)."""
    return (stack_status or "").endswith("_IN_PROGRESS")


_HEAT_WRAPPING = re.compile(r"^(?:Resource \w+ failed: )?(?:\w+: )?(?:resources\.[\w.-]+: )?")
_WENT_TO_STATUS = re.compile(r'Went to status \w+ due to "(.*)"\s*$', re.S)


def fault_message(reason):
    """The user-facing part of a failed stack's reason: Heat wraps the plugin's message in
    'Resource CREATE failed: ResourceInError: resources.server: Went to status ERROR due to'."""
    message = _HEAT_WRAPPING.sub("", reason or "", count=1)
    inner = _WENT_TO_STATUS.search(message)
    return (inner.group(1) if inner else message).strip() or "The operation failed."
