"""The management calls and the 501s of the calls not built, over the FAKE gateway of
api_fakes (the keystone e2e tests run them as a real admin)."""
import pytest

from tests.unit.api_fakes import Harness, assert_trove_error


@pytest.fixture
def admin(tmp_path):
    """No admin exists in the no-auth profile: a policy file lets the members of proj-x in."""
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("".join(f'"dbaas:mgmt:{rule}": "rule:project_member"\n'
                                   for rule in ("instance:show", "instance:action", "datastore_version",
                                                "datastore_version:list")))
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
    ("post", "/mgmt/datastore-versions"),
    ("post", "/mgmt/datastores/versions/v1/parameters"), ("put", "/mgmt/datastores/versions/v1/parameters/p"),
    ("delete", "/datastores/postgresql"), ("get", "/mgmt/instances/{id}/root"),
])
def test_calls_of_troves_reference_not_built_are_501_not_404(admin, method, path):
    response = getattr(admin.client, method)(admin.url(path.format(id="x"), project="proj-x"), json={})
    assert_trove_error(response, 501, "notImplemented")


def test_management_calls_are_refused_to_members_by_default():
    api = Harness()
    for method, path in (("get", "/mgmt/instances/x"), ("post", "/mgmt/instances/x/action"),
                         ("get", "/mgmt/datastore-versions"), ("delete", "/datastores/redis")):
        assert_trove_error(getattr(api.client, method)(api.url(path), json={}), 403, "forbidden")


def test_datastore_versions_are_listed_and_shown_from_the_registry_and_not_changed(admin):
    versions = admin.get("/mgmt/datastore-versions", project="proj-x").get_json()["versions"]
    assert [(v["datastore_name"], v["name"], v["active"], v["default"]) for v in versions] == [
        ("postgresql", "15", True, True), ("mariadb", "10.11", True, True), ("redis", "7", True, True)]
    pg = versions[0]
    public = admin.get("/datastores/postgresql/versions/15", project="proj-x").get_json()["version"]
    assert (pg["id"], pg["datastore_id"]) == (public["id"], public["datastore"])
    assert admin.get(f"/mgmt/datastore-versions/{pg['id']}", project="proj-x").get_json() == {"version": pg}
    url = f"/mgmt/datastore-versions/{pg['id']}"
    assert admin.patch(url, {"active": True, "default": True}, project="proj-x").status_code == 202
    for body, words in [({"active": False}, "Cannot change active"), ({"image": "x", "name": "16"}, "image, name")]:
        message = assert_trove_error(admin.patch(url, body, project="proj-x"), 501, "notImplemented")
        assert words in message and "dbaas_api/datastores/" in message
    assert_trove_error(admin.delete(url, project="proj-x"), 501, "notImplemented")
    assert_trove_error(admin.get("/mgmt/datastore-versions/nope", project="proj-x"), 404, "itemNotFound")
    assert_trove_error(Harness().get("/mgmt/datastore-versions"), 403, "forbidden")   # the default policy
