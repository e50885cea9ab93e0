"""The local driver's steps (drivers/local/steps.py): a long driver call in a process of its
own, which a Heat plugin starts, polls once per look and can end. Real step processes; no
datastore server is needed (the calls fail or wait before one would be reached)."""
import fcntl
import json
import threading
from pathlib import Path

import pytest

from dbaas_api import errors
from dbaas_api.drivers.local import LocalDriver, steps
from dbaas_api.waiting import poll_until

PASSWORD = "Step-Secret-0123456789"


def finished(step):
    """The step's poll once it is done (its error raised)."""
    return poll_until(step.poll, timeout=30, interval=0.02)


def test_a_step_answers_through_poll_and_its_error_names_the_instance(tmp_path):
    step = steps.Step(tmp_path, "nothing-here", [("restart", {})], PASSWORD)
    with pytest.raises(errors.DBaaSError) as raised:
        finished(step)
    assert "nothing-here" in raised.value.message and PASSWORD not in raised.value.message


@pytest.fixture
def held(tmp_path):
    """An instance whose lock the test holds: a step on it waits (as behind a wedged one).
    Yields the state dir and the lock's file (unlock it to let the instance go)."""
    home = tmp_path / "instances" / "held"
    home.mkdir(parents=True)
    (home / "instance.json").write_text(json.dumps({"datastore": "redis", "version": "7"}))
    with open(home / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield tmp_path, lock


def test_a_step_that_waits_polls_false_and_cancel_ends_it(held):
    state_dir, _ = held
    step = steps.Step(state_dir, "held", [("set_overrides", {"values": {}})], PASSWORD)
    poll_until(lambda: steps.step_pids(state_dir, "held"), timeout=30, interval=0.02)
    assert step.poll() is False
    argv = Path(f"/proc/{step.pid}/cmdline").read_bytes().decode()
    assert PASSWORD not in argv   # the password goes through stdin only
    step.cancel()
    assert steps.step_pids(state_dir, "held") == []


def test_destroy_ends_a_step_still_under_way_for_the_instance(held):
    """As after an engine restart: the step is nobody's token any more, the delete finds it.
    The destroy kills the step first, then waits for the instance's lock (the test's)."""
    state_dir, lock = held
    step = steps.Step(state_dir, "held", [("set_overrides", {"values": {}})], PASSWORD)
    other = steps.Step(state_dir, "other", [("restart", {})], PASSWORD)
    poll_until(lambda: steps.step_pids(state_dir, "held"), timeout=30, interval=0.02)
    destroy = threading.Thread(target=LocalDriver(state_dir).destroy, args=("held",))
    try:
        destroy.start()
        poll_until(lambda: not steps.step_pids(state_dir, "held"), timeout=30, interval=0.02)
        fcntl.flock(lock, fcntl.LOCK_UN)
        destroy.join(30)
        assert not destroy.is_alive() and not (state_dir / "instances" / "held").exists()
        with pytest.raises(errors.DBaaSError) as raised:
            finished(step)
        assert "exited with code -9" in raised.value.message
        with pytest.raises(errors.DBaaSError, match="cannot be found"):
            finished(other)   # another instance's step went its own way
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        step.cancel()
        other.cancel()
        destroy.join(30)
