"""USER logs on the local driver, with real servers: set_logs turns MariaDB's general log on
in place and every later start keeps it, also for a server made before log settings files
existed (its config did not include one); PostgreSQL's waits for a start."""
import contextlib
import os

import psycopg2
import pytest

from dbaas_api import datastores
from dbaas_api.drivers.local import ServerSpec

TINY = datastores.find_flavor("db.tiny")
ADMIN_PASSWORD = "admin-pw-0123456789"
pytestmark = pytest.mark.skipif(not os.path.exists("/usr/sbin/mariadbd"), reason="needs MariaDB and PostgreSQL")


def server_setting(ds, instance, name):
    """What a client's session gets (not the service's own, which logs nothing)."""
    if ds.name == "mariadb":
        with ds.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as session:
            return str(session._execute(f"SELECT @@GLOBAL.{name}")[0][0])
    connection = psycopg2.connect(host=instance.address, port=instance.port, user=ds.admin_user,
                                  password=ADMIN_PASSWORD, dbname="postgres")
    with contextlib.closing(connection), connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


def test_mariadb_general_log_is_set_live_and_kept_by_a_server_older_than_log_files(driver):
    ds = datastores.get("mariadb")
    instance = driver.create("logs", ServerSpec(ds, ds.default_version, TINY, ADMIN_PASSWORD))
    home = driver.home("logs")
    # As a server made before this driver kept USER logs: no include, no settings file.
    config = home / "my.cnf"
    config.write_text("".join(line for line in config.read_text().splitlines(keepends=True) if "logs.cnf" not in line))
    (home / "logs.cnf").unlink()
    pid = instance.pid
    driver.set_logs("logs", ["general"], ADMIN_PASSWORD)
    assert server_setting(ds, instance, "general_log") == "1" and driver.get("logs").pid == pid
    assert (home / "data" / "general.log").is_file()
    driver.restart("logs", ADMIN_PASSWORD)
    assert server_setting(ds, driver.get("logs"), "general_log") == "1"
    assert server_setting(ds, driver.get("logs"), "slow_query_log") == "0"
    driver.set_logs("logs", [], ADMIN_PASSWORD)
    assert server_setting(ds, driver.get("logs"), "general_log") == "0"


def test_postgresql_general_log_waits_for_a_start(driver):
    ds = datastores.get("postgresql")
    instance = driver.create("logs", ServerSpec(ds, ds.default_version, TINY, ADMIN_PASSWORD))
    driver.set_logs("logs", ["general"], ADMIN_PASSWORD)
    assert server_setting(ds, instance, "logging_collector") == "off"
    assert server_setting(ds, instance, "log_statement") == "none"   # not into server.log meanwhile
    driver.restart("logs", ADMIN_PASSWORD)
    restarted = driver.get("logs")
    assert server_setting(ds, restarted, "logging_collector") == "on"
    assert server_setting(ds, restarted, "log_statement") == "all"
    with ds.admin_session(restarted.address, restarted.port, ADMIN_PASSWORD) as session:
        session._execute("SELECT 'the service runs this'")   # not logged: SERVICE_OPTIONS
    driver.set_logs("logs", [], ADMIN_PASSWORD)
    assert server_setting(ds, restarted, "log_statement") == "none"
    general = (driver.home("logs") / "data" / "log" / "general.log").read_text()
    assert "SHOW log_statement" in general and "the service runs this" not in general
