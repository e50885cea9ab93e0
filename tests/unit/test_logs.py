"""Instance logs over HTTP against the FAKE gateway of api_fakes (no Heat), with a real log
file and real local backup storage in a temp dir: what list, show, publish and discard
answer and store, and what they refuse."""
import pytest

from dbaas_api.service import logs as log_service
from tests.unit.api_fakes import Harness, assert_trove_error


class _Home:
    """The process table's answer, pointed at a temp dir (the local driver's is real in e2e)."""
    def __init__(self, path):
        self.path = path

    def home(self, stack_id):
        return self.path


@pytest.fixture
def api(tmp_path):
    harness = Harness(real_renderer=True, backup_dir=tmp_path / "backups")
    harness.app.extensions["dbaas"].logs.probe = _Home(tmp_path / "server")
    (tmp_path / "server").mkdir()
    return harness


def log(api, iid, **action):
    response = api.post(f"/instances/{iid}/log", {"name": "error", **action})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["log"]


def test_publish_copies_what_is_new_and_discard_removes_it(api, tmp_path):
    iid = api.create()["id"]
    prefix = f"{iid}_postgresql-error"
    assert api.get(f"/instances/{iid}/log").get_json() == {"logs": [{
        "name": "error", "type": "SYS", "status": "Unavailable", "published": 0, "pending": 0,
        "container": "None", "prefix": "None", "metafile": f"{prefix}_metafile/metafile"}, {
        "name": "general", "type": "USER", "status": "Disabled", "published": 0, "pending": 0,
        "container": "None", "prefix": "None", "metafile": f"{iid}_postgresql-general_metafile/metafile"}]}
    server_log = tmp_path / "server" / "server.log"
    server_log.write_bytes(b"first line\nsecond\n")
    assert (log(api, iid)["status"], log(api, iid)["pending"]) == ("Ready", 18)
    published = log(api, iid, publish=1)
    assert published == {"name": "error", "type": "SYS", "status": "Published", "published": 18, "pending": 0,
                         "container": "database_logs", "prefix": f"{prefix}/", "metafile": f"{prefix}_metafile/metafile"}
    stored = tmp_path / "backups" / "database_logs" / prefix
    with server_log.open("ab") as more:
        more.write(b"third\n")
    assert (log(api, iid)["status"], log(api, iid)["pending"]) == ("Partial", 6)
    assert log(api, iid, publish=1)["published"] == 24
    parts = sorted(p for p in stored.iterdir() if p.name.startswith("log-"))
    assert [p.read_bytes() for p in parts] == [b"first line\nsecond\n", b"third\n"]
    server_log.write_bytes(b"a new server\n")   # begun again (a restore, say): published anew
    assert log(api, iid)["status"] == "Rotated"
    assert log(api, iid, publish=1)["published"] == 13
    assert [p.read_bytes() for p in stored.iterdir() if p.name.startswith("log-")] == [b"a new server\n"]
    assert log(api, iid, discard=1)["status"] == "Ready" and not stored.exists()


@pytest.mark.parametrize("body,code,words", [
    ({"name": "error", "enable": 1}, 400, "Cannot enable a SYSTEM log"),
    ({"name": "error", "disable": 1}, 400, "Cannot disable a SYSTEM log"),
    ({"name": "error", "enable": 1, "disable": 1}, 400, "Cannot enable and disable"),
    ({"name": "slow_query"}, 404, "Log 'slow_query' is not defined"),
    ({"name": "error", "publish": "yes"}, 400, "publish"),
    ({}, 400, "name"),
])
def test_what_is_refused(api, body, code, words):
    iid = api.create()["id"]
    response = api.post(f"/instances/{iid}/log", body)
    message = assert_trove_error(response, code, {400: "badRequest", 404: "itemNotFound"}[code])
    assert words in message


def test_another_projects_instance_has_no_logs_here(api):
    iid = api.create(project="proj-b")["id"]
    assert api.get(f"/instances/{iid}/log").status_code == 404
    assert api.post(f"/instances/{iid}/log", {"name": "error", "publish": 1}).status_code == 404


def test_no_log_file_to_publish_is_a_clear_409(api):
    iid = api.create()["id"]
    assert_trove_error(api.post(f"/instances/{iid}/log", {"name": "error", "publish": 1}), 409, "conflict")


def test_a_user_log_is_enabled_and_disabled_through_the_stack(api, tmp_path):
    """PostgreSQL's general log needs a start: Restart Required (the instance too) until the
    server has started with it (the driver's logs.json says so); disabled: off at once."""
    iid = api.create()["id"]
    api.gateway.finish(iid)
    enabled = log(api, iid, name="general", enable=1)
    assert (enabled["type"], enabled["status"]) == ("USER", "Restart Required")
    assert api.gateway.updates[-1]["parameters"]["guest_logs"] == '["general"]'
    assert api.get(f"/instances/{iid}").get_json()["instance"]["status"] == "RESTART_REQUIRED"
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    (tmp_path / "server" / "logs.json").write_text('{"enabled": ["general"], "started": ["general"]}')
    assert log(api, iid, name="general")["status"] == "Enabled"   # no file yet
    (tmp_path / "server" / "data" / "log").mkdir(parents=True)
    (tmp_path / "server" / "data" / "log" / "general.log").write_bytes(b"LOG:  statement: SELECT 1\n")
    assert log(api, iid, name="general", publish=1)["status"] == "Published"
    assert log(api, iid, name="general", enable=1)["status"] == "Published"   # already on: no change
    assert len(api.gateway.updates) == 1
    disabled = log(api, iid, name="general", disable=1)
    assert disabled["status"] == "Disabled" and api.gateway.updates[-1]["parameters"]["guest_logs"] == "[]"


def test_enabling_before_a_restart_and_disabling_again_needs_no_restart(api):
    iid = api.create()["id"]
    api.gateway.finish(iid)
    log(api, iid, name="general", enable=1)
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    assert log(api, iid, name="general", disable=1)["status"] == "Disabled"
    api.gateway.finish(iid, "UPDATE_COMPLETE")
    assert api.get(f"/instances/{iid}").get_json()["instance"]["status"] == "ACTIVE"


def test_a_user_log_over_its_cap_starts_again(api, tmp_path, monkeypatch):
    monkeypatch.setattr(log_service, "USER_LOG_BYTES", 10)
    iid = api.create()["id"]
    api.gateway.finish(iid)
    (tmp_path / "server" / "data" / "log").mkdir(parents=True)
    general = tmp_path / "server" / "data" / "log" / "general.log"
    general.write_bytes(b"0123456789")
    assert log(api, iid, name="general", publish=1)["published"] == 10
    general.write_bytes(b"0123456789more")
    assert log(api, iid, name="general")["status"] == "Disabled" and general.stat().st_size == 0
    server_log = tmp_path / "server" / "server.log"
    server_log.write_bytes(b"0123456789more")   # a SYS log is the server's own: never cut
    assert log(api, iid)["pending"] == 14


def test_a_user_log_cannot_be_switched_where_its_file_is_not_reachable(api):
    api.app.extensions["dbaas"].logs.probe = _Home(None)
    iid = api.create()["id"]
    api.gateway.finish(iid)
    message = assert_trove_error(api.post(f"/instances/{iid}/log", {"name": "general", "enable": 1}), 409, "conflict")
    assert "not reachable" in message and not api.gateway.updates
