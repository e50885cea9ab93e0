"""Quotas end to end, in the keystone profile (the management calls need an admin): the real
Heat engine, real datastore servers, the API under gunicorn with two worker processes, and
the unmodified ``openstack database`` CLI."""
import pytest

from tests.e2e.support import race_creates
from tests.e2e.test_clients import cli, cli_json

REDIS = {"flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "redis"}}


@pytest.fixture(scope="module")
def users(keystone, keystone_stack):
    """{"bob": Client, "admin": Client, ...}: each user's own project and token."""
    return {user: keystone_stack.client(keystone.project_ids[keystone.account(user).project_name],
                                        keystone.token(user))
            for user in ("bob", "carol", "admin")}


@pytest.fixture
def limits(users):
    """Set limits for bob's project; the project's limits are unlimited again afterwards."""
    bob = project_of(users["bob"])

    def set_limits(**values):
        response = users["admin"].put(f"/mgmt/quotas/{bob}", {"quotas": values})
        assert response.status_code == 200, response.text
        return usage(users)
    yield set_limits
    assert users["admin"].put(f"/mgmt/quotas/{bob}", {"quotas": dict.fromkeys(
        ("instances", "volumes", "backups", "ram"), -1)}).status_code == 200


def project_of(client):
    return client.base.rsplit("/", 1)[-1]


def usage(users):
    rows = users["admin"].get(f"/mgmt/quotas/{project_of(users['bob'])}").json()["quotas"]
    return {row["resource"]: row for row in rows}


def test_racing_creates_from_eight_clients_over_two_api_processes_get_exactly_the_last_unit(
        users, limits, keystone_stack):
    in_use = usage(users)["instances"]["in_use"]
    limits(instances=in_use + 1)
    answers = race_creates(users["bob"].base, [{"name": f"race-{number}", **REDIS} for number in range(8)],
                           headers={"X-Auth-Token": users["bob"].session.headers["X-Auth-Token"]})
    made = [body["instance"]["id"] for code, body in answers if code == 200]
    try:
        assert sorted(code for code, _ in answers) == [200] + [413] * 7, answers
        for code, body in answers:
            if code == 413:
                assert set(body) == {"overLimit"} and body["overLimit"]["code"] == 413
                assert body["overLimit"]["message"].startswith("Quota exceeded for resources: ['instances'].")
        shown = usage(users)["instances"]
        assert (shown["in_use"], shown["reserved"]) == (in_use + 1, 0)
        bobs = [i["id"] for i in users["bob"].get("/instances", params={"limit": 100}).json()["instances"]]
        assert made[0] in bobs and len(bobs) == in_use + 1
    finally:
        for instance_id in made:
            users["bob"].delete_and_wait(instance_id)
    assert usage(users)["instances"]["in_use"] == in_use


def test_quotas_hold_for_backups_volume_growth_and_replicas(users, limits):
    bob = users["bob"]
    created = bob.create_instance(name="quota-cache", **REDIS)
    try:
        bob.wait_status(created["id"])
        now = limits(backups=0, volumes=-1, instances=-1)
        backup = bob.post("/backups", {"backup": {"name": "b", "instance": created["id"]}})
        assert backup.status_code == 413 and "['backups']" in backup.json()["overLimit"]["message"]

        now = limits(volumes=usage(users)["volumes"]["in_use"])
        grow = bob.post(f"/instances/{created['id']}/action", {"resize": {"volume": {"size": 2}}})
        assert grow.status_code == 413 and "['volumes']" in grow.json()["overLimit"]["message"]
        now = limits(volumes=now["volumes"]["in_use"] + 1)
        assert bob.post(f"/instances/{created['id']}/action", {"resize": {"volume": {"size": 2}}}).status_code == 202
        assert usage(users)["volumes"]["in_use"] == now["volumes"]["in_use"] + 1   # the new size, at once

        limits(volumes=-1, instances=usage(users)["instances"]["in_use"] + 1)
        replicas = bob.post("/instances", {"instance": {"name": "r", "replica_of": created["id"], "replica_count": 2}})
        assert replicas.status_code == 413 and "['instances']" in replicas.json()["overLimit"]["message"]
        assert not [s for s in bob.get("/instances").json()["instances"] if s["name"].startswith("r-")]
    finally:
        bob.delete_and_wait(created["id"])


def test_the_cli_lists_limits_and_an_admin_shows_and_updates_quotas(keystone, users, limits):
    bob_project = project_of(users["bob"])
    limits(instances=7)
    bob, admin = keystone.account("bob"), keystone.account("admin")
    done = cli(bob, "database", "limit", "list", "-f", "json")
    assert done.returncode == 0, done.stderr
    assert "max_instances" in done.stdout and "7" in done.stdout
    rows = cli_json(admin, "database", "quota", "show", bob_project)
    assert {"Resource": "instances", "In Use": usage(users)["instances"]["in_use"], "Reserved": 0,
            "Limit": 7} in rows
    updated = cli_json(admin, "database", "quota", "update", bob_project, "backups", "3")
    assert updated == {"backups": 3}
    assert usage(users)["backups"]["limit"] == 3
    refused = cli(bob, "database", "quota", "show", bob_project)
    assert refused.returncode != 0 and "dbaas:mgmt:quota:show" in refused.stderr


def test_members_may_read_their_limits_but_not_manage_quotas(users):
    bob = users["bob"]
    assert bob.get("/limits").json()["limits"][0]["verb"] == "ABSOLUTE"
    assert bob.get(f"/mgmt/quotas/{project_of(bob)}").status_code == 403
    assert bob.put(f"/mgmt/quotas/{project_of(bob)}", {"quotas": {"instances": 100}}).status_code == 403


def test_management_calls_work_for_admins_and_are_refused_to_members(users):
    bob, admin = users["bob"], users["admin"]
    created = bob.create_instance(name="mgmt-cache", **REDIS)
    try:
        bob.wait_status(created["id"])
        assert bob.get(f"/mgmt/instances/{created['id']}").status_code == 403
        assert bob.post(f"/mgmt/instances/{created['id']}/action", {"reboot": {}}).status_code == 403
        shown = admin.get(f"/mgmt/instances/{created['id']}").json()["instance"]
        assert (shown["tenant_id"], shown["status"], shown["service_status"]) == (
            project_of(bob), "ACTIVE", "HEALTHY")
        assert admin.post(f"/mgmt/instances/{created['id']}/action", {"reboot": {}}).status_code == 202
        assert bob.wait_status(created["id"])["status"] == "ACTIVE"
        stop = admin.post(f"/mgmt/instances/{created['id']}/action", {"stop": {}})
        assert stop.status_code == 501 and "restart" in stop.json()["notImplemented"]["message"]
    finally:
        bob.delete_and_wait(created["id"])
