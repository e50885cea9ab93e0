"""Shapes the unmodified clients send that Trove's own schema would refuse, over the FAKE
gateway and renderer (api_fakes). The real clients run in tests/e2e/test_clients.py."""
import pytest

from tests.unit.api_fakes import Harness, assert_trove_error


@pytest.mark.parametrize("flavor", ["2", 2, {"id": "2"}, "db.small"])
def test_create_accepts_openstacksdks_flavor_for_flavorref(flavor):
    api = Harness()
    response = api.post("/instances", {"instance": {"name": "sdk", "flavor": flavor, "volume": {"size": 1}}})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["instance"]["flavor"]["id"] == "2"


def test_flavorref_wins_over_flavor_and_a_bad_flavor_is_400():
    api = Harness()
    both = api.post("/instances", {"instance": {"name": "x", "flavorRef": "1", "flavor": "2", "volume": {"size": 1}}})
    assert both.get_json()["instance"]["flavor"]["id"] == "1"
    bad = api.post("/instances", {"instance": {"name": "x", "flavor": {"id": "nope"}, "volume": {"size": 1}}})
    assert_trove_error(bad, 400, "badRequest")


# openstacksdk creates one database or user per call, in its own shapes.

def active_instance(api):
    created = api.create(datastore={"type": "postgresql"})
    api.gateway.finish(created["id"])
    return created["id"]


def stack_values(api, instance_id, suffix):
    return sorted(v for k, v in api.gateway.stacks[instance_id]["parameters"].items() if k.endswith(suffix) and v)


def test_create_database_accepts_openstacksdks_single_database():
    api = Harness(real_renderer=True, change_wait=0)
    iid = active_instance(api)
    assert api.post(f"/instances/{iid}/databases", {"database": {"name": "sdkdb"}}).status_code == 202
    assert stack_values(api, iid, "_name") == ["sdkdb"]


def test_create_user_accepts_openstacksdks_post_to_the_users_own_url():
    api = Harness(real_renderer=True, change_wait=0)
    iid = active_instance(api)
    body = {"users": {"name": "sdkuser", "password": "sdk-Pa55word", "databases": []}}
    response = api.post(f"/instances/{iid}/users/sdkuser", body)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert "sdkuser" in stack_values(api, iid, "_name")
    assert_trove_error(api.post(f"/instances/{iid}/users/other", body), 400, "badRequest")


def test_create_users_accepts_a_single_user_object():
    api = Harness(real_renderer=True, change_wait=0)
    iid = active_instance(api)
    body = {"users": {"name": "one", "password": "one-Pa55word"}}
    assert api.post(f"/instances/{iid}/users", body).status_code == 202
    assert "one" in stack_values(api, iid, "_name")
