"""``dbaas wait``: the bar it draws and its exit codes, against answers given in order (a
FAKE of the API's GET; the e2e test runs it against the real one)."""
import pytest
import requests

from dbaas_api import cli


class Answer:
    def __init__(self, code, body):
        self.status_code, self._body = code, body

    def json(self):
        return self._body


def instance(status, progress=None, **fields):
    body = {"id": "i", "status": status, "operating_status": "", **fields}
    if progress:
        body["progress"] = {"done": progress[0], "total": progress[1]}
    return Answer(200, {"instance": body})


@pytest.fixture
def answers(monkeypatch):
    queue = []
    monkeypatch.setattr(requests, "get", lambda url, **kw: queue.pop(0))
    return queue


def wait(*extra):
    return cli.main(["wait", "i", "--project", "p", "--url", "http://api", "--interval", "0", *extra])


def test_a_bar_until_active(answers, capsys):
    answers += [instance("BUILD"), instance("BUILD", (1, 4)), instance("BUILD", (3, 4)), instance("ACTIVE")]
    assert wait() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["[------------------------------] BUILD",
                     "[#######-----------------------] 1/4 BUILD",
                     "[######################--------] 3/4 BUILD",
                     "[##############################] 1/1 ACTIVE"]


def test_error_exits_1_with_the_fault(answers, capsys):
    answers += [instance("RESIZE", (2, 3)), instance("ERROR", fault={"message": "PostgreSQL exited"})]
    assert wait() == 1
    assert "fault: PostgreSQL exited" in capsys.readouterr().err


def test_not_found_and_a_stopped_database_exit_1(answers, capsys):
    answers.append(Answer(404, {"itemNotFound": {"code": 404, "message": "Instance 'i' could not be found."}}))
    assert wait() == 1
    assert "404 Instance 'i' could not be found." in capsys.readouterr().err
    answers.append(instance("SHUTDOWN", operating_status="SHUTDOWN"))
    assert wait() == 1


def test_timeout_exits_2(answers):
    answers += [instance("BUILD", (0, 2))] * 3
    assert wait("--timeout", "0") == 2


def test_a_project_is_required(monkeypatch):
    for name in ("DBAAS_PROJECT", "OS_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["wait", "i", "--url", "http://api"]) == 1
