import os

import pytest

# The control plane the e2e tests run on: the embedded default, or "production" (Heat's own
# services over RabbitMQ and MariaDB; `make e2e-production`).
PROFILE = os.environ.get("DBAAS_TEST_PROFILE", "embedded")


@pytest.fixture(scope="session")
def stack():
    """The real stack (Heat engine(s) + API + local datastores), shared by e2e tests."""
    from tests.harness import Stack
    embedded = Stack(profile=PROFILE)
    try:
        embedded.up()
        yield embedded
    finally:
        embedded.destroy()


@pytest.fixture(scope="session")
def keystone():
    """A real Keystone (keystone from PyPI, SQLite, fernet, memcached) with two projects,
    their members, an admin, the dbaas service user; one per session, stopped afterwards."""
    from tests.keystone import Keystone
    identity = Keystone()
    try:
        identity.up()
        yield identity
    finally:
        identity.down()


@pytest.fixture(scope="session")
def keystone_stack(keystone):
    """The stack (of PROFILE) in the keystone profile: the API and Heat validate tokens with
    ``keystone``, the API reaches Heat as the dbaas service user, and the catalog's
    ``database`` endpoint points at this API."""
    from tests.harness import Stack
    config_file = keystone.dir / "dbaas-api.conf"
    embedded = Stack(profile=PROFILE, auth_strategy="keystone", config_file=config_file)
    try:
        config_file.write_text(keystone.dbaas_conf())
        config_file.chmod(0o600)
        keystone.register_database(embedded.url)
        embedded.up()
        yield embedded
    finally:
        embedded.destroy()
