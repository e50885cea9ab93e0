"""Nothing is lost: the two paths that used to destroy a user's data without a word.

1. `dbaas up` reconciled local servers against the service project only, so a stack a person
   made with the templates in their own Heat project lost its server and data directory.
2. An operator's override that changed a property Heat cannot update in place (the admin
   password's RandomString length) made the next change replace admin_password and then the
   server: a new, empty server, the instance still ACTIVE.

Real Heat, real API, real PostgreSQL servers; the stack has an operator template directory
whose single.yaml.j2 starts as a copy of the packaged one.
"""
import json
import time
import uuid

import pytest

from dbaas_api import datastores
from dbaas_api.model import InstanceSpec, UserSpec
from dbaas_api.rendering import Renderer
from tests.e2e.support import connected, heat_client


@pytest.fixture(scope="module")
def override_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("operator-templates")


@pytest.fixture(scope="module")
def own_stack(override_dir):
    from tests.harness import Stack
    embedded = Stack(template_dirs=(override_dir,))
    (override_dir / "single.yaml.j2").write_text(
        (embedded.settings.packaged_templates / "single.yaml.j2").read_text())
    try:
        embedded.up()
        yield embedded
    finally:
        embedded.destroy()


def heat_of(stack, project):
    """Heat as a person holding the templates would use it, in their own project."""
    return heat_client(stack, project)


def until_settled(heat, stack_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = heat.stacks.get(stack_id, resolve_outputs=True)
        if not found.stack_status.endswith("_IN_PROGRESS"):
            return found
        time.sleep(0.05)
    raise AssertionError(f"stack {stack_id} still busy after {timeout}s")


def test_a_stack_in_a_users_own_project_keeps_its_server_and_data_across_down_and_up(own_stack):
    project = f"raw-{uuid.uuid4().hex[:8]}"
    heat = heat_of(own_stack, project)
    spec = InstanceSpec(project_id=project, name="raw", datastore="postgresql", version="15",
                        flavor=datastores.find_flavor("1"), volume_size=1, databases=("kept",),
                        users=(UserSpec("owner", "pw-raw-owner-1", ("kept",)),))
    rendered = Renderer(own_stack.settings).render_instance(spec)
    created = heat.stacks.create(stack_name=f"raw-{uuid.uuid4().hex[:6]}", template=rendered.template,
                                 parameters=rendered.parameters, environment=rendered.environment,
                                 files=rendered.files, disable_rollback=True)
    stack_id = created["stack"]["id"]
    try:
        found = until_settled(heat, stack_id)
        assert found.stack_status == "CREATE_COMPLETE", found.stack_status_reason
        host = {o["output_key"]: o["output_value"] for o in found.outputs}["address"]
        with connected("postgresql", host, "owner", "pw-raw-owner-1", "kept") as connection:
            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE t (v text)")
                cursor.execute("INSERT INTO t VALUES ('survives')")
        # The service's API does not show another project's raw stack, not even to its project.
        assert own_stack.client(project).get("/instances").json()["instances"] == []

        own_stack.down()
        own_stack.up()

        assert len(own_stack.embedded.driver.keys()) == 1
        with connected("postgresql", host, "owner", "pw-raw-owner-1", "kept") as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT v FROM t")
                assert cursor.fetchone()[0] == "survives"
    finally:
        heat.stacks.delete(stack_id)
        deadline = time.monotonic() + 120
        while own_stack.embedded.driver.keys() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert own_stack.embedded.driver.keys() == []


def test_up_removes_a_server_whose_stack_heat_says_is_gone_and_keeps_one_it_cannot_prove_gone(own_stack):
    driver = own_stack.embedded.driver
    gone, unknown = f"gone-{uuid.uuid4().hex[:6]}", f"unknown-{uuid.uuid4().hex[:6]}"
    for key, owner in ((gone, {"stack_id": str(uuid.uuid4()), "project": "somebody"}),
                       (unknown, {"stack_id": str(uuid.uuid4())})):   # no project recorded
        home = driver.instances_dir / key
        home.mkdir(parents=True)
        (home / "owner.json").write_text(json.dumps(owner))
    try:
        own_stack.down()
        own_stack.up()
        assert gone not in driver.keys()
        assert unknown in driver.keys()
    finally:
        for key in (gone, unknown):
            driver.destroy(key)


def test_a_change_whose_update_would_replace_the_server_is_refused_and_the_data_stays(own_stack, override_dir):
    client = own_stack.client(f"override-{uuid.uuid4().hex[:8]}")
    created = client.create_instance(
        name="precious", flavorRef="1", volume={"size": 1}, datastore={"type": "postgresql"},
        databases=[{"name": "precious"}],
        users=[{"name": "keeper", "password": "pw-keeper-1", "databases": [{"name": "precious"}]}])
    template = override_dir / "single.yaml.j2"
    packaged = template.read_text()
    try:
        instance = client.wait_status(created["id"])
        host = instance["ip"][0]
        with connected("postgresql", host, "keeper", "pw-keeper-1", "precious") as connection:
            with connection.cursor() as cursor:
                cursor.execute("CREATE TABLE t (v text)")
                cursor.execute("INSERT INTO t VALUES ('still here')")
        before = own_stack.embedded.driver.keys()

        # The operator changes a default Heat cannot update in place.
        assert "length: 32" in packaged
        template.write_text(packaged.replace("length: 32", "length: 24"))
        response = client.post(f"/instances/{created['id']}/databases", {"databases": [{"name": "more"}]})
        assert response.status_code == 500, response.text
        message = response.json()["instanceFault"]["message"]
        assert "single.yaml.j2 (operator override)" in message and "admin_password" in message, message
        assert "nothing was changed" in message

        after = client.get(f"/instances/{created['id']}").json()["instance"]
        assert after["status"] == "ACTIVE" and after["ip"] == [host]
        assert [d["name"] for d in client.get(f"/instances/{created['id']}/databases").json()["databases"]] \
            == ["precious"]
        assert own_stack.embedded.driver.keys() == before
        with connected("postgresql", host, "keeper", "pw-keeper-1", "precious") as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT v FROM t")
                assert cursor.fetchone()[0] == "still here"

        # Put right, the same change goes through.
        template.write_text(packaged)
        response = client.post(f"/instances/{created['id']}/databases", {"databases": [{"name": "more"}]})
        assert response.status_code == 202, response.text
    finally:
        template.write_text(packaged)
        client.delete_and_wait(created["id"])
