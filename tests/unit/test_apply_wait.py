"""A change is answered when it is applied (service/changes.py), against the FAKE gateway of
api_fakes with a Heat that settles an update a few reads after it began: what waits (guest
changes), what does not (actions), what a failed update answers, and what the bound does."""
import threading
import time

import pytest

from tests.unit.api_fakes import FakeGateway, Harness, assert_trove_error

PASSWORD = "s3cr3t-Pa55word!"


class SlowHeat(FakeGateway):
    """An update settles (``outcome``) on the ``reads``-th stack read after it began; the
    test reads what the caller saw when it got its answer from ``answered_at``."""

    def __init__(self, reads=3, outcome="UPDATE_COMPLETE", reason=""):
        super().__init__()
        self.reads, self.outcome, self.reason = reads, outcome, reason
        self.running = {}

    def update_stack(self, stack_id, rendered, tags):
        super().update_stack(stack_id, rendered, tags)
        self.running[stack_id] = self.reads

    def get_stack(self, stack_id, resolve_outputs=True):
        if stack_id in self.running:
            self.running[stack_id] -= 1
            if self.running[stack_id] <= 0:
                del self.running[stack_id]
                self.stacks[stack_id].update(stack_status=self.outcome, stack_status_reason=self.reason)
        return super().get_stack(stack_id, resolve_outputs)


def slow_api(heat=None, **settings):
    return Harness(real_renderer=True, gateway=heat or SlowHeat(), **{"apply_wait": 5, **settings})


@pytest.fixture
def api():
    return slow_api()


def instance(api):
    created = api.create(datastore={"type": "postgresql"})
    api.gateway.finish(created["id"])
    return created["id"]


def stack_status(api, instance_id):
    return api.gateway.stacks[instance_id]["stack_status"]


@pytest.mark.parametrize("method, path, body", [
    ("post", "/databases", {"databases": [{"name": "shop"}]}),
    ("post", "/users", {"users": [{"name": "app", "password": PASSWORD}]}),
    ("post", "/root", None),
])
def test_a_guest_change_is_answered_once_heat_has_applied_it(api, method, path, body):
    iid = instance(api)
    response = getattr(api, method)(f"/instances/{iid}{path}", body)
    assert response.status_code in (200, 202), response.get_data(as_text=True)
    assert stack_status(api, iid) == "UPDATE_COMPLETE"


def test_access_and_configuration_changes_wait_too(api):
    iid = instance(api)
    response = api.put(f"/instances/{iid}", {"instance": {"access": {"allowed_cidrs": ["10.0.0.0/8"]}}})
    assert response.status_code == 202 and stack_status(api, iid) == "UPDATE_COMPLETE"


def test_an_action_is_answered_once_heat_has_accepted_it(api):
    iid = instance(api)
    assert api.post(f"/instances/{iid}/action", {"restart": {}}).status_code == 202
    assert stack_status(api, iid) == "UPDATE_IN_PROGRESS"


def test_a_change_that_failed_while_waited_on_is_503_with_the_servers_reason():
    api = slow_api(SlowHeat(outcome="UPDATE_FAILED", reason=(
        "Resource UPDATE failed: ResourceInError: resources.user_1: Went to status ERROR due to "
        '"the server refused: role app already exists"')))
    iid = instance(api)
    response = api.post(f"/instances/{iid}/users", {"users": [{"name": "app", "password": PASSWORD}]})
    message = assert_trove_error(response, 503, "serviceUnavailable")
    assert "the server refused: role app already exists. It shows ERROR" in message and PASSWORD not in message


def test_past_the_bound_the_answer_is_202_and_the_change_goes_on():
    api = slow_api(SlowHeat(reads=10**6), apply_wait=0.3)
    iid = instance(api)
    started = time.monotonic()
    response = api.post(f"/instances/{iid}/databases", {"databases": [{"name": "shop"}]})
    assert response.status_code == 202 and 0.2 < time.monotonic() - started < 2
    assert stack_status(api, iid) == "UPDATE_IN_PROGRESS"


def test_an_action_waits_behind_a_guest_change_but_not_behind_another_action():
    api = slow_api(SlowHeat(reads=10**6), apply_wait=0)
    iid = instance(api)
    assert api.post(f"/instances/{iid}/databases", {"databases": [{"name": "shop"}]}).status_code == 202
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(api.post(f"/instances/{iid}/action", {"restart": {}})))
    waiting.start()
    waiting.join(0.5)
    assert waiting.is_alive(), "the restart did not wait for the database change"
    api.gateway.running.clear()
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    waiting.join(5)
    assert answers[0].status_code == 202
    # the restart is under way (REBOOT): a resize now is 409 at once
    started = time.monotonic()
    assert_trove_error(api.post(f"/instances/{iid}/action", {"resize": {"flavorRef": "3"}}), 409, "conflict")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("body", [{"restart": {}}, {"resize": {"flavorRef": "3"}}, {"resize": {"volume": {"size": 2}}}])
def test_a_restart_required_instance_takes_every_action(api, body):
    iid = instance(api)
    response = api.post("/configurations", {"configuration": {
        "name": "g", "values": {"max_connections": 200}, "datastore": {"type": "postgresql", "version": "15"}}})
    api.gateway.finish(response.get_json()["configuration"]["id"])
    assert api.put(f"/instances/{iid}", {"instance": {"configuration": response.get_json()["configuration"]["id"]}}
                   ).status_code == 202
    assert api.get(f"/instances/{iid}").get_json()["instance"]["status"] == "RESTART_REQUIRED"
    assert api.post(f"/instances/{iid}/action", body).status_code == 202


def test_a_group_update_reaches_every_instance_even_when_one_fails():
    api = slow_api(SlowHeat(outcome="UPDATE_FAILED", reason="the server is gone"))
    response = api.post("/configurations", {"configuration": {
        "name": "g", "values": {"work_mem": 8192}, "datastore": {"type": "postgresql", "version": "15"}}})
    group = response.get_json()["configuration"]["id"]
    api.gateway.finish(group)
    ids = []
    for _ in range(2):
        created = api.create(datastore={"type": "postgresql"}, configuration=group)
        api.gateway.finish(created["id"])
        ids.append(created["id"])
    api.gateway.finish(group, "UPDATE_COMPLETE")
    response = api.patch(f"/configurations/{group}", {"configuration": {"values": {"work_mem": 16384}}})
    message = assert_trove_error(response, 503, "serviceUnavailable")
    assert all(iid in message for iid in ids) and "the server is gone" in message
    assert {update["id"] for update in api.gateway.updates} >= set(ids)
