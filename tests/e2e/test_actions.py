"""Instance actions end to end, through the real Heat and real servers: restart (a new
server process, data kept, RESTART_REQUIRED cleared), resize of the flavor (the server's own
memory and connection settings change, data kept) and of the volume, refusals that leave the
stack untouched, and two resizes at once."""
import threading
import uuid

import pytest

from tests.e2e.support import admin_password, connected, settled, setting, write_and_read
from tests.e2e.test_instances import pid_alive


@pytest.fixture
def cleanup(stack):
    made = []
    yield made
    for client, instance_id in made:
        client.delete_and_wait(instance_id)


def new_instance(stack, cleanup, datastore="postgresql", **fields):
    client = stack.client(f"act-{uuid.uuid4().hex[:8]}")
    body = dict(name=f"act {datastore}", flavorRef="1", volume={"size": 1}, datastore={"type": datastore})
    body.update(fields)
    created = client.create_instance(**body)
    cleanup.append((client, created["id"]))
    return client, client.wait_status(created["id"])


def server_pid(stack, instance_id):
    (local,) = [i for i in stack.embedded.driver.list() if (i.owner or {}).get("stack_id") == instance_id]
    return local.pid


def act(client, stack, instance_id, body, expect=202):
    response = client.post(f"/instances/{instance_id}/action", body)
    assert response.status_code == expect, response.text
    if expect == 202:
        settled(stack, instance_id)
    return response


def admin(stack, datastore, instance):
    """The service's own admin account (the test is the operator here)."""
    from dbaas_api import datastores
    return datastores.get(datastore).admin_user, admin_password(stack, instance["id"])


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb", "redis"])
def test_restart_runs_a_new_server_with_the_same_data(stack, cleanup, datastore):
    password = "Act-" + uuid.uuid4().hex
    fields = {} if datastore == "redis" else {"databases": [{"name": "appdb"}],
                                              "users": [{"name": "app", "password": password,
                                                         "databases": [{"name": "appdb"}]}]}
    client, active = new_instance(stack, cleanup, datastore, **fields)
    iid, host = active["id"], active["ip"][0]
    user, secret = ("app", password) if datastore != "redis" else admin(stack, datastore, active)
    assert write_and_read(datastore, host, user, secret, "appdb") == "v"
    before = server_pid(stack, iid)

    act(client, stack, iid, {"restart": {}})
    after = server_pid(stack, iid)
    assert after and after != before and not pid_alive(before)
    assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "ACTIVE"
    with connected(datastore, host, user, secret, "appdb") as connection:
        if datastore == "redis":
            assert connection.get("k") == "v"   # Redis keeps its data over a clean shutdown
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM t")
                assert cursor.fetchone()[0] == 1


def test_restart_applies_a_restart_required_value_and_clears_the_status(stack, cleanup):
    client, active = new_instance(stack, cleanup, "postgresql")
    iid, host = active["id"], active["ip"][0]
    group = client.post("/configurations", {"configuration": {
        "name": "restart", "values": {"max_connections": 60},
        "datastore": {"type": "postgresql", "version": "15"}}}).json()["configuration"]
    try:
        assert client.put(f"/instances/{iid}", {"instance": {"configuration": group["id"]}}).status_code == 202
        settled(stack, iid)
        assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "RESTART_REQUIRED"
        user, secret = admin(stack, "postgresql", active)
        assert setting("postgresql", host, user, secret, "max_connections") == "50"   # db.tiny's

        act(client, stack, iid, {"restart": None})   # openstacksdk's body
        assert setting("postgresql", host, user, secret, "max_connections") == "60"
        assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "ACTIVE"
        assert [i["status"] for i in client.get("/instances").json()["instances"]] == ["ACTIVE"]
    finally:
        client.put(f"/instances/{iid}", {"instance": {}})
        settled(stack, iid)
        client.delete(f"/configurations/{group['id']}")


@pytest.mark.parametrize("datastore,name,before,after", [
    ("postgresql", "max_connections", "50", "200"),
    ("mariadb", "max_connections", "50", "200"),
    ("redis", "maxclients", "50", "200"),
])
def test_resize_flavor_changes_the_servers_settings_and_keeps_the_data(stack, cleanup, datastore, name,
                                                                      before, after):
    client, active = new_instance(stack, cleanup, datastore)
    iid, host = active["id"], active["ip"][0]
    user, secret = admin(stack, datastore, active)
    database = {"postgresql": "postgres", "mariadb": "mysql", "redis": None}[datastore]
    assert write_and_read(datastore, host, user, secret, database) == "v"
    assert setting(datastore, host, user, secret, name) == before

    act(client, stack, iid, {"resize": {"flavorRef": "3"}})
    assert setting(datastore, host, user, secret, name) == after
    shown = client.get(f"/instances/{iid}").json()["instance"]
    assert shown["status"] == "ACTIVE" and shown["flavor"]["id"] == "3"
    assert client.get("/instances").json()["instances"][0]["flavor"]["id"] == "3"
    assert write_and_read(datastore, host, user, secret, database) == "v"


def test_resize_volume_grows_it_and_shows_what_is_used(stack, cleanup):
    client, active = new_instance(stack, cleanup, "postgresql")
    iid = active["id"]
    assert active["volume"]["size"] == 1
    act(client, stack, iid, {"resize": {"volume": {"size": 3}}})
    shown = client.get(f"/instances/{iid}").json()["instance"]
    assert shown["status"] == "ACTIVE" and shown["volume"]["size"] == 3
    # What the data dir takes, read live: an empty PostgreSQL is some tens of MB.
    assert 0.01 <= shown["volume"]["used"] < 1
    assert client.get("/instances").json()["instances"][0]["volume"]["size"] == 3
    act(client, stack, iid, {"resize": {"volume": 4}})   # openstacksdk's body
    assert client.get(f"/instances/{iid}").json()["instance"]["volume"]["size"] == 4


BAD_ACTIONS = [
    ({"resize": {"flavorRef": "99"}}, 400, "99"),
    ({"resize": {"flavorRef": "1"}}, 400, "already has flavor"),
    ({"resize": {"volume": {"size": 1}}}, 400, "larger"),
    ({"resize": {"volume": {"size": 0}}}, 400, "volume"),
    ({"resize": {"volume": {"size": 10 ** 12}}}, 400, "volume"),
    ({"resize": {"volume": {"size": "lots"}}}, 400, "volume"),
    ({"resize": {}}, 400, "flavorRef"),
    ({"resize": {"flavorRef": "3", "volume": 2}}, 400, "flavorRef"),
    ({"restart": {"force": True}}, 400, "restart"),
    ({"reboot": {}}, 400, "Unknown action"),
    ({}, 400, "one action"),
    ({"restart": {}, "resize": {"flavorRef": "3"}}, 400, "one action"),
]


def test_bad_actions_are_4xx_in_trove_format_and_leave_the_stack_alone(stack, cleanup):
    from dbaas_api.heat_gateway import HeatGateway
    gateway = HeatGateway(stack.settings)
    client, active = new_instance(stack, cleanup, "redis")
    iid = active["id"]
    before = gateway.get_stack(iid, resolve_outputs=False)
    for body, code, mentions in BAD_ACTIONS:
        response = client.post(f"/instances/{iid}/action", body)
        assert response.status_code == code, (body, response.text)
        (key, error), = response.json().items()
        assert error["code"] == code and mentions in error["message"], (body, error)
    malformed = client.session.post(f"{client.base}/instances/{iid}/action", data='{"resize": {',
                                    headers={"Content-Type": "application/json"}, timeout=10)
    assert malformed.status_code == 400 and "badRequest" in malformed.json()
    after = gateway.get_stack(iid, resolve_outputs=False)
    assert (after["stack_status"], after["updated_time"], sorted(after["tags"])) == (
        before["stack_status"], before["updated_time"], sorted(before["tags"]))
    assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "ACTIVE"


def test_actions_on_a_building_instance_are_409(stack, cleanup):
    client = stack.client(f"act-{uuid.uuid4().hex[:8]}")
    created = client.create_instance(name="busy", flavorRef="1", volume={"size": 1},
                                     datastore={"type": "mariadb"})   # a second or two in BUILD
    cleanup.append((client, created["id"]))
    response = client.post(f"/instances/{created['id']}/action", {"resize": {"flavorRef": "2"}})
    # Still BUILD after the answer: it was BUILD when the action came, so it must be refused.
    if client.get(f"/instances/{created['id']}").json()["instance"]["status"] == "BUILD":
        assert response.status_code == 409 and response.json()["conflict"]["code"] == 409, response.text
    client.wait_status(created["id"])


def test_two_resizes_at_once_one_wins_the_other_is_409(stack, cleanup):
    client, active = new_instance(stack, cleanup, "postgresql")
    iid = active["id"]
    answers = {}

    def resize(flavor):
        answers[flavor] = client.post(f"/instances/{iid}/action", {"resize": {"flavorRef": flavor}})
    threads = [threading.Thread(target=resize, args=(flavor,)) for flavor in ("2", "3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(response.status_code for response in answers.values())
    assert codes == [202, 409], {f: r.text for f, r in answers.items()}
    (winner,) = [flavor for flavor, response in answers.items() if response.status_code == 202]
    (loser,) = [response for response in answers.values() if response.status_code == 409]
    assert loser.json()["conflict"]["code"] == 409
    settled(stack, iid)
    assert client.get(f"/instances/{iid}").json()["instance"]["flavor"]["id"] == winner


def test_dbaas_wait_draws_the_progress_until_active(stack, cleanup):
    from tests.e2e.test_faults import dbaas_wait
    client = stack.client(f"wait-{uuid.uuid4().hex[:8]}")
    created = client.create_instance(name="waited", flavorRef="1", volume={"size": 1},
                                     datastore={"type": "postgresql"}, databases=[{"name": "a"}, {"name": "b"}])
    cleanup.append((client, created["id"]))
    done = dbaas_wait(stack, client, created["id"])
    assert done.returncode == 0, done
    lines = done.stdout.splitlines()
    assert lines[-1] == "[" + "#" * 30 + "] 1/1 ACTIVE", lines
    assert all(line.startswith("[") for line in lines)
    assert client.get(f"/instances/{created['id']}").json()["instance"]["status"] == "ACTIVE"
    assert dbaas_wait(stack, client, str(uuid.uuid4())).returncode == 1   # no such instance
