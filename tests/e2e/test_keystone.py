"""The keystone profile end to end: a real Keystone (tests/keystone.py), the API and the
embedded Heat validating its tokens, two projects with real tokens, and the service project
the stacks live in. HTTP as curl would send it; the unmodified clients are in test_clients.py."""
import uuid

import pytest
import requests

from tests.e2e.support import settled
from tests.harness import Stack
from tests.keystone import wait_for

PASSWORD = "alpha-app-pw-" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def tenants(keystone, keystone_stack):
    """{"alice": Client, "bob": Client, "admin": Client}: each user's own project, own token."""
    return {user: keystone_stack.client(keystone.project_ids[keystone.account(user).project_name],
                                        keystone.token(user))
            for user in ("alice", "bob", "carol", "admin")}


@pytest.fixture(scope="module")
def alices_instance(tenants):
    """A Redis instance of project alpha, with a user whose password must never leak."""
    alice = tenants["alice"]
    created = alice.create_instance(name="alpha-cache", flavorRef="1", volume={"size": 1},
                                    datastore={"type": "redis"}, users=[{"name": "app", "password": PASSWORD}])
    try:
        yield alice.wait_status(created["id"])
    finally:
        alice.delete_and_wait(created["id"])


def project_of(client):
    return client.base.rsplit("/", 1)[-1]


def test_version_discovery_needs_no_token(keystone_stack):
    assert requests.get(keystone_stack.url + "/", timeout=10).json()["versions"][0]["id"] == "v1.0"
    assert requests.get(keystone_stack.url + "/v1.0/", timeout=10).status_code == 200


@pytest.mark.parametrize("token", [None, "not-a-token", "gAAAAABfake" + "x" * 150])
def test_no_or_bad_token_is_401_in_troves_format(keystone, keystone_stack, tenants, token):
    client = keystone_stack.client(project_of(tenants["alice"]), token)
    for response in (client.get("/instances"), client.get("/flavors"),
                     client.post("/instances", {"instance": {"name": "x"}})):
        assert response.status_code == 401, response.text
        assert list(response.json()) == ["unauthorized"]
        assert keystone.url.rsplit("/", 1)[0] in response.headers["WWW-Authenticate"]


def test_a_url_project_other_than_the_tokens_is_403(keystone_stack, tenants):
    alice_in_beta = keystone_stack.client(project_of(tenants["bob"]), tenants["alice"].session.headers["X-Auth-Token"])
    for response in (alice_in_beta.get("/instances"), alice_in_beta.get("/datastores"),
                     alice_in_beta.post("/instances", {"instance": {"name": "x"}})):
        assert response.status_code == 403, response.text
        assert list(response.json()) == ["forbidden"]


def test_the_project_comes_from_the_token(tenants, alices_instance):
    alice = tenants["alice"]
    listed = alice.get("/instances").json()["instances"]
    assert [i["id"] for i in listed] == [alices_instance["id"]]
    assert alices_instance["links"][0]["href"].endswith(f"/v1.0/{project_of(alice)}/instances/{alices_instance['id']}")


def test_another_project_can_neither_see_nor_touch_an_instance(tenants, alices_instance):
    bob, instance_id = tenants["bob"], alices_instance["id"]
    responses = [bob.get(f"/instances/{instance_id}"), bob.delete(f"/instances/{instance_id}")]
    for response in responses:
        assert response.status_code == 404, response.text
        assert list(response.json()) == ["itemNotFound"]
    for path in ("/instances", "/instances/detail"):
        responses.append(bob.get(path))
        assert responses[-1].json()["instances"] == []
    assert all(PASSWORD not in r.text and "alpha-cache" not in r.text for r in responses)
    assert tenants["alice"].get(f"/instances/{instance_id}").json()["instance"]["status"] == "ACTIVE"


def test_another_project_can_neither_change_an_instance_nor_reach_its_users_or_root(tenants, alices_instance):
    bob, instance = tenants["bob"], f"/instances/{alices_instance['id']}"
    responses = [
        bob.get(f"{instance}/users"), bob.get(f"{instance}/users/app"),
        bob.post(f"{instance}/users", {"users": [{"name": "intruder", "password": PASSWORD}]}),
        bob.put(f"{instance}/users/app", {"user": {"password": PASSWORD + "x"}}),
        bob.delete(f"{instance}/users/app"),
        bob.get(f"{instance}/root"), bob.post(f"{instance}/root"),
        bob.put(instance, {"instance": {"name": "renamed"}}),
    ]
    for response in responses:
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert list(response.json()) == ["itemNotFound"] and PASSWORD not in response.text
    shown = tenants["alice"].get(instance).json()["instance"]
    assert (shown["name"], shown["status"]) == ("alpha-cache", "ACTIVE")
    assert [u["name"] for u in tenants["alice"].get(f"{instance}/users").json()["users"]] == ["app"]


def test_another_project_can_neither_see_nor_touch_a_configuration_group(tenants):
    alice, bob = tenants["alice"], tenants["bob"]
    created = alice.post("/configurations", {"configuration": {
        "name": "alpha-tuning", "values": {"work_mem": 4096},
        "datastore": {"type": "postgresql", "version": "15"}}})
    assert created.status_code == 200, created.text
    group = f"/configurations/{created.json()['configuration']['id']}"
    try:
        assert bob.get("/configurations").json()["configurations"] == []
        for response in (bob.get(group), bob.get(f"{group}/instances"), bob.delete(group),
                         bob.patch(group, {"configuration": {"values": {"work_mem": 8192}}})):
            assert response.status_code == 404, (response.request.method, response.text)
            assert list(response.json()) == ["itemNotFound"] and "alpha-tuning" not in response.text
        assert alice.get(group).json()["configuration"]["values"] == {"work_mem": 4096}
    finally:
        alice.delete(group)


def test_another_project_can_neither_see_nor_touch_a_backup(tenants, alices_instance):
    alice, bob = tenants["alice"], tenants["bob"]
    created = alice.post("/backups", {"backup": {"name": "alpha-backup", "instance": alices_instance["id"]}})
    assert created.status_code == 202, created.text
    backup = f"/backups/{created.json()['backup']['id']}"
    try:
        assert wait_for(lambda: alice.get(backup).json()["backup"]["status"] == "COMPLETED", timeout=60)
        assert bob.get("/backups").json()["backups"] == []
        for response in (bob.get(backup), bob.delete(backup), bob.get(f"/instances/{alices_instance['id']}/backups"),
                         bob.post("/backups", {"backup": {"name": "x", "instance": alices_instance["id"]}})):
            assert response.status_code == 404, (response.request.method, response.request.url, response.text)
            assert "alpha-backup" not in response.text and PASSWORD not in response.text
        # Restoring it is a create with a reference that does not exist for bob: 400, as for a flavor.
        stolen = bob.post("/instances", {"instance": {"name": "stolen", "flavorRef": "1", "volume": {"size": 1},
                                                      "restorePoint": {"backupRef": backup.rsplit("/", 1)[1]}}})
        assert stolen.status_code == 400 and "could not be found" in stolen.json()["badRequest"]["message"]
        assert bob.get("/instances").json()["instances"] == []
        assert alice.get(backup).json()["backup"]["status"] == "COMPLETED"
    finally:
        alice.delete(backup)


def test_a_reader_may_look_but_not_change(tenants, alices_instance):
    carol = tenants["carol"]  # reader in alice's project
    assert [i["id"] for i in carol.get("/instances").json()["instances"]] == [alices_instance["id"]]
    assert carol.get(f"/instances/{alices_instance['id']}").status_code == 200
    for response in (carol.delete(f"/instances/{alices_instance['id']}"),
                     carol.post("/instances", {"instance": {"name": "x", "flavorRef": "1", "volume": {"size": 1}}})):
        assert response.status_code == 403 and list(response.json()) == ["forbidden"]
        assert "dbaas:instance:" in response.json()["forbidden"]["message"]
    assert tenants["alice"].get(f"/instances/{alices_instance['id']}").json()["instance"]["status"] == "ACTIVE"


def test_only_an_admin_lists_every_project(tenants, alices_instance):
    for member in ("alice", "bob"):
        response = tenants[member].get("/mgmt/instances")
        assert response.status_code == 403 and list(response.json()) == ["forbidden"]
    listed = tenants["admin"].get("/mgmt/instances").json()["instances"]
    owners = {i["id"]: i["tenant_id"] for i in listed}
    assert owners[alices_instance["id"]] == project_of(tenants["alice"])
    only_beta = tenants["admin"].get("/mgmt/instances", params={"project_id": project_of(tenants["bob"])})
    assert only_beta.json()["instances"] == []
    assert PASSWORD not in tenants["admin"].get("/mgmt/instances").text


def test_an_admin_may_reset_and_delete_another_projects_instance_as_troves_clean_up_does(tenants, alices_instance):
    """trove-tempest-plugin cleans up with its admin client: reset_status, then DELETE, under
    the admin's own project (policy dbaas:instance:reset_status and dbaas:instance:delete).
    A member of another project still meets the instance as not found."""
    alice, bob, admin = tenants["alice"], tenants["bob"], tenants["admin"]
    doomed = alice.create_instance(name="alpha-doomed", flavorRef="1", volume={"size": 1}, datastore={"type": "redis"})
    try:
        alice.wait_status(doomed["id"])
        for response in (bob.post(f"/instances/{doomed['id']}/action", {"reset_status": {}}),
                         bob.delete(f"/instances/{doomed['id']}")):
            assert response.status_code == 404 and list(response.json()) == ["itemNotFound"], response.text
        assert admin.get(f"/instances/{alices_instance['id']}").status_code == 404   # show: no reach
        response = admin.post(f"/instances/{doomed['id']}/action", {"reset_status": {}})
        assert response.status_code == 202, response.text
        assert admin.post(f"/instances/{doomed['id']}/action", {"restart": {}}).status_code == 404  # nor other actions
        response = admin.delete(f"/instances/{doomed['id']}")
        assert response.status_code == 202, response.text
        alice.wait_status(doomed["id"], ("GONE",))
    finally:
        alice.delete(f"/instances/{doomed['id']}")
    assert alice.get(f"/instances/{alices_instance['id']}").json()["instance"]["status"] == "ACTIVE"


def test_an_expired_token_is_401(keystone, keystone_stack, tenants):
    token = keystone.short_lived_token("bob", seconds=4)
    client = keystone_stack.client(project_of(tenants["bob"]), token)
    assert client.get("/instances").status_code == 200
    assert wait_for(lambda: client.get("/instances").status_code == 401, timeout=15)


def test_a_revoked_token_is_401(keystone, keystone_stack, tenants):
    token = keystone.token("bob")
    client = keystone_stack.client(project_of(tenants["bob"]), token)
    assert client.get("/flavors").status_code == 200
    keystone.revoke(token)
    # The API caches a validated token for token_cache_time (2 s in the test config).
    assert wait_for(lambda: client.get("/flavors").status_code == 401, timeout=15)


def test_stacks_live_in_the_service_project_which_users_cannot_reach(keystone, keystone_stack, tenants,
                                                                    alices_instance):
    heat = keystone_stack.settings.heat_endpoint
    service_project = keystone.project_ids["service"]
    alice_token = tenants["alice"].session.headers["X-Auth-Token"]
    assert requests.get(f"{heat}/{service_project}/stacks", timeout=10).status_code == 401
    assert requests.get(f"{heat}/{service_project}/stacks", timeout=10,
                        headers={"X-Auth-Token": alice_token}).status_code == 403
    own = requests.get(f"{heat}/{project_of(tenants['alice'])}/stacks", timeout=10,
                       headers={"X-Auth-Token": alice_token})
    assert own.status_code == 200 and own.json()["stacks"] == []
    # The service user sees the stack, and the stack records its owner.
    stacks = requests.get(f"{heat}/{service_project}/stacks", timeout=10,
                          headers={"X-Auth-Token": keystone.token("dbaas")}).json()["stacks"]
    stack = {s["id"]: s for s in stacks}[alices_instance["id"]]
    assert f"project:{project_of(tenants['alice'])}" in stack["tags"]


def test_an_api_alone_before_a_heat_it_did_not_start_serves_the_same_instances(keystone, keystone_stack, tenants,
                                                                              alices_instance):
    """DBAAS_HEAT_URL, as before an operator's Heat: dbaas up checks that Heat has the
    plugins and starts the API alone; a user's calls through it reach the same stacks."""
    other = Stack(auth_strategy="keystone", config_file=keystone_stack.settings.config_file,
                  heat_url=keystone_stack.settings.heat_endpoint)
    try:
        other.up()
        assert not other.embedded.heat.pid() and [row[0] for row in other.embedded.status()] == ["api"]
        alice = other.client(project_of(tenants["alice"]), tenants["alice"].session.headers["X-Auth-Token"])
        shown = alice.get(f"/instances/{alices_instance['id']}")
        assert shown.status_code == 200 and shown.json()["instance"]["status"] == "ACTIVE", shown.text
        created = alice.create_instance(name="through-another-api", flavorRef="1", volume={"size": 1},
                                        datastore={"type": "redis"})
        assert tenants["alice"].wait_status(created["id"])["name"] == "through-another-api"
        tenants["alice"].delete_and_wait(created["id"])
        bob = other.client(project_of(tenants["bob"]), tenants["bob"].session.headers["X-Auth-Token"])
        assert bob.get(f"/instances/{alices_instance['id']}").status_code == 404
    finally:
        other.destroy()


def test_no_secret_reaches_a_log(keystone, keystone_stack, tenants, alices_instance):
    logs = "".join(path.read_text(errors="replace") for path in (keystone_stack.state_dir / "logs").glob("*"))
    tokens = [client.session.headers["X-Auth-Token"] for client in tenants.values()]
    for secret in (PASSWORD, *keystone.secrets, *tokens):
        assert secret not in logs
    assert PASSWORD not in keystone.log_text()


def test_root_history_names_the_user_who_first_enabled_root(keystone, keystone_stack, tenants):
    """GET /mgmt/instances/{id}/root: Trove's root history, for the admin only."""
    alice, admin = tenants["alice"], tenants["admin"]
    created = alice.create_instance(name="alpha-rooted", flavorRef="1", volume={"size": 1},
                                    datastore={"type": "postgresql"})
    try:
        alice.wait_status(created["id"])
        url = f"/mgmt/instances/{created['id']}/root"
        assert admin.get(url).json()["root_history"] == {"id": created["id"], "enabled": "Never", "user": "Nobody"}
        assert alice.post(f"/instances/{created['id']}/root").status_code == 200
        settled(keystone_stack, created["id"])
        history = admin.get(url).json()["root_history"]
        assert history["user"] == keystone.account("alice").session().get_user_id() and history["enabled"] != "Never"
        response = alice.get(url)
        assert response.status_code == 403 and list(response.json()) == ["forbidden"]
    finally:
        alice.delete_and_wait(created["id"])
