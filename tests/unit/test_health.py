"""operating_status and volume.used from the local driver's process table (a real process
standing in for a server, real files), through the API with the FAKE gateway of api_fakes;
progress from the stack's resources."""
import json
import subprocess
import sys

import pytest

from dbaas_api.config import Settings
from dbaas_api.service import health
from tests.unit.api_fakes import Harness


def server_dir(state_dir, key, stack_id):
    """What the local driver leaves for a server: owner.json, instance.json and data/."""
    home = state_dir / "instances" / key
    (home / "data").mkdir(parents=True)
    (home / "owner.json").write_text(json.dumps({"stack_id": stack_id}))
    (home / "instance.json").write_text(json.dumps({
        "datastore": "postgresql", "version": "15", "address": "127.0.9.9", "port": 5432,
        "flavor": {"id": "1", "name": "db.tiny", "ram_mb": 256, "vcpus": 1, "max_connections": 50}}))
    (home / "data" / "file").write_bytes(b"x" * 3 * 1024 * 1024)
    return home


@pytest.fixture
def server():
    """A live process whose argv names a data dir, as the driver recognises its servers."""
    started = []

    def start(home):
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(home / "data")])
        (home / "pid").write_text(f"{process.pid}\n")
        started.append(process)
        return process
    yield start
    for process in started:
        process.kill()
        process.wait()


@pytest.fixture
def api(tmp_path):
    return Harness(state_dir=tmp_path)


def instance(api):
    created = api.create(datastore={"type": "postgresql"})
    api.gateway.finish(created["id"])
    return created["id"]


def test_a_running_server_is_healthy_and_a_dead_one_shutdown_on_show_and_list(api, tmp_path, server):
    iid = instance(api)
    process = server(server_dir(tmp_path, "k1", iid))
    shown = api.get(f"/instances/{iid}").get_json()["instance"]
    assert (shown["status"], shown["operating_status"]) == ("ACTIVE", "HEALTHY")
    assert shown["volume"] == {"size": 1, "used": 0.0}   # 3 MB, in GB to two places as Trove shows it
    listed = api.get("/instances").get_json()["instances"][0]
    assert (listed["status"], listed["operating_status"]) == ("ACTIVE", "HEALTHY")
    assert "used" not in listed["volume"]   # a live reading costs a walk of the data dir: show only

    process.kill()
    process.wait()
    for view in (api.get(f"/instances/{iid}").get_json()["instance"],
                 api.get("/instances").get_json()["instances"][0],
                 api.get("/instances/detail").get_json()["instances"][0]):
        assert (view["status"], view["operating_status"]) == ("SHUTDOWN", "SHUTDOWN")


def test_an_instance_without_a_server_here_is_unknown_not_shutdown(api):
    iid = instance(api)
    shown = api.get(f"/instances/{iid}").get_json()["instance"]
    assert (shown["status"], shown["operating_status"]) == ("ACTIVE", "")
    assert "used" not in shown["volume"]


def test_a_change_under_way_keeps_its_status_while_the_server_is_down(api, tmp_path):
    iid = instance(api)
    server_dir(tmp_path, "k1", iid)   # no process: stopped for the restart
    api.gateway.stacks[iid]["stack_status"] = "UPDATE_IN_PROGRESS"
    api.gateway.stacks[iid]["tags"].append("op:REBOOT")
    shown = api.get(f"/instances/{iid}").get_json()["instance"]
    assert (shown["status"], shown["operating_status"]) == ("REBOOT", "RESTARTING")
    api.gateway.stacks[iid]["stack_status"] = "CREATE_IN_PROGRESS"
    shown = api.get(f"/instances/{iid}").get_json()["instance"]
    assert (shown["status"], shown["operating_status"]) == ("BUILD", "BUILD")


def test_volume_used_is_the_data_dirs_size_in_gb(tmp_path, server):
    server_dir(tmp_path, "k1", "stack-1")
    table = health.ProcessTable(tmp_path)
    used = table.used_bytes("stack-1")
    assert 3 * 1024 * 1024 <= used < 4 * 1024 * 1024
    assert table.used_bytes("stack-2") is None


def test_a_destroyed_server_is_forgotten(tmp_path, server):
    home = server_dir(tmp_path, "k1", "stack-1")
    table = health.ProcessTable(tmp_path)
    assert table.operating_status(["stack-1"]) == {"stack-1": "SHUTDOWN"}
    import shutil
    shutil.rmtree(home)
    assert table.operating_status(["stack-1"]) == {}


def test_another_driver_gives_no_signal(tmp_path):
    environment = tmp_path / "cloud.yaml"
    environment.write_text("resource_registry:\n  DBaaS::Server: cloud/server.yaml\n")
    assert isinstance(health.probe_for(Settings(environment_file=environment)), health.NoProbe)
    assert isinstance(health.probe_for(Settings(state_dir=tmp_path)), health.ProcessTable)


def test_progress_while_heat_works_from_the_stacks_resources(api):
    created = api.create(datastore={"type": "postgresql"})
    iid = created["id"]
    api.gateway.stacks[iid]["resources"] = [
        {"resource_name": "admin_password", "resource_status": "CREATE_COMPLETE"},   # as heatclient gives them
        {"resource_name": "server", "resource_status": "CREATE_IN_PROGRESS"},
        {"resource_name": "database_x", "resource_status": "INIT_COMPLETE"},
    ]
    shown = api.get(f"/instances/{iid}").get_json()["instance"]
    assert shown["status"] == "BUILD" and shown["progress"] == {"done": 1, "total": 3}
    assert "progress" not in api.get("/instances").get_json()["instances"][0]
    api.gateway.finish(iid)
    assert "progress" not in api.get(f"/instances/{iid}").get_json()["instance"]
