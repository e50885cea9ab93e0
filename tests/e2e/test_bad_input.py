"""Bad input through the real stack: a clear 4xx in Trove's format, and nothing created."""
import uuid

import pytest
import requests

GOOD = {"name": "ok", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "redis"}}

BAD_BODIES = [
    ({"instance": dict(GOOD, datastore={"type": "mongodb"})}, 400, "mongodb"),
    ({"instance": dict(GOOD, datastore={"type": "postgresql", "version": "9.6"})}, 400, "9.6"),
    ({"instance": dict(GOOD, flavorRef="no-such-flavor")}, 400, "no-such-flavor"),
    ({"instance": {k: v for k, v in GOOD.items() if k != "volume"}}, 400, "volume"),
    ({"instance": dict(GOOD, volume={"size": 0})}, 400, "volume"),
    ({"instance": dict(GOOD, volume={"size": -5})}, 400, "volume"),
    ({"instance": dict(GOOD, volume={"size": 10 ** 9})}, 400, "volume"),
    ({"instance": dict(GOOD, name="")}, 400, "name"),
    ({"instance": dict(GOOD, name="   ")}, 400, "name"),
    ({"instance": dict(GOOD, name="x" * 256)}, 400, "name"),
    ({"instance": dict(GOOD, datastore={"type": "postgresql"},
                       databases=[{"name": "postgres"}])}, 400, "postgres"),
    ({"instance": dict(GOOD, datastore={"type": "redis"}, databases=[{"name": "d"}])}, 400, "databases"),
    ({"nope": {}}, 400, "instance"),
]


@pytest.mark.parametrize("body,code,mentions", BAD_BODIES)
def test_bad_bodies_are_refused_clearly_and_create_nothing(stack, body, code, mentions):
    client = stack.client(f"bad-{uuid.uuid4().hex[:8]}")
    response = client.post("/instances", body)
    assert response.status_code == code, response.text
    (key, error), = response.json().items()
    assert error["code"] == code and mentions in error["message"], error
    assert client.get("/instances").json()["instances"] == []


def test_malformed_json_and_wrong_content_type(stack):
    client = stack.client("bad-json")
    url = f"{client.base}/instances"
    malformed = requests.post(url, data='{"instance": {', headers={"Content-Type": "application/json"}, timeout=10)
    assert malformed.status_code == 400 and "badRequest" in malformed.json()
    wrong_type = requests.post(url, data="name=x", headers={"Content-Type": "text/plain"}, timeout=10)
    assert wrong_type.status_code == 415 and wrong_type.json()["badMediaType"]["code"] == 415
    assert client.get("/instances").json()["instances"] == []


def test_unknown_ids_and_routes_are_404_in_trove_format(stack):
    client = stack.client("bad-ids")
    for path in ("/instances/" + str(uuid.uuid4()), "/instances/not-a-uuid", "/flavors/99", "/no-such-thing"):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["itemNotFound"]["code"] == 404, path


def test_what_gunicorn_refuses_itself_is_in_trove_format_too(stack):
    """A 10,000-character id is over gunicorn's request-line limit: Trove's JSON, not HTML."""
    client = stack.client("bad-long")
    response = client.get("/instances/" + "x" * 10000)
    assert response.status_code == 400 and response.headers["Content-Type"] == "application/json"
    assert response.json()["badRequest"]["code"] == 400
    assert client.get("/instances/" + "x" * 2000).json()["itemNotFound"]["code"] == 404


def test_a_lone_surrogate_is_refused_up_front(stack):
    client = stack.client(f"bad-{uuid.uuid4().hex[:8]}")
    raw = '{"instance": {"name": "ok", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "redis"},' \
          ' "users": [{"name": "app", "password": "long-enough-\\ud800"}]}}'
    response = requests.post(f"{client.base}/instances", data=raw, headers={"Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["badRequest"]["message"].startswith("instance.users[0].password")
    assert client.get("/instances").json()["instances"] == []
