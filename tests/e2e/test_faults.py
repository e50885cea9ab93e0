"""Faults the service must survive: killed engine, killed API. Each on its own stack, since
the test kills parts of it."""
import contextlib
import os
import signal
import time
import types
import uuid

import pytest

from tests.e2e.support import as_stored
from tests.e2e.test_instances import pid_alive
from tests.harness import Stack


@pytest.fixture
def own_stack():
    stack = Stack()
    try:
        stack.up()
        yield stack
    finally:
        stack.destroy()


def dbaas_wait(stack, client, instance_id, timeout=120):
    """``dbaas wait ID`` as a user runs it, against the API."""
    import subprocess
    import sys
    project = client.base.rsplit("/", 1)[1]
    return subprocess.run([sys.executable, "-m", "dbaas_api.cli", "wait", instance_id, "--project", project,
                           "--url", stack.url, "--interval", "0.1", "--timeout", str(timeout)],
                          capture_output=True, text=True, timeout=timeout + 30, stdin=subprocess.DEVNULL)


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_engine_killed_during_create_never_leaves_build_forever(own_stack):
    client = own_stack.client(f"kill-{uuid.uuid4().hex[:8]}")
    driver = own_stack.embedded.driver
    created = client.create_instance(name="doomed", flavorRef="1", volume={"size": 1},
                                     datastore={"type": "postgresql"})
    # Kill the engine once the plugin has begun making the server: the worst moment.
    key = wait_for(lambda: next(iter(driver.keys()), None), 60, "the server's directory")
    os.kill(own_stack.embedded.heat.pid(), signal.SIGKILL)
    wait_for(lambda: not own_stack.embedded.heat.pid(), 10, "the engine to die")

    own_stack.up()  # the API is still running; this restarts the engine and reconciles
    def settled():
        status = client.get(f"/instances/{created['id']}").json()["instance"]["status"]
        return status if status in ("ACTIVE", "ERROR") else None

    final = wait_for(settled, 120, "ACTIVE or ERROR after the engine restart")
    if final == "ERROR":
        assert client.get(f"/instances/{created['id']}").json()["instance"]["fault"]["message"]
        # reset_status: Heat checks what the dead engine left; the instance ends ACTIVE only
        # if its server exists and runs, else ERROR saying what is wrong.
        response = client.post(f"/instances/{created['id']}/action", {"reset_status": {}})
        assert response.status_code == 202, response.text
        from dbaas_api.heat_gateway import HeatGateway
        gateway = HeatGateway(own_stack.settings)
        wait_for(lambda: gateway.get_stack(created["id"], resolve_outputs=False)["stack_status"] in (
            "CHECK_COMPLETE", "CHECK_FAILED"), 60, "the check")
        checked = client.get(f"/instances/{created['id']}").json()["instance"]
        print("after reset_status:", checked["status"], checked.get("fault"))
        if checked["status"] == "ACTIVE":
            assert checked["operating_status"] == "HEALTHY"
        else:
            assert checked["fault"]["message"]

    local = driver.get(key)
    assert client.delete_and_wait(created["id"]) is None
    assert key not in driver.keys()
    assert local is None or not pid_alive(local.pid)
    assert not any(own_stack.state_dir.joinpath("instances").glob(f"{key}*"))


def test_api_killed_loses_nothing(own_stack):
    client = own_stack.client(f"api-{uuid.uuid4().hex[:8]}")
    ids = [client.create_instance(name=f"keep-{i}", flavorRef="1", volume={"size": 1},
                                  datastore={"type": "redis"})["id"] for i in range(2)]
    for instance_id in ids:
        client.wait_status(instance_id)
    before = client.get("/instances/detail").json()["instances"]

    os.kill(own_stack.embedded.api.pid(), signal.SIGKILL)
    wait_for(lambda: not own_stack.embedded.api.healthy(), 10, "the API to die")
    own_stack.up()

    after = client.get("/instances/detail").json()["instances"]
    assert as_stored(after) == as_stored(before)
    for instance_id in ids:
        client.delete_and_wait(instance_id)


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb"])
def test_a_killed_datastore_shows_shutdown_and_restart_brings_it_back_with_its_data(stack, datastore):
    from tests.e2e.support import settled, write_and_read
    client = stack.client(f"dead-{uuid.uuid4().hex[:8]}")
    password = "Dead-" + uuid.uuid4().hex
    created = client.create_instance(
        name="victim", flavorRef="1", volume={"size": 1}, datastore={"type": datastore},
        databases=[{"name": "appdb"}], users=[{"name": "app", "password": password, "databases": [{"name": "appdb"}]}])
    try:
        active = client.wait_status(created["id"])
        assert active["operating_status"] == "HEALTHY"
        host = active["ip"][0]
        assert write_and_read(datastore, host, "app", password, "appdb") == "v"
        (local,) = [i for i in stack.embedded.driver.list() if (i.owner or {}).get("stack_id") == created["id"]]

        os.kill(local.pid, signal.SIGKILL)   # the server, not through any API
        wait_for(lambda: not pid_alive(local.pid), 10, "the server to die")
        def shown():
            return client.get(f"/instances/{created['id']}").json()["instance"]
        def listed():
            (only,) = client.get("/instances").json()["instances"]
            return only
        for view in (shown, listed):
            found = wait_for(lambda: (lambda v: v if v["operating_status"] == "SHUTDOWN" else None)(view()),
                             5, "SHUTDOWN")
            assert found["status"] == "SHUTDOWN"

        response = client.post(f"/instances/{created['id']}/action", {"restart": {}})
        assert response.status_code == 202, response.text
        settled(stack, created["id"])
        for view in (shown(), listed()):
            assert (view["status"], view["operating_status"]) == ("ACTIVE", "HEALTHY")
        from tests.e2e.support import connected
        with connected(datastore, host, "app", password, "appdb") as connection, connection.cursor() as cursor:
            cursor.execute("SELECT v FROM t")
            assert [tuple(row) for row in cursor.fetchall()] == [("v",)]
    finally:
        client.delete_and_wait(created["id"])


def test_a_failed_restart_is_error_with_a_clear_fault_and_is_put_right_without_losing_data(stack):
    """A fault outside the service (the data directory's permissions broken) makes a restart
    fail: ERROR with the reason and no secret in it. reset_status checks the stack (the
    server is down: still ERROR, saying so). Once the fault is repaired, a restart brings the
    same server back with its data (Heat updates our failed server in place, never replaces
    it with a new, empty one)."""
    from tests.e2e.support import admin_password, connected, write_and_read
    from dbaas_api.heat_gateway import HeatGateway
    gateway = HeatGateway(stack.settings)
    client = stack.client(f"failrestart-{uuid.uuid4().hex[:8]}")
    password = "Fail-" + uuid.uuid4().hex
    created = client.create_instance(
        name="fragile", flavorRef="1", volume={"size": 1}, datastore={"type": "postgresql"},
        databases=[{"name": "appdb"}], users=[{"name": "app", "password": password, "databases": [{"name": "appdb"}]}])
    iid = created["id"]

    def finished():
        found = gateway.get_stack(iid, resolve_outputs=False)
        return None if found["stack_status"].endswith("_IN_PROGRESS") else found
    try:
        active = client.wait_status(iid)
        host = active["ip"][0]
        assert write_and_read("postgresql", host, "app", password, "appdb") == "v"
        (local,) = [i for i in stack.embedded.driver.list() if (i.owner or {}).get("stack_id") == iid]
        os.chmod(local.datadir, 0o755)   # PostgreSQL refuses to start on a data dir others can read

        assert client.post(f"/instances/{iid}/action", {"restart": {}}).status_code == 202
        waited = dbaas_wait(stack, client, iid)   # the CLI, through the API
        assert waited.returncode == 1 and "fault: PostgreSQL exited" in waited.stderr, waited
        assert finished()["stack_status"] == "UPDATE_FAILED"
        failed = client.get(f"/instances/{iid}").json()["instance"]
        assert (failed["status"], failed["operating_status"]) == ("ERROR", "SHUTDOWN")
        message = failed["fault"]["message"]
        assert "PostgreSQL exited" in message and "server.log" in message, message
        assert not any(secret in message for secret in (password, admin_password(stack, iid)))
        assert "Traceback" not in message and "resources." not in message
        assert client.get("/instances").json()["instances"][0]["status"] == "ERROR"

        # reset_status: Heat checks the stack; the server is not running, which it says.
        assert client.post(f"/instances/{iid}/action", {"reset_status": {}}).status_code == 202
        assert wait_for(finished, 60, "the check")["stack_status"] == "CHECK_FAILED"
        assert "not running" in client.get(f"/instances/{iid}").json()["instance"]["fault"]["message"]

        os.chmod(local.datadir, 0o700)   # the operator repairs the fault
        assert client.post(f"/instances/{iid}/action", {"restart": {}}).status_code == 202
        assert wait_for(finished, 120, "the second restart")["stack_status"] == "UPDATE_COMPLETE"
        back = client.get(f"/instances/{iid}").json()["instance"]
        assert (back["status"], back["operating_status"], back["ip"]) == ("ACTIVE", "HEALTHY", [host])
        assert [i.key for i in stack.embedded.driver.list() if (i.owner or {}).get("stack_id") == iid] == [local.key]
        with connected("postgresql", host, "app", password, "appdb") as connection, connection.cursor() as cursor:
            cursor.execute("SELECT v FROM t")
            assert cursor.fetchall() == [("v",)]
    finally:
        client.delete_and_wait(iid)


@contextlib.contextmanager
def pg_with_data(stack, prefix):
    """A PostgreSQL instance with a row written as the service's admin, deleted afterwards:
    (client, instance id, host, (admin user, password), its local server)."""
    from tests.e2e.support import admin_password, write_and_read
    from dbaas_api import datastores
    client = stack.client(f"{prefix}-{uuid.uuid4().hex[:8]}")
    iid = client.create_instance(name=prefix, flavorRef="1", volume={"size": 1}, datastore={"type": "postgresql"})["id"]
    local = None
    try:
        host = client.wait_status(iid)["ip"][0]
        admin = (datastores.get("postgresql").admin_user, admin_password(stack, iid))
        assert write_and_read("postgresql", host, *admin, "postgres") == "v"
        (local,) = [i for i in stack.embedded.driver.list() if (i.owner or {}).get("stack_id") == iid]
        yield client, iid, host, admin, local
    finally:
        if local is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(local.pid, signal.SIGCONT)   # in case a test left it frozen
        client.delete_and_wait(iid)


def test_a_failed_resize_is_error_with_a_clear_fault_and_a_restart_finishes_it(stack):
    """The resize's restart fails (the data directory's permissions broken): ERROR with the
    reason. The stack records the new flavor (Heat keeps a failed update's parameters), so
    after the repair a restart starts the same server with the new flavor's settings."""
    from tests.e2e.support import setting, write_and_read
    from dbaas_api.heat_gateway import HeatGateway
    gateway = HeatGateway(stack.settings)
    with pg_with_data(stack, "failresize") as (client, iid, host, admin, local):
        os.chmod(local.datadir, 0o755)
        assert client.post(f"/instances/{iid}/action", {"resize": {"flavorRef": "3"}}).status_code == 202
        waited = dbaas_wait(stack, client, iid)
        assert waited.returncode == 1 and "fault: PostgreSQL exited" in waited.stderr, waited
        assert gateway.get_stack(iid, resolve_outputs=False)["stack_status"] == "UPDATE_FAILED"
        failed = client.get(f"/instances/{iid}").json()["instance"]
        assert (failed["status"], failed["flavor"]["id"]) == ("ERROR", "3")
        assert admin[1] not in failed["fault"]["message"]

        os.chmod(local.datadir, 0o700)
        assert client.post(f"/instances/{iid}/action", {"restart": {}}).status_code == 202
        assert dbaas_wait(stack, client, iid).returncode == 0
        assert client.get(f"/instances/{iid}").json()["instance"]["operating_status"] == "HEALTHY"
        assert setting("postgresql", host, *admin, "max_connections") == "200"   # db.medium's
        assert write_and_read("postgresql", host, *admin, "postgres") == "v"


def test_a_restart_held_up_shows_its_progress_and_reset_status_cancels_it(stack):
    """The server is frozen (SIGSTOP), so the restart's stop cannot finish and Heat's update
    stays in progress: the view says REBOOT with the stack's progress; reset_status asks Heat
    to cancel it, which ends the driver's step at once (LocalServer.handle_update_cancel): the
    instance ends ERROR with Heat's reason, and a restart then brings it back with its data."""
    from tests.e2e.support import write_and_read
    from dbaas_api.heat_gateway import HeatGateway
    gateway = HeatGateway(stack.settings)
    with pg_with_data(stack, "held") as (client, iid, host, admin, local):
        os.kill(local.pid, signal.SIGSTOP)
        try:
            assert client.post(f"/instances/{iid}/action", {"restart": {}}).status_code == 202
            held = client.get(f"/instances/{iid}").json()["instance"]
            assert held["status"] == "REBOOT"
            progress = held["progress"]
            assert 0 < progress["done"] < progress["total"], progress   # the server is the one left
            assert client.post(f"/instances/{iid}/action", {"resize": {"flavorRef": "2"}}).status_code == 409
            assert client.post(f"/instances/{iid}/action", {"reset_status": {}}).status_code == 202
        finally:
            os.kill(local.pid, signal.SIGCONT)
        waited = dbaas_wait(stack, client, iid)
        final = gateway.get_stack(iid, resolve_outputs=False)
        assert waited.returncode == 1 and final["stack_status"] == "UPDATE_FAILED", (waited, final)
        assert "cancel" in client.get(f"/instances/{iid}").json()["instance"]["fault"]["message"].lower()

        assert client.post(f"/instances/{iid}/action", {"restart": {}}).status_code == 202
        assert dbaas_wait(stack, client, iid).returncode == 0
        assert client.get(f"/instances/{iid}").json()["instance"]["operating_status"] == "HEALTHY"
        assert write_and_read("postgresql", host, *admin, "postgres") == "v"


HUNG_SERVER = """
heat_template_version: 2018-08-31
resources:
  admin_password:
    type: OS::Heat::RandomString
    properties: {length: 24, character_classes: [{class: lettersdigits, min: 24}]}
  server:
    type: DBaaS::Local::Server
    properties:
      datastore: redis
      datastore_version: "7"
      flavor: "1"
      volume_size: 1
      admin_password: {get_attr: [admin_password, value]}
"""


def test_a_create_that_hangs_is_ended_by_the_stack_timeout_and_cleaned_up(stack):
    """The create's step waits for the state dir's address lock, which the test holds (as a
    wedged process would): the server's create never finishes. Heat's timeout (timeout_mins)
    cancels it, since check_create_complete only looks once per poll: the stack ends
    CREATE_FAILED saying it timed out, and the step's process is gone with nothing made."""
    import fcntl

    from dbaas_api.drivers.local import steps
    from tests.e2e import heat_cli
    client = heat_cli.heat(stack, f"hang-{uuid.uuid4().hex[:8]}")
    lock_path = stack.state_dir / "instances" / ".lock"
    lock_path.parent.mkdir(mode=0o711, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        created = client.stacks.create(stack_name=f"hang-{uuid.uuid4().hex[:8]}", template=HUNG_SERVER,
                                       timeout_mins=1, disable_rollback=True)["stack"]
        try:
            key = wait_for(lambda: client.resources.get(created["id"], "server").physical_resource_id,
                           30, "the server's key")
            assert wait_for(lambda: steps.step_pids(stack.state_dir, key), 30, "the create's step")
            final = wait_for(lambda: _settled(client, created["id"]), 150, "Heat's timeout")
            assert final.stack_status == "CREATE_FAILED", final.stack_status_reason
            assert "timed out" in final.stack_status_reason.lower(), final.stack_status_reason
            assert steps.step_pids(stack.state_dir, key) == []
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    assert key not in stack.embedded.driver.keys()
    client.stacks.delete(created["id"])
    gone = wait_for(lambda: _settled(client, created["id"]), 60, "the delete")
    assert gone.stack_status in ("GONE", "DELETE_COMPLETE"), gone.stack_status_reason


def _settled(client, stack_id):
    """The stack once Heat is done with it (stack_status GONE once it is deleted), else None."""
    try:
        found = client.stacks.get(stack_id, resolve_outputs=False)
    except Exception as exc:   # heatclient's HTTPNotFound once it is deleted
        if getattr(exc, "code", None) != 404:
            raise
        return types.SimpleNamespace(stack_status="GONE", stack_status_reason="")
    return None if found.stack_status.endswith("_IN_PROGRESS") else found
