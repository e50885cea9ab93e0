"""The served OpenAPI document is valid Swagger 2.0 and says what the API answers: null where
a field may be null, Trove's error body on every error, no content type on an empty answer."""
import pytest
from openapi_spec_validator import OpenAPIV2SpecValidator

from tests.unit.api_fakes import Harness

METHODS = ("get", "put", "post", "delete", "patch")


@pytest.fixture(scope="module")
def document():
    return Harness().client.get("/v1.0/swagger.json").get_json()


def operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method], item


def test_the_document_is_valid_swagger_2(document):
    assert [error.message for error in OpenAPIV2SpecValidator(document).iter_errors()] == []


@pytest.mark.parametrize("model, field", [
    ("Backup", "description"), ("Backup", "parent_id"), ("Backup", "size"), ("Backup", "size_bytes"),
    ("Backup", "checksum"), ("Backup", "locationRef"), ("ConfigurationDetail", "description"),
    ("InstanceAddress", "network")])
def test_fields_that_may_be_null_say_so(document, model, field):
    assert document["definitions"][model]["properties"][field].get("x-nullable") is True


def test_request_schemas_keep_their_null_choices(document):
    instance = document["definitions"]["InstanceCreate"]["properties"]["instance"]["properties"]
    assert instance["configuration"]["type"] == "string" and instance["configuration"]["x-nullable"] is True
    assert "anyOf" not in instance["flavorRef"] and "type" not in instance["flavorRef"]   # string or integer


def test_every_error_answer_has_trove_s_body_and_the_common_ones_are_documented(document):
    for path, method, operation, item in operations(document):
        responses = operation["responses"]
        errors = [code for code in responses if int(code) >= 400]
        assert all(responses[code]["schema"] == {"$ref": "#/definitions/Error"} for code in errors), (method, path)
        if "{project_id}" in path:
            assert {"400", "401", "403", "503"} <= set(responses), (method, path)
        takes_body = any(p["in"] == "body" for p in operation.get("parameters", []) + item.get("parameters", []))
        assert ("415" in responses) == takes_body, (method, path)
        if path.rstrip("}").endswith("_id") or "/{instance_id}/" in path:
            assert "404" in responses, (method, path)


def test_every_answer_with_a_body_has_a_schema(document):
    for path, method, operation, _ in operations(document):
        for code, response in operation["responses"].items():
            if code == "200" and (method, path) != ("patch", "/v1.0/{project_id}/configurations/{configuration_id}"):
                assert "schema" in response, (method, path, code)   # that PATCH answers 200 without a body


def test_operation_ids_are_unique(document):
    ids = [operation["operationId"] for _, _, operation, _ in operations(document)]
    assert len(ids) == len(set(ids))


def test_an_answer_without_a_body_has_no_content_type():
    api = Harness()
    instance = api.create()
    response = api.delete(f"/instances/{instance['id']}")
    assert response.status_code == 202 and response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert api.get(f"/instances/{instance['id']}x").headers["Content-Type"] == "application/json"
