"""Configuration parameters as data: each datastore version's rules, how values are checked,
the override files the local driver writes from them, and the values a detach returns to.
No server here (tests/integration/test_configuration_sessions.py runs real ones)."""
from pathlib import Path

import pytest

from dbaas_api import datastores, errors
from dbaas_api.datastores.base import BOOLEAN, FLOAT, INTEGER, STRING, Parameter, Paths, parameter_rules

PG = datastores.get("postgresql")
MARIADB = datastores.get("mariadb")
REDIS = datastores.get("redis")
SMALL = datastores.find_flavor("2")
PATHS = Paths(Path("/srv/state/instances/abc"))
ALL = [(PG, "15"), (MARIADB, "10.11"), (REDIS, "7")]
IDS = ["postgresql", "mariadb", "redis"]


@pytest.mark.parametrize("ds,version", ALL, ids=IDS)
def test_every_version_has_rules_and_every_rule_is_well_formed(ds, version):
    rules = ds.parameters(version)
    assert len(rules) >= 25
    for name, rule in rules.items():
        assert name == rule.name == name.lower() and rule.type in (INTEGER, FLOAT, BOOLEAN, STRING)
        assert name not in ds.blocked_parameters
        if rule.min is not None and rule.max is not None:
            assert rule.min <= rule.max, name
        if rule.allowed:
            assert rule.type == STRING
    assert ds.parameters("0.0") == {}


def test_the_rules_are_data_a_caller_can_read():
    rule = PG.parameter("15", "MAX_CONNECTIONS")
    assert (rule.type, rule.min, rule.max, rule.restart_required) == (INTEGER, 1, 262143, True)
    assert PG.parameter("15", "work_mem").unit == "kB" and not PG.parameter("15", "work_mem").restart_required
    assert MARIADB.parameter("10.11", "max-connections").name == "max_connections"
    assert REDIS.parameter("7", "maxmemory-policy").allowed[-1] == "noeviction"
    with pytest.raises(errors.NotFound):
        PG.parameter("15", "no_such_thing")


@pytest.mark.parametrize("ds,version,values,expected", [
    (PG, "15", {"work_mem": 8192, "JIT": False, "random_page_cost": 1.5, "synchronous_commit": "OFF"},
     {"work_mem": 8192, "jit": False, "random_page_cost": 1.5, "synchronous_commit": "off"}),
    (PG, "15", {"random_page_cost": 2}, {"random_page_cost": 2}),        # an integer is a float too
    (MARIADB, "10.11", {"max-connections": 500, "tx_isolation": "read-committed", "slow_query_log": True},
     {"max_connections": 500, "tx_isolation": "READ-COMMITTED", "slow_query_log": True}),
    (MARIADB, "10.11", {"sql_mode": "STRICT_ALL_TABLES,NO_ZERO_DATE"}, {"sql_mode": "STRICT_ALL_TABLES,NO_ZERO_DATE"}),
    (REDIS, "7", {"hz": 20, "notify-keyspace-events": "KEA", "lazyfree-lazy-eviction": True},
     {"hz": 20, "notify-keyspace-events": "KEA", "lazyfree-lazy-eviction": True}),
    (PG, "15", {}, {}),
])
def test_good_values_come_back_in_the_rules_spelling(ds, version, values, expected):
    assert ds.validate_configuration(version, values) == expected


@pytest.mark.parametrize("ds,version,values,words", [
    (PG, "15", {"no_such_parameter": 1}, ["values.no_such_parameter", "not a configuration parameter"]),
    (PG, "15", {"port": 6543}, ["values.port", "managed by the service"]),
    (PG, "15", {"listen_addresses": "*"}, ["values.listen_addresses", "managed"]),
    (PG, "15", {"max_connections": 0}, ["values.max_connections", "less than the minimum", "1"]),
    (PG, "15", {"max_connections": 10 ** 9}, ["greater than the maximum", "262143"]),
    (PG, "15", {"max_connections": "100"}, ["must be of type integer, not string"]),
    (PG, "15", {"max_connections": 100.5}, ["must be of type integer, not float"]),
    (PG, "15", {"max_connections": True}, ["must be of type integer, not boolean"]),
    (PG, "15", {"jit": "on"}, ["values.jit", "boolean, not string"]),
    (PG, "15", {"random_page_cost": -1}, ["less than the minimum"]),
    (PG, "15", {"log_statement": "everything"}, ["values.log_statement", "one of", "'ddl'"]),
    (PG, "15", {"timezone": "Europe/Paris"}, ["values.timezone", "not a configuration parameter"]),
    (PG, "15", {"work_mem": None}, ["not null"]),
    (MARIADB, "10.11", {"bind-address": "0.0.0.0"}, ["managed by the service"]),
    (MARIADB, "10.11", {"max_connections": 5}, ["less than the minimum", "10"]),
    (MARIADB, "10.11", {"sql_mode": "ANSI_QUOTES,EVIL"}, ["values.sql_mode"]),
    (MARIADB, "10.11", {"max_connections": 100, "max-connections": 200}, ["more than once"]),
    (REDIS, "7", {"requirepass": "x"}, ["values.requirepass", "managed by the service"]),
    (REDIS, "7", {"maxmemory-policy": "lru"}, ["one of"]),
    (REDIS, "7", {"notify-keyspace-events": "K\"E"}, ["matching"]),
])
def test_bad_values_are_422_naming_the_parameter_and_the_reason(ds, version, values, words):
    with pytest.raises(errors.UnprocessableEntity) as caught:
        ds.validate_configuration(version, values)
    for word in words:
        assert word in caught.value.message


def test_a_version_without_rules_has_no_configuration_groups():
    with pytest.raises(errors.UnprocessableEntity, match="not supported for PostgreSQL 9.6"):
        PG.validate_configuration("9.6", {"work_mem": 64})


def test_a_rule_set_refuses_a_name_twice():
    with pytest.raises(ValueError):
        parameter_rules(Parameter("a", INTEGER), Parameter("a", BOOLEAN))


def test_only_values_that_need_a_restart_require_one():
    assert PG.restart_required("15", {}, {"max_connections": 200})
    assert not PG.restart_required("15", {}, {"work_mem": 8192})
    assert not PG.restart_required("15", {"max_connections": 200}, {"max_connections": 200, "jit": False})
    assert PG.restart_required("15", {"max_connections": 200}, {})  # back to the default, at the next start
    assert MARIADB.restart_required("10.11", {}, {"performance_schema": True})
    assert REDIS.restart_required("7", {"databases": 16}, {"databases": 32})


# ---- override files and the config that includes them ---------------------------------------

def test_each_config_includes_its_override_file_last():
    for ds, name in ((PG, "postgresql.conf"), (MARIADB, "my.cnf"), (REDIS, "redis.conf")):
        last = ds.config_files(PATHS, "127.0.1.2", ds.port, SMALL)[name].strip().splitlines()[-1]
        assert str(PATHS.conf(ds.override_file)) in last and "include" in last


def test_override_files_hold_the_values_in_each_servers_syntax():
    assert PG.override_files({"work_mem": 8192, "jit": False, "synchronous_commit": "local"})[
        "overrides.conf"].splitlines()[1:] == ["jit = 'off'", "synchronous_commit = 'local'", "work_mem = 8192"]
    assert MARIADB.override_files({"max_connections": 500, "slow_query_log": True, "long_query_time": 2.5,
                                   "tx_isolation": "READ-COMMITTED"})[
        "overrides.cnf"].splitlines()[1:] == [
        "[mariadbd]", "long_query_time = 2.5", "max_connections = 500", "slow_query_log = ON",
        "transaction-isolation = READ-COMMITTED"]
    assert REDIS.override_files({"hz": 20, "notify-keyspace-events": "", "lazyfree-lazy-eviction": True})[
        "overrides.conf"].splitlines()[1:] == [
        "hz 20", "lazyfree-lazy-eviction yes", 'notify-keyspace-events ""']
    for ds in (PG, MARIADB, REDIS):
        assert len(ds.override_files({})) == 1  # always written: the config includes it


def test_a_value_goes_back_to_the_instances_own_setting_else_the_servers_default():
    assert MARIADB.baseline("10.11", SMALL, "max_connections") == SMALL.max_connections
    assert MARIADB.baseline("10.11", SMALL, "innodb_buffer_pool_size") == "256M"
    assert MARIADB.baseline("10.11", SMALL, "character_set_server") == "utf8mb4"
    assert MARIADB.baseline("10.11", SMALL, "wait_timeout") is None           # SET GLOBAL ... = DEFAULT
    assert REDIS.baseline("7", SMALL, "maxclients") == SMALL.max_connections
    assert REDIS.baseline("7", SMALL, "hz") == 10 and REDIS.baseline("7", SMALL, "appendfsync") == "everysec"


def test_redis_knows_a_default_for_every_parameter_it_resets_live():
    for rule in REDIS.parameters("7").values():
        assert rule.default is not None or rule.restart_required, rule.name


def test_root_is_a_superuser_only_where_there_is_one():
    assert (PG.supports_root, MARIADB.supports_root, REDIS.supports_root) == (True, True, False)
    assert PG.root_user == MARIADB.root_user == "root"
    with pytest.raises(errors.BadRequest):
        PG.validate_user_name("root")  # the root API owns it
