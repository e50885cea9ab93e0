"""Instances over HTTP, against the FAKE gateway and renderer in api_fakes (not Heat)."""
import json

import pytest


from dbaas_api import errors
from dbaas_api.datastores.postgresql import PostgreSQL
from tests.unit.api_fakes import Harness, assert_trove_error

PASSWORD = "s3cr3t-Pa55word!"


@pytest.fixture
def api():
    return Harness()


def instance_body(**fields):
    body = {"name": "db1", "flavorRef": "2", "volume": {"size": 5}}
    body.update(fields)
    return {"instance": {k: v for k, v in body.items() if v is not None}}


def create(api, **fields):
    return api.post("/instances", instance_body(**fields))


# Create: what reaches the renderer and Heat.

def test_create_returns_200_with_the_instance_building(api):
    response = create(api, datastore={"type": "mariadb", "version": "10.11"})
    assert response.status_code == 200
    instance = response.get_json()["instance"]
    assert instance["status"] == "BUILD"
    assert instance["name"] == "db1"
    assert instance["datastore"] == {"type": "mariadb", "version": "10.11", "version_number": "10.11"}
    assert instance["flavor"]["id"] == "2"
    assert instance["volume"] == {"size": 5, "type": "local"}
    assert instance["region"] == "RegionOne"
    assert instance["access"] == {"is_public": False, "allowed_cidrs": []}
    assert instance["operating_status"] == ""
    assert instance["links"] == [
        {"href": f"http://localhost/v1.0/proj-a/instances/{instance['id']}", "rel": "self"},
        {"href": f"http://localhost/instances/{instance['id']}", "rel": "bookmark"}]
    assert instance["created"] and instance["updated"]
    assert instance["id"] in api.gateway.stacks


def test_nics_and_volume_type_choose_the_placement_and_a_change_keeps_it():
    """Trove's clients send nics, volume.type and is_public with every create: each is honoured
    (as stack parameters) or refused, and later changes re-render with the same placement."""
    api = Harness(real_renderer=True)
    response = create(api, nics=[{"net-id": "private-2", "ip_address": "127.42.7.9"}],
                      volume={"size": 1, "type": "local"}, access={"is_public": True})
    assert response.status_code == 200, response.get_json()
    instance = response.get_json()["instance"]
    assert instance["access"]["is_public"] is True and instance["volume"]["type"] == "local"
    placed = {"network_id": "5a0c3d27-8f1e-4b6a-9c55-0d3e7a1b2c02", "subnet_id": "9e4b2f10-6d3a-4c8e-b7a1-3f5d8c2e1a02",
              "subnet_cidr": "127.42.0.0/16", "fixed_ip": "127.42.7.9", "volume_type": "local"}
    parameters = api.gateway.stacks[instance["id"]]["parameters"]
    assert {key: parameters[key] for key in placed} == placed
    api.gateway.finish(instance["id"], address="127.42.7.9")
    shown = api.get(f"/instances/{instance['id']}").get_json()["instance"]
    assert shown["addresses"] == [{"address": "127.42.7.9", "type": "private", "network": placed["network_id"]}]
    assert api.post(f"/instances/{instance['id']}/databases", {"databases": [{"name": "more"}]}).status_code == 202
    sent = api.gateway.updates[-1]["parameters"]   # only what changed: Heat keeps the rest
    assert all(sent.get(key, value) == value for key, value in placed.items())
    parameters = api.gateway.stacks[instance["id"]]["parameters"]
    assert {key: parameters[key] for key in placed} == placed   # the same placement: the server stays
    # No nics: the first network, any free address, the first volume type.
    other = create(api, name="db2").get_json()["instance"]
    parameters = api.gateway.stacks[other["id"]]["parameters"]
    assert (parameters["network_id"], parameters["subnet_cidr"], parameters["fixed_ip"]) == (
        "5a0c3d27-8f1e-4b6a-9c55-0d3e7a1b2c01", "127.0.0.0/16", "")


def test_create_passes_the_meaning_to_the_renderer(api):
    create(api, flavorRef=3, volume={"size": "7"},
           databases=[{"name": "orders"}, {"name": "stock"}],
           users=[{"name": "app", "password": PASSWORD, "databases": [{"name": "orders"}]},
                  {"name": "ro", "password": PASSWORD}])
    [spec] = api.renderer.specs
    assert (spec.project_id, spec.name, spec.datastore, spec.version) == ("proj-a", "db1", "postgresql", "15")
    assert spec.flavor.id == "3" and spec.volume_size == 7
    assert spec.databases == ("orders", "stock")
    assert [(u.name, u.password, u.databases, u.host) for u in spec.users] == [
        ("app", PASSWORD, ("orders",), "%"), ("ro", PASSWORD, (), "%")]


def test_create_names_the_stack_and_tags_it_for_listing(api):
    instance = create(api, datastore={"type": "redis"}).get_json()["instance"]
    stack = api.gateway.stacks[instance["id"]]
    assert stack["stack_name"].startswith("dbaas-") and len(stack["stack_name"]) == len("dbaas-") + 12
    assert {"dbaas", "project:proj-a", "datastore:redis", "version:7", "flavor:2",
            "volume:5"} <= set(stack["tags"])
    assert stack["rendered"] is not None


def test_datastore_defaults_to_postgresql_and_version_to_its_default(api):
    create(api)
    create(api, datastore={"type": "mysql"})
    assert [(s.datastore, s.version) for s in api.renderer.specs] == [("postgresql", "15"), ("mariadb", "10.11")]


def test_flavor_by_name_and_by_link(api):
    create(api, flavorRef="db.large")
    create(api, flavorRef="https://cloud.example/v1.0/p/flavors/1")
    assert [s.flavor.id for s in api.renderer.specs] == ["4", "1"]


def test_the_password_never_appears_in_a_response_or_log(api, caplog):
    caplog.set_level("DEBUG")
    users = [{"name": "app", "password": PASSWORD}]
    responses = [create(api, users=users)]
    instance_id = responses[0].get_json()["instance"]["id"]
    responses += [api.get("/instances"), api.get("/instances/detail"), api.get(f"/instances/{instance_id}")]
    # and a refused request that carries the password
    responses.append(create(api, users=users, datastore={"type": "nosuch"}))
    responses.append(create(api, users=[{"name": "app", "password": 12345678}]))
    for response in responses:
        assert PASSWORD not in response.get_data(as_text=True)
        assert "12345678" not in response.get_data(as_text=True)
    assert PASSWORD not in caplog.text


# Create: shape and meaning errors are Trove 4xx bodies, never 500, and nothing reaches Heat.

@pytest.mark.parametrize("fields,code", [
    ({"datastore": {"type": "mongodb"}}, 400),
    ({"datastore": {"type": "postgresql", "version": "9.6"}}, 400),
    ({"flavorRef": "99"}, 400),
    ({"flavorRef": "db.huge"}, 400),
    ({"flavorRef": None}, 400),
    ({"flavorRef": True}, 400),
    ({"volume": None}, 400),
    ({"volume": {}}, 400),
    ({"volume": {"size": 0}}, 400),
    ({"volume": {"size": -1}}, 400),
    ({"volume": {"size": "abc"}}, 400),
    ({"volume": {"size": 1.5}}, 400),
    ({"volume": {"size": True}}, 400),
    ({"volume": {"size": 10 ** 30}}, 400),
    ({"volume": {"size": 1025}}, 400),
    ({"volume": "5"}, 400),
    ({"name": None}, 400),
    ({"name": ""}, 400),
    ({"name": "   \t\n"}, 400),
    ({"name": "x" * 256}, 400),
    ({"name": 42}, 400),
    ({"databases": "orders"}, 400),
    ({"databases": [{}]}, 400),
    ({"databases": [{"name": ""}]}, 400),
    ({"databases": [{"name": "a"}, {"name": "a"}]}, 400),
    ({"users": [{"name": "u"}]}, 400),
    ({"users": [{"name": "u", "password": ""}]}, 400),
    ({"users": [{"name": "u", "password": PASSWORD}, {"name": "u", "password": PASSWORD}]}, 400),
    ({"users": [{"name": "u", "password": PASSWORD, "databases": [{"name": "missing"}]}]}, 400),
    ({"users": [{"name": "u", "password": PASSWORD, "host": "10.%"}]}, 400),  # PostgreSQL: no hosts
    ({"datastore": {"type": "redis"}, "databases": [{"name": "orders"}]}, 400),
    ({"datastore": {"type": "redis"},
      "users": [{"name": "u", "password": PASSWORD, "databases": [{"name": "x"}]}]}, 400),
    ({"replica_count": 2}, 400),
    ({"region_name": "elsewhere"}, 400),
    ({"replica_of": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"}, 400),   # no such instance
    ({"restorePoint": {"backupRef": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"}}, 400),   # no such backup
    ({"restorePoint": {}}, 400),
    ({"configuration": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"}, 400),  # no such group
    ({"configuration": "not-an-id"}, 400),
    ({"nics": [{"net-id": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"}]}, 400),   # not offered
    ({"nics": [{"network_id": "private", "subnet_id": "9e4b2f10-6d3a-4c8e-b7a1-3f5d8c2e1a02"}]}, 400),  # another's
    ({"nics": [{"subnet_id": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"}]}, 400),
    ({"nics": [{"net-id": "private", "ip_address": "10.0.0.5"}]}, 400),     # outside its subnet
    ({"nics": [{"net-id": "private", "ip_address": "not-an-ip"}]}, 400),
    ({"nics": [{"net-id": "private"}, {"net-id": "private-2"}]}, 400),      # at most one, as Trove
    ({"nics": [{"net-id": "private", "port-id": "x"}]}, 400),
    ({"availability_zone": "nova"}, 501),
    ({"modules": [{"id": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"}]}, 501),
    ({"locality": "affinity"}, 501),
    ({"volume": {"size": 1, "type": "ssd"}}, 400),
    ({"databases": [{"name": "a", "character_set": "klingon"}]}, 400),
    ({"databases": [{"name": "a", "collate": "tlh_KL.UTF-8"}]}, 400),
    ({"databases": [{"name": "a", "character_set": 8}]}, 400),
])
def test_invalid_create_is_refused_before_heat(api, fields, code):
    key = {400: "badRequest", 501: "notImplemented"}[code]
    assert_trove_error(create(api, **fields), code, key)
    assert api.renderer.specs == [] and api.gateway.stacks == {}


@pytest.mark.parametrize("fields,words", [
    ({"flavorRef": "99"}, ["Flavor", "99", "not found"]),
    ({"volume": {"size": 1025}}, ["1024"]),
    ({"volume": {"size": "abc"}}, ["volume.size", "positive integer"]),
    ({"name": "x" * 256}, ["instance.name"]),
    ({"datastore": {"type": "redis"}, "databases": [{"name": "orders"}]}, ["redis", "no databases"]),
    ({"users": [{"name": "u", "password": PASSWORD, "databases": [{"name": "missing"}]}]}, ["u", "missing"]),
    ({"replica_of": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"}, ["replica_of", "could not be found"]),
    ({"nics": [{"net-id": "nowhere"}]}, ["nics[0].net-id", "nowhere", "GET /networks"]),
    ({"nics": [{"network_id": "private", "ip_address": "10.0.0.5"}]}, ["nics[0].ip_address", "127.0.0.0/16"]),
    ({"nics": [{"subnet_id": "nope"}]}, ["nics[0].subnet_id", "nope"]),
    ({"volume": {"size": 1, "type": "ssd"}}, ["volume.type", "ssd", "GET /volume-types"]),
])
def test_create_errors_say_what_to_fix(api, fields, words):
    message = create(api, **fields).get_json()
    message = next(iter(message.values()))["message"]
    for word in words:
        assert word in message


def test_the_maximum_volume_size_is_a_setting():
    api = Harness(max_volume_size=10)
    assert_trove_error(create(api, volume={"size": 11}), 400, "badRequest")
    assert create(api, volume={"size": 10}).status_code == 200


@pytest.mark.parametrize("body", [
    None, [], "text", {"instance": None}, {"instance": []}, {"notinstance": {}}, {"instance": {}},
])
def test_a_body_of_the_wrong_shape_is_400(api, body):
    response = api.client.post("/v1.0/proj-a/instances", data=json.dumps(body),
                               content_type="application/json")
    assert_trove_error(response, 400, "badRequest")


@pytest.mark.parametrize("data", ['{"instance": {', "not json", "", '{"a": NaN}x', "[" * 100000,
                                  b"\xff\xfe"])
def test_malformed_json_is_400(api, data):
    response = api.client.post("/v1.0/proj-a/instances", data=data, content_type="application/json")
    assert_trove_error(response, 400, "badRequest")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/xml"])
def test_a_body_that_is_not_json_is_415(api, content_type):
    response = api.client.post("/v1.0/proj-a/instances", data=json.dumps(instance_body()),
                               content_type=content_type)
    assert_trove_error(response, 415, "badMediaType")


def test_the_datastore_validators_run_when_present(api, monkeypatch):
    def refuse(self, name):
        if name == "postgres":
            raise errors.BadRequest("Database name 'postgres' is reserved.")
    monkeypatch.setattr(PostgreSQL, "validate_database_name", refuse, raising=False)
    message = assert_trove_error(create(api, databases=[{"name": "postgres"}]), 400, "badRequest")
    assert "reserved" in message
    assert create(api, databases=[{"name": "fine"}]).status_code == 200


def test_the_password_validator_sees_the_password_but_its_refusal_shows_no_value(api, monkeypatch):
    seen = []

    def refuse(self, password):
        seen.append(password)
        raise errors.BadRequest("users[0].password must be at least 8 characters.")
    monkeypatch.setattr(PostgreSQL, "validate_password", refuse, raising=False)
    response = create(api, users=[{"name": "u", "password": "short"}])
    assert_trove_error(response, 400, "badRequest")
    assert seen == ["short"] and "short" not in response.get_data(as_text=True)


# Names: stored and returned exactly, whatever they contain.

ODD_NAMES = [
    "{{ config }}{% for x in y %}{{ x }}{% endfor %}",
    "key: value\n- item\n? complex\n&anchor *alias !!python/object/apply:os.system ['id']",
    "$(reboot); `id` && rm -rf / | cat /etc/passwd > /dev/null #",
    "'; DROP TABLE instances; -- \" OR 1=1 /* */",
    "a,b,c,,,",
    "🐘 éléphant 数据库 🚀",
    "🐘" * 255,
    "<script>alert(1)</script>",
    "back\\slash\ttab",
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_any_name_is_stored_and_returned_verbatim(api, name):
    created = create(api, name=name).get_json()["instance"]
    assert created["name"] == name
    assert api.renderer.specs[0].name == name
    assert api.get(f"/instances/{created['id']}").get_json()["instance"]["name"] == name
    assert [i["name"] for i in api.get("/instances").get_json()["instances"]] == [name]


# Show, list, delete.

def test_show_reads_address_and_port_from_the_stack_outputs(api):
    instance_id = api.create()["id"]
    api.gateway.finish(instance_id, address="127.0.1.7", port=5432)
    instance = api.get(f"/instances/{instance_id}").get_json()["instance"]
    assert instance["status"] == "ACTIVE"
    assert instance["addresses"] == [{"address": "127.0.1.7", "type": "private", "network": None}]
    assert instance["ip"] == ["127.0.1.7"] and instance["port"] == 5432
    assert instance["created"].startswith("2026-01-01") and instance["updated"] == "2026-01-02T00:00:00Z"


def test_a_host_name_address_is_shown_as_hostname(api):
    instance_id = api.create()["id"]
    api.gateway.finish(instance_id, address="db1.internal")
    instance = api.get(f"/instances/{instance_id}").get_json()["instance"]
    assert instance["hostname"] == "db1.internal" and "ip" not in instance


def test_list_comes_from_tags_only_newest_first(api):
    ids = [api.create(name=f"db{i}", datastore={"type": "redis"})["id"] for i in range(3)]
    api.gateway.finish(ids[0])
    api.gateway.get_stack = None  # a list must never show stacks one by one
    api.gateway.list_calls.clear()  # (a create reads the project's quota records)
    body = api.get("/instances").get_json()
    assert [i["id"] for i in body["instances"]] == ids[::-1]
    assert [i["status"] for i in body["instances"]] == ["BUILD", "BUILD", "ACTIVE"]
    first = body["instances"][2]
    assert first["name"] == "db0" and first["datastore"]["type"] == "redis" and first["volume"] == {"size": 1}
    assert "created" not in first and "ip" not in first
    assert "links" not in body
    page, replicas = api.gateway.list_calls   # the page, and the replicas of its instances
    assert replicas["tags_any"] == [f"replica_of:{i}" for i in ids[::-1]]


def test_detail_list_adds_created_and_updated(api):
    api.create()
    [instance] = api.get("/instances/detail").get_json()["instances"]
    assert instance["created"] and instance["updated"] == instance["created"]


def test_pagination_follows_next_links_with_one_gateway_call_per_page(api):
    ids = [api.create(name=f"db{i}")["id"] for i in range(5)]
    api.gateway.list_calls.clear()  # (a create reads the project's quota records)
    newest_first = ids[::-1]
    seen, url, pages = [], "/v1.0/proj-a/instances?limit=2", 0
    while url:
        body = api.client.get(url).get_json()
        pages += 1
        assert len(api.gateway.list_calls) == 2 * pages   # each page, and its instances' replicas
        seen += [i["id"] for i in body["instances"]]
        links = body.get("links", [])
        if links:
            [link] = links
            assert link["rel"] == "next"
            assert link["href"].startswith("http://localhost/v1.0/proj-a/instances?")
            assert "limit=2" in link["href"] and f"marker={seen[-1]}" in link["href"]
            url = link["href"].replace("http://localhost", "")
        else:
            url = None
    assert seen == newest_first and pages == 3
    pages = [c for c in api.gateway.list_calls if "tags_any" not in c]
    assert [c["limit"] for c in pages] == [3, 3, 3]  # one more than the page
    assert [c["marker"] for c in pages] == [None, newest_first[1], newest_first[3]]


def test_an_exactly_full_last_page_has_no_next_link(api):
    for i in range(2):
        api.create(name=f"db{i}")
    assert "links" not in api.get("/instances?limit=2").get_json()


def test_limit_defaults_to_the_page_size_and_is_capped_at_100():
    api = Harness(page_size=7)
    api.get("/instances")
    api.get("/instances?limit=1000")
    assert [c["limit"] for c in api.gateway.list_calls] == [8, 101]


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=abc", "limit=1.5", "limit=", "marker=not-an-id"])
def test_invalid_limit_or_marker_is_400(api, query):
    assert_trove_error(api.get(f"/instances?{query}"), 400, "badRequest")
    assert api.gateway.list_calls == []


def test_list_only_shows_the_projects_own_instances(api):
    mine = api.create(project="proj-a")["id"]
    api.create(project="proj-b")
    assert [i["id"] for i in api.get("/instances", project="proj-a").get_json()["instances"]] == [mine]
    assert api.gateway.list_calls[-1]["tags"] == ["dbaas", "project:proj-a"]


def test_another_projects_instance_is_404_for_show_and_delete(api):
    theirs = api.create(project="proj-b")["id"]
    assert_trove_error(api.get(f"/instances/{theirs}", project="proj-a"), 404, "itemNotFound")
    assert_trove_error(api.delete(f"/instances/{theirs}", project="proj-a"), 404, "itemNotFound")
    assert api.gateway.deleted == []


@pytest.mark.parametrize("instance_id", ["db1", "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d", "..%2F..%2Fstacks"])
def test_unknown_or_non_id_instance_is_404(api, instance_id):
    assert_trove_error(api.get(f"/instances/{instance_id}"), 404, "itemNotFound")


def test_delete_is_202_then_shutdown_then_gone(api):
    instance_id = api.create()["id"]
    response = api.delete(f"/instances/{instance_id}")
    assert response.status_code == 202 and response.get_data() == b""
    assert api.gateway.deleted == [instance_id]
    assert api.get(f"/instances/{instance_id}").get_json()["instance"]["status"] == "SHUTDOWN"
    api.gateway.stacks[instance_id]["stack_status"] = "DELETE_COMPLETE"
    assert_trove_error(api.get(f"/instances/{instance_id}"), 404, "itemNotFound")
    assert_trove_error(api.delete(f"/instances/{instance_id}"), 404, "itemNotFound")
    assert api.get("/instances").get_json()["instances"] == []
