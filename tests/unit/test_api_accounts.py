"""Databases, users, access and root over HTTP, against the FAKE gateway of api_fakes (Heat's
PATCH semantics, not Heat) and the real renderer: what each call changes in the stack, what
it refuses before Heat sees anything, and that no password ever comes back."""
import json
import re

import pytest

from tests.unit.api_fakes import Harness, assert_trove_error

PASSWORD = "s3cr3t-Pa55word!"


@pytest.fixture
def api():
    return Harness(real_renderer=True, change_wait=0)


def instance(api, datastore="postgresql", **fields):
    body = {"datastore": {"type": datastore}, **fields}
    created = api.create(**body)
    api.gateway.finish(created["id"])
    return created["id"]


def settle(api, instance_id):
    api.gateway.finish(instance_id, "UPDATE_COMPLETE")


def parameters(api, instance_id):
    """What the stack holds, unmasked (the fake keeps the real values)."""
    return api.gateway.stacks[instance_id]["parameters"]


def names(api, instance_id, suffix):
    return sorted(v for k, v in parameters(api, instance_id).items() if k.endswith(suffix) and v)


def last_update(api):
    return api.gateway.updates[-1]


# ---- databases -------------------------------------------------------------------------------

def test_databases_are_created_listed_and_deleted_as_stack_parameters(api):
    iid = instance(api, databases=[{"name": "a"}])
    assert api.post(f"/instances/{iid}/databases", {"databases": [{"name": "b"}, {"name": "c"}]}).status_code == 202
    assert names(api, iid, "_name") == ["a", "b", "c"]
    # Only what is new was sent: Heat keeps the rest.
    sent = last_update(api)["parameters"]
    assert sorted(v for k, v in sent.items() if k.startswith("database_")) == ["b", "c"]
    assert "op:ACTIVE" in last_update(api)["tags"]
    settle(api, iid)
    assert api.get(f"/instances/{iid}/databases").get_json() == {
        "databases": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}

    assert api.delete(f"/instances/{iid}/databases/b").status_code == 202
    settle(api, iid)
    assert api.get(f"/instances/{iid}/databases").get_json()["databases"] == [{"name": "a"}, {"name": "c"}]


def test_database_list_pages_by_name(api):
    iid = instance(api, databases=[{"name": n} for n in "edcba"])
    first = api.get(f"/instances/{iid}/databases?limit=2").get_json()
    assert first["databases"] == [{"name": "a"}, {"name": "b"}]
    assert "marker=b" in first["links"][0]["href"]
    rest = api.get(f"/instances/{iid}/databases?limit=2&marker=d").get_json()
    assert rest == {"databases": [{"name": "e"}]}


@pytest.mark.parametrize("body,code,words", [
    ({"databases": [{"name": "postgres"}]}, 400, ["databases[0].name", "reserved"]),
    ({"databases": [{"name": "template0"}]}, 400, ["reserved"]),
    ({"databases": [{"name": "a"}]}, 400, ["databases[0].name", "already exists"]),
    ({"databases": [{"name": "n"}, {"name": "n"}]}, 400, ["databases[1].name", "already exists"]),
    ({"databases": [{"name": "x" * 64}]}, 400, ["63"]),
    ({"databases": []}, 400, ["databases", "non-empty"]),
    ({"databases": [{"name": ""}]}, 400, ["databases[0].name"]),
    ({"nope": 1}, 400, ["databases"]),
    ({"databases": [{"name": "n", "character_set": "latin0"}]}, 400, ["databases[0].character_set", "latin0"]),
    ({"databases": [{"name": "n", "collate": "de_DE.UTF-8"}]}, 400, ["databases[0].collate", "de_DE.UTF-8"]),
    ({"databases": [{"name": "n", "character_set": "LATIN1", "collate": "C.UTF-8"}]}, 400,
     ["databases[0].collate", "needs character_set UTF8"]),
    ({"databases": [{"name": "n", "collate": ["C"]}]}, 400, ["collate"]),
])
def test_bad_databases_are_refused_before_heat(api, body, code, words):
    iid = instance(api, databases=[{"name": "a"}])
    response = api.post(f"/instances/{iid}/databases", body)
    message = assert_trove_error(response, code, {400: "badRequest", 501: "notImplemented"}[code])
    for word in words:
        assert word in message
    assert api.gateway.updates == []


def test_deleting_a_database_takes_it_from_its_users_grants_in_the_same_update(api):
    iid = instance(api, databases=[{"name": "a"}, {"name": "b"}],
                   users=[{"name": "u", "password": PASSWORD, "databases": [{"name": "a"}, {"name": "b"}]}])
    assert api.delete(f"/instances/{iid}/databases/a").status_code == 202
    assert names(api, iid, "_databases") == ['["b"]']
    assert len(api.gateway.updates) == 1


def test_unknown_or_reserved_database_delete(api):
    iid = instance(api)
    assert_trove_error(api.delete(f"/instances/{iid}/databases/nope"), 404, "itemNotFound")
    assert_trove_error(api.delete(f"/instances/{iid}/databases/postgres"), 400, "badRequest")


# ---- users -----------------------------------------------------------------------------------

def test_users_are_created_shown_and_listed_without_passwords(api, caplog):
    iid = instance(api, databases=[{"name": "a"}, {"name": "b"}])
    response = api.post(f"/instances/{iid}/users", {"users": [
        {"name": "u1", "password": PASSWORD, "databases": [{"name": "a"}]},
        {"name": "u2", "password": PASSWORD + "2"}]})
    assert response.status_code == 202 and response.get_data() == b""
    settle(api, iid)
    listed = api.get(f"/instances/{iid}/users")
    assert listed.get_json() == {"users": [
        {"name": "u1", "host": "%", "databases": [{"name": "a"}]},
        {"name": "u2", "host": "%", "databases": []}]}
    assert api.get(f"/instances/{iid}/users/u1").get_json() == {
        "user": {"name": "u1", "host": "%", "databases": [{"name": "a"}]}}
    assert api.get(f"/instances/{iid}/users/u1/databases").get_json() == {"databases": [{"name": "a"}]}
    everything = listed.get_data(as_text=True) + caplog.text
    assert PASSWORD not in everything
    # In the stack the passwords are hidden parameters; Heat shows them as ******.
    shown = api.gateway.get_stack(iid)["parameters"]
    assert sorted(v for k, v in shown.items() if k.endswith("_password")) == ["******", "******"]


def test_a_change_sends_no_password_of_a_user_it_does_not_change(api):
    iid = instance(api, users=[{"name": "old", "password": PASSWORD}])
    api.post(f"/instances/{iid}/users", {"users": [{"name": "new", "password": "another-Pw-1"}]})
    sent = last_update(api)["parameters"]
    assert [v for k, v in sent.items() if k.endswith("_password")] == ["another-Pw-1"]
    assert parameters(api, iid)[next(k for k, v in parameters(api, iid).items() if v == "old")[:-5] + "_password"] == PASSWORD


@pytest.mark.parametrize("users,words", [
    ([{"name": "postgres", "password": PASSWORD}], ["users[0].name", "reserved"]),
    ([{"name": "root", "password": PASSWORD}], ["reserved"]),
    ([{"name": "pg_monitor", "password": PASSWORD}], ["reserved"]),
    ([{"name": "u", "password": PASSWORD}], ["users[0].name", "already exists"]),
    ([{"name": "n", "password": PASSWORD}, {"name": "n", "password": PASSWORD}], ["users[1].name", "already exists"]),
    ([{"name": "n", "password": PASSWORD, "databases": [{"name": "missing"}]}],
     ["users[0].databases[0].name", "no database named 'missing'"]),
    ([{"name": "n", "password": PASSWORD, "host": "10.%"}], ["users[0].host", "no host part"]),
    ([{"name": "n", "password": "nul\x00"}], ["users[0].password", "NUL"]),
    ([{"name": "n"}], ["password"]),
])
def test_bad_users_are_refused_before_heat_and_say_why(api, users, words):
    iid = instance(api, users=[{"name": "u", "password": PASSWORD}])
    message = assert_trove_error(api.post(f"/instances/{iid}/users", {"users": users}), 400, "badRequest")
    for word in words:
        assert word in message
    assert PASSWORD not in message and api.gateway.updates == []


def test_passwords_change_for_named_users_only(api):
    iid = instance(api, users=[{"name": "a", "password": PASSWORD}, {"name": "b", "password": PASSWORD}])
    assert api.put(f"/instances/{iid}/users", {"users": [{"name": "a", "password": "new-A-pw"}]}).status_code == 202
    assert [v for k, v in last_update(api)["parameters"].items() if k.endswith("_password")] == ["new-A-pw"]
    settle(api, iid)
    assert api.put(f"/instances/{iid}/users/b", {"user": {"password": "new-B-pw"}}).status_code == 202
    stored = parameters(api, iid)
    assert sorted(v for k, v in stored.items() if k.endswith("_password")) == ["new-A-pw", "new-B-pw"]
    settle(api, iid)
    assert_trove_error(api.put(f"/instances/{iid}/users", {"users": [{"name": "zz", "password": "x-pw"}]}),
                       404, "itemNotFound")
    assert_trove_error(api.put(f"/instances/{iid}/users/b", {"user": {}}), 400, "badRequest")


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb"])
def test_a_rename_changes_the_users_parameters_not_its_resource(api, datastore):
    iid = instance(api, datastore, users=[{"name": "a", "password": PASSWORD}, {"name": "b", "password": PASSWORD}])
    before = {k: v for k, v in parameters(api, iid).items() if k.startswith("user_")}
    new = {"name": "c", "host": "10.0.0.%"} if datastore == "mariadb" else {"name": "c"}
    assert api.put(f"/instances/{iid}/users/b", {"user": new}).status_code == 202
    sent = last_update(api)["parameters"]
    key = next(k[:-len("_name")] for k, v in before.items() if v == "b")
    assert sent == {f"{key}_name": "c", **({f"{key}_host": "10.0.0.%"} if datastore == "mariadb" else {})}
    settle(api, iid)
    assert {u["name"]: u["host"] for u in api.get(f"/instances/{iid}/users").get_json()["users"]} == {
        "a": "%", "c": new.get("host", "%")}
    # A new user of the old name gets a resource of its own.
    assert api.post(f"/instances/{iid}/users", {"users": [{"name": "b", "password": PASSWORD}]}).status_code == 202
    assert len({k for k in parameters(api, iid) if k.endswith("_name")} - {k for k in before if k.endswith("_name")}) == 1
    settle(api, iid)
    updates = len(api.gateway.updates)
    reserved = "postgres" if datastore == "postgresql" else "root"
    for body, field in [({"name": "a"}, "user.name"), ({"name": reserved}, "user.name"),
                        ({"name": "a", "host": "%"}, "user.name")]:
        message = assert_trove_error(api.put(f"/instances/{iid}/users/b", {"user": body}), 400, "badRequest")
        assert field in message
    if datastore == "postgresql":
        message = assert_trove_error(api.put(f"/instances/{iid}/users/b", {"user": {"host": "h"}}), 400, "badRequest")
        assert "user.host" in message
    assert len(api.gateway.updates) == updates   # nothing reached Heat


def test_grant_and_revoke(api):
    iid = instance(api, databases=[{"name": "a"}, {"name": "b"}], users=[{"name": "u", "password": PASSWORD}])
    assert api.put(f"/instances/{iid}/users/u/databases", {"databases": [{"name": "b"}, {"name": "a"}]}).status_code == 202
    settle(api, iid)
    assert api.get(f"/instances/{iid}/users/u/databases").get_json() == {"databases": [{"name": "b"}, {"name": "a"}]}
    assert api.delete(f"/instances/{iid}/users/u/databases/b").status_code == 202
    settle(api, iid)
    assert api.get(f"/instances/{iid}/users/u").get_json()["user"]["databases"] == [{"name": "a"}]
    message = assert_trove_error(api.put(f"/instances/{iid}/users/u/databases", {"databases": [{"name": "nope"}]}),
                                 400, "badRequest")
    assert "databases[0].name" in message and "nope" in message
    assert_trove_error(api.delete(f"/instances/{iid}/users/u/databases/b"), 404, "itemNotFound")
    assert_trove_error(api.delete(f"/instances/{iid}/users/nobody/databases/a"), 404, "itemNotFound")


def test_delete_user(api):
    iid = instance(api, users=[{"name": "u", "password": PASSWORD}, {"name": "v", "password": PASSWORD}])
    key = next(k for k, v in parameters(api, iid).items() if v == "u")[:-len("_name")]
    assert api.delete(f"/instances/{iid}/users/u").status_code == 202
    assert names(api, iid, "_name") == ["v"]
    # Its password stays a (hidden) parameter, emptied: Heat cannot drop one in a PATCH update.
    assert parameters(api, iid)[f"{key}_password"] == "" and f"{key}_name" not in parameters(api, iid)
    assert last_update(api)["parameters"][f"{key}_password"] == ""
    settle(api, iid)
    assert_trove_error(api.delete(f"/instances/{iid}/users/u"), 404, "itemNotFound")
    assert_trove_error(api.get(f"/instances/{iid}/users/u"), 404, "itemNotFound")


def test_mariadb_users_are_named_with_their_host(api):
    iid = instance(api, "mariadb", users=[{"name": "app", "password": PASSWORD, "host": "10.%"},
                                          {"name": "app", "password": PASSWORD}])
    assert api.get(f"/instances/{iid}/users/app@10.%25").get_json()["user"]["host"] == "10.%"
    assert api.get(f"/instances/{iid}/users/app").get_json()["user"]["host"] == "%"
    assert api.delete(f"/instances/{iid}/users/app@10.%25").status_code == 202
    assert names(api, iid, "_host") == ["%"]


def test_a_postgresql_user_may_have_an_at_sign_in_its_name(api):
    iid = instance(api, users=[{"name": "me@example.org", "password": PASSWORD}])
    assert api.get(f"/instances/{iid}/users/me@example.org").get_json()["user"]["name"] == "me@example.org"


# ---- root --------------------------------------------------------------------------------------

def test_root_enable_returns_a_password_once_and_keeps_it_hidden(api, caplog):
    iid = instance(api)
    assert api.get(f"/instances/{iid}/root").get_json() == {"rootEnabled": False}
    response = api.post(f"/instances/{iid}/root", None)
    assert response.status_code == 200
    user = response.get_json()["user"]
    assert user["name"] == "root" and re.fullmatch(r"[A-Za-z0-9]{32}", user["password"])
    assert parameters(api, iid)["root_password"] == user["password"]
    settle(api, iid)
    assert api.get(f"/instances/{iid}/root").get_json() == {"rootEnabled": True}
    assert user["password"] not in json.dumps(api.gateway.get_stack(iid)["parameters"]) + caplog.text
    assert user["password"] not in api.get(f"/instances/{iid}").get_data(as_text=True)

    again = api.post(f"/instances/{iid}/root", {"password": "my-own-Root-pw"}).get_json()["user"]
    assert again == {"name": "root", "password": "my-own-Root-pw"}
    settle(api, iid)
    assert api.delete(f"/instances/{iid}/root").status_code == 204
    assert "root_enabled" not in parameters(api, iid)
    assert parameters(api, iid)["root_password"] == ""          # emptied, never dropped (see changes.py)
    settle(api, iid)
    assert api.get(f"/instances/{iid}/root").get_json() == {"rootEnabled": False}
    assert_trove_error(api.delete(f"/instances/{iid}/root"), 404, "itemNotFound")


# ---- Redis: what does not apply is 501 -------------------------------------------------------

def test_redis_has_users_but_no_databases_grants_or_root(api):
    iid = instance(api, "redis", users=[{"name": "u", "password": PASSWORD}])
    assert api.post(f"/instances/{iid}/users", {"users": [{"name": "v", "password": PASSWORD}]}).status_code == 202
    settle(api, iid)
    for call in (lambda: api.get(f"/instances/{iid}/databases"),
                 lambda: api.post(f"/instances/{iid}/databases", {"databases": [{"name": "d"}]}),
                 lambda: api.delete(f"/instances/{iid}/databases/d"),
                 lambda: api.get(f"/instances/{iid}/users/u/databases"),
                 lambda: api.put(f"/instances/{iid}/users/u/databases", {"databases": [{"name": "d"}]}),
                 lambda: api.get(f"/instances/{iid}/root"),
                 lambda: api.post(f"/instances/{iid}/root", None),
                 lambda: api.delete(f"/instances/{iid}/root")):
        message = assert_trove_error(call(), 501, "notImplemented")
        assert "Redis" in message
    message = assert_trove_error(api.post(f"/instances/{iid}/users", {"users": [
        {"name": "w", "password": PASSWORD, "databases": [{"name": "d"}]}]}), 400, "badRequest")
    assert "users[0].databases" in message


# ---- the instance must be free --------------------------------------------------------------

def test_a_busy_instance_is_409_and_nothing_is_sent(api):
    iid = instance(api)
    api.gateway.stacks[iid]["stack_status"] = "UPDATE_IN_PROGRESS"
    message = assert_trove_error(api.post(f"/instances/{iid}/databases", {"databases": [{"name": "d"}]}),
                                 409, "conflict")
    assert "busy" in message and api.gateway.updates == []


@pytest.mark.parametrize("stack_status", ["CREATE_IN_PROGRESS", "CREATE_FAILED", "DELETE_IN_PROGRESS",
                                          "SUSPEND_COMPLETE"])
def test_an_instance_that_is_not_active_cannot_be_changed(api, stack_status):
    created = api.create(datastore={"type": "postgresql"})
    api.gateway.stacks[created["id"]]["stack_status"] = stack_status
    assert_trove_error(api.post(f"/instances/{created['id']}/users", {"users": [
        {"name": "u", "password": PASSWORD}]}), 409, "conflict")


def test_a_failed_change_can_be_put_right_by_another(api):
    iid = instance(api, users=[{"name": "u", "password": PASSWORD}])
    api.gateway.stacks[iid]["stack_status"] = "UPDATE_FAILED"
    assert api.delete(f"/instances/{iid}/users/u").status_code == 202


def test_heats_409_is_waited_for_then_answered(api):
    """Heat refuses the update (another action took the lock after our read): 409."""
    iid = instance(api)
    real_update = api.gateway.update_stack

    def locked(*args, **kwargs):
        api.gateway.stacks[iid]["stack_status"] = "UPDATE_IN_PROGRESS"
        return real_update(*args, **kwargs)
    api.gateway.update_stack = locked
    assert_trove_error(api.post(f"/instances/{iid}/databases", {"databases": [{"name": "d"}]}), 409, "conflict")


def test_other_projects_and_unknown_instances_are_404(api):
    iid = instance(api)
    for path in (f"/instances/{iid}/databases", f"/instances/{iid}/users", f"/instances/{iid}/root"):
        assert_trove_error(api.get(path, project="proj-b"), 404, "itemNotFound")
    assert_trove_error(api.get("/instances/not-an-id/users"), 404, "itemNotFound")


def test_a_databases_character_set_and_collation_are_stack_parameters_kept_by_later_changes(api):
    iid = instance(api, "mariadb", databases=[{"name": "a", "collate": "latin1_german1_ci"}])
    assert api.post(f"/instances/{iid}/databases", {"databases": [
        {"name": "b", "character_set": "utf8"}, {"name": "c"}]}).status_code == 202
    settle(api, iid)
    assert names(api, iid, "_character_set") == ["latin1", "utf8mb3"]
    assert names(api, iid, "_collate") == ["latin1_german1_ci", "utf8mb3_general_ci"]
    template = api.gateway.stacks[iid]["rendered"].template
    assert template.count("character_set: {get_param:") == 2
    # A later change re-renders both with what the stack holds; Trove's view is the name alone.
    assert api.post(f"/instances/{iid}/users", {"users": [{"name": "u", "password": PASSWORD}]}).status_code == 202
    assert api.gateway.stacks[iid]["rendered"].template.count("collate: {get_param:") == 2
    settle(api, iid)
    assert api.get(f"/instances/{iid}/databases").get_json()["databases"] == [{"name": n} for n in "abc"]
    assert api.delete(f"/instances/{iid}/databases/a").status_code == 202
    assert api.gateway.stacks[iid]["rendered"].template.count("collate: {get_param:") == 1
