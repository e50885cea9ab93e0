"""The action endpoint over HTTP, against the FAKE gateway in api_fakes (Heat's PATCH
semantics, not Heat) and the real renderer: what restart and resize send to the stack, and
what they refuse before Heat sees anything (the stack is not updated)."""
import pytest

from dbaas_api import errors

from tests.unit.api_fakes import Harness, assert_trove_error

INSTANCE = "6d4c3b2a-1f0e-4d9c-8b7a-000000000001"


@pytest.fixture
def api():
    return Harness(real_renderer=True, max_volume_size=100)


def instance(api, **fields):
    created = api.create(**{"datastore": {"type": "postgresql"}, **fields})
    api.gateway.finish(created["id"])
    return created["id"]


def action(api, instance_id, body):
    return api.post(f"/instances/{instance_id}/action", body)


def status(api, instance_id):
    return api.get(f"/instances/{instance_id}").get_json()["instance"]["status"]


@pytest.mark.parametrize("body", [{}, {"restart": {}, "resize": {}}, {"reboot": {}}, [], "restart"])
def test_not_exactly_one_known_action_is_400(api, body):
    assert_trove_error(api.post(f"/instances/{INSTANCE}/action", body), 400, "badRequest")


@pytest.mark.parametrize("body", [{"restart": {}}, {"restart": None}])
def test_restart_raises_the_generation_and_shows_reboot(api, body):
    iid = instance(api)
    assert action(api, iid, body).status_code == 202
    update = api.gateway.updates[-1]
    assert update["parameters"] == {"restart_generation": 1}
    assert "op:REBOOT" in update["tags"]
    assert status(api, iid) == "REBOOT"
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    assert action(api, iid, {"restart": {}}).status_code == 202
    assert api.gateway.updates[-1]["parameters"] == {"restart_generation": 2}


def test_restart_clears_restart_required_and_records_what_the_server_runs_with(api):
    group = api.post("/configurations", {"configuration": {
        "name": "g", "values": {"shared_buffers": 2048}, "datastore": {"type": "postgresql", "version": "15"}}})
    assert group.status_code == 200, group.get_data(as_text=True)
    iid = instance(api)
    assert api.put(f"/instances/{iid}", {"instance": {"configuration": group.get_json()["configuration"]["id"]}}
                   ).status_code == 202
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    assert status(api, iid) == "RESTART_REQUIRED"

    assert action(api, iid, {"restart": {}}).status_code == 202
    update = api.gateway.updates[-1]
    assert "restart-required" not in update["tags"]
    assert update["parameters"]["configuration_started_with"] == '{"shared_buffers": 2048}'
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    assert status(api, iid) == "ACTIVE"


def test_resize_flavor_changes_the_parameter_and_the_tag(api):
    iid = instance(api)
    assert action(api, iid, {"resize": {"flavorRef": "3"}}).status_code == 202
    update = api.gateway.updates[-1]
    assert update["parameters"] == {"flavor": "3"}
    assert "flavor:3" in update["tags"] and "op:RESIZE" in update["tags"]
    assert status(api, iid) == "RESIZE"
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    shown = api.get(f"/instances/{iid}").get_json()["instance"]
    listed = api.get("/instances").get_json()["instances"][0]
    assert shown["flavor"]["id"] == listed["flavor"]["id"] == "3"


def test_resize_flavor_by_link_and_by_name(api):
    iid = instance(api)
    assert action(api, iid, {"resize": {"flavorRef": "http://x/v1.0/p/flavors/4"}}).status_code == 202
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    assert action(api, iid, {"resize": {"flavorRef": "db.tiny"}}).status_code == 202
    assert api.gateway.updates[-1]["parameters"] == {"flavor": "1"}


@pytest.mark.parametrize("volume", [{"size": 5}, 5, "5", {"size": "5"}])
def test_resize_volume_grows_it(api, volume):
    iid = instance(api)
    assert action(api, iid, {"resize": {"volume": volume}}).status_code == 202
    update = api.gateway.updates[-1]
    assert update["parameters"] == {"volume_size": 5}
    assert "volume:5" in update["tags"]
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    assert api.get(f"/instances/{iid}").get_json()["instance"]["volume"]["size"] == 5


@pytest.mark.parametrize("body", [
    {"resize": {"flavorRef": "99"}},                     # unknown flavor
    {"resize": {"flavorRef": "2"}},                      # the same flavor
    {"resize": {"flavorRef": None}},
    {"resize": {"flavorRef": True}},
    {"resize": {"flavorRef": {"id": "3"}}},
    {"resize": {"volume": {"size": 1}}},                 # the same size
    {"resize": {"volume": {"size": 0}}},                 # shrink
    {"resize": {"volume": {"size": -3}}},
    {"resize": {"volume": {"size": 101}}},               # beyond the maximum
    {"resize": {"volume": {"size": 10 ** 30}}},
    {"resize": {"volume": {"size": 2.5}}},
    {"resize": {"volume": {"size": "big"}}},
    {"resize": {"volume": {}}},
    {"resize": {"volume": True}},
    {"resize": {}},
    {"resize": None},
    {"resize": "3"},
    {"resize": {"flavorRef": "3", "volume": {"size": 5}}},
    {"resize": {"flavor": "3"}},
    {"restart": {"now": True}},
    {"restart": "please"},
])
def test_bad_actions_are_400_and_leave_the_stack_alone(api, body):
    iid = instance(api)
    assert_trove_error(action(api, iid, body), 400, "badRequest")
    assert api.gateway.updates == []
    assert status(api, iid) == "ACTIVE"


@pytest.mark.parametrize("stack_status", ["CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS",
                                          "CREATE_FAILED"])
@pytest.mark.parametrize("body", [{"restart": {}}, {"resize": {"flavorRef": "3"}}, {"resize": {"volume": 5}}])
def test_actions_on_an_instance_that_is_busy_or_unfinished_are_409_at_once(api, stack_status, body):
    iid = instance(api)
    api.gateway.stacks[iid]["stack_status"] = stack_status
    assert_trove_error(action(api, iid, body), 409, "conflict")
    assert api.gateway.updates == []


def test_a_second_resize_while_the_first_runs_is_409(api):
    iid = instance(api)
    assert action(api, iid, {"resize": {"flavorRef": "3"}}).status_code == 202
    assert_trove_error(action(api, iid, {"resize": {"flavorRef": "4"}}), 409, "conflict")
    assert len(api.gateway.updates) == 1


def test_actions_on_another_projects_instance_are_404(api):
    iid = instance(api)
    assert_trove_error(api.post(f"/instances/{iid}/action", {"restart": {}}, project="proj-b"), 404, "itemNotFound")
    assert_trove_error(api.post(f"/instances/{INSTANCE}/action", {"restart": {}}), 404, "itemNotFound")
    assert api.gateway.updates == []


@pytest.mark.parametrize("stack_status,heat_action", [
    ("CREATE_IN_PROGRESS", "cancel_without_rollback"), ("UPDATE_IN_PROGRESS", "cancel_without_rollback"),
    ("CREATE_FAILED", "check"), ("UPDATE_FAILED", "check"), ("CHECK_FAILED", "check"),
    ("CREATE_COMPLETE", "check"), ("UPDATE_COMPLETE", "check"),
])
def test_reset_status_cancels_what_is_stuck_and_checks_what_is_settled(api, stack_status, heat_action):
    iid = instance(api)
    api.gateway.stacks[iid]["stack_status"] = stack_status
    assert action(api, iid, {"reset_status": {}}).status_code == 202
    assert api.gateway.stack_actions == [(heat_action, iid)]
    assert api.gateway.updates == []


def test_reset_status_of_a_change_that_ends_before_its_cancel_checks_the_stack(api, monkeypatch):
    """Heat refuses the cancel (400) of an update that finished after the stack was read."""
    iid = instance(api)
    api.gateway.stacks[iid]["stack_status"] = "UPDATE_IN_PROGRESS"

    def finished_meanwhile(stack_id):
        api.gateway.stacks[stack_id]["stack_status"] = "UPDATE_COMPLETE"
        raise errors.BadRequest("Cancelling update when stack is UPDATE_COMPLETE is not supported.")
    monkeypatch.setattr(api.gateway, "cancel_stack_action", finished_meanwhile)
    assert action(api, iid, {"reset_status": {}}).status_code == 202
    assert api.gateway.stack_actions == [("check", iid)]


@pytest.mark.parametrize("stack_status", ["DELETE_IN_PROGRESS", "DELETE_FAILED", "CHECK_IN_PROGRESS",
                                          "SNAPSHOT_IN_PROGRESS"])
def test_reset_status_leaves_other_work_of_heats_alone(api, stack_status):
    iid = instance(api)
    api.gateway.stacks[iid]["stack_status"] = stack_status
    assert action(api, iid, {"reset_status": {}}).status_code == 202
    assert api.gateway.stack_actions == [] and api.gateway.updates == []


def test_reset_status_takes_no_arguments_and_is_404_for_another_project(api):
    iid = instance(api)
    assert_trove_error(action(api, iid, {"reset_status": {"status": "ACTIVE"}}), 400, "badRequest")
    assert_trove_error(api.post(f"/instances/{iid}/action", {"reset_status": {}}, project="proj-b"),
                       404, "itemNotFound")
    assert api.gateway.stack_actions == []


def test_an_instance_whose_check_failed_may_be_restarted(api):
    iid = instance(api)
    api.gateway.stacks[iid]["stack_status"] = "CHECK_FAILED"
    assert status(api, iid) == "ERROR"
    assert action(api, iid, {"restart": {}}).status_code == 202
