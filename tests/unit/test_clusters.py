"""Clusters without servers: rendering (golden files), the datastores' plans, and the API's
validation against the FAKE gateway in api_fakes (the e2e tests run the real Heat)."""
import json
import os
from pathlib import Path

import pytest
import yaml

from dbaas_api import datastores
from dbaas_api.config import Settings
from dbaas_api.datastores.base import Paths
from dbaas_api.model import ClusterSpec, MemberSpec
from dbaas_api.rendering import Renderer
from dbaas_api.service.clusters import member_id
from tests.unit.api_fakes import Harness, assert_trove_error

GOLDEN = Path(__file__).parent / "golden"
HOSTILE = "x'\"; DROP TABLE t; -- {{ 7*7 }} {% if %} ${HOME} $(id) \n: - [a] &a *a !!python/object"
KEYS = ["m000000000001", "m000000000002", "m000000000003", "m000000000004"]
GALERA = {"type": "mariadb", "version": "10.11"}
MEMBER = {"flavorRef": "1", "volume": {"size": 1}}


def galera_spec(count=3, name="orders"):
    return ClusterSpec(project_id="p1", name=name, datastore="mariadb", version="10.11", members=tuple(
        MemberSpec(key=KEYS[i], flavor=datastores.find_flavor("1"), volume_size=1, role="member", number=i + 1)
        for i in range(count)))


def renderer():
    return Renderer(Settings.from_env(env={}))


def test_galera_golden():
    rendered = renderer().render_cluster(galera_spec())
    golden = GOLDEN / "cluster-mariadb.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered.template)
    assert rendered.template == golden.read_text()
    assert rendered.environment["resource_registry"]["DBaaS::ClusterMember"] == "DBaaS::Local::ClusterMember"


def test_each_member_joins_through_the_ones_before_it():
    template = yaml.safe_load(renderer().render_cluster(galera_spec(4)).template)
    peers = [template["resources"][key]["properties"]["peers"] for key in KEYS]
    assert peers[0] == []
    assert [[p["get_attr"][0] for p in found] for found in peers[1:]] == [KEYS[:1], KEYS[:2], KEYS[:3]]
    assert set(template["outputs"]["members"]["value"]) == set(KEYS)


def test_user_values_are_parameters_only():
    rendered = renderer().render_cluster(galera_spec(name=HOSTILE))
    assert HOSTILE not in rendered.template and "DROP" not in rendered.template
    members = json.loads(rendered.parameters["members"])
    assert [members[key]["index"] for key in KEYS[:3]] == [0, 1, 2]
    assert {members[key]["flavor"] for key in KEYS[:3]} == {"1"}
    declared = set(yaml.safe_load(rendered.template)["parameters"])
    assert set(rendered.parameters) <= declared


@pytest.mark.parametrize("member", [
    MemberSpec(key="member_x; rm", flavor=datastores.find_flavor("1"), volume_size=1, role="member"),
    MemberSpec(key=KEYS[0], flavor=datastores.find_flavor("1"), volume_size=1, role="member\nx: y"),
    MemberSpec(key=KEYS[0], flavor=datastores.find_flavor("1"), volume_size=1, role="member", follows="m999"),
])
def test_renderer_refuses_keys_and_roles_it_did_not_make(member):
    with pytest.raises(ValueError):
        renderer().render_cluster(ClusterSpec("p", "n", "mariadb", "10.11", (member,)))


def test_galera_member_config(tmp_path):
    mariadb = datastores.get("mariadb")
    files = mariadb.cluster_files(Paths(tmp_path), "127.0.1.7",
                                  {"cluster": "dbaas-" + "f" * 36, "role": "member",
                                   "peers": ["127.0.1.5", "127.0.1.6"], "primary": None})
    text = files["cluster.cnf"]
    assert "wsrep_cluster_address = gcomm://127.0.1.5,127.0.1.6" in text
    assert "gmcast.listen_addr=tcp://127.0.1.7:4567" in text and "127.0.1.7:4444" in text
    name = next(line for line in text.splitlines() if line.startswith("wsrep_cluster_name"))
    assert len(name.split(" = ")[1]) <= 31          # gcomm's limit for a group name
    assert "password" not in text.lower()
    assert mariadb.member_start_args({"peers": []}) == ["--wsrep-new-cluster"]
    assert mariadb.member_start_args({"peers": ["127.0.1.5"]}) == []
    assert not mariadb.member_initialises({"peers": ["127.0.1.5"]})
    # my.cnf includes the cluster file only for a member.
    assert "cluster.cnf" not in mariadb.config_files(Paths(tmp_path), "127.0.1.7", 3306,
                                                     datastores.find_flavor("1"))["my.cnf"]
    (tmp_path / "cluster.cnf").write_text(text)
    assert "cluster.cnf" in mariadb.config_files(Paths(tmp_path), "127.0.1.7", 3306,
                                                 datastores.find_flavor("1"))["my.cnf"]


def test_galera_plans():
    mariadb = datastores.get("mariadb")
    assert mariadb.plan_cluster([None, None, "member"]) == [("member", None)] * 3
    for bad in ([None, None], [None, None, "master"]):
        with pytest.raises(Exception) as caught:
            mariadb.plan_cluster(bad)
        assert caught.value.code == 400
    with pytest.raises(Exception) as caught:
        mariadb.plan_shrink(["member"] * 4, [None] * 4, [0, 1])
    assert caught.value.code == 400
    assert mariadb.plan_shrink(["member"] * 4, [None] * 4, [3]) == [None] * 4


# ---- the API, against the FAKE gateway --------------------------------------------------

@pytest.fixture
def api():
    harness = Harness(real_renderer=True)
    harness.gateway.resources = lambda stack_id: [
        {"resource_name": key, "resource_status": "CREATE_COMPLETE"} for key in KEYS]
    return harness


def create(api, count=3, project="proj-a", **cluster):
    body = {"name": "orders", "datastore": GALERA, "instances": [MEMBER] * count, **cluster}
    return api.post("/clusters", {"cluster": body}, project=project)


def test_create_renders_one_stack_tagged_as_a_cluster(api):
    response = create(api)
    assert response.status_code == 200, response.get_data(as_text=True)
    cluster = response.get_json()["cluster"]
    assert cluster["task"] == {"id": 2, "name": "BUILDING", "description": "Building the initial cluster."}
    assert [m["name"] for m in cluster["instances"]] == ["orders-member-1", "orders-member-2", "orders-member-3"]
    assert {m["status"] for m in cluster["instances"]} == {"BUILD"}
    stack = api.gateway.stacks[cluster["id"]]
    assert "dbaas-cluster" in stack["tags"] and "dbaas" not in stack["tags"]
    # Not in the instance list, but shown by its id (as in Trove: clients look members up so).
    assert api.get("/instances").get_json()["instances"] == []
    member = api.get(f"/instances/{cluster['instances'][0]['id']}")
    assert member.status_code == 200, member.get_data(as_text=True)
    assert member.get_json()["instance"]["cluster_id"] == cluster["id"]
    assert member.get_json()["instance"]["datastore"]["type"] == "mariadb"
    assert_trove_error(api.get(f"/instances/{cluster['instances'][0]['id']}", project="proj-b"), 404, "itemNotFound")


@pytest.mark.parametrize("body,message", [
    ({"instances": [MEMBER] * 2}, "at least 3"),
    ({"datastore": {"type": "postgresql", "version": "15"}}, "does not support clusters"),
    ({"datastore": {"type": "nosuch"}}, "nosuch"),
    ({"datastore": {"type": "mariadb", "version": "9"}}, "9"),
    ({"instances": [{"flavorRef": "nosuch", "volume": {"size": 1}}] * 3}, "nosuch"),
    ({"instances": [{"flavorRef": "1"}] * 3}, "volume"),
    ({"instances": [{"flavorRef": "1", "volume": {"size": 0}}] * 3}, "size"),
    ({"instances": []}, "instances"),
    ({"instances": [dict(MEMBER, type="master")] * 3}, "master"),
])
def test_bad_create_is_400_and_makes_no_stack(api, body, message):
    text = assert_trove_error(create(api, **body), 400, "badRequest")
    assert message in text
    assert api.gateway.stacks == {}


def test_unsupported_member_fields_are_501(api):
    assert_trove_error(create(api, instances=[dict(MEMBER, nics=[{"net-id": "x"}])] * 3), 501, "notImplemented")
    assert api.gateway.stacks == {}


def ordered(members):
    """The members parameter's keys in creation order."""
    members = json.loads(members)
    return sorted(members, key=lambda key: members[key]["index"])


def finished(api, cluster_id):
    stack = api.gateway.stacks[cluster_id]
    members = ordered(stack["parameters"]["members"])
    stack["stack_status"] = "CREATE_COMPLETE" if stack["stack_status"].startswith("CREATE") else "UPDATE_COMPLETE"
    stack["outputs"] = [{"output_key": "members", "output_value": {k: f"127.0.1.{i + 1}" for i, k in
                                                                    enumerate(members)}},
                        {"output_key": "port", "output_value": 3306}]
    api.gateway.resources = lambda stack_id: [
        {"resource_name": key, "resource_status": "CREATE_COMPLETE"} for key in members]
    return members


def test_show_grow_shrink_and_isolation(api):
    cluster_id = create(api).get_json()["cluster"]["id"]
    # Busy while it builds.
    assert_trove_error(api.post(f"/clusters/{cluster_id}", {"grow": [MEMBER]}), 409, "conflict")
    keys = list(finished(api, cluster_id))
    shown = api.get(f"/clusters/{cluster_id}").get_json()["cluster"]
    assert shown["task"]["name"] == "NONE"
    assert [m["status"] for m in shown["instances"]] == ["ACTIVE"] * 3
    assert [m["id"] for m in shown["instances"]] == [member_id(cluster_id, key) for key in keys]
    assert shown["ip"] == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    one = api.get(f"/clusters/{cluster_id}/instances/{shown['instances'][1]['id']}").get_json()["instance"]
    assert one["ip"] == ["127.0.1.2"] and one["cluster_id"] == cluster_id

    # Another project: 404 everywhere, nothing listed, nothing changed.
    for response in (api.get(f"/clusters/{cluster_id}", project="proj-b"),
                     api.post(f"/clusters/{cluster_id}", {"grow": [MEMBER]}, project="proj-b"),
                     api.get(f"/clusters/{cluster_id}/instances/{shown['instances'][1]['id']}", project="proj-b"),
                     api.delete(f"/clusters/{cluster_id}", project="proj-b")):
        assert_trove_error(response, 404, "itemNotFound")
    assert api.get("/clusters", project="proj-b").get_json()["clusters"] == []
    assert [c["id"] for c in api.get("/clusters").get_json()["clusters"]] == [cluster_id]

    # Grow: one PATCH with the new member list; the old members keep their keys.
    assert api.post(f"/clusters/{cluster_id}", {"grow": [MEMBER]}).status_code == 202
    update = api.gateway.updates[-1]
    grown = ordered(update["parameters"]["members"])
    assert grown[:3] == keys and len(grown) == 4
    assert json.loads(update["parameters"]["members"])[grown[3]]["number"] == 4
    assert "op:GROWING_CLUSTER" in update["tags"]
    assert {tag for tag in update["tags"] if tag.startswith("member:")} == {f"member:{key}" for key in grown}
    assert api.get(f"/clusters/{cluster_id}").get_json()["cluster"]["task"]["name"] == "GROWING_CLUSTER"
    finished(api, cluster_id)

    # Shrink: below three is 400, a stranger's id is 400, one of four is a PATCH without it.
    ids = [member_id(cluster_id, key) for key in grown]
    assert_trove_error(api.post(f"/clusters/{cluster_id}", {"shrink": [{"id": ids[0]}, {"id": ids[1]}]}),
                       400, "badRequest")
    assert_trove_error(api.post(f"/clusters/{cluster_id}", {"shrink": [{"id": "nope"}]}), 400, "badRequest")
    assert_trove_error(api.post(f"/clusters/{cluster_id}", {"shrink": [{"id": ids[0]}, {"id": ids[0]}]}),
                       400, "badRequest")
    assert len(api.gateway.updates) == 1
    assert api.post(f"/clusters/{cluster_id}", {"shrink": [{"id": ids[0]}]}).status_code == 202
    assert ordered(api.gateway.updates[-1]["parameters"]["members"]) == grown[1:]
    assert "op:SHRINKING_CLUSTER" in api.gateway.updates[-1]["tags"]

    # Other actions: 501; none at all or two at once: 400.
    assert_trove_error(api.post(f"/clusters/{cluster_id}", {"restart": {}}), 501, "notImplemented")
    assert_trove_error(api.post(f"/clusters/{cluster_id}", {}), 400, "badRequest")
    assert_trove_error(api.post(f"/clusters/{cluster_id}", {"grow": [MEMBER], "shrink": [{"id": ids[1]}]}),
                       400, "badRequest")

    assert api.delete(f"/clusters/{cluster_id}").status_code == 202
    assert api.gateway.deleted == [cluster_id]


def test_no_password_in_any_view(api):
    cluster_id = create(api).get_json()["cluster"]["id"]
    finished(api, cluster_id)
    for path in ("/clusters", f"/clusters/{cluster_id}"):
        assert "password" not in api.get(path).get_data(as_text=True).lower()


def redis_spec():
    redis_ds = datastores.get("redis")
    plan = redis_ds.plan_cluster([None] * 4)
    shares = redis_ds.initial_shares(plan)
    return ClusterSpec(project_id="p1", name="cache", datastore="redis", version="7", members=tuple(
        MemberSpec(key=KEYS[i], flavor=datastores.find_flavor("1"), volume_size=1, role=role,
                   follows=KEYS[follows] if follows is not None else None, number=i + 1, share=tuple(shares[i]))
        for i, (role, follows) in enumerate(plan)))


def test_redis_golden():
    rendered = renderer().render_cluster(redis_spec())
    golden = GOLDEN / "cluster-redis.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered.template)
    assert rendered.template == golden.read_text()
    template = yaml.safe_load(rendered.template)
    replica = template["resources"][KEYS[3]]["properties"]
    assert replica["role"] == "replica" and replica["primary"] == {"get_attr": [KEYS[0], "address"]}
    assert "share" not in replica
    members = json.loads(rendered.parameters["members"])
    assert [members[key]["share"] for key in KEYS] == [[0, 5460], [5461, 10921], [10922, 16383], []]


def test_redis_plans():
    redis_ds = datastores.get("redis")
    assert redis_ds.plan_cluster([None] * 3) == [("master", None)] * 3
    assert redis_ds.plan_cluster([None] * 6) == [("master", None)] * 3 + [("replica", 0), ("replica", 1),
                                                                            ("replica", 2)]
    assert redis_ds.plan_cluster(["replica", "master", "master", "master"]) == [("master", None)] * 3 + [
        ("replica", 0)]
    for bad in ([None, None], ["master", "master", "replica", "replica"], [None, None, "arbiter"]):
        with pytest.raises(Exception) as caught:
            redis_ds.plan_cluster(bad)
        assert caught.value.code == 400
    roles = ["master", "master", "master", "replica"]
    # A new replica follows the least followed master; a new member is a master by default.
    assert redis_ds.plan_growth(roles, ["replica", None]) == [("replica", 0), ("master", None)]
    # Removing the master the replica follows: it follows another; below three masters: 400.
    assert redis_ds.plan_shrink(roles + ["master"], [None, None, None, 0, None], [0]) == [None, None, None, 1, None]
    with pytest.raises(Exception) as caught:
        redis_ds.plan_shrink(roles, [None, None, None, 0], [0])
    assert caught.value.code == 400


def test_redis_member_config(tmp_path):
    redis_ds = datastores.get("redis")
    text = redis_ds.cluster_files(Paths(tmp_path), "127.0.100.4", {"cluster": "c", "role": "master", "peers": []})[
        "cluster.conf"]
    assert "cluster-enabled yes" in text and "cluster-announce-ip 127.0.100.4" in text
    assert "pass" not in text and "auth" not in text
    flavor = datastores.find_flavor("1")
    assert "cluster.conf" not in redis_ds.config_files(Paths(tmp_path), "127.0.100.4", 6379, flavor)["redis.conf"]
    (tmp_path / "cluster.conf").write_text(text)
    assert "cluster.conf" in redis_ds.config_files(Paths(tmp_path), "127.0.100.4", 6379, flavor)["redis.conf"]
