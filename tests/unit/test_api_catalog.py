"""Datastores and flavors: Trove's views, lookups by name or id, and 404s."""
import pytest

from dbaas_api import datastores
from tests.unit.api_fakes import Harness, assert_trove_error


@pytest.fixture
def api():
    return Harness()


def test_datastores_list_every_datastore_with_versions(api):
    response = api.get("/datastores")
    assert response.status_code == 200
    listed = {d["name"]: d for d in response.get_json()["datastores"]}
    assert set(listed) == {"postgresql", "mariadb", "redis"}
    postgres = listed["postgresql"]
    assert postgres["id"] == datastores.get("postgresql").datastore_id()
    assert postgres["default_version"] == postgres["versions"][0]["id"]
    assert postgres["versions"][0]["name"] == "15"
    assert postgres["links"][0] == {
        "rel": "self", "href": f"http://localhost/v1.0/proj-a/datastores/{postgres['id']}"}
    assert postgres["links"][1]["rel"] == "bookmark"


@pytest.mark.parametrize("name_or_id", ["postgresql", "postgres", datastores.get("postgresql").datastore_id()])
def test_a_datastore_is_found_by_name_alias_or_id(api, name_or_id):
    response = api.get(f"/datastores/{name_or_id}")
    assert response.status_code == 200
    assert response.get_json()["datastore"]["name"] == "postgresql"


def test_datastore_versions_by_name_and_by_id(api):
    redis = datastores.get("redis")
    versions = api.get("/datastores/redis/versions").get_json()["versions"]
    assert [v["name"] for v in versions] == list(redis.versions)
    version_id = versions[0]["id"]
    for path in (f"/datastores/redis/versions/{redis.default_version}",
                 f"/datastores/redis/versions/{version_id}",
                 f"/datastores/versions/{version_id}"):
        response = api.get(path)
        assert response.status_code == 200, path
        version = response.get_json()["version"]
        assert version["id"] == version_id and version["datastore"] == redis.datastore_id()
        assert version["links"][0]["href"].endswith(f"/v1.0/proj-a/datastores/versions/{version_id}")


@pytest.mark.parametrize("path", [
    "/datastores/mongodb", "/datastores/mongodb/versions", "/datastores/redis/versions/99",
    "/datastores/versions/00000000-0000-0000-0000-000000000000",
])
def test_unknown_datastore_or_version_is_404(api, path):
    assert_trove_error(api.get(path), 404, "itemNotFound")


def test_flavors_have_trove_fields(api):
    flavors = api.get("/flavors").get_json()["flavors"]
    assert len(flavors) == len(datastores.FLAVORS)
    small = next(f for f in flavors if f["name"] == "db.small")
    assert small == {
        "id": 2, "str_id": "2", "name": "db.small", "ram": 512, "vcpus": 1, "disk": 0, "ephemeral": 0,
        "links": [{"href": "http://localhost/v1.0/proj-a/flavors/2", "rel": "self"},
                  {"href": "http://localhost/flavors/2", "rel": "bookmark"}]}


def test_one_flavor(api):
    assert api.get("/flavors/3").get_json()["flavor"]["name"] == "db.medium"


@pytest.mark.parametrize("flavor", ["99", "db.huge", "0"])
def test_unknown_flavor_is_404_not_400(api, flavor):
    """The OSC client resolves --flavor with GET /flavors/X and only falls back on 404."""
    assert_trove_error(api.get(f"/flavors/{flavor}"), 404, "itemNotFound")


def test_volume_types_are_the_operators_offer_as_troveclient_lists_them(api):
    listed = api.get("/volume-types").get_json()["volume_types"]
    assert [(v["name"], v["is_public"]) for v in listed] == [("local", True)]
    assert api.get(f"/volume-types/{listed[0]['id']}").get_json()["volume_type"] == listed[0]
    assert api.get("/volume-types/local").get_json()["volume_type"] == listed[0]
    assert_trove_error(api.get("/volume-types/ssd"), 404, "itemNotFound")
    assert api.get("/datastores/mariadb/versions/10.11/volume-types").get_json()["volume_types"] == listed
    assert_trove_error(api.get("/datastores/mariadb/versions/9/volume-types"), 404, "itemNotFound")


def test_networks_list_each_with_its_subnets(api):
    listed = api.get("/networks").get_json()["networks"]
    assert [(n["name"], [s["cidr"] for s in n["subnets"]]) for n in listed] == [
        ("private", ["127.0.0.0/16"]), ("private-2", ["127.42.0.0/16"])]
