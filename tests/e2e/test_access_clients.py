"""Acceptance for access: the unmodified ``openstack database instance create --allowed-cidr``
and ``update --allowed-cidr / --is-public`` (python-troveclient) against the keystone profile,
and the MariaDB server itself refusing a client from outside the networks."""
import uuid

import pytest

from tests.e2e.test_clients import accounts, cli, cli_json, http  # noqa: F401 - fixtures
from tests.e2e.support import settled
from tests.source_address import login_from


@pytest.fixture(scope="module")
def mariadb_instance(accounts, http):  # noqa: F811
    password = "acc-" + uuid.uuid4().hex
    created = cli_json(accounts["alice"], "database", "instance", "create", "cli-acc", "--flavor", "db.tiny",
                       "--size", "1", "--datastore", "mariadb", "--datastore-version", "10.11",
                       "--users", f"app:{password}", "--allowed-cidr", "127.0.5.0/24")
    try:
        yield created, http["alice"].wait_status(created["id"]), password
    finally:
        http["alice"].delete_and_wait(created["id"])


def test_create_and_update_access_with_the_openstack_cli(accounts, keystone_stack, mariadb_instance):  # noqa: F811
    created, active, password = mariadb_instance
    assert created["allowed_cidrs"] == ["127.0.5.0/24"] and created["public"] is False
    host, port = active["ip"][0], active["port"]
    assert login_from("127.0.5.7", "mariadb", host, port, "app", password) == (True, "")
    assert not login_from("127.0.9.1", "mariadb", host, port, "app", password)[0]

    alice = accounts["alice"]
    done = cli(alice, "database", "instance", "update", created["id"], "--allowed-cidr", "127.0.9.0/24")
    assert done.returncode == 0, done.stderr
    settled(keystone_stack, created["id"])
    shown = cli_json(alice, "database", "instance", "show", created["id"])
    assert shown["allowed_cidrs"] == ["127.0.9.0/24"] and shown["public"] is False
    assert login_from("127.0.9.1", "mariadb", host, port, "app", password) == (True, "")
    assert not login_from("127.0.5.7", "mariadb", host, port, "app", password)[0]

    # Public on the local driver: reachable from every address the host has (a loopback address is).
    public = cli(alice, "database", "instance", "update", created["id"], "--is-public")
    assert public.returncode == 0, public.stderr
    settled(keystone_stack, created["id"])
    assert cli_json(alice, "database", "instance", "show", created["id"])["public"] is True
    bad = cli(alice, "database", "instance", "update", created["id"], "--allowed-cidr", "127.0.9.1/24")
    assert bad.returncode != 0 and "host bits" in bad.stderr
    other = cli(accounts["bob"], "database", "instance", "update", created["id"], "--allowed-cidr", "0.0.0.0/0")
    assert other.returncode != 0
    assert cli_json(alice, "database", "instance", "show", created["id"])["allowed_cidrs"] == ["127.0.9.0/24"]
