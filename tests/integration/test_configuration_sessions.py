"""Root, renamed users and configuration over the admin connection, and the override files, with real
PostgreSQL, MariaDB and Redis processes (the local driver, no Heat). Every test's servers and
state dir are gone afterwards (conftest.py)."""
from contextlib import closing

import psycopg2
import pymysql
import pytest
import redis

from dbaas_api import datastores, errors
from tests.e2e.support import eventually
from dbaas_api.model import UserSpec
from dbaas_api.drivers.local import ServerSpec
from tests.integration.test_local_driver import ADMIN_PASSWORD, SERVERS, create, maria, pg, query, rds

PG = datastores.get("postgresql")
MARIADB = datastores.get("mariadb")
REDIS = datastores.get("redis")
TINY = datastores.find_flavor("db.tiny")

pytestmark = pytest.mark.skipif(not all(map(__import__("os").path.exists, SERVERS)),
                                reason="needs PostgreSQL 15, MariaDB and Redis installed")


def session(instance, ds):
    return ds.admin_session(instance.address, instance.port, ADMIN_PASSWORD)


def pg_setting(instance, name):
    with pg(instance, PG.admin_user, ADMIN_PASSWORD, "postgres") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT setting, pending_restart FROM pg_settings WHERE name = %s", (name,))
        return cursor.fetchone()


def maria_global(instance, name):
    connection = maria(instance, MARIADB.admin_user, ADMIN_PASSWORD)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT @@GLOBAL.{name}")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def redis_config(instance, name):
    client = rds(instance, password=ADMIN_PASSWORD)
    try:
        return client.config_get(name)[name]
    finally:
        client.close()


def restart(driver, instance):
    driver.stop(instance.key)
    return driver.start(instance.key, ADMIN_PASSWORD)


def test_postgresql_configuration_starts_applies_persists_and_resets(driver):
    instance = driver.create("cfg-pg", ServerSpec(PG, "15", TINY, ADMIN_PASSWORD,
                                                   overrides={"max_connections": 42, "work_mem": 2048}))
    assert pg_setting(instance, "max_connections") == ("42", False)    # from the first start
    assert pg_setting(instance, "work_mem") == ("2048", False)

    values = {"max_connections": 43, "work_mem": 8192, "jit": False}
    driver.set_overrides(instance.key, values)
    with session(instance, PG) as admin:
        admin.apply_configuration("15", TINY, values, {"max_connections": 42, "work_mem": 2048})
    assert eventually(lambda: pg_setting(instance, "work_mem") == ("8192", False))
    assert pg_setting(instance, "jit")[0] == "off"
    assert pg_setting(instance, "max_connections") == ("42", True)     # waits for a restart

    instance = restart(driver, instance)
    assert pg_setting(instance, "max_connections") == ("43", False)

    driver.set_overrides(instance.key, {})
    with session(instance, PG) as admin:
        admin.apply_configuration("15", TINY, {}, values)
    assert eventually(lambda: pg_setting(instance, "work_mem") == ("4096", False))    # PostgreSQL's default
    assert pg_setting(instance, "max_connections") == ("43", True)                  # the flavor's at the next start
    assert restart(driver, instance) and pg_setting(instance, "max_connections") == (str(TINY.max_connections), False)



def test_postgresql_detach_resets_whichever_writer_comes_last(driver):
    """On a detach Heat runs the Configuration's delete and the server's override-file write at
    once: the value goes back to the server's own in either order."""
    values = {"work_mem": 8192}
    instance = driver.create("cfg-pg-race", ServerSpec(PG, "15", TINY, ADMIN_PASSWORD, overrides=values))
    with session(instance, PG) as admin:
        admin.apply_configuration("15", TINY, values, {})
    assert pg_setting(instance, "work_mem") == ("8192", False)

    with session(instance, PG) as admin:     # the Configuration first: the file still says 8192
        admin.apply_configuration("15", TINY, {}, values)
    driver.set_overrides(instance.key, {}, ADMIN_PASSWORD)
    assert pg_setting(instance, "work_mem") == ("4096", False)

def test_mariadb_configuration_starts_applies_persists_and_resets(driver):
    instance = driver.create("cfg-maria", ServerSpec(MARIADB, "10.11", TINY, ADMIN_PASSWORD,
                                                      overrides={"max_connections": 77, "performance_schema": True}))
    assert maria_global(instance, "max_connections") == 77 and maria_global(instance, "performance_schema") == 1

    values = {"max_connections": 120, "long_query_time": 2.5, "innodb_buffer_pool_size": 64 << 20,
              "tx_isolation": "READ-COMMITTED"}
    driver.set_overrides(instance.key, values)
    with session(instance, MARIADB) as admin:
        admin.apply_configuration("10.11", TINY, values, {"max_connections": 77, "performance_schema": True})
    assert maria_global(instance, "max_connections") == 120
    assert maria_global(instance, "long_query_time") == 2.5
    assert maria_global(instance, "tx_isolation") == "READ-COMMITTED"
    assert maria_global(instance, "performance_schema") == 1    # read-only: until the next start

    instance = restart(driver, instance)
    assert maria_global(instance, "performance_schema") == 0 and maria_global(instance, "max_connections") == 120

    driver.set_overrides(instance.key, {})
    with session(instance, MARIADB) as admin:
        admin.apply_configuration("10.11", TINY, {}, values)
    assert maria_global(instance, "max_connections") == TINY.max_connections      # the flavor's, not 151
    assert maria_global(instance, "innodb_buffer_pool_size") == 128 << 20         # the flavor's 128M
    assert maria_global(instance, "long_query_time") == 10.0                      # MariaDB's DEFAULT
    assert maria_global(instance, "tx_isolation") == "REPEATABLE-READ"


def test_redis_configuration_starts_applies_persists_and_resets(driver):
    instance = driver.create("cfg-redis", ServerSpec(REDIS, "7", TINY, ADMIN_PASSWORD, overrides={"databases": 4, "hz": 15}))
    assert (redis_config(instance, "databases"), redis_config(instance, "hz")) == ("4", "15")

    values = {"hz": 20, "maxmemory-policy": "allkeys-lru", "lazyfree-lazy-eviction": True,
              "notify-keyspace-events": "KEA", "databases": 8}
    driver.set_overrides(instance.key, values)
    with session(instance, REDIS) as admin:
        admin.apply_configuration("7", TINY, values, {"databases": 4, "hz": 15})
    assert redis_config(instance, "hz") == "20" and redis_config(instance, "maxmemory-policy") == "allkeys-lru"
    assert redis_config(instance, "lazyfree-lazy-eviction") == "yes"
    assert redis_config(instance, "notify-keyspace-events") in ("AKE", "KEA", "KEg$lshzxetd")  # Redis's own spelling
    assert redis_config(instance, "databases") == "4"     # immutable: until the next start

    instance = restart(driver, instance)
    assert redis_config(instance, "databases") == "8" and redis_config(instance, "hz") == "20"

    driver.set_overrides(instance.key, {})
    with session(instance, REDIS) as admin:
        admin.apply_configuration("7", TINY, {}, values)
    assert redis_config(instance, "hz") == "10" and redis_config(instance, "maxmemory-policy") == "noeviction"
    assert redis_config(instance, "lazyfree-lazy-eviction") == "no"
    assert redis_config(instance, "notify-keyspace-events") == ""


def test_a_session_refuses_values_the_rules_refuse(driver):
    instance = create(driver, REDIS)
    with session(instance, REDIS) as admin, pytest.raises(errors.UnprocessableEntity):
        admin.apply_configuration("7", TINY, {"requirepass": "x"}, {})
    with pytest.raises(errors.UnprocessableEntity):
        driver.set_overrides(instance.key, {"dir": "/tmp"})
    assert "dir" not in (instance.datadir.parent / REDIS.override_file).read_text()


@pytest.mark.parametrize("ds", [PG, MARIADB], ids=["postgresql", "mariadb"])
def test_root_enable_change_and_disable(driver, ds):
    instance = create(driver, ds)

    def login(password):
        try:
            if ds is PG:
                connection = pg(instance, "root", password, "postgres")
                with connection.cursor() as cursor:
                    cursor.execute("CREATE DATABASE made_by_root")   # a superuser
                    cursor.execute("DROP DATABASE made_by_root")
            else:
                connection = maria(instance, "root", password)
                with connection.cursor() as cursor:
                    cursor.execute("CREATE DATABASE made_by_root")
                    cursor.execute("DROP DATABASE made_by_root")
            connection.close()
            return True
        except (psycopg2.OperationalError, pymysql.err.OperationalError):
            return False

    with session(instance, ds) as admin:
        admin.enable_root("first-Root-pw")
    assert login("first-Root-pw")
    with session(instance, ds) as admin:
        admin.enable_root("second-Root-pw")    # enabling again: a new password
    assert login("second-Root-pw") and not login("first-Root-pw")
    with session(instance, ds) as admin:
        admin.disable_root()
        admin.disable_root()                   # already gone: fine
    assert not login("second-Root-pw")


def test_a_postgresql_rename_that_clears_an_md5_password_sets_it_again(driver):
    """PostgreSQL salts MD5 with the role name and so clears it on a rename: the session
    gives the role the password again (as SCRAM: pg_hba here takes nothing else)."""
    instance = create(driver, PG)
    with session(instance, PG) as admin:
        admin.create_user(UserSpec("before", "Md5-user-pw"))
        admin.create_user(UserSpec("taken", "Md5-user-pw"))
    with closing(pg(instance, PG.admin_user, ADMIN_PASSWORD, "postgres")) as connection:
        query(connection, "SET password_encryption = 'md5'")
        query(connection, "ALTER ROLE before PASSWORD 'Md5-user-pw'")
    with session(instance, PG) as admin:
        admin.rename_user("before", "%", "after", "%", "Md5-user-pw")
        with pytest.raises(errors.Conflict):
            admin.rename_user("after", "%", "taken", "%", "Md5-user-pw")
        with pytest.raises(errors.NotFound):
            admin.rename_user("before", "%", "again", "%", "Md5-user-pw")
    with closing(pg(instance, "after", "Md5-user-pw", "postgres")) as connection:
        assert query(connection, "SELECT current_user") == [("after",)]


def test_a_redis_rename_keeps_the_password_and_rules(driver):
    instance = create(driver, REDIS)
    with session(instance, REDIS) as admin:
        admin.create_user(UserSpec("before", "Redis-user-pw"))
        admin.create_user(UserSpec("taken", "Redis-user-pw"))
        admin.rename_user("before", "%", "after", "%", "Redis-user-pw")
        with pytest.raises(errors.Conflict):
            admin.rename_user("after", "%", "taken", "%", "Redis-user-pw")
        assert [u["name"] for u in admin.list_users()] == ["after", "taken"]
    client = rds(instance, "after", "Redis-user-pw")
    client.set("k", "v")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.flushall()                       # the same rules: @dangerous stays the admin's
    client.close()
    with pytest.raises(redis.AuthenticationError):
        rds(instance, "before", "Redis-user-pw").ping()


def test_redis_has_no_root(driver):
    instance = create(driver, REDIS)
    with session(instance, REDIS) as admin, pytest.raises(errors.NotImplementedYet):
        admin.enable_root("pw-whatever")
    client = rds(instance, "root", "pw-whatever")
    with pytest.raises(redis.AuthenticationError):
        client.ping()
