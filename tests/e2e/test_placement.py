"""Networks and volume types end to end: the unmodified ``openstack database instance create``
with ``--nic``, ``--volume-type`` and ``--is-public`` (what Trove's own suite sends with every
create), through the keystone profile, the real Heat engine and a real MariaDB server that
then listens on the address asked for, inside the chosen network's loopback band. Bad input
for each field is a 400 naming it, and nothing is created."""
import random

import pymysql
import pytest

from tests.e2e.test_clients import cli, cli_json

PRIVATE_2 = "5a0c3d27-8f1e-4b6a-9c55-0d3e7a1b2c02"   # etc/networks.yaml: 127.42.0.0/16
PRIVATE_2_SUBNET = "9e4b2f10-6d3a-4c8e-b7a1-3f5d8c2e1a02"
PRIVATE_SUBNET = "9e4b2f10-6d3a-4c8e-b7a1-3f5d8c2e1a01"


@pytest.fixture(scope="module")
def alice(keystone, keystone_stack):
    return keystone.account("alice"), keystone_stack.client(keystone.project_ids["alpha"], keystone.token("alice"))


def test_create_on_a_network_with_an_address_a_volume_type_and_is_public(alice):
    account, http = alice
    address = f"127.42.{random.randrange(1, 250)}.{random.randrange(1, 250)}"  # worktrees run at once
    password = "placed-" + "x" * 12
    created = cli_json(account, "database", "instance", "create", "placed", "--flavor", "1", "--size", "1",
                       "--datastore", "mariadb", "--datastore-version", "10.11",
                       "--nic", f"net-id={PRIVATE_2},subnet-id={PRIVATE_2_SUBNET},ip-address={address}",
                       "--volume-type", "local", "--is-public", "--databases", "app",
                       "--users", f"app:{password}")
    try:
        shown = http.wait_status(created["id"])
        assert shown["addresses"] == [{"address": address, "type": "private", "network": PRIVATE_2}]
        assert shown["volume"]["type"] == "local" and shown["access"]["is_public"] is True
        with pymysql.connect(host=address, port=3306, user="app", password=password, database="app",
                             connect_timeout=5) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT @@bind_address")
            assert cursor.fetchone()[0] == address
        # A change re-renders the stack: the server keeps its address (and its data).
        assert http.post(f"/instances/{created['id']}/databases", {"databases": [{"name": "more"}]}).status_code == 202
        assert http.wait_status(created["id"])["addresses"][0]["address"] == address
        listed = cli_json(account, "database", "instance", "show", created["id"])
        assert listed["ip"] == address or address in str(listed)
    finally:
        http.delete_and_wait(created["id"])


@pytest.mark.parametrize("nic,volume_type,words", [
    ("net-id=nowhere", "local", ["nics[0].network_id", "nowhere"]),
    (f"subnet-id={PRIVATE_SUBNET},net-id={PRIVATE_2}", "local", ["nics[0].subnet_id", "private-2"]),
    (f"net-id={PRIVATE_2},ip-address=127.0.3.4", "local", ["nics[0].ip_address", "127.42.0.0/16"]),
    (f"net-id={PRIVATE_2}", "ssd", ["volume.type", "ssd"]),
])
def test_bad_placement_is_a_400_naming_the_field_and_nothing_is_made(alice, nic, volume_type, words):
    account, http = alice
    before = http.get("/instances").json()["instances"]
    done = cli(account, "database", "instance", "create", "misplaced", "--flavor", "1", "--size", "1",
               "--datastore", "mariadb", "--nic", nic, "--volume-type", volume_type)
    assert done.returncode != 0
    assert "HTTP 400" in done.stderr, done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    assert http.get("/instances").json()["instances"] == before
