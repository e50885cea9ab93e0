"""HeatGateway over the real python-heatclient, with a FAKE HTTP transport (requests.request
replaced by a recorder) standing in for the Heat API: what goes over the wire, how many
calls, and how Heat's errors come back."""
import json
import logging
import types
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from dbaas_api import errors
from dbaas_api.config import Settings
from dbaas_api.heat_gateway import HeatGateway
from dbaas_api.model import RenderedStack

PASSWORD = "hunter2-Secret-Value"


def heat_response(status, body, headers=None):
    response = requests.models.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers.update({"Content-Type": "application/json", **(headers or {})})
    response.raw = types.SimpleNamespace(version=11)
    response.reason = "whatever"
    return response


class FakeHeatHttp:
    """FAKE Heat API at the HTTP level: answers from a queue and records every request."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests = []

    def __call__(self, method, url, **kwargs):
        self.requests.append((method, url, kwargs))
        answer = self.responses.pop(0) if self.responses else heat_response(200, {"stacks": []})
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def heat(monkeypatch):
    def install(*responses):
        fake = FakeHeatHttp(*responses)
        monkeypatch.setattr("heatclient.common.http.requests.request", fake)
        return fake
    return install


@pytest.fixture
def gateway():
    return HeatGateway(Settings(heat_url="http://heat.test:8004/v1", service_project="svc"))


def stacks(count):
    return {"stacks": [{"id": f"id-{i}", "stack_status": "CREATE_COMPLETE", "tags": ["dbaas"]}
                       for i in range(count)]}


@pytest.mark.parametrize("returned", [0, 2, 5])
def test_list_is_exactly_one_http_call_whatever_heat_returns(heat, gateway, returned):
    fake = heat(heat_response(200, stacks(returned)))
    page = gateway.list_stacks(tags=["dbaas", "project:p1"], limit=5, marker="m-1")
    assert [s["id"] for s in page] == [f"id-{i}" for i in range(returned)]
    assert len(fake.requests) == 1
    method, url, _ = fake.requests[0]
    parsed = urlparse(url)
    assert method == "GET" and parsed.path == "/v1/svc/stacks"
    assert parse_qs(parsed.query) == {"tags": ["dbaas,project:p1"], "limit": ["5"], "marker": ["m-1"],
                                      "sort_keys": ["creation_time"], "sort_dir": ["desc"]}


def test_heatclients_own_list_would_make_a_second_call_on_a_short_page(heat, gateway):
    """Why list_stacks does not use stacks.list(): its generator asks again for the rest."""
    fake = heat(heat_response(200, stacks(2)), heat_response(200, stacks(0)))
    list(gateway._client.stacks.list(limit=5))
    assert len(fake.requests) == 2


def test_create_sends_template_parameters_and_tags_and_returns_the_id(heat, gateway):
    fake = heat(heat_response(201, {"stack": {"id": "new-id", "links": []}}))
    rendered = RenderedStack(template="heat_template_version: 2021-04-16\n",
                             parameters={"user_x_password": PASSWORD, "volume_size": 1},
                             environment={"resource_registry": {"DBaaS::Server": "DBaaS::Local::Server"}},
                             files={"a.yaml": "x"})
    assert gateway.create_stack("dbaas-abc", rendered, ["dbaas", "project:p1", "name0:ZGIx"]) == "new-id"
    [(method, url, kwargs)] = fake.requests
    body = json.loads(kwargs["data"])
    assert method == "POST" and url == "http://heat.test:8004/v1/svc/stacks"
    assert body["stack_name"] == "dbaas-abc" and body["tags"] == "dbaas,project:p1,name0:ZGIx"
    assert body["disable_rollback"] is True
    assert body["template"] == rendered.template and body["parameters"] == rendered.parameters
    assert body["environment"] == rendered.environment and body["files"] == rendered.files


def known_stack(stack_id="s1", name="dbaas-abc"):
    return heat_response(200, {"stack": {"id": stack_id, "stack_name": name, "stack_status": "CREATE_COMPLETE"}})


def preview(replaced=()):
    return heat_response(200, {"resource_changes": {
        "added": [], "deleted": [], "unchanged": [], "updated": [],
        "replaced": [{"resource_name": name, "resource_type": kind} for name, kind in replaced]}})


def test_update_is_a_patch_that_sends_only_what_it_is_given_after_heat_previewed_it(heat, gateway):
    fake = heat(known_stack(), preview(), heat_response(202, {}))
    rendered = RenderedStack(template="heat_template_version: 2021-04-16\n", parameters={"database_1_name": "d"},
                             environment={"resource_registry": {"DBaaS::Server": "DBaaS::Local::Server"}})
    gateway.update_stack("s1", rendered, ["dbaas", "op:ACTIVE"])
    _read, (preview_method, preview_url, preview_kwargs), (method, url, kwargs) = fake.requests
    assert preview_method == "PATCH"
    assert preview_url == "http://heat.test:8004/v1/svc/stacks/dbaas-abc/s1/preview?show_nested=True"
    assert json.loads(preview_kwargs["data"]) == json.loads(kwargs["data"])
    body = json.loads(kwargs["data"])
    assert method == "PATCH" and url == "http://heat.test:8004/v1/svc/stacks/s1"
    assert body["parameters"] == {"database_1_name": "d"} and body["tags"] == "dbaas,op:ACTIVE"
    assert body["template"] == rendered.template and "existing" not in body


def test_an_update_heat_would_replace_a_resource_with_is_refused_before_it_runs(heat, gateway):
    """Heat replaces a resource whose changed property is not update_allowed: a new, empty
    server. The preview says so, and the update is never sent."""
    fake = heat(known_stack(), preview(replaced=[("admin_password", "OS::Heat::RandomString"),
                                                 ("server", "DBaaS::Server")]))
    rendered = RenderedStack("t", {"user_1_password": PASSWORD}, template_name="single.yaml.j2 (operator override)")
    with pytest.raises(errors.TemplateFault) as raised:
        gateway.update_stack("s1", rendered, ["dbaas"])
    assert raised.value.code == 500
    message = raised.value.message
    assert "single.yaml.j2 (operator override)" in message and "admin_password (OS::Heat::RandomString)" in message
    assert "server (DBaaS::Server)" in message and PASSWORD not in message
    assert [method for method, _url, _kw in fake.requests] == ["GET", "PATCH"]


def test_an_update_refused_while_another_runs_is_a_conflict_without_secrets(heat, gateway):
    heat(known_stack(), preview(),
         heat_error(409, f"Stack dbaas-abc already has an action (UPDATE) in progress. {PASSWORD}"))
    with pytest.raises(errors.Conflict) as raised:
        gateway.update_stack("s1", RenderedStack("t", {"user_1_password": PASSWORD}), ["dbaas"])
    assert "in progress" in raised.value.message and PASSWORD not in raised.value.message


def test_heatclient_debug_logging_never_shows_the_parameters(heat, gateway, caplog):
    heat(heat_response(201, {"stack": {"id": "new-id"}}))
    caplog.set_level(logging.DEBUG)
    gateway.create_stack("dbaas-abc", RenderedStack("t", {"u_password": PASSWORD}), ["dbaas"])
    assert PASSWORD not in caplog.text


def test_get_returns_the_stack_with_outputs_or_none(heat, gateway):
    stack = {"id": "s1", "stack_status": "CREATE_COMPLETE",
             "outputs": [{"output_key": "port", "output_value": 5432}]}
    fake = heat(heat_response(200, {"stack": stack}), heat_response(404, {"error": {"message": "not found"}}))
    assert gateway.get_stack("s1")["outputs"] == stack["outputs"]
    assert "resolve_outputs" not in fake.requests[0][1] and "params" not in fake.requests[0][2]
    assert gateway.get_stack("nope") is None


def test_a_stack_read_again_goes_to_its_canonical_url(heat, gateway):
    """Heat redirects /stacks/{id} to /stacks/{name}/{id}; once the name is known (from a
    read, or from the create), a read is that one request."""
    stack = {"id": "s2", "stack_name": "dbaas-abc", "stack_status": "CREATE_COMPLETE"}
    fake = heat(heat_response(200, {"stack": stack}), heat_response(200, {"stack": stack}),
                heat_response(201, {"stack": {"id": "s3"}}), heat_response(200, {"stack": stack}))
    gateway.get_stack("s2")
    gateway.get_stack("s2")
    gateway.create_stack("dbaas-new", RenderedStack("t", {}), ["dbaas"])
    gateway.get_stack("s3")
    paths = [urlparse(url).path for _method, url, _kw in fake.requests]
    assert paths == ["/v1/svc/stacks/s2", "/v1/svc/stacks/dbaas-abc/s2", "/v1/svc/stacks",
                     "/v1/svc/stacks/dbaas-new/s3"]


def heat_error(code, message):
    return heat_response(code, {"code": code, "title": "x", "explanation": "x", "error": {
        "message": message, "traceback": "Traceback (most recent call last):\n  File engine.py", "type": "X"}})


def test_heat_400_keeps_its_message_without_traceback_or_secrets(heat, gateway):
    heat(heat_error(400, f'Parameter \'u_password\' is invalid: "{PASSWORD}" does not match pattern\nmore lines'))
    with pytest.raises(errors.BadRequest) as raised:
        gateway.create_stack("dbaas-abc", RenderedStack("t", {"u_password": PASSWORD}), ["dbaas"])
    assert "does not match pattern" in raised.value.message
    assert PASSWORD not in raised.value.message and "Traceback" not in raised.value.message
    assert "more lines" not in raised.value.message


def test_validate_says_what_heat_refuses_in_a_template_even_an_unknown_dbaas_type(heat, gateway):
    heat(heat_error(400, "The Resource Type (DBaaS::NoSuchThing) could not be found."))
    with pytest.raises(errors.BadRequest) as raised:   # dbaas up names the file; not "no plugins"
        gateway.validate_template(RenderedStack("t"))
    assert raised.value.message == "The Resource Type (DBaaS::NoSuchThing) could not be found."


def test_heats_400_for_an_operators_override_is_the_services_fault_not_the_callers(heat, gateway):
    heat(heat_error(400, "Property error: resources.audit.properties: Unknown Property x"))
    rendered = RenderedStack("t", {}, template_name="postgresql/single.yaml.j2 (operator override)")
    with pytest.raises(errors.TemplateFault) as raised:
        gateway.create_stack("dbaas-abc", rendered, ["dbaas"])
    assert raised.value.code == 500 and raised.value.message == (
        "Heat refuses the template postgresql/single.yaml.j2 (operator override): "
        "Property error: resources.audit.properties: Unknown Property x")


@pytest.mark.parametrize("code,error", [
    (404, errors.NotFound), (409, errors.Conflict), (503, errors.ServiceUnavailable),
    (500, errors.DBaaSError), (401, errors.DBaaSError),
])
def test_heat_http_errors_map_to_ours(heat, gateway, code, error):
    heat(heat_error(code, "Stack dbaas-abc is busy"))
    with pytest.raises(error) as raised:
        gateway.delete_stack("s1")
    assert raised.value.code == error.code


@pytest.mark.parametrize("failure", [requests.ConnectionError("refused"), requests.Timeout("slow")])
def test_heat_unreachable_is_service_unavailable(heat, gateway, failure):
    heat(failure)
    with pytest.raises(errors.ServiceUnavailable):
        gateway.list_stacks(["dbaas"], limit=1)


@pytest.mark.parametrize("heat_type, says", [
    ("MessagingTimeout", "engines do not answer"), ("DBConnectionError", "database does not answer"),
    ("RemoteError", "database may be down"),
])
def test_heat_losing_its_bus_or_database_is_service_unavailable_naming_it(heat, gateway, heat_type, says):
    """Heat's own services (the production profile) answer 500 with the type of what failed."""
    body = {"code": 500, "title": "Internal Server Error", "explanation": "x",
            "error": {"type": heat_type, "traceback": None}}
    heat(heat_response(500, body))
    with pytest.raises(errors.ServiceUnavailable) as raised:
        gateway.get_stack("s1")
    assert says in raised.value.message


def test_an_engine_without_the_plugins_is_the_operators_fault_not_the_users(heat, gateway):
    heat(heat_error(400, "The Resource Type (DBaaS::Local::Server) could not be found."))
    with pytest.raises(errors.ServiceUnavailable) as raised:
        gateway.create_stack("dbaas-abc", RenderedStack("t", {}), ["dbaas"])
    assert "DBaaS::Local::Server" in raised.value.message and "plugin_dirs" in raised.value.message


def test_a_heat_timeout_is_sent_with_every_request_when_set(heat):
    fake = heat(heat_response(200, {"stacks": []}))
    gateway = HeatGateway(Settings(heat_url="http://heat.test:8004/v1", service_project="svc", heat_timeout=20))
    gateway.list_stacks(["dbaas"], limit=1)
    assert fake.requests[0][2]["timeout"] == 20.0
