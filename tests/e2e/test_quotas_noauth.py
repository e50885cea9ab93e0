"""Quotas in the no-auth profile (the embedded default), through the real Heat engine and
real Redis servers: they hold against racing creates and a volume resize, per project. There
is no admin in this profile, so the test sets the project's limits as the operator, with the
service's own QuotaService (the record an admin's PUT /mgmt/quotas writes)."""
import uuid

from dbaas_api.heat_gateway import HeatGateway
from dbaas_api.rendering import Renderer
from dbaas_api.service.quotas import QuotaService
from tests.e2e.support import race_creates

REDIS = {"flavorRef": "1", "datastore": {"type": "redis"}}


def test_the_default_limits_hold_in_the_no_auth_profile(stack):
    client, other = (stack.client(f"quota-{uuid.uuid4().hex[:8]}") for _ in range(2))
    quotas = QuotaService(stack.settings, HeatGateway(stack.settings), Renderer(stack.settings))
    for project in (client, other):
        quotas.update(project.base.rsplit("/", 1)[-1], {"volumes": 40})
    limits = client.get("/limits").json()["limits"][0]
    assert (limits["verb"], limits["max_volumes"], limits["max_instances"]) == ("ABSOLUTE", 40, -1)
    # Eight creates of 25 GB at once: only one fits in 40.
    answers = race_creates(client.base, [{"name": f"race-{n}", "volume": {"size": 25}, **REDIS} for n in range(8)])
    made = [body["instance"]["id"] for code, body in answers if code == 200]
    theirs = None
    try:
        assert sorted(code for code, _ in answers) == [200] + [413] * 7, answers
        assert all(body["overLimit"]["message"].startswith("Quota exceeded for resources: ['volumes'].")
                   for code, body in answers if code == 413)
        assert [i["id"] for i in client.get("/instances").json()["instances"]] == made
        client.wait_status(made[0])
        # Another project has a quota of its own.
        theirs = other.create_instance(name="theirs", volume={"size": 25}, **REDIS)["id"]
        grow = client.post(f"/instances/{made[0]}/action", {"resize": {"volume": {"size": 41}}})
        assert grow.status_code == 413 and "['volumes']" in grow.json()["overLimit"]["message"]
        assert client.post(f"/instances/{made[0]}/action", {"resize": {"volume": {"size": 40}}}).status_code == 202
        assert client.wait_status(made[0])["volume"]["size"] == 40
        # No admin in this profile: nobody manages quotas through the API.
        assert client.put(f"/mgmt/quotas/{client.base.rsplit('/', 1)[-1]}",
                          {"quotas": {"volumes": 100}}).status_code == 403
    finally:
        for owner, instance_id in [(client, made_id) for made_id in made] + ([(other, theirs)] if theirs else []):
            owner.delete_and_wait(instance_id)
