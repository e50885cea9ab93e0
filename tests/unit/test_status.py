"""dbaas_api.status: every Heat action x state has a Trove status (the whole table)."""
import pytest

from dbaas_api import status

EXPECTED = {
    "INIT_IN_PROGRESS": "BUILD", "INIT_COMPLETE": "BUILD", "INIT_FAILED": "ERROR",
    "CREATE_IN_PROGRESS": "BUILD", "CREATE_COMPLETE": "ACTIVE", "CREATE_FAILED": "ERROR",
    "DELETE_IN_PROGRESS": "SHUTDOWN", "DELETE_COMPLETE": None, "DELETE_FAILED": "ERROR",
    "UPDATE_IN_PROGRESS": "RESIZE", "UPDATE_COMPLETE": "ACTIVE", "UPDATE_FAILED": "ERROR",
    "ROLLBACK_IN_PROGRESS": "ERROR", "ROLLBACK_COMPLETE": "ACTIVE", "ROLLBACK_FAILED": "ERROR",
    "SUSPEND_IN_PROGRESS": "SHUTDOWN", "SUSPEND_COMPLETE": "SHUTDOWN", "SUSPEND_FAILED": "ERROR",
    "RESUME_IN_PROGRESS": "REBOOT", "RESUME_COMPLETE": "ACTIVE", "RESUME_FAILED": "ERROR",
    "ADOPT_IN_PROGRESS": "BUILD", "ADOPT_COMPLETE": "ACTIVE", "ADOPT_FAILED": "ERROR",
    "SNAPSHOT_IN_PROGRESS": "BACKUP", "SNAPSHOT_COMPLETE": "ACTIVE", "SNAPSHOT_FAILED": "ERROR",
    "CHECK_IN_PROGRESS": "ACTIVE", "CHECK_COMPLETE": "ACTIVE", "CHECK_FAILED": "ERROR",
    "RESTORE_IN_PROGRESS": "BUILD", "RESTORE_COMPLETE": "ACTIVE", "RESTORE_FAILED": "ERROR",
}


def test_the_table_covers_every_heat_action_and_state():
    every = {f"{a}_{s}" for a in status.ACTIONS for s in status.STATES}
    assert set(status.TABLE) == every == set(EXPECTED)


def test_heat_declares_no_action_or_state_we_miss():
    from heat.engine.stack import Stack
    assert set(Stack.ACTIONS) <= set(status.ACTIONS)
    assert set(Stack.STATUSES) <= set(status.STATES)


@pytest.mark.parametrize("stack_status,expected", sorted(EXPECTED.items()))
def test_each_stack_status(stack_status, expected):
    assert status.trove_status(stack_status) == expected
    assert status.is_gone(stack_status) is (expected is None)


@pytest.mark.parametrize("requested", ["RESIZE", "UPGRADE", "RESTART_REQUIRED", "PROMOTE"])
def test_update_in_progress_is_what_the_update_is_for(requested):
    assert status.trove_status("UPDATE_IN_PROGRESS", update_status=requested) == requested
    assert status.trove_status("UPDATE_COMPLETE", update_status=requested) == "ACTIVE"


@pytest.mark.parametrize("unknown", ["", None, "WEIRD_STATE", "create_complete"])
def test_an_unknown_status_is_error_not_a_crash(unknown):
    assert status.trove_status(unknown) == "ERROR"
    assert not status.is_gone(unknown)


@pytest.mark.parametrize("reason,message", [
    ('Resource CREATE failed: ResourceInError: resources.server: Went to status ERROR due to '
     '"mariadbd did not start: port in use"', "mariadbd did not start: port in use"),
    ("Resource CREATE failed: ValueError: resources.database_ab12: bad name", "bad name"),
    ("Engine went down during stack CREATE", "Engine went down during stack CREATE"),
    ("", "The operation failed."),
    (None, "The operation failed."),
])
def test_fault_message_unwraps_heat(reason, message):
    assert status.fault_message(reason) == message


def test_an_instance_shows_its_changes_status_and_a_pending_restart():
    from dbaas_api.records.instance import InstanceTags
    plain = InstanceTags("p", "postgresql", "15", "1", 1, "n")
    changing = InstanceTags("p", "postgresql", "15", "1", 1, "n", operation="ACTIVE")
    waiting = InstanceTags("p", "postgresql", "15", "1", 1, "n", operation="ACTIVE", restart_required=True)
    assert status.instance_status("UPDATE_IN_PROGRESS", plain) == "RESIZE"
    assert status.instance_status("UPDATE_IN_PROGRESS", changing) == "ACTIVE"
    assert status.instance_status("UPDATE_COMPLETE", waiting) == "RESTART_REQUIRED"
    assert status.instance_status("UPDATE_IN_PROGRESS", waiting) == "RESTART_REQUIRED"
    assert status.instance_status("UPDATE_FAILED", waiting) == "ERROR"
    assert status.instance_status("CREATE_IN_PROGRESS", waiting) == "BUILD"
