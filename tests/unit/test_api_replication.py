"""Replication through the API against the FAKE gateway in api_fakes (not Heat) and the real
renderer: replicas are stacks of their own tagged with their source, role changes are stack
updates of every member of the set, and bad requests are clear 4xx with nothing changed."""
import pytest
import yaml

from tests.unit.api_fakes import Harness, assert_trove_error

OTHER = "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d"


@pytest.fixture
def api():
    return Harness(real_renderer=True)


def live(api, stack_id, role, position=0):
    """What the engine's plugin would answer in the stack's replication output."""
    api.gateway.finish(stack_id, api.gateway.stacks[stack_id]["stack_status"].replace("IN_PROGRESS", "COMPLETE"))
    api.gateway.stacks[stack_id]["outputs"].append(
        {"output_key": "replication", "output_value": {"role": role, "position": position}})


def primary(api, **fields):
    created = api.create(datastore={"type": "postgresql", "version": "15"}, **fields)
    live(api, created["id"], "primary", 100)
    return created["id"]


def replicas(api, source, count=1, **fields):
    response = api.post("/instances", {"instance": {"name": "r", "replica_of": source, "replica_count": count,
                                                    **fields}})
    assert response.status_code == 200, response.get_data(as_text=True)
    ids = [i["id"] for i in api.get("/instances").get_json()["instances"]
           if (i.get("replica_of") or {}).get("id") == source]
    for replica in ids:
        live(api, replica, "replica", 90)
    return response.get_json()["instance"], ids


def parameters(api, stack_id):
    return api.gateway.stacks[stack_id]["parameters"]


def test_replica_count_makes_instances_of_their_own_tagged_with_their_source(api):
    source = primary(api)
    first, ids = replicas(api, source, count=3)
    assert len(ids) == 3 and first["id"] in ids and first["replica_of"]["id"] == source
    names = sorted(i["name"] for i in api.get("/instances").get_json()["instances"] if i["id"] in ids)
    assert names == ["r-1", "r-2", "r-3"]
    for replica in ids:
        stack = api.gateway.stacks[replica]
        assert f"replica_of:{source}" in stack["tags"]
        assert (parameters(api, replica)["replica_of"], parameters(api, replica)["replica_seed"]) == (source, source)
        template = yaml.safe_load(stack["rendered"].template)
        assert template["resources"]["admin_password"]["type"] == "DBaaS::SourceSecret"
        assert parameters(api, replica)["flavor"] == parameters(api, source)["flavor"]
    lists_before = len(api.gateway.list_calls)
    shown = api.get(f"/instances/{source}").get_json()["instance"]
    assert sorted(r["id"] for r in shown["replicas"]) == sorted(ids)
    calls = [c for c in api.gateway.list_calls[lists_before:] if f"replica_of:{source}" in c["tags"]]
    assert len(calls) == 1   # the source's replicas: one Heat call


@pytest.mark.parametrize("fields,code,words", [
    ({"replica_of": OTHER}, 400, ["replica_of", "could not be found"]),
    ({"replica_of": "not-an-id"}, 400, ["replica_of"]),
    ({"replica_of": "SOURCE", "replica_count": 0}, 400, ["replica_count"]),
    ({"replica_of": "SOURCE", "replica_count": 10 ** 6}, 400, ["replica_count"]),
    ({"replica_of": "SOURCE", "replica_count": 6}, 400, ["at most 5"]),
    ({"replica_of": "SOURCE", "datastore": {"type": "mariadb"}}, 400, ["datastore"]),
    ({"replica_of": "SOURCE", "datastore": {"type": "postgresql", "version": "14"}}, 400, []),
    ({"replica_of": "SOURCE", "databases": [{"name": "d"}]}, 400, ["databases"]),
    ({"replica_of": "SOURCE", "users": [{"name": "u", "password": "pw-123456"}]}, 400, ["users"]),
    ({"replica_of": "SOURCE", "volume": {"size": 1}}, 400, ["volume.size"]),
    ({"replica_of": "SOURCE", "flavorRef": "99"}, 400, ["99"]),
    ({"replica_of": "SOURCE", "flavorRef": "1"}, 400, ["max_connections"]),   # smaller than the source's 2
    ({"replica_count": 2}, 400, ["replica_count"]),
])
def test_bad_replica_requests_are_4xx_and_make_nothing(api, fields, code, words):
    source = primary(api, volume={"size": 2})
    fields = {k: source if v == "SOURCE" else v for k, v in fields.items()}
    before = set(api.gateway.stacks)
    response = api.post("/instances", {"instance": {"name": "r", "flavorRef": "2", **fields}})
    message = assert_trove_error(response, code, {400: "badRequest"}[code])
    for word in words:
        assert word in message
    assert set(api.gateway.stacks) == before


def test_another_projects_source_is_not_found(api):
    source = primary(api)
    response = api.post("/instances", {"instance": {"name": "r", "replica_of": source}}, project="proj-b")
    assert "could not be found" in assert_trove_error(response, 400, "badRequest")


def test_a_replica_of_a_replica_is_refused(api):
    source = primary(api)
    first, _ = replicas(api, source)
    assert "itself a replica" in assert_trove_error(
        api.post("/instances", {"instance": {"name": "r", "replica_of": first["id"]}}), 400, "badRequest")


def test_a_busy_source_is_409(api):
    source = api.create(datastore={"type": "postgresql"})["id"]   # still building
    assert_trove_error(api.post("/instances", {"instance": {"name": "r", "replica_of": source}}), 409, "conflict")


def test_promote_updates_the_replica_first_then_the_old_primary_and_the_siblings(api):
    source = primary(api)
    first, ids = replicas(api, source, count=2)
    sibling = next(i for i in ids if i != first["id"])
    response = api.post(f"/instances/{first['id']}/action", {"promote_to_replica_source": {}})
    assert response.status_code == 202, response.get_data(as_text=True)
    order = [(u["id"], u["parameters"].get("replica_of"), u["parameters"].get("replica_fence"))
             for u in api.gateway.updates]
    assert order[0] == (first["id"], "", source)
    assert sorted(order[1:]) == sorted([(source, first["id"], None), (sibling, first["id"], None)])
    assert all("op:PROMOTE" in u["tags"] for u in api.gateway.updates)
    assert f"replica_of:{first['id']}" in api.gateway.stacks[source]["tags"]
    assert not any(t.startswith("replica_of:") for t in api.gateway.stacks[first["id"]]["tags"])
    assert api.get(f"/instances/{first['id']}").get_json()["instance"]["status"] == "PROMOTE"


def test_promote_and_eject_refusals(api):
    source = primary(api)
    first, _ = replicas(api, source)
    assert "not a replica" in assert_trove_error(
        api.post(f"/instances/{source}/action", {"promote_to_replica_source": {}}), 400, "badRequest")
    lone = primary(api)
    assert "neither" in assert_trove_error(
        api.post(f"/instances/{lone}/action", {"eject_replica_source": {}}), 400, "badRequest")
    for verb in ("promote_to_replica_source", "eject_replica_source"):
        assert_trove_error(api.post(f"/instances/{first['id']}/action", {verb: {}}, project="proj-b"),
                           404, "itemNotFound")
    for asked in (first["id"], source):
        assert "alive" in assert_trove_error(   # 400, as Trove answers it
            api.post(f"/instances/{asked}/action", {"eject_replica_source": {}}), 400, "badRequest")
    api.gateway.stacks[source]["outputs"][-1]["output_value"] = {"role": "unreachable"}
    assert "eject" in assert_trove_error(
        api.post(f"/instances/{first['id']}/action", {"promote_to_replica_source": {}}), 409, "conflict")
    assert api.gateway.updates == []


@pytest.mark.parametrize("asked", ["source", "replica"])
def test_eject_promotes_the_most_advanced_replica_and_leaves_the_dead_source_alone(api, asked):
    source = primary(api)
    first, ids = replicas(api, source, count=3)
    ahead = next(i for i in ids if i != first["id"])
    api.gateway.stacks[ahead]["outputs"][-1]["output_value"] = {"role": "replica", "position": 95}
    api.gateway.stacks[source]["outputs"][-1]["output_value"] = {"role": "unreachable"}
    target = source if asked == "source" else first["id"]   # Trove asks the source
    response = api.post(f"/instances/{target}/action", {"eject_replica_source": {}})
    assert response.status_code == 202, response.get_data(as_text=True)
    updates = {u["id"]: u["parameters"].get("replica_of") for u in api.gateway.updates}
    assert updates == {**{i: ahead for i in ids if i != ahead}, ahead: ""}
    assert source not in updates


def test_eject_prefers_the_replica_asked_on_a_tie(api):
    source = primary(api)
    first, ids = replicas(api, source, count=2)
    api.gateway.stacks[source]["outputs"][-1]["output_value"] = {"role": "unreachable"}
    other = next(i for i in ids if i != first["id"])
    assert api.post(f"/instances/{other}/action", {"eject_replica_source": {}}).status_code == 202
    assert api.gateway.updates[0]["id"] == other and api.gateway.updates[0]["parameters"]["replica_of"] == ""


def test_detach_and_its_refusals(api):
    source = primary(api)
    first, _ = replicas(api, source)
    assert_trove_error(api.put(f"/instances/{source}", {"instance": {"replica_of": None}}), 400, "badRequest")
    assert_trove_error(api.put(f"/instances/{first['id']}", {"instance": {"replica_of": source}}), 400, "badRequest")
    assert_trove_error(api.delete(f"/instances/{source}"), 400, "badRequest")   # it has a replica
    assert_trove_error(api.put(f"/instances/{first['id']}", {"instance": {"replica_of": " "}}), 400, "badRequest")
    assert api.put(f"/instances/{first['id']}", {"instance": {"slave_of": None}}).status_code == 202
    assert api.gateway.updates[-1]["parameters"] == {"replica_of": ""}
    assert "op:DETACH" in api.gateway.updates[-1]["tags"]


def test_detach_with_an_empty_string_as_troves_clients_send_it(api):
    source = primary(api)
    first, _ = replicas(api, source)
    assert api.put(f"/instances/{first['id']}", {"instance": {"replica_of": ""}}).status_code == 202
    assert api.gateway.updates[-1]["parameters"] == {"replica_of": ""}
    assert "op:DETACH" in api.gateway.updates[-1]["tags"]


def test_a_replicas_accounts_are_its_sources(api):
    source = primary(api, databases=[{"name": "d"}])
    first, _ = replicas(api, source)
    for path, body in ((f"/instances/{first['id']}/databases", {"databases": [{"name": "e"}]}),
                       (f"/instances/{first['id']}/users", {"users": [{"name": "u", "password": "pw-123456"}]}),
                       (f"/instances/{first['id']}/root", {})):
        assert "read-only replica" in assert_trove_error(api.post(path, body), 400, "badRequest")
    assert api.gateway.updates == []


def test_a_postgresql_resize_keeps_every_replica_able_to_follow(api):
    source = primary(api)                       # flavor 2: 100 connections
    first, _ = replicas(api, source)            # the source's flavor
    resize = lambda instance, flavor: api.post(f"/instances/{instance}/action",   # noqa: E731
                                               {"resize": {"flavorRef": flavor}})
    assert "max_connections" in assert_trove_error(resize(source, "3"), 400, "badRequest")   # above its replica
    assert "max_connections" in assert_trove_error(resize(first["id"], "1"), 400, "badRequest")  # below its source
    assert api.gateway.updates == []
    assert resize(first["id"], "3").status_code == 202    # a replica may be larger


def test_a_list_shows_a_sources_replicas_and_a_replicas_source(api):
    """The OSC client's Role column: ``replicas`` makes a primary, ``replica_of`` a replica;
    the page's replicas are one more Heat call for the whole page."""
    source = api.create(name="src")
    api.gateway.finish(source["id"])
    stack = api.gateway.stacks[api.create(name="other")["id"]]
    replica = api.gateway.create_stack("r", api.renderer.render_record(),
                                       ["dbaas", "project:proj-a", f"replica_of:{source['id']}", "flavor:2", "volume:1"])
    listed = {i["id"]: i for i in api.get("/instances").get_json()["instances"]}
    assert [r["id"] for r in listed[source["id"]]["replicas"]] == [replica]
    assert listed[replica]["replica_of"]["id"] == source["id"] and "replicas" not in listed[stack["id"]]
