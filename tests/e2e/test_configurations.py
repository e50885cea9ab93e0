"""Configuration groups end to end: groups are stacks in the real Heat, attaching one changes
the real server's own settings (SHOW / @@GLOBAL / CONFIG GET), detaching restores them."""
import uuid

import pytest

from tests.e2e.support import admin_password, change, patch, setting, settled

# A value each server can take at once, what the instance runs without it, and a value that
# needs a restart.
CASES = {
    "postgresql": dict(version="15", name="work_mem", value=8192, shown="8MB", default="4MB",
                       restart={"max_connections": 60}),
    "mariadb": dict(version="10.11", name="max_connections", value=123, shown="123", default="50",
                    restart={"performance_schema": True}),
    "redis": dict(version="7", name="hz", value=20, shown="20", default="10", restart={"databases": 8}),
}


@pytest.fixture
def cleanup(stack):
    """Instances and groups a test made, deleted afterwards whatever happened."""
    made = {"instances": [], "groups": []}
    yield made
    for client, instance_id in made["instances"]:
        client.delete_and_wait(instance_id)
    for client, group_id in made["groups"]:
        assert client.delete(f"/configurations/{group_id}").status_code in (202, 404)


def new_group(client, cleanup, datastore, values, name="g"):
    response = client.post("/configurations", {"configuration": {
        "name": name, "values": values, "datastore": {"type": datastore, "version": CASES[datastore]["version"]}}})
    assert response.status_code == 200, response.text
    group = response.json()["configuration"]
    cleanup["groups"].append((client, group["id"]))
    return group


def new_instance(client, cleanup, datastore, **fields):
    created = client.create_instance(name=f"cfg {datastore}", flavorRef="1", volume={"size": 1},
                                     datastore={"type": datastore, "version": CASES[datastore]["version"]}, **fields)
    cleanup["instances"].append((client, created["id"]))
    return client.wait_status(created["id"])


def reader(stack, client, datastore, active):
    """(user, password) that may read the server's settings: root, or Redis's admin."""
    if datastore == "redis":
        return "default", admin_password(stack, active["id"])
    password = change(client, stack, "post", f"/instances/{active['id']}/root", expect=200).json()["user"]["password"]
    return "root", password


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb", "redis"])
def test_attach_shows_in_the_servers_settings_and_detach_restores_them(stack, cleanup, datastore):
    case = CASES[datastore]
    client = stack.client(f"cfg-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, cleanup, datastore)
    iid, host = active["id"], active["ip"][0]
    user, password = reader(stack, client, datastore, active)
    assert setting(datastore, host, user, password, case["name"]) == case["default"]

    # Applied when answered (no wait for Heat here): the server runs the value, GET shows it,
    # and a restart at once is accepted, not 409.
    group = new_group(client, cleanup, datastore, {case["name"]: case["value"]})
    assert client.put(f"/instances/{iid}", {"instance": {"configuration": group["id"]}}).status_code == 202
    assert setting(datastore, host, user, password, case["name"]) == case["shown"]
    shown = client.get(f"/instances/{iid}").json()["instance"]
    assert shown["status"] == "ACTIVE" and shown["configuration"]["id"] == group["id"]
    assert client.get(f"/configurations/{group['id']}/instances").json()["instances"] == [
        {"id": iid, "name": f"cfg {datastore}"}]
    assert client.get(f"/configurations/{group['id']}").json()["configuration"]["instance_count"] == 1
    assert client.post(f"/instances/{iid}/action", {"restart": {}}).status_code == 202
    settled(stack, iid)   # a restart is asynchronous, as in Trove
    assert setting(datastore, host, user, password, case["name"]) == case["shown"]

    assert client.put(f"/instances/{iid}", {"instance": {"configuration": None}}).status_code == 202
    assert setting(datastore, host, user, password, case["name"]) == case["default"]
    assert "configuration" not in client.get(f"/instances/{iid}").json()["instance"]
    assert client.get(f"/configurations/{group['id']}/instances").json()["instances"] == []


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb"])
def test_a_value_that_needs_a_restart_leaves_the_instance_restart_required(stack, cleanup, datastore):
    client = stack.client(f"restart-{uuid.uuid4().hex[:8]}")
    active = new_instance(client, cleanup, datastore)
    iid = active["id"]
    group = new_group(client, cleanup, datastore, CASES[datastore]["restart"])
    change(client, stack, "put", f"/instances/{iid}", {"instance": {"configuration": group["id"]}})
    assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "RESTART_REQUIRED"
    assert [i["status"] for i in client.get("/instances").json()["instances"]] == ["RESTART_REQUIRED"]
    if datastore == "postgresql":   # the server agrees: it has the value, pending a restart
        user, password = reader(stack, client, datastore, active)
        from tests.e2e.support import connected
        with connected(datastore, active["ip"][0], user, password) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT pending_restart FROM pg_settings WHERE name = 'max_connections'")
            assert cursor.fetchone()[0] is True
    # Detached before any restart: the server runs as configured again.
    change(client, stack, "put", f"/instances/{iid}", {"instance": {}})
    assert client.get(f"/instances/{iid}").json()["instance"]["status"] == "ACTIVE"


def test_a_group_attached_at_create_is_in_effect_from_the_start(stack, cleanup):
    client = stack.client(f"atcreate-{uuid.uuid4().hex[:8]}")
    group = new_group(client, cleanup, "mariadb", {"performance_schema": True, "max_connections": 77})
    active = new_instance(client, cleanup, "mariadb", configuration=group["id"])
    assert active["status"] == "ACTIVE" and active["configuration"]["id"] == group["id"]
    user, password = reader(stack, client, "mariadb", active)
    assert setting("mariadb", active["ip"][0], user, password, "performance_schema") == "1"
    assert setting("mariadb", active["ip"][0], user, password, "max_connections") == "77"


def test_updating_a_group_reapplies_it_and_deleting_a_used_one_is_refused(stack, cleanup):
    client = stack.client(f"update-{uuid.uuid4().hex[:8]}")
    group = new_group(client, cleanup, "postgresql", {"work_mem": 8192, "lock_timeout": 1000})
    active = new_instance(client, cleanup, "postgresql", configuration=group["id"])
    iid, host = active["id"], active["ip"][0]
    user, password = reader(stack, client, "postgresql", active)
    assert setting("postgresql", host, user, password, "lock_timeout") == "1s"

    response = patch(client, f"/configurations/{group['id']}", {"configuration": {"values": {"work_mem": 16384}}})
    assert response.status_code == 200, response.text    # answered once its instances have it
    assert setting("postgresql", host, user, password, "work_mem") == "16MB"
    assert setting("postgresql", host, user, password, "lock_timeout") == "1s"     # merged, kept

    response = client.put(f"/configurations/{group['id']}", {"configuration": {"values": {"work_mem": 2048}}})
    assert response.status_code == 202, response.text
    assert setting("postgresql", host, user, password, "lock_timeout") == "0"   # replaced: gone
    assert setting("postgresql", host, user, password, "work_mem") == "2MB"
    assert client.get(f"/configurations/{group['id']}").json()["configuration"]["values"] == {"work_mem": 2048}

    refused = client.delete(f"/configurations/{group['id']}")
    assert refused.status_code == 400 and "detach" in refused.json()["badRequest"]["message"]
    change(client, stack, "put", f"/instances/{iid}", {"instance": {"configuration": None}})
    assert client.delete(f"/configurations/{group['id']}").status_code == 202
    assert client.get(f"/configurations/{group['id']}").status_code == 404


def test_groups_are_stacks_every_api_process_and_a_restart_see(stack, cleanup):
    client = stack.client(f"keep-{uuid.uuid4().hex[:8]}")
    group = new_group(client, cleanup, "redis", {"hz": 30}, name="survives, a restart")
    stack.down()
    stack.up()
    listed = client.get("/configurations").json()["configurations"]
    assert [(g["id"], g["name"]) for g in listed] == [(group["id"], "survives, a restart")]
    assert client.get(f"/configurations/{group['id']}").json()["configuration"]["values"] == {"hz": 30}


def test_bad_configurations_are_refused_with_the_field_and_the_reason(stack, cleanup):
    client = stack.client(f"badcfg-{uuid.uuid4().hex[:8]}")
    for values, code, words in [
        ({"no_such_parameter": 1}, 422, ["values.no_such_parameter", "not a configuration parameter"]),
        ({"port": 5433}, 422, ["values.port", "managed by the service"]),
        ({"max_connections": 0}, 422, ["values.max_connections", "minimum"]),
        ({"max_connections": "lots"}, 422, ["values.max_connections", "type integer"]),
        ({"log_statement": "everything"}, 422, ["values.log_statement", "one of"]),
    ]:
        response = client.post("/configurations", {"configuration": {"name": "bad", "values": values,
                                                                      "datastore": {"type": "postgresql"}}})
        assert response.status_code == code, response.text
        message = response.json()["unprocessableEntity"]["message"]
        assert all(word in message for word in words), message
    assert client.get("/configurations").json()["configurations"] == []

    mariadb_group = new_group(client, cleanup, "mariadb", {"max_connections": 100})
    active = new_instance(client, cleanup, "postgresql")
    response = client.put(f"/instances/{active['id']}", {"instance": {"configuration": mariadb_group["id"]}})
    assert response.status_code == 400 and "mariadb 10.11" in response.json()["badRequest"]["message"]
    assert settled(stack, active["id"])[0] == "CREATE_COMPLETE"

    parameters = client.get("/datastores/postgresql/versions/15/parameters").json()["configuration-parameters"]
    assert {"name": "max_connections", "restart_required": True, "type": "integer", "min": 1, "max": 262143}.items() <= \
        next(p for p in parameters if p["name"] == "max_connections").items()
