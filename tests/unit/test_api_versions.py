"""Version discovery, the OpenAPI document, and Trove's error format for routing errors."""
import pytest

from tests.unit.api_fakes import Harness, assert_trove_error


@pytest.fixture
def api():
    return Harness()


def test_root_lists_versions_without_a_project(api):
    response = api.client.get("/")
    assert response.status_code == 200
    assert response.get_json() == {"versions": [{
        "id": "v1.0", "status": "CURRENT", "updated": "2012-08-01T00:00:00Z",
        "links": [{"rel": "self", "href": "http://localhost/v1.0/"}]}]}


def test_version_document_uses_the_request_host(api):
    response = api.client.get("/v1.0/", base_url="http://db.example:8779")
    assert response.status_code == 200
    version = response.get_json()["version"]
    assert version["id"] == "v1.0" and version["status"] == "CURRENT"
    assert version["links"] == [{"rel": "self", "href": "http://db.example:8779/v1.0/"}]


def test_openapi_document_lists_every_route(api):
    response = api.client.get("/v1.0/swagger.json")
    assert response.status_code == 200
    paths = response.get_json()["paths"]
    for path in ("/", "/v1.0/", "/v1.0/{project_id}/instances", "/v1.0/{project_id}/instances/detail",
                 "/v1.0/{project_id}/instances/{instance_id}", "/v1.0/{project_id}/flavors/{flavor_id}",
                 "/v1.0/{project_id}/datastores/versions/{version_id}"):
        assert path in paths
    assert "InstanceCreate" in response.get_json()["definitions"]


def test_unknown_route_is_trove_404_without_hints(api):
    message = assert_trove_error(api.client.get("/v1.0/proj-a/nothing-here"), 404, "itemNotFound")
    assert "did you mean" not in message.lower()


def test_wrong_method_is_trove_405_with_allow(api):
    response = api.client.put("/v1.0/proj-a/instances")
    assert_trove_error(response, 405, "badMethod")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("project", ["a.b", "x" * 65, "semi;colon", "sp%20ace"])
def test_a_malformed_project_id_is_400(api, project):
    assert_trove_error(api.client.get(f"/v1.0/{project}/flavors"), 400, "badRequest")


def test_an_unexpected_error_is_a_generic_500_logged_with_its_traceback(api, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret-password-in-a-bug")
    api.gateway.list_stacks = explode
    response = api.get("/instances")
    message = assert_trove_error(response, 500, "instanceFault")
    assert "secret" not in response.get_data(as_text=True)
    assert "RuntimeError" not in message
    assert any(record.exc_info for record in caplog.records)


def test_heat_unavailable_is_503(api):
    api.gateway.unavailable = True
    assert_trove_error(api.get("/instances"), 503, "serviceUnavailable")
