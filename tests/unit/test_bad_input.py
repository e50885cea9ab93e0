"""Input that used to answer 500, over HTTP against the FAKE gateway and renderer in api_fakes
(not Heat): lone surrogates in any string field, Unicode digits where a number is meant."""
import pytest

from tests.unit.api_fakes import Harness, assert_trove_error

LONE = "a\ud800"


@pytest.fixture
def api():
    return Harness()


def _instance(**fields):
    return {"instance": {"name": "db1", "flavorRef": "2", "volume": {"size": 1},
                         "datastore": {"type": "postgresql", "version": "15"}, **fields}}


@pytest.mark.parametrize("body,field", [
    (_instance(name=LONE), "instance.name"),
    (_instance(databases=[{"name": LONE}]), "instance.databases[0].name"),
    (_instance(users=[{"name": LONE, "password": "long-enough-1"}]), "instance.users[0].name"),
    (_instance(users=[{"name": "app", "password": "long-enough-" + LONE}]), "instance.users[0].password"),
    (_instance(users=[{"name": "app", "password": "long-enough-1", "databases": [{"name": LONE}]}]),
     "instance.users[0].databases[0].name"),
    ({"instance": {"name": "x", LONE: 1}}, "instance (a key)"),
])
def test_a_lone_surrogate_in_a_create_is_a_400_naming_the_field(api, body, field):
    message = assert_trove_error(api.post("/instances", body), 400, "badRequest")
    assert message.startswith(field) and "surrogate" in message, message
    assert api.gateway.stacks == {}


def test_a_lone_surrogate_in_a_change_or_a_configuration_is_a_400_naming_the_field(api):
    instance = api.create(datastore={"type": "postgresql", "version": "15"})
    api.gateway.finish(instance["id"])
    base = f"/instances/{instance['id']}"
    for method, path, body, field in [
        ("post", f"{base}/databases", {"databases": [{"name": LONE}]}, "databases[0].name"),
        ("post", f"{base}/users", {"users": [{"name": "u", "password": LONE * 8}]}, "users[0].password"),
        ("put", f"{base}/users", {"users": [{"name": "u", "password": LONE * 8}]}, "users[0].password"),
        ("put", f"{base}/users/u", {"user": {"password": LONE * 8}}, "user.password"),
        ("post", f"{base}/root", {"password": LONE * 8}, "password"),
        ("put", base, {"instance": {"name": LONE}}, "instance.name"),
        ("post", "/configurations", {"configuration": {"name": LONE, "values": {},
                                                       "datastore": {"type": "postgresql"}}}, "configuration.name"),
        ("post", "/configurations", {"configuration": {"name": "c", "values": {"work_mem": LONE},
                                                       "datastore": {"type": "postgresql"}}},
         "configuration.values.work_mem"),
    ]:
        message = assert_trove_error(getattr(api, method)(path, body), 400, "badRequest")
        assert message.startswith(field) and "surrogate" in message, (path, message)


@pytest.mark.parametrize("limit", ["\u00b2", "\u0663", "\uff11", "1\u00b2"])
def test_unicode_digits_in_limit_are_a_400(api, limit):
    assert "limit" in assert_trove_error(api.get(f"/instances?limit={limit}"), 400, "badRequest")


def test_unicode_digits_in_a_resize_are_a_400(api):
    instance = api.create(datastore={"type": "postgresql", "version": "15"})
    api.gateway.finish(instance["id"])
    response = api.post(f"/instances/{instance['id']}/action", {"resize": {"volume": {"size": "\u00b2"}}})
    assert "size" in assert_trove_error(response, 400, "badRequest")
