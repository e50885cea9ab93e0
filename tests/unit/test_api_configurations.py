"""Configuration groups and parameters over HTTP, against the FAKE gateway of api_fakes (not
Heat) and the real renderer: groups are stacks tagged for listing, values are checked
against the datastore version's rules, attaching copies them into the instance's stack."""
import json

import pytest

from dbaas_api import datastores
from tests.unit.api_fakes import Harness, assert_trove_error

PG_VERSION_ID = datastores.get("postgresql").version_id("15")


@pytest.fixture
def api():
    return Harness(real_renderer=True, change_wait=0)


def group(api, values=None, datastore="postgresql", version="15", name="g1", **fields):
    response = api.post("/configurations", {"configuration": {
        "name": name, "values": values if values is not None else {"work_mem": 8192},
        "datastore": {"type": datastore, "version": version}, **fields}})
    assert response.status_code == 200, response.get_data(as_text=True)
    created = response.get_json()["configuration"]
    api.gateway.finish(created["id"])
    return created


def instance(api, datastore="postgresql", **fields):
    created = api.create(datastore={"type": datastore}, **fields)
    api.gateway.finish(created["id"])
    return created["id"]


def settle(api, stack_id):
    api.gateway.finish(stack_id, "UPDATE_COMPLETE")


def stack_values(api, stack_id, key="configuration_values"):
    return json.loads(api.gateway.stacks[stack_id]["parameters"][key])


def status(api, instance_id):
    return api.get(f"/instances/{instance_id}").get_json()["instance"]["status"]


# ---- groups ----------------------------------------------------------------------------------

def test_create_answers_trove_s_detailed_view(api):
    created = group(api, {"WORK_MEM": 8192, "jit": False}, description="for reports")
    assert created == {
        "id": created["id"], "name": "g1", "description": "for reports",
        "created": created["created"], "updated": created["updated"],
        "datastore_version_id": PG_VERSION_ID, "datastore_name": "postgresql", "datastore_version_name": "15",
        "values": {"work_mem": 8192, "jit": False}, "instance_count": 0, "datastore_version_number": "15"}
    stack = api.gateway.stacks[created["id"]]
    assert stack["stack_name"].startswith("dbaas-cfg-")
    assert "dbaas-configuration" in stack["tags"] and "dbaas" not in stack["tags"]
    assert stack_values(api, created["id"], "values") == {"work_mem": 8192, "jit": False}


def test_list_comes_from_tags_and_groups_are_not_instances(api):
    first = group(api, name="first, with a comma")
    second = group(api, name="🐘 second", description=None)
    iid = instance(api)
    listed = api.get("/configurations").get_json()["configurations"]
    assert [(g["id"], g["name"]) for g in listed] == [(second["id"], "🐘 second"), (first["id"], "first, with a comma")]
    assert "values" not in listed[0] and listed[0]["datastore_name"] == "postgresql"
    assert [i["id"] for i in api.get("/instances").get_json()["instances"]] == [iid]
    assert api.get("/configurations", project="proj-b").get_json() == {"configurations": []}
    assert_trove_error(api.get(f"/configurations/{first['id']}", project="proj-b"), 404, "itemNotFound")
    assert_trove_error(api.get(f"/instances/{first['id']}"), 404, "itemNotFound")
    assert_trove_error(api.get(f"/configurations/{iid}"), 404, "itemNotFound")


@pytest.mark.parametrize("values,words", [
    ({"no_such": 1}, ["values.no_such", "not a configuration parameter"]),
    ({"port": 1}, ["values.port", "managed by the service"]),
    ({"max_connections": 0}, ["values.max_connections", "minimum"]),
    ({"max_connections": "many"}, ["values.max_connections", "integer, not string"]),
    ({"log_statement": "loud"}, ["values.log_statement", "one of"]),
])
def test_bad_values_are_422_and_nothing_is_made(api, values, words):
    response = api.post("/configurations", {"configuration": {"name": "g", "values": values,
                                                              "datastore": {"type": "postgresql"}}})
    message = assert_trove_error(response, 422, "unprocessableEntity")
    for word in words:
        assert word in message
    assert api.gateway.stacks == {}


@pytest.mark.parametrize("body,code", [
    ({"configuration": {"name": "g", "values": {}, "datastore": {"type": "mongodb"}}}, 400),
    ({"configuration": {"name": "g", "values": {}, "datastore": {"type": "postgresql", "version": "9"}}}, 400),
    ({"configuration": {"name": "g", "values": []}}, 400),
    ({"configuration": {"values": {}}}, 400),
    ({"configuration": {"name": "", "values": {}}}, 400),
])
def test_bad_bodies_are_400(api, body, code):
    assert_trove_error(api.post("/configurations", body), code, "badRequest")


def test_patch_merges_put_replaces_and_both_reach_the_instances(api):
    g = group(api, {"work_mem": 8192, "jit": False})
    iid = instance(api, configuration=g["id"])
    assert stack_values(api, iid) == {"work_mem": 8192, "jit": False}

    assert api.patch(f"/configurations/{g['id']}", {"configuration": {"values": {"work_mem": 16384}}}).status_code == 200
    assert stack_values(api, g["id"], "values") == {"work_mem": 16384, "jit": False}
    assert stack_values(api, iid) == {"work_mem": 16384, "jit": False}
    settle(api, g["id"])
    settle(api, iid)

    assert api.put(f"/configurations/{g['id']}", {"configuration": {
        "values": {"lock_timeout": 1000}, "name": "renamed"}}).status_code == 202
    settle(api, g["id"])
    shown = api.get(f"/configurations/{g['id']}").get_json()["configuration"]
    assert (shown["name"], shown["values"], shown["instance_count"]) == ("renamed", {"lock_timeout": 1000}, 1)
    assert stack_values(api, iid) == {"lock_timeout": 1000}


def test_an_update_is_refused_whole_while_an_instance_using_the_group_is_busy(api):
    g = group(api)
    iid = instance(api, configuration=g["id"])
    api.gateway.stacks[iid]["stack_status"] = "UPDATE_IN_PROGRESS"
    message = assert_trove_error(api.patch(f"/configurations/{g['id']}", {"configuration": {"values": {"jit": True}}}),
                                 409, "conflict")
    assert iid in message
    assert stack_values(api, g["id"], "values") == {"work_mem": 8192}


def test_delete_is_refused_while_attached(api):
    g = group(api)
    iid = instance(api, configuration=g["id"])
    message = assert_trove_error(api.delete(f"/configurations/{g['id']}"), 400, "badRequest")
    assert "detach" in message
    assert api.put(f"/instances/{iid}", {"instance": {"configuration": None}}).status_code == 202
    assert api.delete(f"/configurations/{g['id']}").status_code == 202
    assert g["id"] in api.gateway.deleted


def test_a_groups_instances(api):
    g = group(api)
    ids = [instance(api, configuration=g["id"], name=f"i{n}") for n in range(3)]
    instance(api)  # without the group
    page = api.get(f"/configurations/{g['id']}/instances?limit=2").get_json()
    assert [i["id"] for i in page["instances"]] == ids[::-1][:2]
    assert page["instances"][0]["name"] == "i2" and "links" in page
    assert_trove_error(api.get("/configurations/6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d/instances"), 404, "itemNotFound")


# ---- attach and detach -------------------------------------------------------------------

def test_attach_and_detach_change_the_stack_and_the_status(api):
    iid = instance(api)
    dynamic = group(api, {"work_mem": 8192}, name="dynamic")
    assert api.put(f"/instances/{iid}", {"instance": {"configuration": dynamic["id"]}}).status_code == 202
    update = api.gateway.updates[-1]
    assert f"configuration:{dynamic['id']}" in update["tags"] and "op:ACTIVE" in update["tags"]
    assert json.loads(update["parameters"]["configuration_values"]) == {"work_mem": 8192}
    assert status(api, iid) == "ACTIVE"   # while Heat applies it, as Trove shows it
    settle(api, iid)
    shown = api.get(f"/instances/{iid}").get_json()["instance"]
    assert (shown["status"], shown["configuration"]["id"], shown["configuration"]["name"]) == (
        "ACTIVE", dynamic["id"], "dynamic")
    assert shown["configuration"]["links"][0]["href"].endswith(f"/configurations/{dynamic['id']}")

    other = group(api, {"jit": False}, name="other")
    message = assert_trove_error(api.put(f"/instances/{iid}", {"instance": {"configuration": other["id"]}}),
                                 400, "badRequest")
    assert "detach it first" in message

    assert api.put(f"/instances/{iid}", {"instance": {}}).status_code == 202    # Trove: {} detaches
    assert "configuration_id" not in api.gateway.stacks[iid]["parameters"]
    assert stack_values(api, iid) == {}
    settle(api, iid)
    assert "configuration" not in api.get(f"/instances/{iid}").get_json()["instance"]


def test_a_value_that_needs_a_restart_shows_restart_required_until_it_matches_the_start(api):
    iid = instance(api)
    restart = group(api, {"max_connections": 200}, name="restart")
    api.put(f"/instances/{iid}", {"instance": {"configuration": restart["id"]}})
    settle(api, iid)
    assert status(api, iid) == "RESTART_REQUIRED"
    assert api.get("/instances").get_json()["instances"][0]["status"] == "RESTART_REQUIRED"  # tags only
    # Other changes keep it.
    api.post(f"/instances/{iid}/databases", {"databases": [{"name": "d"}]})
    settle(api, iid)
    assert status(api, iid) == "RESTART_REQUIRED"
    # Back to what the server started with: nothing waits for a restart any more.
    api.put(f"/instances/{iid}", {"instance": {"configuration": None}})
    settle(api, iid)
    assert status(api, iid) == "ACTIVE"


def test_a_group_attached_at_create_is_in_the_first_start(api):
    restart = group(api, {"max_connections": 200})
    iid = instance(api, configuration=restart["id"])
    assert status(api, iid) == "ACTIVE"
    assert stack_values(api, iid, "configuration_started_with") == {"max_connections": 200}
    assert f"configuration:{restart['id']}" in api.gateway.stacks[iid]["tags"]


@pytest.mark.parametrize("datastore,version", [("mariadb", "10.11"), ("redis", "7")])
def test_another_datastores_group_is_refused(api, datastore, version):
    values = {"max_connections": 100} if datastore == "mariadb" else {"hz": 20}
    g = group(api, values, datastore=datastore, version=version)
    iid = instance(api)
    message = assert_trove_error(api.put(f"/instances/{iid}", {"instance": {"configuration": g["id"]}}),
                                 400, "badRequest")
    assert datastore in message and "postgresql 15" in message
    message = assert_trove_error(api.post("/instances", {"instance": {
        "name": "x", "flavorRef": "1", "volume": {"size": 1}, "configuration": g["id"]}}), 400, "badRequest")
    assert "configuration" in message


def test_instance_update_rules(api):
    iid = instance(api)
    assert api.put(f"/instances/{iid}", {"instance": {"name": "renamed"}}).status_code == 202
    settle(api, iid)
    assert api.get(f"/instances/{iid}").get_json()["instance"]["name"] == "renamed"
    assert_trove_error(api.put(f"/instances/{iid}", {"instance": {"configuration": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"}}),
                       404, "itemNotFound")
    assert_trove_error(api.put(f"/instances/{iid}", {"instance": {"replica_of": None}}), 400, "badRequest")  # not a replica
    assert_trove_error(api.put(f"/instances/{iid}", {"instance": {"configuration": None, "access": {}}}),
                       400, "badRequest")
    assert_trove_error(api.put(f"/instances/{iid}", {"nope": {}}), 400, "badRequest")
    assert api.patch(f"/instances/{iid}", {"instance": {"name": "again"}}).status_code == 202


# ---- parameters ------------------------------------------------------------------------------

def test_parameters_of_a_version_by_name_and_by_id(api):
    by_name = api.get("/datastores/postgresql/versions/15/parameters").get_json()["configuration-parameters"]
    by_id = api.get(f"/datastores/versions/{PG_VERSION_ID}/parameters").get_json()["configuration-parameters"]
    assert by_name == by_id and len(by_name) == len(datastores.get("postgresql").parameters("15"))
    assert api.get("/datastores/postgresql/versions/15/parameters/max_connections").get_json() == {
        "name": "max_connections", "datastore_version_id": PG_VERSION_ID, "restart_required": True,
        "type": "integer", "min": 1, "max": 262143}
    assert api.get(f"/datastores/versions/{PG_VERSION_ID}/parameters/log_statement").get_json()[
        "allowed_values"] == ["none", "ddl", "mod", "all"]
    assert api.get("/datastores/mysql/versions/10.11/parameters/max_connections").get_json()["min"] == 10
    assert_trove_error(api.get("/datastores/postgresql/versions/15/parameters/port"), 404, "itemNotFound")
    assert_trove_error(api.get("/datastores/postgresql/versions/9/parameters"), 404, "itemNotFound")


def test_an_instances_default_configuration_is_its_flavors_settings_as_trove_shows_them(api):
    created = api.create(datastore={"type": "postgresql", "version": "15"}, flavorRef="3")
    body = api.get(f"/instances/{created['id']}/configuration").get_json()
    configuration = body["instance"]["configuration"]
    assert configuration["port"] == 5432 and configuration["max_connections"] == 200
    assert configuration["shared_buffers"] == "256MB"
    assert api.get(f"/instances/{created['id']}/configuration", project="proj-b").status_code == 404
