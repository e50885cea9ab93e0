"""The unmodified OpenStack CLI (python-openstackclient with python-heatclient's plugin)
against the embedded Heat, as a person in their own Heat project runs it. How the CLI (and
heatclient, which the tests read results with: each CLI start costs seconds) authenticate
to the embedded Heat is written here and nowhere else."""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from heatclient import client as heat_client

from dbaas_api.embedded import access_token

OPENSTACK = Path(sys.executable).with_name("openstack")
# The CLI's own HOME (stevedore caches entry points under it): a person's, never the service's
# private state directory. One for the test run, so the cache is shared; removed at exit.
CLI_HOME = tempfile.TemporaryDirectory(prefix="openstack-cli-home-")


def environment(stack, project):
    """The embedded Heat is no-auth: the project is the one in the endpoint's URL, and it lets
    in whoever sends the installation's access token (what ``dbaas heat-env`` exports)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": CLI_HOME.name,
            "OS_AUTH_TYPE": "admin_token", "OS_TOKEN": access_token.read(stack.state_dir),
            "OS_ENDPOINT": f"{stack.settings.heat_endpoint}/{project}"}


def start(stack, project, *arguments):
    """``openstack ARGUMENTS`` started (for several at once); ``finish`` it."""
    process = subprocess.Popen([str(OPENSTACK), *map(str, arguments)], env=environment(stack, project),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.arguments = arguments
    return process


def finish(process, timeout=300, check=True):
    """Its stdout; with ``check``, an AssertionError with its stderr when it failed."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    if check:
        assert process.returncode == 0, f"openstack {' '.join(map(str, process.arguments))}: {err}\n{out}"
    return out


def openstack(stack, project, *arguments, timeout=300, check=True):
    return finish(start(stack, project, *arguments), timeout, check)


def heat(stack, project):
    """heatclient in the person's project, for reading what the CLI did."""
    return heat_client.Client("1", endpoint=f"{stack.settings.heat_endpoint}/{project}",
                              token=access_token.read(stack.state_dir))


def settle(stack, project, names, timeout=180):
    """{name: status} once Heat has finished with every stack of ``names`` (gone: "GONE")."""
    client, found = heat(stack, project), {}
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            try:
                status = client.stacks.get(name, resolve_outputs=False).stack_status
            except Exception as exc:   # heatclient's HTTPNotFound once it is deleted
                if getattr(exc, "code", None) != 404:
                    raise
                status = "GONE"
            status = "GONE" if status == "DELETE_COMPLETE" else status   # found by name while Heat purges it
            if not status.endswith("_IN_PROGRESS") or time.monotonic() > deadline:
                found[name] = status
                break
            time.sleep(0.1)
    return found


def outputs(stack, project, name):
    return {o["output_key"]: o["output_value"] for o in heat(stack, project).stacks.get(name).outputs}


def create_args(directory, name, secrets=()):
    """``stack create`` of a written bundle, each secret from its file (--parameter-file)."""
    directory = Path(directory)
    return ["stack", "create", "-t", directory / "template.yaml", "-e", directory / "environment.yaml",
            "-e", directory / "parameters.yaml",
            *[arg for key, path in secrets for arg in ("--parameter-file", f"{key}={path}")], name]
