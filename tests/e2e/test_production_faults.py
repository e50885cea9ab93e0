"""Faults the production profile survives, with its real processes: a heat-engine killed
mid-work, an API worker killed mid-request, RabbitMQ and MariaDB restarted, a new engine
joining, and what it refuses (a backing service unreachable at start, an engine without the
plugins). One production profile for the module; each test leaves it running."""
import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from dbaas_api.heat_gateway import HeatGateway
from dbaas_api.profiles import servers
from tests.e2e.test_instances import pid_alive
from tests.conftest import PROFILE
from tests.harness import Stack

SETTLED = ("ACTIVE", "ERROR")


@pytest.fixture(scope="module")
def prod(request):
    if PROFILE == "production":   # make e2e-production: the session's stack is one already
        yield request.getfixturevalue("stack")
        return
    stack = Stack(profile="production", heat_engines=2)
    try:
        stack.up()
        yield stack
    finally:
        stack.destroy()


def wait_for(check, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def status(client, instance_id):
    response = client.get(f"/instances/{instance_id}")
    assert response.status_code == 200, response.text
    return response.json()["instance"]


def stack_status(stack, instance_id):
    return HeatGateway(stack.settings).get_stack(instance_id, resolve_outputs=False)["stack_status"]


def settle(stack, client, instance_id, patience=20):
    """ACTIVE or ERROR on its own within ``patience`` seconds (with the legacy engine, work of
    the dead engine is FAILED by the engine's restart); else (convergence: Heat leaves the
    dead engine's work IN_PROGRESS) reset_status, served by a surviving engine, cancels it
    (ERROR); then a reset_status checks what exists. Returns the final status and how it got there."""
    def settled():
        return status(client, instance_id)["status"] in SETTLED and not stack_status(
            stack, instance_id).endswith("_IN_PROGRESS")
    try:
        wait_for(settled, patience, f"{instance_id} to settle", interval=0.2)
        how = "itself"
    except AssertionError:
        how = "reset_status"
        assert client.post(f"/instances/{instance_id}/action", {"reset_status": {}}).status_code == 202
        wait_for(lambda: stack_status(stack, instance_id).endswith("_FAILED"), 60, "the cancel")
    shown = status(client, instance_id)
    if shown["status"] == "ERROR":
        assert shown["fault"]["message"]
        assert client.post(f"/instances/{instance_id}/action", {"reset_status": {}}).status_code == 202
        wait_for(lambda: stack_status(stack, instance_id) in ("CHECK_COMPLETE", "CHECK_FAILED"), 90,
                 "the check")
        how += "+check"
        shown = status(client, instance_id)
        assert shown["status"] == "ACTIVE" or shown["fault"]["message"], shown
    return shown["status"], how, (shown.get("fault") or {}).get("message")


def delete_all(stack, client, ids):
    for instance_id in ids:
        client.delete_and_wait(instance_id, timeout=180)
    owned = {i.key for i in stack.embedded.driver.list() if i.owner.get("stack_id") in ids}
    assert not owned
    assert not _processes_under(stack.state_dir / "instances")


def _processes_under(directory):
    """Pids of live processes whose command line names ``directory`` (datastore servers)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(directory) in proc.joinpath("cmdline").read_bytes().decode(errors="replace") \
                        and pid_alive(int(proc.name)):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _children(pid):
    children = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if int(proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    children.append(int(proc.name))
            except (OSError, IndexError, ValueError):
                continue
    return children


def _sigkill(component):
    pid = component.pid()
    assert pid, component.name
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not component.pid(), 10, f"{component.name} to die")


def test_a_backing_service_unreachable_at_start_is_named_with_where(prod):
    # Port 9 (discard): nothing listens there.
    for which, settings in (
        ("MariaDB", {"heat_database_url": "mysql+pymysql://heat:pw@127.0.0.1:9/heat",
                     "heat_transport_url": prod.embedded.transport_url}),
        ("RabbitMQ", {"heat_database_url": prod.embedded.database_url,
                      "heat_transport_url": "rabbit://heat:pw@127.0.0.1:9/heat"}),
    ):
        other = Stack(profile="production", **settings)
        started = time.monotonic()
        try:
            with pytest.raises(servers.Unreachable) as raised:
                other.up()
        finally:
            other.destroy()
        assert which in str(raised.value) and "127.0.0.1:9" in str(raised.value), raised.value
        assert time.monotonic() - started < 15
        assert not other.embedded.heat.pid() and not any(e.pid() for e in other.embedded.engines)


def test_an_engine_killed_mid_work_leaves_nothing_a_surviving_engine_cannot_settle(prod):
    client = prod.client(f"kill-{uuid.uuid4().hex[:8]}")
    changed = [client.create_instance(name=f"changed-{n}", flavorRef="1", volume={"size": 1},
                                      datastore={"type": "postgresql"})["id"] for n in range(2)]
    for instance_id in changed:
        client.wait_status(instance_id)
    created = [client.create_instance(name=f"created-{ds}", flavorRef="1", volume={"size": 1},
                                      datastore={"type": ds})["id"] for ds in ("postgresql", "mariadb", "redis")]
    for instance_id in changed:
        response = client.post(f"/instances/{instance_id}/databases", {"databases": [{"name": "more"}]})
        assert response.status_code == 202, response.text
    engine = prod.embedded.engines[0]
    _sigkill(engine)
    prod.embedded.start_engine(engine)   # as systemd restarts it

    outcomes = {instance_id: settle(prod, client, instance_id) for instance_id in changed + created}
    print("after the engine's death:", outcomes)
    delete_all(prod, client, changed + created)


def test_a_new_engine_joins_and_takes_work(prod):
    engine = prod.embedded.add_engine()
    for other in prod.embedded.engines[:-1]:
        if other.pid():
            _sigkill(other)
    client = prod.client(f"join-{uuid.uuid4().hex[:8]}")
    instance_id = client.create_instance(name="joined", flavorRef="1", volume={"size": 1},
                                         datastore={"type": "redis"})["id"]
    client.wait_status(instance_id, timeout=60)
    log = prod.state_dir / "logs" / f"{engine.name}.log"
    assert instance_id in log.read_text()   # it did the work: the others are dead
    delete_all(prod, client, [instance_id])
    # Back to two engines for the tests after this one.
    prod.embedded.add_engine()


def test_api_workers_killed_mid_request_leave_the_others_answering_and_nothing_half_made(prod):
    client = prod.client(f"worker-{uuid.uuid4().hex[:8]}")
    api_workers, heat_workers = _children(prod.embedded.api.pid()), _children(prod.embedded.heat.pid())
    assert len(api_workers) >= 2 and len(heat_workers) >= 2
    answers, failures = [], []

    def create(n):
        try:
            answers.append(client.post("/instances", {"instance": {
                "name": f"racing-{n}", "flavorRef": "1", "volume": {"size": 1},
                "datastore": {"type": "redis"}}}).status_code)
        except requests.RequestException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)   # the requests are in flight
    os.kill(api_workers[0], signal.SIGKILL)
    os.kill(heat_workers[0], signal.SIGKILL)
    for thread in threads:
        thread.join()
    print("answers", answers, "failures", failures)
    # The others keep answering (gunicorn starts new workers beside them).
    for _ in range(10):
        assert client.get("/instances").status_code == 200
    listed = [i["id"] for i in client.get("/instances").json()["instances"]]
    assert answers.count(200) <= len(listed) <= 4
    for instance_id in listed:   # every stack that exists is a whole instance
        client.wait_status(instance_id, timeout=60)
    wait_for(lambda: len(_children(prod.embedded.api.pid())) == len(api_workers), 30, "a new API worker")
    delete_all(prod, client, listed)


def _outage(prod, component_owner, what):
    """Stop a backing service: the API answers a clear 503 meanwhile; started again, calls
    resume and nothing made before is lost."""
    client = prod.client(f"outage-{uuid.uuid4().hex[:8]}")
    before = client.create_instance(name="before", flavorRef="1", volume={"size": 1},
                                    datastore={"type": "postgresql"})["id"]
    client.wait_status(before)
    component_owner.stop()
    started = time.monotonic()
    response = client.get(f"/instances/{before}")
    answered_in = time.monotonic() - started
    assert response.status_code == 503, response.text
    assert "orchestration service is unavailable" in response.json()["serviceUnavailable"]["message"]
    component_owner.start(prod.embedded._env())
    restarted = time.monotonic()
    wait_for(lambda: client.get(f"/instances/{before}").status_code == 200, 120, "calls to resume")
    print(f"{what}: 503 in {answered_in:.1f} s; calls resumed {time.monotonic() - restarted:.1f} s after its restart")
    assert status(client, before)["status"] == "ACTIVE"
    response = client.post(f"/instances/{before}/databases", {"databases": [{"name": "after"}]})
    assert response.status_code == 202, response.text
    after = client.create_instance(name="after", flavorRef="1", volume={"size": 1},
                                   datastore={"type": "redis"})["id"]
    client.wait_status(after, timeout=90)
    wait_for(lambda: {d["name"] for d in client.get(f"/instances/{before}/databases").json()["databases"]}
             >= {"after"}, 60, "the change after the restart")
    delete_all(prod, client, [before, after])


def test_rabbitmq_restarted(prod):
    _outage(prod, prod.embedded.rabbit, "RabbitMQ")


def test_mariadb_restarted(prod):
    _outage(prod, prod.embedded.mariadb, "MariaDB")


def test_an_engine_without_the_plugins_is_refused_with_a_clear_error(prod):
    client = prod.client(f"noplugins-{uuid.uuid4().hex[:8]}")
    bare = prod.embedded.add_engine(plugin_dirs="")
    for other in prod.embedded.engines[:-1]:
        if other.pid():
            _sigkill(other)
    before = {s["id"] for s in HeatGateway(prod.settings).list_stacks([], 1000)}
    response = client.post("/instances", {"instance": {"name": "nowhere", "flavorRef": "1",
                                                       "volume": {"size": 1}, "datastore": {"type": "redis"}}})
    assert response.status_code == 503, response.text
    message = response.json()["serviceUnavailable"]["message"]
    assert "plugins" in message and "DBaaS::" in message, message
    assert {s["id"] for s in HeatGateway(prod.settings).list_stacks([], 1000)} == before   # nothing made
    _sigkill(bare)
    prod.embedded.add_engine()
