"""The management calls and the 501s of the calls not built, over the FAKE gateway of
api_fakes (the keystone e2e tests run them as a real admin)."""
import re

import pytest

from tests.unit.api_fakes import Harness, assert_trove_error


@pytest.fixture
def admin(tmp_path):
    """No admin exists in the no-auth profile: a policy file lets the members of proj-x in."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("".join(f'"dbaas:mgmt:{rule}": "rule:project_member"\n'
                                   for rule in ("instance:show", "instance:action", "instance:root",
                                                "datastore_version:list",
                                                "datastore_version:show", "datastore_version:create",
                                                "datastore_version:update", "datastore_version:delete",
                                                "datastore_version:parameter:list",
                                                "datastore_version:parameter:change", "datastore:delete")))
    return Harness(real_renderer=True, policy_file=policy_file, change_wait=0)


def test_an_admin_shows_any_projects_instance_with_its_owner(admin):
    created = admin.create(project="proj-a")
    shown = admin.get(f"/mgmt/instances/{created['id']}", project="proj-x").get_json()["instance"]
    assert shown["id"] == created["id"] and shown["tenant_id"] == "proj-a"
    assert shown["task_description"] == "BUILD" and shown["deleted"] is False
    missing = admin.get("/mgmt/instances/00000000-0000-0000-0000-000000000000", project="proj-x")
    assert_trove_error(missing, 404, "itemNotFound")


def test_mgmt_reboot_restarts_and_reset_task_status_resets_any_projects_instance(admin):
    created = admin.create(project="proj-a")
    admin.gateway.finish(created["id"])
    response = admin.post(f"/mgmt/instances/{created['id']}/action", {"reboot": {}}, project="proj-x")
    assert response.status_code == 202, response.get_data(as_text=True)
    assert admin.gateway.updates, "the restart is a stack update"
    admin.gateway.finish(created["id"])
    assert admin.post(f"/mgmt/instances/{created['id']}/action", {"reset-task-status": {}},
                      project="proj-x").status_code == 202
    assert ("check", created["id"]) in admin.gateway.stack_actions


@pytest.mark.parametrize("action", ["stop", "migrate", "rebuild"])
def test_mgmt_actions_not_built_are_501_with_a_reason(admin, action):
    created = admin.create(project="proj-a")
    response = admin.post(f"/mgmt/instances/{created['id']}/action", {action: {}}, project="proj-x")
    assert_trove_error(response, 501, "notImplemented")
    assert len(response.get_json()["notImplemented"]["message"]) > 40


@pytest.mark.parametrize("method, path", [
    ("get", "/instances/{id}/ssl"),
    ("post", "/mgmt/datastores/versions/v1/parameters"), ("put", "/mgmt/datastores/versions/v1/parameters/p"),
    ("delete", "/datastores/postgresql")
])
def test_calls_of_troves_reference_not_built_are_501_not_404(admin, method, path):
    response = getattr(admin.client, method)(admin.url(path.format(id="x"), project="proj-x"), json={})
    assert_trove_error(response, 501, "notImplemented")


def test_management_calls_are_refused_to_members_by_default():
    api = Harness()
    for method, path in (("get", "/mgmt/instances/x"), ("post", "/mgmt/instances/x/action"),
                         ("get", "/mgmt/datastore-versions"), ("delete", "/datastores/redis")):
        assert_trove_error(getattr(api.client, method)(api.url(path), json={}), 403, "forbidden")


def test_built_in_versions_are_listed_and_shown_and_cannot_be_deleted(admin):
    versions = admin.get("/mgmt/datastore-versions", project="proj-x").get_json()["versions"]
    assert [(v["datastore_name"], v["name"], v["active"], v["default"]) for v in versions] == [
        ("postgresql", "15", True, True), ("mariadb", "10.11", True, True), ("redis", "7", True, True)]
    pg = versions[0]
    public = admin.get("/datastores/postgresql/versions/15", project="proj-x").get_json()["version"]
    assert (pg["id"], pg["datastore_id"]) == (public["id"], public["datastore"])
    assert admin.get(f"/mgmt/datastore-versions/{pg['id']}", project="proj-x").get_json() == {"version": pg}
    message = assert_trove_error(admin.delete(f"/mgmt/datastore-versions/{pg['id']}", project="proj-x"),
                                 400, "badRequest")
    assert "built in" in message and "--disable" in message
    assert_trove_error(admin.get("/mgmt/datastore-versions/nope", project="proj-x"), 404, "itemNotFound")
    assert_trove_error(Harness().get("/mgmt/datastore-versions"), 403, "forbidden")   # the default policy


def _new(**given):
    return {"version": {"datastore_name": "mariadb", "name": "10.11-site", "datastore_manager": "mariadb",
                        "version": "10.11", "image": "img-1", "active": True, **given}}


def _mgmt_version(admin, name):
    return next(v for v in admin.get("/mgmt/datastore-versions", project="proj-x").get_json()["versions"]
                if v["name"] == name)


def test_an_operators_version_is_created_offered_used_disabled_and_deleted(admin):
    assert admin.post("/mgmt/datastore-versions", _new(), project="proj-x").status_code == 202
    made = _mgmt_version(admin, "10.11-site")
    assert (made["version"], made["active"], made["default"], made["image"]) == ("10.11", True, False, "img-1")
    listed = admin.get("/datastores/mariadb/versions").get_json()["versions"]
    assert [v["name"] for v in listed] == ["10.11", "10.11-site"]
    created = admin.create(datastore={"type": "mariadb", "version": "10.11-site"})
    assert created["datastore"]["version_number"] == "10.11"
    assert f"dsv:{made['id']}" in admin.gateway.stacks[created["id"]]["tags"]
    url = f"/mgmt/datastore-versions/{made['id']}"
    assert "in use by instance" in assert_trove_error(admin.delete(url, project="proj-x"), 400, "badRequest")
    assert admin.patch(url, {"active": False}, project="proj-x").status_code == 202
    assert _mgmt_version(admin, "10.11-site")["active"] is False
    assert [v["name"] for v in admin.get("/datastores/mariadb/versions").get_json()["versions"]] == ["10.11"]
    refused = admin.post("/instances", {"instance": {
        "name": "x", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "mariadb", "version": "10.11-site"}}})
    assert "is not active" in assert_trove_error(refused, 400, "badRequest")
    admin.delete(f"/instances/{created['id']}")
    admin.gateway.stacks.pop(created["id"])
    assert admin.delete(url, project="proj-x").status_code == 202
    assert [v["name"] for v in admin.get("/mgmt/datastore-versions", project="proj-x").get_json()["versions"]
            if v["datastore_name"] == "mariadb"] == ["10.11"]


def test_default_and_disable_apply_to_built_in_versions_and_the_newest_default_wins(admin):
    admin.post("/mgmt/datastore-versions", _new(default=True), project="proj-x")
    site = _mgmt_version(admin, "10.11-site")
    builtin = _mgmt_version(admin, "10.11")
    assert (site["default"], builtin["default"]) == (True, False)
    assert admin.get("/datastores/mariadb").get_json()["datastore"]["default_version"] == site["id"]
    admin.patch(f"/mgmt/datastore-versions/{builtin['id']}", {"default": True, "image": "img-2"}, project="proj-x")
    assert (_mgmt_version(admin, "10.11-site")["default"], _mgmt_version(admin, "10.11")["image"]) == (False, "img-2")
    admin.patch(f"/mgmt/datastore-versions/{builtin['id']}", {"active": False}, project="proj-x")
    assert _mgmt_version(admin, "10.11-site")["default"] is True   # the only active claim left
    refused = admin.post("/instances", {"instance": {
        "name": "x", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "mariadb", "version": "10.11"}}})
    assert "is not active" in assert_trove_error(refused, 400, "badRequest")
    records = [s for s in admin.gateway.stacks.values() if "dbaas-datastore-version" in s["tags"]]
    assert len(records) == 2, "a change replaces the version's record, it never adds one"


@pytest.mark.parametrize("given, words", [
    ({"datastore_name": "mongodb"}, "not a datastore this service runs"),
    ({"version": "11.4"}, "MariaDB 11.4 cannot run here: this service runs MariaDB 10.11"),
    ({"version": None, "name": "11.4-site"}, "cannot run here"),
    ({"name": "10.11"}, "already has a version '10.11'"),
    ({"datastore_manager": "mysql"}, "manager is 'mariadb'"),
    ({"active": "yes"}, "active: true or false"),
    ({"active": None}, "active: true or false"),
    ({"image": "a,b"}, "image:"),
    ({"image_tags": "ok, bad tag"}, "image_tags:"),
    ({"name": " padded"}, "name:"),
    ({"repl_strategy": "x"}, "repl_strategy: not supported"),
    ({"colour": "red"}, "Unknown field(s) colour"),
])
def test_a_bad_version_is_400_naming_what_is_wrong(admin, given, words):
    body = _new(**given)
    body["version"] = {key: value for key, value in body["version"].items()
                       if value is not None or key == "active"}
    message = assert_trove_error(admin.post("/mgmt/datastore-versions", body, project="proj-x"), 400, "badRequest")
    assert words in message
    assert not [s for s in admin.gateway.stacks.values() if "dbaas-datastore-version" in s["tags"]]


def test_a_patch_is_checked_and_a_name_stays_unique(admin):
    admin.post("/mgmt/datastore-versions", _new(), project="proj-x")
    url = f"/mgmt/datastore-versions/{_mgmt_version(admin, '10.11-site')['id']}"
    for body, words in [({"name": "10.11"}, "already has"), ({"active": 1}, "active: true or false"),
                        ({"version": "7"}, "Unknown field(s) version"), ([], "must be an object")]:
        assert words in assert_trove_error(admin.patch(url, body, project="proj-x"), 400, "badRequest")
    assert admin.patch(url, {"name": "renamed", "packages": "a,b"}, project="proj-x").status_code == 202
    assert _mgmt_version(admin, "renamed")["packages"] == ["a", "b"]


def test_mgmt_parameters_are_the_versions_rules_and_not_changed(admin):
    version_id = _mgmt_version(admin, "15")["id"]
    listed = admin.get(f"/mgmt/datastores/versions/{version_id}/parameters", project="proj-x").get_json()
    assert listed == admin.get(f"/datastores/versions/{version_id}/parameters").get_json()
    shown = admin.get(f"/mgmt/datastores/versions/{version_id}/parameters/work_mem", project="proj-x").get_json()
    assert shown["name"] == "work_mem" and shown["datastore_version_id"] == version_id
    for method in ("post", "put", "delete"):
        suffix = "" if method == "post" else "/work_mem"
        response = getattr(admin.client, method)(
            admin.url(f"/mgmt/datastores/versions/{version_id}/parameters{suffix}", project="proj-x"), json={})
        assert "datastore's rules" in assert_trove_error(response, 501, "notImplemented")


def test_root_history_says_when_root_was_first_enabled_and_by_whom(admin):
    created = admin.create(project="proj-a", datastore={"type": "mariadb"})
    admin.gateway.finish(created["id"])
    url = f"/mgmt/instances/{created['id']}/root"
    never = admin.get(url, project="proj-x").get_json()
    assert never == {"root_history": {"id": created["id"], "enabled": "Never", "user": "Nobody"}}
    admin.client.post(admin.url(f"/instances/{created['id']}/root", project="proj-a"), json=None,
                      headers={"X-User-Id": "not a user id, in the no-auth profile"})
    admin.gateway.finish(created["id"])
    first = admin.get(url, project="proj-x").get_json()["root_history"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", first["enabled"]) and first["user"] == "Nobody"
    admin.post(f"/instances/{created['id']}/root", {"password": "another-Root-pw1"}, project="proj-a")
    admin.gateway.finish(created["id"])
    assert admin.get(url, project="proj-x").get_json()["root_history"] == first   # the first enable
    assert_trove_error(Harness().get(url), 403, "forbidden")


def test_root_marks_read_back_and_a_stack_from_before_says_unknown():
    from dbaas_api.model import RootSpec
    from dbaas_api.records.instance import root_from, root_mark
    assert root_from(root_mark(RootSpec("pw", "2026-12-02T18:00:00", "u1"))) == RootSpec(None, "2026-12-02T18:00:00", "u1")
    assert root_from("yes") == RootSpec() and root_mark(RootSpec()) == "yes" and root_from("") is None
