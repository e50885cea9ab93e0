"""The embedded Heat in the no-auth profile serves only its installation: a local process
without the access token (<state>/heat/access-token) gets 401 for every call with which it
could have been superuser of every instance; the API, the unmodified openstack CLI with the
token (dbaas heat-env), and version discovery still work, and no Keystone is involved."""
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from dbaas_api.embedded import access_token
from tests.e2e.support import heat_client, settled

NONE_TEMPLATE = "heat_template_version: 2021-04-16\nresources:\n  n:\n    type: OS::Heat::None\n"


def test_heat_refuses_every_caller_without_the_installations_token(stack):
    client = stack.client(f"victim-{uuid.uuid4().hex[:8]}")
    instance = client.create_instance(name="victim", flavorRef="1", volume={"size": 1},
                                      datastore={"type": "postgresql", "version": "15"},
                                      users=[{"name": "app", "password": "victim-pass-1"}])
    try:
        client.wait_status(instance["id"])
        settled(stack, instance["id"])
        heat = f"{stack.settings.heat_endpoint}/{stack.settings.service_project}"
        stack_url = f"{heat}/stacks/{stack_name(stack, instance['id'])}/{instance['id']}"
        attacks = [
            ("get", f"{stack_url}/resources/admin_password", None),
            ("get", f"{stack_url}/events", None),
            ("patch", stack_url, {"parameters": {"user_x_password": "mine"}}),
            ("post", f"{heat}/stacks", {"stack_name": "planted", "template": NONE_TEMPLATE,
                                        "tags": f"dbaas,project:{client.base.rsplit('/', 1)[1]}"}),
            ("delete", stack_url, None),
            ("get", f"{heat}/stacks", None),
        ]
        for token in (None, "dbaas-no-auth", access_token.read(stack.state_dir)[:-1] + "x"):
            headers = {"X-Auth-Token": token} if token else {}
            for method, url, body in attacks:
                response = getattr(requests, method)(url, json=body, headers=headers, timeout=30)
                assert response.status_code == 401, (method, url, token, response.text)
        assert requests.get(f"http://{stack.settings.heat_host}:{stack.settings.heat_port}/",
                            timeout=10).status_code in (200, 300)                # version discovery
        assert client.wait_status(instance["id"])["name"] == "victim"            # untouched
        assert [i["id"] for i in client.get("/instances").json()["instances"]] == [instance["id"]]
    finally:
        client.delete_and_wait(instance["id"])


def stack_name(stack, stack_id):
    response = requests.get(f"{stack.settings.heat_endpoint}/{stack.settings.service_project}/stacks/{stack_id}",
                            headers={"X-Auth-Token": access_token.read(stack.state_dir)}, allow_redirects=False,
                            timeout=30)
    return response.headers["Location"].rstrip("/").split("/")[-2]


def test_the_owner_uses_the_unmodified_openstack_cli_with_dbaas_heat_env(stack, tmp_path):
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, DBAAS_STATE_DIR=str(stack.state_dir), DBAAS_HEAT_PORT=str(stack.settings.heat_port))
    exports = subprocess.run([bin_dir / "dbaas", "heat-env", "--project", "cli-owner"], env=env,
                             capture_output=True, text=True, check=True).stdout
    cli_env = dict(os.environ)
    for line in exports.splitlines():
        for pair in line.removeprefix("export ").split():
            key, _, value = pair.partition("=")
            cli_env[key] = value
    assert cli_env["OS_AUTH_TYPE"] == "admin_token"
    template = tmp_path / "none.yaml"
    template.write_text(NONE_TEMPLATE)

    def openstack(*args):
        return subprocess.run([bin_dir / "openstack", *args], env=cli_env, capture_output=True, text=True, timeout=120)

    created = openstack("stack", "create", "-t", str(template), "--wait", "owned")
    assert created.returncode == 0, created.stderr
    listed = openstack("stack", "list", "-f", "value", "-c", "Stack Name")
    assert listed.stdout.split() == ["owned"], listed.stderr
    assert openstack("stack", "delete", "-y", "--wait", "owned").returncode == 0
    cli_env["OS_TOKEN"] = "guessed"
    refused = openstack("stack", "list")
    assert refused.returncode != 0 and "access-token" in refused.stderr, refused.stderr


def test_the_api_ignores_stacks_it_did_not_make(stack):
    """Even with Heat's token (the owner by mistake, say), a stack made in the service project
    by hand with an instance's tags, also with a real instance's mark copied, is not an
    instance: not listed, 404 for show, delete, users, backups."""
    project = f"victim-{uuid.uuid4().hex[:8]}"
    client = stack.client(project)
    real = client.create_instance(name="real", flavorRef="1", volume={"size": 1},
                                  datastore={"type": "redis", "version": "7"})
    heat = heat_client(stack)
    planted = []
    try:
        client.wait_status(real["id"])
        real_tags = heat.stacks.get(real["id"]).tags
        assert [tag for tag in real_tags if tag.startswith("mark:")]
        for name, tags in (("planted-plain", ["dbaas", f"project:{project}", "datastore:redis", "version:7",
                                              "flavor:1", "volume:1"]),
                           ("planted-copied", real_tags)):
            planted.append(heat.stacks.create(stack_name=name, template=NONE_TEMPLATE, tags=",".join(tags))["stack"]["id"])
        for stack_id in planted:
            until_complete(heat, stack_id)
        assert [i["id"] for i in client.get("/instances").json()["instances"]] == [real["id"]]
        assert [i["id"] for i in client.get("/instances/detail").json()["instances"]] == [real["id"]]
        for stack_id in planted:
            for response in (client.get(f"/instances/{stack_id}"), client.get(f"/instances/{stack_id}/users"),
                             client.post(f"/instances/{stack_id}/databases", {"databases": [{"name": "x"}]}),
                             client.post("/backups", {"backup": {"name": "b", "instance": stack_id}}),
                             client.delete(f"/instances/{stack_id}")):
                assert response.status_code == 404, response.text
            assert heat.stacks.get(stack_id).stack_status == "CREATE_COMPLETE"   # and left alone
    finally:
        for stack_id in planted:
            heat.stacks.delete(stack_id)
        client.delete_and_wait(real["id"])


def until_complete(heat, stack_id, timeout=60):
    deadline = time.monotonic() + timeout
    while heat.stacks.get(stack_id).stack_status.endswith("IN_PROGRESS"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
