"""The embedded stack for end-to-end tests: real Heat, real API, real datastore processes,
all on loopback under a throw-away state dir, and all gone afterwards, also on failure."""
import os
import random
import shutil
import socket
import tempfile
import time
from pathlib import Path

import requests

from dbaas_api.config import Settings
from dbaas_api.profiles import control_plane


def free_port(low=20000, high=32000):
    """A free loopback port below Linux's ephemeral range (32768+), where an outgoing
    connection could take it between this check and the server's bind."""
    for _ in range(200):
        port = random.randrange(low, high)
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_ports(count):
    """The first of ``count`` consecutive free loopback ports (RabbitMQ's node uses three)."""
    for _ in range(200):
        first = free_port(high=32000 - count)
        if all(_bindable(port) for port in range(first + 1, first + count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports")


class Stack:
    """One control plane (the embedded profile, or ``profile="production"``) with its own
    state dir and ports."""

    def __init__(self, **settings):
        self.state_dir = Path(tempfile.mkdtemp(prefix="dbaas-test-", dir="/tmp"))
        os.chmod(self.state_dir, 0o711)
        for resource in ("instances", "volumes", "backups", "ram"):
            # Unlimited unless a test sets limits (an admin's PUT /mgmt/quotas/{project}):
            # a quota claim waits for the end of its second, and tests create a lot.
            settings.setdefault(f"quota_{resource}", -1)
        if settings.get("profile") == "production":
            settings.setdefault("heat_db_port", free_port())
            settings.setdefault("rabbit_port", free_ports(3))
        self.settings = Settings.from_env(
            env={}, state_dir=self.state_dir, api_port=free_port(), heat_port=free_port(), **settings)
        self.embedded = control_plane(self.settings)

    @property
    def url(self):
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    def up(self):
        self.embedded.up()

    def down(self):
        self.embedded.down()

    def destroy(self):
        """Stop everything and remove every process and file this stack made."""
        try:
            self.embedded.down()
        finally:
            for key in self.embedded.driver.keys():  # half-made ones too
                self.embedded.driver.destroy(key)
            if not os.environ.get("DBAAS_TEST_KEEP_LOGS"):
                shutil.rmtree(self.state_dir, ignore_errors=True)

    def client(self, project, token=None):
        return Client(self.url, project, token)


class Client:
    """Plain HTTP against the API, as curl would do it."""

    def __init__(self, url, project, token=None):
        self.url = url
        self.base = f"{url}/v1.0/{project}"
        self.session = requests.Session()
        if token:
            self.session.headers["X-Auth-Token"] = token

    def get(self, path, **kw):
        return self.session.get(self.base + path, timeout=30, **kw)

    def post(self, path, body=None, **kw):
        return self.session.post(self.base + path, json=body, timeout=30, **kw)

    def put(self, path, body=None, **kw):
        return self.session.put(self.base + path, json=body, timeout=30, **kw)

    def patch(self, path, body=None, **kw):
        return self.session.patch(self.base + path, json=body, timeout=30, **kw)

    def delete(self, path, **kw):
        return self.session.delete(self.base + path, timeout=30, **kw)

    def create_instance(self, **instance):
        response = self.post("/instances", {"instance": instance})
        assert response.status_code == 200, response.text
        return response.json()["instance"]

    def wait_status(self, instance_id, wanted=("ACTIVE",), timeout=180):
        deadline, instance = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            response = self.get(f"/instances/{instance_id}")
            if response.status_code == 404 and "GONE" in wanted:
                return None
            assert response.status_code == 200, response.text
            instance = response.json()["instance"]
            if instance["status"] in wanted:
                return instance
            assert instance["status"] != "ERROR", instance
            time.sleep(0.05)
        raise AssertionError(f"instance {instance_id} not {wanted} within {timeout}s: {instance}")

    def delete_and_wait(self, instance_id, timeout=120):
        response = self.delete(f"/instances/{instance_id}")
        assert response.status_code in (202, 404), response.text
        return self.wait_status(instance_id, ("GONE",), timeout)
