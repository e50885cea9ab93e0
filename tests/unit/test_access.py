"""Trove's ``access`` without servers: the request's meaning (service/access.py), the API
against the FAKE gateway of api_fakes with the real renderer, the stack parameters, and the
rules each datastore writes (pg_hba.conf, MariaDB's init_connect)."""
import json

import pytest
import yaml

from dbaas_api import datastores, errors
from dbaas_api.config import Settings
from dbaas_api.model import AccessSpec
from dbaas_api.service import access
from tests.unit.api_fakes import Harness, assert_trove_error

PG = datastores.get("postgresql")
MARIADB = datastores.get("mariadb")


# ---- what a request means --------------------------------------------------------------------

def test_networks_are_canonical_and_kept_in_order():
    assert access.allowed_cidrs(["10.0.0.0/8", " 192.168.1.0/255.255.255.0", "1.2.3.4", "0.0.0.0/0"]) == (
        "10.0.0.0/8", "192.168.1.0/24", "1.2.3.4/32", "0.0.0.0/0")
    assert access.allowed_cidrs([]) == ()


@pytest.mark.parametrize("value,words", [
    ("10.0.0.0/8", "must be a list"), ({"a": 1}, "must be a list"), ([None], "must be a string"),
    ([["10.0.0.0/8"]], "must be a string"), (["10.1.2.3/8"], "did you mean 10.0.0.0/8"),
    (["10.0.0.0/33"], "not a CIDR"), (["256.0.0.0/8"], "not a CIDR"), (["010.0.0.0/8"], "not a CIDR"),
    ([""], "not a CIDR"), (["::/0"], "IPv6"), (["fd00::1"], "IPv6"), (["10.0.0.0/8", "10.0.0.0/8"], "more than once"),
    (["10.0.0.0/8"] * 0 + [f"10.{i}.0.0/16" for i in range(access.MAX_CIDRS + 1)], "at most 20"),
])
def test_bad_networks_are_refused_with_the_field(value, words):
    with pytest.raises(errors.BadRequest, match="access.allowed_cidrs") as raised:
        access.allowed_cidrs(value)
    assert words in raised.value.message


def test_left_out_keys_keep_the_current_value():
    current = AccessSpec(is_public=False, allowed_cidrs=("10.0.0.0/8",))
    assert access.requested({}, current) == current
    assert access.requested({"allowed_cidrs": []}, current) == AccessSpec(False, ())
    assert access.requested({"is_public": True}, current) == AccessSpec(True, ("10.0.0.0/8",))
    with pytest.raises(errors.BadRequest, match="is_public"):
        access.requested({"is_public": "true"})
    with pytest.raises(errors.BadRequest, match="access.nope"):
        access.requested({"nope": 1})


def test_the_local_driver_refuses_what_it_cannot_honour():
    redis = datastores.get("redis")
    access.check_local(AccessSpec(is_public=True), PG)   # a loopback address is reachable from every host address
    with pytest.raises(errors.BadRequest, match="not supported by redis on this driver"):
        access.check_local(AccessSpec(allowed_cidrs=("10.0.0.0/8",)), redis)
    access.check_local(AccessSpec(allowed_cidrs=("0.0.0.0/0",)), redis)  # everyone: nothing to filter
    access.check_local(AccessSpec(allowed_cidrs=("10.0.0.0/8",)), PG)
    access.check_local(AccessSpec(allowed_cidrs=("10.0.0.0/8",)), MARIADB)


def test_a_cloud_environment_lets_a_security_group_do_it(tmp_path):
    environment = tmp_path / "cloud.yaml"
    environment.write_text(yaml.safe_dump({"resource_registry": {"DBaaS::Server": "server.yaml"}}))
    access.check_driver(AccessSpec(is_public=True, allowed_cidrs=("10.0.0.0/8",)), datastores.get("redis"),
                        Settings(environment_file=environment))


# ---- the rules each datastore writes ---------------------------------------------------------

def test_pg_hba_lets_the_service_in_and_then_only_the_networks():
    lines = [line for line in PG.access_files(["127.0.5.0/24", "10.0.0.0/8"])["pg_hba.conf"].splitlines()
             if not line.startswith("#")]
    assert lines == [
        "local all all scram-sha-256",
        "host all os_admin 127.0.0.1/32 scram-sha-256",
        "host replication all 127.0.0.1/32 scram-sha-256",
        "host all all 127.0.5.0/24 scram-sha-256",
        "host replication all 127.0.5.0/24 scram-sha-256",
        "host all all 10.0.0.0/8 scram-sha-256",
        "host replication all 10.0.0.0/8 scram-sha-256",
    ]
    assert "host all all all scram-sha-256" in PG.access_files([])["pg_hba.conf"]
    with pytest.raises(ValueError):
        PG.access_files(["all\nhost all all all trust"])  # only networks ever reach the file


def test_mariadb_init_connect_checks_the_client_address():
    from dbaas_api.datastores.mariadb import access_check
    statement = access_check(["127.0.5.0/24"])
    assert statement.startswith("BEGIN NOT ATOMIC IF NOT COALESCE(")
    assert f"& {0xFFFFFF00}) = {0x7F000500}" in statement and "SIGNAL SQLSTATE '28000'" in statement
    assert '"' not in statement and "\\" not in statement  # safe inside the option file's quotes
    assert access_check([]) == access_check(["10.0.0.0/8", "0.0.0.0/0"]) == ""
    text = MARIADB.access_files(["127.0.5.0/24"])["access.cnf"]
    assert f'init-connect = "{MARIADB.access_check(["127.0.5.0/24"])}"' in text.splitlines()
    assert "OR USER() = 'os_repl@127.0.0.1'" in text  # replicas on this host follow from there
    assert "init-connect" not in MARIADB.access_files([])["access.cnf"]
    assert "!include" in MARIADB.config_files(_paths(), "127.0.2.3", 3306, datastores.find_flavor("1"))["my.cnf"]


def _paths():
    from pathlib import Path

    from dbaas_api.datastores.base import Paths
    return Paths(Path("/srv/state/instances/abc"))


# ---- the API ---------------------------------------------------------------------------------

@pytest.fixture
def api():
    return Harness(real_renderer=True, change_wait=0)


def created(api, **fields):
    instance = api.create(datastore={"type": "postgresql"}, **fields)
    api.gateway.finish(instance["id"])
    return instance


def parameters(api, instance_id):
    return api.gateway.stacks[instance_id]["parameters"]


def test_create_sends_access_as_parameters_and_show_reads_them_back(api):
    instance = created(api, access={"is_public": False, "allowed_cidrs": ["127.0.5.0/24", "10.1.0.0/16"]})
    assert instance["access"] == {"is_public": False, "allowed_cidrs": ["127.0.5.0/24", "10.1.0.0/16"]}
    stack = api.gateway.stacks[instance["id"]]
    assert json.loads(stack["parameters"]["allowed_cidrs"]) == ["127.0.5.0/24", "10.1.0.0/16"]
    assert stack["parameters"]["is_public"] == "False"
    assert "127.0.5.0" not in stack["rendered"].template  # values are parameters, never template text
    shown = api.get(f"/instances/{instance['id']}").get_json()["instance"]
    assert shown["access"] == instance["access"]
    calls = len(api.gateway.list_calls)
    listed = api.get("/instances").get_json()["instances"]  # from tags alone
    assert listed[0]["access"] == instance["access"] and len(api.gateway.list_calls) == calls + 2  # the page, its replicas
    tags = api.gateway.stacks[instance["id"]]["tags"]
    assert {"cidr0:127.0.5.0/24", "cidr1:10.1.0.0/16"} <= set(tags) and "public" not in tags


def test_default_access_is_everyone(api):
    instance = created(api)
    assert instance["access"] == {"is_public": False, "allowed_cidrs": []}
    assert json.loads(parameters(api, instance["id"])["allowed_cidrs"]) == []


def test_put_access_is_a_stack_update_of_that_parameter_alone(api):
    instance = created(api, access={"allowed_cidrs": ["127.0.5.0/24"]})
    response = api.put(f"/instances/{instance['id']}", {"instance": {"access": {"allowed_cidrs": ["10.0.0.0/8"]}}})
    assert response.status_code == 202, response.get_data(as_text=True)
    [update] = api.gateway.updates
    assert set(update["parameters"]) == {"allowed_cidrs"}
    assert json.loads(update["parameters"]["allowed_cidrs"]) == ["10.0.0.0/8"]
    assert "op:ACTIVE" in update["tags"]
    api.gateway.finish(instance["id"], "UPDATE_COMPLETE")
    shown = api.get(f"/instances/{instance['id']}").get_json()["instance"]
    assert shown["status"] == "ACTIVE"
    assert shown["access"] == {"is_public": False, "allowed_cidrs": ["10.0.0.0/8"]}
    assert api.get("/instances").get_json()["instances"][0]["access"] == shown["access"]
    # is_public alone keeps the networks (troveclient sends only the keys it is given).
    assert api.put(f"/instances/{instance['id']}", {"instance": {"access": {"is_public": False}}}).status_code == 202
    api.gateway.finish(instance["id"], "UPDATE_COMPLETE")
    assert api.get(f"/instances/{instance['id']}").get_json()["instance"]["access"]["allowed_cidrs"] == ["10.0.0.0/8"]


@pytest.mark.parametrize("bad", [
    {"allowed_cidrs": ["10.0.0.1/8"]}, {"allowed_cidrs": ["::1/128"]}, {"allowed_cidrs": "10.0.0.0/8"},
    {"allowed_cidrs": [1]}, {"allowed_cidrs": ["x"] * 101}, {"is_public": 1}, {"x": 1}, [],
])
def test_bad_access_is_400_before_heat(api, bad):
    assert_trove_error(api.post("/instances", {"instance": {
        "name": "x", "flavorRef": "2", "volume": {"size": 1}, "access": bad}}), 400, "badRequest")
    assert api.gateway.stacks == {}
    instance = created(api, access={"allowed_cidrs": ["127.0.5.0/24"]})
    assert_trove_error(api.put(f"/instances/{instance['id']}", {"instance": {"access": bad}}), 400, "badRequest")
    assert api.gateway.updates == []


def test_access_with_another_attribute_is_refused_and_another_project_gets_404(api):
    instance = created(api)
    assert_trove_error(api.put(f"/instances/{instance['id']}", {"instance": {
        "access": {"allowed_cidrs": []}, "configuration": None}}), 400, "badRequest")
    assert_trove_error(api.put(f"/instances/{instance['id']}", {"instance": {"access": {"allowed_cidrs": []}}},
                               project="proj-b"), 404, "itemNotFound")
    assert api.gateway.updates == []


def test_redis_on_the_local_driver_refuses_a_restriction(api):
    message = assert_trove_error(api.post("/instances", {"instance": {
        "name": "r", "flavorRef": "2", "volume": {"size": 1}, "datastore": {"type": "redis"},
        "access": {"allowed_cidrs": ["127.0.5.0/24"]}}}), 400, "badRequest")
    assert "not supported by redis on this driver" in message


def test_access_tags_round_trip_in_any_order():
    from dbaas_api import records
    cidrs = tuple(f"10.{i}.0.0/16" for i in range(12)) + ("255.255.255.255/32",)
    instance = records.instance.InstanceTags(project_id="p", datastore="postgresql", version="15", flavor_id="1",
                                 volume_size=1, name="n", is_public=True, allowed_cidrs=cidrs)
    encoded = records.instance.TAGS.encode(instance)
    assert "public" in encoded and "cidr12:255.255.255.255/32" in encoded
    assert records.instance.TAGS.decode(list(reversed(encoded))) == instance
    assert records.instance.TAGS.decode(records.instance.TAGS.encode(records.instance.InstanceTags("p", "redis", "7", "1", 1, "n"))).allowed_cidrs == ()
