"""Backups over HTTP, against the FAKE gateway and renderer in api_fakes (not Heat): what
reaches Heat, statuses, the chain rules. The real thing is tests/e2e/test_backups.py."""
import json
from dataclasses import replace

import pytest

from dbaas_api import records
from dbaas_api.model import RenderedStack
from tests.unit.api_fakes import FakeRenderer, Harness, assert_trove_error


class BackupRenderer(FakeRenderer):
    """FAKE renderer that also records backup renderings."""

    def __init__(self):
        super().__init__()
        self.backups = []
        self.containers = []

    def render_backup(self, datastore, version, instance_id, parent=None, container=None):
        self.backups.append((datastore, version, instance_id, parent))
        self.containers.append(container)
        return RenderedStack(template="heat_template_version: 2021-04-16\n", parameters={})


@pytest.fixture
def api():
    return Harness(renderer=BackupRenderer())


def active_instance(api, datastore="mariadb"):
    instance = api.create(datastore={"type": datastore})
    api.gateway.finish(instance["id"])
    return instance["id"]


def take(api, instance_id, expect=202, **fields):
    response = api.post("/backups", {"backup": {"name": "nightly", "instance": instance_id, **fields}})
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.get_json()


def complete(api, backup_id, size=1234, checksum="ab" * 32, position=None):
    stack = api.gateway.stacks[backup_id]
    stack["stack_status"] = "CREATE_COMPLETE"
    stack["outputs"] = [{"output_key": "location", "output_value": f"swift://c/{backup_id}"},
                        {"output_key": "size", "output_value": size},
                        {"output_key": "checksum", "output_value": checksum},
                        {"output_key": "position", "output_value": position or {}}]


def test_backup_is_a_tagged_stack_and_shows_its_outputs_when_completed(api):
    instance_id = active_instance(api)
    backup = take(api, instance_id, description="before the upgrade")["backup"]
    assert backup["status"] == "NEW" and backup["instance_id"] == instance_id
    record = records.backup.TAGS.decode(api.gateway.stacks[backup["id"]]["tags"])
    assert (record.project_id, record.instance_id, record.name, record.description, record.parent_id) == (
        "proj-a", instance_id, "nightly", "before the upgrade", None)
    assert records.instance.TAGS.decode(api.gateway.stacks[backup["id"]]["tags"]) is None   # not an instance
    assert api.renderer.backups == [("mariadb", "10.11", instance_id, None)]

    shown = api.get(f"/backups/{backup['id']}").get_json()["backup"]
    assert shown["status"] == "BUILDING" and shown["size"] is None and shown["locationRef"] is None
    assert api.get(f"/instances/{instance_id}").get_json()["instance"]["status"] == "BACKUP"
    assert [i["status"] for i in api.get("/instances").get_json()["instances"]] == ["ACTIVE"]

    complete(api, backup["id"], size=3 * 1024 ** 3)
    shown = api.get(f"/backups/{backup['id']}").get_json()["backup"]
    assert (shown["status"], shown["size"], shown["size_bytes"]) == ("COMPLETED", 3.0, 3 * 1024 ** 3)
    assert shown["locationRef"] == f"swift://c/{backup['id']}" and shown["checksum"] == "ab" * 32
    assert shown["datastore"]["type"] == "mariadb"
    assert api.get(f"/instances/{instance_id}").get_json()["instance"]["status"] == "ACTIVE"


def test_only_an_active_instance_of_ones_own_is_backed_up(api):
    building = api.create(datastore={"type": "mariadb"})["id"]
    assert_trove_error(api.post("/backups", {"backup": {"name": "b", "instance": building}}), 422,
                       "unprocessableEntity")
    instance_id = active_instance(api)
    assert_trove_error(api.post("/backups", {"backup": {"name": "b", "instance": instance_id}},
                                project="proj-b"), 404, "itemNotFound")
    take(api, instance_id)
    assert "already running" in assert_trove_error(
        api.post("/backups", {"backup": {"name": "b", "instance": instance_id}}), 409, "conflict")


@pytest.mark.parametrize("body", [{}, {"backup": {"name": "x"}}, {"backup": {"instance": "i"}},
                                  {"backup": {"name": "x", "instance": "i", "incremental": 2}}])
def test_bad_shapes_are_400(api, body):
    assert_trove_error(api.post("/backups", body), 400, "badRequest")


def test_incrementals_need_a_datastore_whose_tool_has_them(api):
    instance_id = active_instance(api, "redis")
    full = take(api, instance_id)["backup"]["id"]
    complete(api, full)
    assert "always full" in assert_trove_error(
        api.post("/backups", {"backup": {"name": "i", "instance": instance_id, "parent_id": full}}),
        400, "badRequest")


def test_postgresql_incrementals_need_a_parent_taken_with_wal_archiving(api):
    instance_id = active_instance(api, "postgresql")
    old = take(api, instance_id)["backup"]["id"]
    complete(api, old)   # no WAL position: from before archiving, or a replica's
    assert "without WAL archiving" in assert_trove_error(
        api.post("/backups", {"backup": {"name": "i", "instance": instance_id, "parent_id": old}}),
        400, "badRequest")
    full = take(api, instance_id)["backup"]["id"]
    complete(api, full, position={"wal_from": 50331688, "timeline": 1, "wal_segment": "000000010000000000000003"})
    assert take(api, instance_id, parent_id=full)["backup"]["parent_id"] == full


def test_incremental_chain_and_delete_rules(api):
    instance_id = active_instance(api)
    full = take(api, instance_id)["backup"]["id"]
    assert take(api, instance_id, expect=409, incremental=1)   # the full one is still running
    complete(api, full, position={"to_lsn": 42})
    child = take(api, instance_id, incremental=1)["backup"]
    assert child["parent_id"] == full
    assert api.renderer.backups[-1][3] == {"location": f"swift://c/{full}", "checksum": "ab" * 32,
                                           "position": {"to_lsn": 42}}
    other = active_instance(api)
    assert "another instance" in assert_trove_error(
        api.post("/backups", {"backup": {"name": "x", "instance": other, "parent_id": full}}), 400, "badRequest")
    assert "still being taken" in assert_trove_error(api.delete(f"/backups/{child['id']}"), 409, "conflict")
    complete(api, child["id"])
    assert child["id"] in assert_trove_error(api.delete(f"/backups/{full}"), 409, "conflict")
    assert api.delete(f"/backups/{child['id']}").status_code == 202
    api.gateway.stacks[child["id"]]["stack_status"] = "DELETE_COMPLETE"
    assert api.delete(f"/backups/{full}").status_code == 202


def test_restore_passes_the_whole_chain_and_takes_the_backups_datastore(api):
    instance_id = active_instance(api)
    full = take(api, instance_id)["backup"]["id"]
    complete(api, full, checksum="11" * 32, position={"to_lsn": 1})
    child = take(api, instance_id, parent_id=full)["backup"]["id"]
    complete(api, child, checksum="22" * 32, position={"to_lsn": 2})

    restored = api.create(restorePoint={"backupRef": child})
    spec = api.renderer.specs[-1]
    assert (spec.datastore, spec.version, restored["datastore"]["type"]) == ("mariadb", "10.11", "mariadb")
    assert [(link["location"], link["checksum"]) for link in spec.restore] == [
        (f"swift://c/{full}", "11" * 32), (f"swift://c/{child}", "22" * 32)]

    message = assert_trove_error(api.post("/instances", {"instance": {
        "name": "r", "flavorRef": "2", "volume": {"size": 1}, "datastore": {"type": "postgresql"},
        "restorePoint": {"backupRef": child}}}), 400, "badRequest")
    assert "mariadb 10.11" in message


def test_restore_needs_a_completed_backup_of_ones_own(api):
    instance_id = active_instance(api)
    running = take(api, instance_id)["backup"]["id"]
    body = {"instance": {"name": "r", "flavorRef": "2", "volume": {"size": 1},
                         "restorePoint": {"backupRef": running}}}
    assert "not COMPLETED" in assert_trove_error(api.post("/instances", body), 400, "badRequest")
    complete(api, running)
    assert_trove_error(api.post("/instances", body, project="proj-b"), 400, "badRequest")
    assert api.post("/instances", body).status_code == 200


def test_lists_are_one_heat_call_per_page_and_filter(api):
    first, second = active_instance(api), active_instance(api, "redis")
    ids = [take(api, first)["backup"]["id"]]
    complete(api, ids[0])
    ids.append(take(api, second)["backup"]["id"])
    calls = len(api.gateway.list_calls)
    page = api.get("/backups?limit=1").get_json()
    assert len(api.gateway.list_calls) == calls + 1
    assert [b["id"] for b in page["backups"]] == [ids[1]] and page["links"][0]["rel"] == "next"
    assert [b["id"] for b in api.get("/backups?datastore=mysql").get_json()["backups"]] == [ids[0]]
    assert [b["id"] for b in api.get(f"/backups?instance_id={second}").get_json()["backups"]] == [ids[1]]
    assert [b["id"] for b in api.get(f"/instances/{first}/backups").get_json()["backups"]] == [ids[0]]
    assert api.get("/backups", project="proj-b").get_json()["backups"] == []
    assert_trove_error(api.get(f"/instances/{first}/backups", project="proj-b"), 404, "itemNotFound")


def strategy(api, project="proj-a", **body):
    response = api.post("/backup_strategies", {"backup_strategy": body}, project=project)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["backup_strategy"]


def test_backup_strategies_choose_the_container_instance_first_then_project(api):
    first, second = active_instance(api), active_instance(api)
    assert strategy(api, swift_container="project-wide") == {
        "project_id": "proj-a", "instance_id": "", "backend": "local", "swift_container": "project-wide"}
    strategy(api, instance_id=second, swift_container="just-one")
    strategy(api, instance_id=second, swift_container="just-two")   # replaces it
    listed = api.get("/backup_strategies").get_json()["backup_strategies"]
    assert sorted((s["instance_id"], s["swift_container"]) for s in listed) == [
        ("", "project-wide"), (second, "just-two")]
    for instance in (first, second):
        complete(api, take(api, instance)["backup"]["id"])
    take(api, first, swift_container="asked")
    assert api.renderer.containers == ["project-wide", "just-two", "asked"]
    assert api.delete(f"/backup_strategies?instance_id={second}").status_code == 202
    assert [s["instance_id"] for s in api.get("/backup_strategies").get_json()["backup_strategies"]] == [""]
    assert api.get("/backup_strategies", project="proj-b").get_json() == {"backup_strategies": []}


@pytest.mark.parametrize("body, code", [
    ({"swift_container": "../etc"}, 400), ({"swift_container": "a" * 65}, 400), ({}, 400),
    ({"swift_container": "ok", "other": 1}, 400),
    ({"swift_container": "ok", "instance_id": "00000000-0000-0000-0000-000000000000"}, 404),
])
def test_bad_backup_strategies_are_refused(api, body, code):
    response = api.post("/backup_strategies", {"backup_strategy": body})
    assert response.status_code == code, response.get_data(as_text=True)


def test_another_projects_strategies_are_for_admins(api):
    response = api.get("/backup_strategies?project_id=proj-b")
    assert response.status_code == 403
    bad = api.post("/backups", {"backup": {"name": "b", "instance": active_instance(api),
                                           "swift_container": "no/slash"}})
    assert bad.status_code == 400 and "swift_container" in bad.get_json()["badRequest"]["message"]


def test_a_list_shows_a_completed_backups_size_from_its_manifest_as_show_does(api, tmp_path):
    """A list page has no stack outputs: size and checksum come from the manifest the
    storage wrote (local storage here, a file under the backup dir), still one Heat call."""
    from dbaas_api.backup.storage import LocalStorage
    services = api.app.extensions["dbaas"]
    services.backups.settings = replace(services.backups.settings, backup_dir=tmp_path)
    instance_id = active_instance(api)
    done = take(api, instance_id)["backup"]["id"]
    complete(api, done, size=3 * 1024 ** 2, checksum="cd" * 32)
    LocalStorage(tmp_path).put_stream(done, "manifest.json", [json.dumps(
        {"size": 3 * 1024 ** 2, "sha256": "cd" * 32, "segments": []}).encode()])
    api.gateway.stacks[done]["outputs"] = None   # as Heat's stack list returns it
    busy = take(api, active_instance(api, "redis"))["backup"]["id"]
    calls = len(api.gateway.list_calls)
    listed = {b["id"]: b for b in api.get("/backups").get_json()["backups"]}
    assert len(api.gateway.list_calls) == calls + 1
    assert (listed[done]["size"], listed[done]["size_bytes"], listed[done]["checksum"]) == (
        round(3 / 1024, 6), 3 * 1024 ** 2, "cd" * 32)
    assert (listed[busy]["status"], listed[busy]["size"]) == ("BUILDING", None)


@pytest.mark.parametrize("query", ["datastore=%26u%C2%AF%08%C2%82%2C", "instance_id=a,b", "datastore=" + "x" * 65])
def test_a_list_filter_that_cannot_be_an_id_or_name_is_400(query):
    """Found by tests/e2e/test_schema_fuzz.py: it was a 500 (not a Heat tag)."""
    api = Harness()
    assert_trove_error(api.get(f"/backups?{query}"), 400, "badRequest")
