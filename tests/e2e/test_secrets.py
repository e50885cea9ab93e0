"""No password a client set is where another can read it: not in any file under the state
dir (Heat's SQLite database and its WAL included, read as bytes), not in any answer of the
embedded Heat for the service project, not in any process's command line or environment,
and nothing of the service's on disk is readable by other local users. Checked after
creates, password changes, root enable, backup, restore, replicas, and again after deletes;
in the embedded profile and in the production one (Heat's own engines over MariaDB and
RabbitMQ, whose files are under the state dir too)."""
import grp
import json
import os
import pwd
import stat
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import PROFILE
from tests.e2e.support import change, heat_client
from tests.harness import Stack

DATASTORE_GROUPS = {pwd.getpwnam(name).pw_gid for name in ("postgres", "mysql", "redis")
                    if name in {entry.pw_name for entry in pwd.getpwall()}}


def _state_files(state_dir):
    for root, dirs, files in os.walk(state_dir):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                yield path


def leaks_on_disk(state_dir, secrets):
    """Files under the state dir holding a secret (as UTF-8 bytes)."""
    found = []
    for path in _state_files(state_dir):
        if path.is_file():
            data = path.read_bytes()
            found += [(str(path), secret[:8]) for secret in secrets if secret.encode() in data]
    return found


def readable_by_others(state_dir):
    """What a local user that is not the service can read, list or write under the state
    dir. The datastores' system users may traverse the state dir, instances/ and each
    instance's home (mode 0711) and read, through their group, what their server reads.
    A socket's mode is its server's (mariadbd makes its socket 0777): it is private when
    its directory is."""
    instances = state_dir / "instances"
    found = []
    for path in [state_dir, *_state_files(state_dir)]:
        status = path.lstat()
        if stat.S_ISSOCK(status.st_mode) and path.parent.lstat().st_mode & 0o077 == 0:
            continue
        traversable = stat.S_ISDIR(status.st_mode) and (path in (state_dir, instances) or path.parent == instances)
        allowed = 0o001 if traversable else 0                     # x for others, on a directory
        others, group = status.st_mode & 0o007, (status.st_mode >> 3) & 0o007
        group_ok = path.is_relative_to(instances) and status.st_gid in DATASTORE_GROUPS
        if others & ~allowed or (group & ~allowed and not group_ok):
            found.append((str(path), oct(status.st_mode & 0o777), grp.getgrgid(status.st_gid).gr_name))
    return found


def heat_answers(stack):
    """Every answer the embedded Heat gives about the service project's stacks: list, show,
    template, environment, files, outputs, resources (each shown), events (each shown)."""
    heat = heat_client(stack)
    answers = []
    for listed in heat.stacks.list(show_deleted=True):
        stack_id = listed.id
        answers.append(listed.to_dict())
        shown = heat.stacks.get(stack_id)
        answers.append(shown.to_dict())
        answers += [heat.stacks.template(stack_id), heat.stacks.environment(stack_id),
                    heat.stacks.files(stack_id)]
        if shown.stack_status == "DELETE_COMPLETE":
            continue
        for resource in heat.resources.list(stack_id, with_detail=True):
            answers.append(resource.to_dict())
            answers.append(heat.resources.get(stack_id, resource.resource_name).to_dict())
        for event in heat.events.list(stack_id):
            answers.append(event.to_dict())
            answers.append(heat.events.get(stack_id, event.resource_name, event.id).to_dict())
    return answers


def process_leaks(secrets):
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        for part in ("cmdline", "environ"):
            try:
                data = (proc / part).read_bytes()
            except OSError:
                continue
            found += [(proc.name, part, secret[:8]) for secret in secrets if secret.encode() in data]
    return found


def assert_nothing_exposed(stack, secrets):
    assert leaks_on_disk(stack.state_dir, secrets) == []
    assert readable_by_others(stack.state_dir) == []
    text = json.dumps(heat_answers(stack), default=str)
    assert [secret[:8] for secret in secrets if secret in text] == []
    assert process_leaks(secrets) == []


@pytest.fixture(scope="module", params=["embedded", "production"])
def control_plane(request):
    """The session's stack for its profile; the other profile's, started for this module."""
    if request.param == PROFILE:
        yield request.getfixturevalue("stack")
        return
    other = Stack(profile=request.param, heat_engines=1)
    try:
        other.up()
        yield other
    finally:
        other.destroy()


def test_no_password_at_rest_in_heat_answers_or_processes(control_plane):
    stack = control_plane
    client = stack.client(f"sec-{uuid.uuid4().hex[:8]}")
    secrets = []

    def password():
        secrets.append(f"Sekrit-{uuid.uuid4().hex}")
        return secrets[-1]

    made, backups = [], []
    try:
        source = client.create_instance(
            name="secrets", flavorRef="1", volume={"size": 1}, datastore={"type": "postgresql", "version": "15"},
            databases=[{"name": "appdb"}], users=[{"name": "app", "password": password(), "databases": [{"name": "appdb"}]}])
        made.append(source["id"])
        client.wait_status(source["id"])
        base = f"/instances/{source['id']}"
        change(client, stack, "put", f"{base}/users", {"users": [{"name": "app", "password": password()}]})
        change(client, stack, "put", f"{base}/users/app", {"user": {"password": password()}})
        change(client, stack, "post", f"{base}/users", {"users": [{"name": "bob", "password": password()}]})
        change(client, stack, "post", f"{base}/root", {"password": password()}, expect=200)
        response = change(client, stack, "post", f"{base}/root", expect=200)   # a password the API makes
        secrets.append(response.json()["user"]["password"])

        response = client.post("/backups", {"backup": {"name": "bk", "instance": source["id"]}})
        assert response.status_code == 202, response.text
        backups.append(response.json()["backup"]["id"])
        _wait_backup(client, backups[0], "COMPLETED")
        restored = client.create_instance(name="restored", flavorRef="1", volume={"size": 1},
                                          datastore={"type": "postgresql", "version": "15"},
                                          restorePoint={"backupRef": backups[0]})
        made.append(restored["id"])
        made.append(client.create_instance(name="replica", replica_of=source["id"])["id"])
        for instance_id in made[1:]:
            client.wait_status(instance_id)
        change(client, stack, "post", f"/instances/{restored['id']}/users", {"users": [{"name": "carol", "password": password()}]})
        change(client, stack, "delete", f"{base}/users/bob")
        assert_nothing_exposed(stack, secrets)
    finally:
        for instance_id in reversed(made):
            client.delete_and_wait(instance_id)
        for backup_id in backups:
            client.delete(f"/backups/{backup_id}")
            _wait_backup(client, backup_id, "GONE")
    assert_nothing_exposed(stack, secrets)


def _wait_backup(client, backup_id, wanted, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/backups/{backup_id}")
        if response.status_code == 404 and wanted == "GONE":
            return
        status = response.json()["backup"]["status"]
        if status == wanted:
            return
        assert status not in ("FAILED", "DELETE_FAILED"), response.text
        time.sleep(0.05)
    raise AssertionError(f"backup {backup_id} not {wanted} within {timeout} s")
