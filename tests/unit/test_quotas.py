"""Quotas counted from the records (service/quotas.py), over the FAKE gateway of api_fakes
(in-memory Heat; the e2e tests race real creates through the real Heat engine)."""
import threading
from datetime import datetime, timezone

import pytest

from dbaas_api import errors, policy
from dbaas_api.config import Settings
from dbaas_api.service.quotas import CLAIM_MARKER, CLAIM_TTL, QuotaService
from tests.unit.api_fakes import FakeGateway, FakeRenderer, Harness

START = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()  # the FAKE gateway's first creation_time


def service(gateway=None, **limits):
    settings = Settings(**{f"quota_{name}": value for name, value in limits.items()}, quota_settle=0)
    return QuotaService(settings, gateway or FakeGateway(), FakeRenderer(),
                        clock=lambda: START + 30, sleep=lambda seconds: None)


def instance(gateway, project="p1", volume=1, flavor="2", extra=()):
    return gateway.create_stack("i", FakeRenderer().render_record(),
                                ["dbaas", f"project:{project}", f"flavor:{flavor}", f"volume:{volume}", *extra])


def test_defaults_come_from_the_settings_and_a_project_record_overrides_some():
    quotas = service(instances=10, volumes=40, backups=50, ram=-1)
    assert quotas.limits("p1") == {"instances": 10, "volumes": 40, "backups": 50, "ram": -1}
    assert quotas.update("p1", {"instances": 2, "ram": 1024}) == {"instances": 2, "ram": 1024}
    assert quotas.update("p1", {"backups": 0}) == {"backups": 0}
    assert quotas.limits("p1") == {"instances": 2, "volumes": 40, "backups": 0, "ram": 1024}
    assert quotas.limits("p2")["instances"] == 10
    records = [s for s in quotas.gateway.stacks.values() if "dbaas-quota" in s["tags"]]
    assert len(records) == 1, "the older record is deleted"


@pytest.mark.parametrize("body, error, message", [
    ({"flavors": 3}, errors.NotFound, "Unknown quota resources ['flavors']."),
    ({"instances": -2}, errors.BadRequest, "Quota limit '-2' for 'instances' is too small - must be at least '-1'."),
    ({"instances": "5"}, errors.BadRequest, "quotas.instances must be an integer (-1: unlimited)."),
    ({}, errors.BadRequest, "quotas must be an object of resource names and limits."),
])
def test_bad_limits_are_refused_as_trove_refuses_them(body, error, message):
    with pytest.raises(error) as raised:
        service().update("p1", body)
    assert raised.value.message == message


def test_usage_counts_instances_volumes_ram_and_backups_that_exist_or_are_being_built():
    gateway = FakeGateway()
    quotas = service(gateway, instances=5, volumes=10, backups=2, ram=-1)
    instance(gateway, volume=3, flavor="3")
    gateway.stacks[instance(gateway, volume=2)]["stack_status"] = "CREATE_COMPLETE"
    gateway.create_stack("b", FakeRenderer().render_record(), ["dbaas-backup", "project:p1", "instance:x"])
    instance(gateway, project="p2", volume=9)
    shown = {row.resource: (row.in_use, row.reserved, row.limit) for row in quotas.show("p1")}
    assert shown == {"instances": (2, 0, 5), "volumes": (5, 0, 10), "backups": (1, 0, 2), "ram": (1536, 0, -1)}


def test_a_cluster_counts_its_members():
    gateway = FakeGateway()
    cluster = gateway.create_stack("c", FakeRenderer().render_record(), ["dbaas-cluster", "project:p1"])
    gateway.stacks[cluster]["parameters"] = {"members": '{"a": {"flavor": "1", "volume_size": 2}, '
                                                        '"b": {"flavor": "2", "volume_size": 3}}'}
    rows = {row.resource: row.in_use for row in service(gateway).show("p1")}
    assert rows["instances"] == 2 and rows["volumes"] == 5 and rows["ram"] == 768


def test_over_the_limit_is_413_in_troves_body_and_leaves_no_claim():
    gateway = FakeGateway()
    quotas = service(gateway, instances=1)
    instance(gateway)
    with pytest.raises(errors.OverLimit) as raised:
        with quotas.claim("p1", instances=1, volumes=1):
            pytest.fail("the block must not run")
    assert raised.value.body()["overLimit"]["code"] == 413
    assert raised.value.message.startswith("Quota exceeded for resources: ['instances'].")
    assert not [s for s in gateway.stacks.values() if CLAIM_MARKER in s["tags"]]


def test_a_granted_claim_tags_the_record_and_is_deleted_after_it():
    gateway = FakeGateway()
    quotas = service(gateway, instances=2)
    with quotas.claim("p1", instances=1) as claim:
        [claim_stack] = [s for s in gateway.stacks.values() if CLAIM_MARKER in s["tags"]]
        assert claim.tags == [f"claim:{claim_stack['id']}"]
        instance(gateway, extra=claim.tags)
        # The record made with the claim and the claim are one unit, not two.
        assert {row.resource: row.in_use + row.reserved for row in quotas.show("p1")}["instances"] == 1
    assert claim_stack["id"] in gateway.deleted
    assert quotas.show("p1")[0].in_use == 1


def test_unlimited_resources_make_no_claim():
    gateway = FakeGateway()
    with service(gateway, instances=-1, volumes=-1, ram=-1).claim("p1", instances=3, volumes=30) as claim:
        assert claim.tags == []
    assert not gateway.stacks


def test_claims_racing_for_the_last_unit_exactly_the_first_in_heats_order_wins():
    """Every racer's claim exists before any counts (the wait makes that so): each counts
    what exists and the claims ordered up to its own, so one gets the unit."""
    gateway = FakeGateway()
    quotas = service(gateway, instances=3)
    instance(gateway), instance(gateway)
    claims = [gateway.create_stack("q", FakeRenderer().render_record(), [CLAIM_MARKER, "project:p1", "instances:1"])
              for _ in range(8)]
    records = quotas._records("p1")
    granted = [claim for claim in claims if quotas._usage(records, mine=claim)["instances"] <= 3]
    assert granted == [min(claims, key=lambda c: (gateway.stacks[c]["creation_time"], c))]


def test_eight_threads_racing_through_claim_get_exactly_the_free_units():
    gateway = FakeGateway()
    quotas = service(gateway, instances=3)
    instance(gateway)
    outcomes, barrier = [], threading.Barrier(8)

    def race():
        barrier.wait()
        try:
            with quotas.claim("p1", instances=1) as claim:
                instance(gateway, extra=claim.tags)
            outcomes.append("made")
        except errors.OverLimit:
            outcomes.append("413")
    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["413"] * 6 + ["made"] * 2
    assert quotas.show("p1")[0].in_use == 3


def test_a_claim_nobody_deleted_stops_counting_after_its_ttl():
    gateway = FakeGateway()
    gateway.create_stack("q", FakeRenderer().render_record(), [CLAIM_MARKER, "project:p1", "instances:1"])
    quotas = service(gateway, instances=1)
    assert quotas.show("p1")[0].reserved == 1
    quotas.clock = lambda: START + CLAIM_TTL + 1
    assert quotas.show("p1")[0].reserved == 0


def test_growth_is_claimed_only_for_what_is_added():
    gateway = FakeGateway()
    quotas = service(gateway, volumes=5)
    instance(gateway, volume=4)
    with quotas.claim("p1", volumes=1):
        pass
    with pytest.raises(errors.OverLimit):
        with quotas.claim("p1", volumes=2):
            pass


def test_limits_and_quota_calls_speak_troves_shape_and_quotas_are_admin_only(tmp_path):
    policy_file = tmp_path / "policy.yaml"   # no admin in the no-auth profile: let members in
    policy_file.write_text('"dbaas:mgmt:quota:show": "rule:project_member"\n'
                           '"dbaas:mgmt:quota:update": "rule:project_member"\n')
    api = Harness(policy_file=policy_file, quota_instances=4, quota_volumes=-1, quota_backups=50, quota_ram=-1)
    assert api.get("/limits").get_json() == {"limits": [
        {"verb": "ABSOLUTE", "max_instances": 4, "max_volumes": -1, "max_backups": 50, "max_ram": -1}]}
    assert api.client.put(api.url("/mgmt/quotas/other"), json={"quotas": {"instances": 1}}).get_json() == {
        "quotas": {"instances": 1}}
    rows = api.get("/mgmt/quotas/other").get_json()["quotas"]
    assert {"resource": "instances", "in_use": 0, "reserved": 0, "limit": 1} in rows
    assert api.get("/limits", project="other").get_json()["limits"][0]["max_instances"] == 1
    bad = api.client.put(api.url("/mgmt/quotas/other"), json={"quotas": {"cpus": 1}})
    assert bad.status_code == 404 and bad.get_json()["itemNotFound"]["message"] == "Unknown quota resources ['cpus']."


def test_the_default_policy_keeps_quotas_to_admins():
    rules = policy.Policy(Settings().policy_file)
    member = {"project_id": "p1", "user_id": "u", "roles": ["member", "reader"]}
    for rule in ("dbaas:mgmt:quota:show", "dbaas:mgmt:quota:update"):
        with pytest.raises(errors.Forbidden):
            rules.enforce(rule, member, "p1")
        rules.enforce(rule, {**member, "roles": ["admin"]}, "p1")
    rules.enforce("dbaas:limits:list", member, "p1")


def test_an_instance_create_over_the_quota_is_413_and_builds_nothing():
    api = Harness(quota_instances=1, quota_settle=0)
    api.create()
    response = api.post("/instances", {"instance": {"name": "two", "flavorRef": "2", "volume": {"size": 1},
                                                    "datastore": {"type": "redis"}}})
    assert response.status_code == 413, response.get_data(as_text=True)
    assert response.get_json()["overLimit"]["message"].startswith("Quota exceeded for resources: ['instances'].")
    assert len([s for s in api.gateway.stacks.values() if "dbaas" in s["tags"]]) == 1
