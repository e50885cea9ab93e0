"""Access by client address on the local driver, with real servers: the datastore's own
rules (pg_hba.conf, MariaDB's init_connect) refuse a client whose source address is not in
the allowed networks, take a change without a restart, and keep the service's own admin
connection (from 127.0.0.1) working. Clients bind a source in 127.0.0.0/8 (tests/source_address.py)."""
import os

import pytest

from dbaas_api import datastores, errors
from dbaas_api.model import UserSpec
from dbaas_api.drivers.local import ServerSpec
from tests.source_address import login_from

TINY = datastores.find_flavor("db.tiny")
ADMIN_PASSWORD = "admin-pw-0123456789"
USER_PASSWORD = "user-pw-0123456789"
pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/mariadbd"), reason="needs MariaDB and PostgreSQL")


@pytest.mark.parametrize("name", ["postgresql", "mariadb"])
def test_only_allowed_networks_get_in_and_a_change_applies_in_place(driver, name):
    ds = datastores.get(name)
    instance = driver.create("acc", ServerSpec(ds, ds.default_version, TINY, ADMIN_PASSWORD,
                                                allowed_cidrs=("127.0.5.0/24",)))
    with ds.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as session:
        session.create_user(UserSpec("app", USER_PASSWORD))
    pid = instance.pid

    def login(source, user="app", password=USER_PASSWORD):
        return login_from(source, name, instance.address, instance.port, user, password)

    assert login("127.0.5.7") == (True, "")
    refused, why = login("127.0.9.1")
    assert not refused and ("no pg_hba.conf entry" in why or "init_connect" in why), why
    assert not login("127.0.0.1")[0]          # the host's own address is not a user's way in
    assert login("127.0.9.1", ds.admin_user, ADMIN_PASSWORD)[0] is (name == "mariadb")
    with ds.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as session:
        assert session.ping()                 # the service's admin, from 127.0.0.1
        session.enable_root(USER_PASSWORD)
    # MariaDB's trade-off (docs/api.md): root holds CONNECTION ADMIN, which init_connect skips.
    assert login("127.0.9.1", "root")[0] is (name == "mariadb")

    driver.set_access("acc", ("127.0.9.0/24", "10.0.0.0/8"), ADMIN_PASSWORD)
    assert login("127.0.9.1") == (True, "")
    assert not login("127.0.5.7")[0]
    assert driver.get("acc").pid == pid       # in place: no restart

    driver.stop("acc")                        # the rules are the server's own files: kept
    driver.start("acc", ADMIN_PASSWORD)
    assert login("127.0.9.1") == (True, "") and not login("127.0.5.7")[0]

    driver.set_access("acc", (), ADMIN_PASSWORD)  # [] lets every address in again
    assert login("127.0.5.7") == (True, "") and login("127.0.0.1") == (True, "")


def test_redis_cannot_filter_by_address(driver):
    ds = datastores.get("redis")
    with pytest.raises(errors.BadRequest, match="cannot refuse clients by address"):
        driver.create("acc", ServerSpec(ds, ds.default_version, TINY, ADMIN_PASSWORD, allowed_cidrs=("127.0.5.0/24",)))
    assert driver.keys() == []
