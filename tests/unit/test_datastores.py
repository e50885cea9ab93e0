"""The datastore modules without any server: name rules, config per flavor, argv, and the
pure parts of the local driver. (tests/integration/test_local_driver.py runs real servers.)"""
import hashlib
import json
import os
import re
import signal
from pathlib import Path

import pytest

from dbaas_api import datastores, errors
from dbaas_api.datastores import base
from dbaas_api.datastores.base import Paths
from dbaas_api.drivers import local
from dbaas_api.drivers.local import processes
from dbaas_api.model import Flavor

PG = datastores.get("postgresql")
MARIADB = datastores.get("mariadb")
REDIS = datastores.get("redis")
TINY = Flavor(id="1", name="db.tiny", ram_mb=256, vcpus=1, max_connections=50)
LARGE = Flavor(id="4", name="db.large", ram_mb=2048, vcpus=4, max_connections=400)
PATHS = Paths(Path("/srv/state/instances/abc"))

# Names every SQL datastore must take as they are: quoting is the driver's job, not the user's.
ODD_BUT_FINE = ["orders", "it's", 'say "hi"', "semi;colon", "we`ird", "back\\slash", "sp ace",
                "ünïcødé 数据", "a%b_c", "x' OR '1'='1", "--comment", "/*", "$1", "a.b", "a/b",
                "Robert'); DROP TABLE x;--"]


def message_of(excinfo):
    return excinfo.value.message


# ---- the registry keeps working -----------------------------------------------------------

def test_registry_lookups_are_unchanged():
    assert [ds.name for ds in datastores.all()] == ["postgresql", "mariadb", "redis"]
    assert datastores.get("MySQL") is MARIADB and datastores.get("postgres") is PG
    assert datastores.find_flavor("db.small").id == "2"
    with pytest.raises(errors.NotFound):
        datastores.get("oracle")


def test_each_datastore_names_its_admin_and_standard_port():
    assert (PG.admin_user, PG.port) == ("os_admin", 5432)
    assert (MARIADB.admin_user, MARIADB.port) == ("os_admin", 3306)
    assert (REDIS.admin_user, REDIS.port) == ("default", 6379)
    assert (PG.system_user, MARIADB.system_user, REDIS.system_user) == ("postgres", "mysql", "redis")


# What a datastore supports follows from the roles it fills: a flag is set by the role module
# of the datastore's own package (datastores/<name>/<role>.py), never beside it, so a datastore
# without that module has the role base's default (no replication, no clusters...).
ROLE_FLAGS = [(base.Replication, "supports_replication"), (base.Clustering, "cluster_kind"),
              (base.Backups, "supports_incremental_backups")]


@pytest.mark.parametrize("ds", datastores.all(), ids=lambda ds: ds.name)
def test_what_a_datastore_supports_comes_from_the_role_modules_it_has(ds):
    for role, attribute in ROLE_FLAGS:
        own = [cls for cls in type(ds).__mro__[1:] if issubclass(cls, role) and cls is not role
               and cls.__module__.startswith(f"dbaas_api.datastores.{ds.name}.")]
        assert own or not getattr(ds, attribute), f"{ds.name}: {attribute} without a {role.__name__} module"
        setter = next(cls for cls in type(ds).__mro__ if attribute in vars(cls))
        assert setter is role or setter in own, f"{ds.name}.{attribute} is set in {setter.__module__}"
    assert PG.cluster_kind == "" and (MARIADB.cluster_kind, REDIS.cluster_kind) == ("galera", "redis-cluster")


# ---- names --------------------------------------------------------------------------------

@pytest.mark.parametrize("ds", [PG, MARIADB], ids=["postgresql", "mariadb"])
@pytest.mark.parametrize("name", ODD_BUT_FINE)
def test_sql_names_with_metacharacters_are_accepted(ds, name):
    ds.validate_database_name(name)
    ds.validate_user_name(name)


@pytest.mark.parametrize("ds", [PG, MARIADB, REDIS], ids=["postgresql", "mariadb", "redis"])
@pytest.mark.parametrize("bad", ["", None, 42, "nul\x00byte"])
def test_empty_non_string_and_nul_user_names_are_refused(ds, bad):
    with pytest.raises(errors.BadRequest) as excinfo:
        ds.validate_user_name(bad)
    assert message_of(excinfo).startswith("field 'user':")


@pytest.mark.parametrize("name", ["postgres", "template0", "template1", "Postgres", "TEMPLATE1"])
def test_postgresql_reserved_databases(name):
    with pytest.raises(errors.BadRequest, match="reserved"):
        PG.validate_database_name(name)


@pytest.mark.parametrize("name", ["postgres", "os_admin", "public", "none", "current_user",
                                  "session_user", "current_role", "pg_monitor", "pg_anything"])
def test_postgresql_reserved_users(name):
    with pytest.raises(errors.BadRequest, match="reserved"):
        PG.validate_user_name(name)


def test_postgresql_counts_bytes_up_to_63():
    PG.validate_database_name("x" * 63)
    PG.validate_user_name("é" * 31)          # 62 bytes
    with pytest.raises(errors.BadRequest, match="64 bytes long; PostgreSQL allows at most 63"):
        PG.validate_database_name("x" * 64)
    with pytest.raises(errors.BadRequest, match="64 bytes"):
        PG.validate_user_name("é" * 32)      # 32 characters, 64 bytes


@pytest.mark.parametrize("name", ["mysql", "information_schema", "PERFORMANCE_SCHEMA", "sys",
                                  "lost+found", "#mysql50#old"])
def test_mariadb_reserved_databases(name):
    with pytest.raises(errors.BadRequest, match="reserved"):
        MARIADB.validate_database_name(name)


@pytest.mark.parametrize("name", ["root", "mysql", "mariadb.sys", "os_admin", "PUBLIC"])
def test_mariadb_reserved_users(name):
    with pytest.raises(errors.BadRequest, match="reserved"):
        MARIADB.validate_user_name(name)


def test_mariadb_counts_characters_64_for_databases_80_for_users():
    MARIADB.validate_database_name("é" * 64)
    MARIADB.validate_user_name("u" * 80)
    with pytest.raises(errors.BadRequest, match="65 characters long; MariaDB allows at most 64"):
        MARIADB.validate_database_name("d" * 65)
    with pytest.raises(errors.BadRequest, match="81 characters"):
        MARIADB.validate_user_name("u" * 81)


@pytest.mark.parametrize("name", ["trailing ", "two  "])
def test_mariadb_refuses_trailing_spaces(name):
    with pytest.raises(errors.BadRequest, match="end with a space"):
        MARIADB.validate_database_name(name)
    with pytest.raises(errors.BadRequest, match="end with a space"):
        MARIADB.validate_user_name(name)


def test_mariadb_refuses_characters_beyond_the_bmp():
    MARIADB.validate_database_name(" leading space and \uffee are fine")
    with pytest.raises(errors.BadRequest, match="U\\+FFFF"):
        MARIADB.validate_database_name("emoji \U0001F600")


def test_redis_users_have_no_spaces_and_default_is_reserved():
    REDIS.validate_user_name("app-1:reader'\"`;")
    for bad in ("two words", "tab\there", "new\nline"):
        with pytest.raises(errors.BadRequest, match="spaces"):
            REDIS.validate_user_name(bad)
    with pytest.raises(errors.BadRequest, match="reserved"):
        REDIS.validate_user_name("default")


def test_redis_has_no_databases():
    assert REDIS.supports_databases is False
    with pytest.raises(errors.NotImplementedYet, match="Redis has no databases"):
        REDIS.validate_database_name("db")


def test_the_field_can_be_named_by_the_caller():
    with pytest.raises(errors.BadRequest) as excinfo:
        PG.validate_database_name("postgres", field="databases[2].name")
    assert message_of(excinfo) == "field 'databases[2].name': 'postgres' is reserved by PostgreSQL."


@pytest.mark.parametrize("ds", [PG, MARIADB, REDIS], ids=["postgresql", "mariadb", "redis"])
def test_passwords(ds):
    ds.validate_password("p w'\"`;$(rm -rf /)ü")
    ds.validate_password("x" * 255)
    for bad, why in (("", "non-empty"), (None, "non-empty"), ("x" * 256, "at most 255"),
                     ("se\x00cret", "NUL")):
        with pytest.raises(errors.BadRequest, match=why) as excinfo:
            ds.validate_password(bad)
        assert message_of(excinfo).startswith("field 'password':")
        if bad:
            assert bad not in message_of(excinfo)


def test_hosts_only_where_accounts_have_them():
    PG.validate_host("%")
    with pytest.raises(errors.BadRequest, match="no host part"):
        PG.validate_host("10.0.0.%")
    MARIADB.validate_host("10.0.0.%")
    with pytest.raises(errors.BadRequest):
        MARIADB.validate_host("h" * 256)


# ---- config per flavor --------------------------------------------------------------------

def pg_settings(text):
    return dict(re.match(r"(\w+) = (.*)", line).groups() for line in text.splitlines()
                if line and not line.startswith("#"))


def test_postgresql_config_follows_the_flavor():
    files = PG.config_files(PATHS, "127.0.1.2", 5432, TINY)
    conf = pg_settings(files["postgresql.conf"])
    assert conf["listen_addresses"] == "'127.0.1.2'" and conf["port"] == "5432"
    assert conf["shared_buffers"] == "'64MB'" and conf["max_connections"] == "50"
    assert conf["unix_socket_directories"] == "''"
    assert conf["hba_file"] == "'/srv/state/instances/abc/pg_hba.conf'"
    assert conf["log_min_error_statement"] == "'panic'"
    large = pg_settings(PG.config_files(PATHS, "127.0.1.2", 5432, LARGE)["postgresql.conf"])
    assert large["shared_buffers"] == "'512MB'" and large["max_connections"] == "400"
    hba = PG.access_files([])["pg_hba.conf"]
    assert "trust" not in hba and "scram-sha-256" in hba


def test_mariadb_config_follows_the_flavor():
    text = MARIADB.config_files(PATHS, "127.0.2.3", 3306, TINY)["my.cnf"]
    lines = set(text.splitlines())
    assert "[mariadbd]" in lines and "skip-name-resolve" in lines
    for line in ("bind-address = 127.0.2.3", "port = 3306", "max_connections = 50",
                 "innodb_buffer_pool_size = 128M", "innodb_log_file_size = 8M",
                 "datadir = /srv/state/instances/abc/data", "log-bin = mariadb-bin",
                 "binlog-format = ROW", "gtid-strict-mode = ON", f"server-id = {2 * 256 + 3}"):
        assert line in lines
    large = MARIADB.config_files(PATHS, "127.0.2.3", 3306, LARGE)["my.cnf"]
    assert "innodb_buffer_pool_size = 1024M" in large and "max_connections = 400" in large


def test_redis_config_follows_the_flavor_and_holds_no_password():
    text = REDIS.config_files(PATHS, "127.0.1.9", 6379, TINY)["redis.conf"]
    lines = set(text.splitlines())
    for line in ("bind 127.0.1.9", "port 6379", "maxmemory 192mb", "maxclients 50", "appendonly yes",
                 "dir /srv/state/instances/abc/data", "repl-diskless-sync-delay 0",
                 "aclfile /srv/state/instances/abc/data/users.acl", "set-proc-title no"):
        assert line in lines
    assert "requirepass" not in text
    assert "maxmemory 1536mb" in REDIS.config_files(PATHS, "127.0.1.9", 6379, LARGE)["redis.conf"]


@pytest.mark.parametrize("ds", [PG, MARIADB, REDIS], ids=["postgresql", "mariadb", "redis"])
def test_start_argv_is_the_foreground_server_naming_the_data_dir(ds):
    argv = ds.start_argv(PATHS, ds.default_version)
    assert Path(argv[0]).name in ("postgres", "mariadbd", "redis-server")
    assert processes.argv_names(argv, str(PATHS.data))


def test_postgresql_shuts_down_fast_not_smart():
    assert PG.stop_signal == signal.SIGINT and MARIADB.stop_signal == signal.SIGTERM


class Recorder:
    """Stands in for the driver's runner: records what would run."""

    def __init__(self):
        self.runs, self.writes = [], []

    def run(self, argv, stdin=b""):
        self.runs.append((argv, stdin))

    def write(self, path, text):
        self.writes.append((path, text))


def test_postgresql_initdb_reads_the_password_from_stdin_only():
    runner = Recorder()
    PG.initialise(PATHS, "15", "s3cret pw", runner)
    (argv, stdin), = runner.runs
    assert argv[0] == "/usr/lib/postgresql/15/bin/initdb"
    assert "--pwfile=/dev/stdin" in argv and "--no-sync" in argv and "--username=os_admin" in argv
    assert stdin == b"s3cret pw\n" and not any("s3cret" in arg for arg in argv)
    with pytest.raises(errors.BadRequest, match="single line"):
        PG.initialise(PATHS, "15", "two\nlines", Recorder())


def test_mariadb_install_has_no_password_and_no_test_db():
    runner = Recorder()
    MARIADB.initialise(PATHS, "10.11", "s3cret", runner)
    (argv, stdin), = runner.runs
    assert "--skip-test-db" in argv and "--auth-root-authentication-method=socket" in argv
    assert not any("s3cret" in arg for arg in argv) and stdin == b""


def test_redis_acl_file_holds_only_the_password_hash():
    runner = Recorder()
    REDIS.initialise(PATHS, "7", "s3cret", runner)
    (path, text), = runner.writes
    assert path == PATHS.data / "users.acl"
    assert "s3cret" not in text
    assert text == f"user default on ~* &* +@all #{hashlib.sha256(b's3cret').hexdigest()}\n"


# ---- the local driver, without servers ----------------------------------------------------

@pytest.mark.parametrize("key", ["../etc", "a/b", "", ".hidden", "x" * 81, None, "sp ace"])
def test_driver_refuses_keys_that_are_not_plain_names(tmp_path, key):
    driver = local.LocalDriver(tmp_path)
    with pytest.raises(errors.BadRequest, match="key"):
        driver.get(key)


def test_driver_lists_nothing_on_an_empty_state_dir(tmp_path):
    driver = local.LocalDriver(tmp_path / "nothing-yet")
    assert driver.list() == [] and driver.keys() == [] and driver.get("k") is None
    driver.stop("k")
    driver.destroy("k")


def test_addresses_skip_the_claimed_ones_and_start_at_127_0_1_1(tmp_path):
    driver = local.LocalDriver(tmp_path)
    assert driver._free_address(15432) == "127.0.1.1"
    for key, address in (("a", "127.0.1.1"), ("b", "127.0.1.2"), ("c", "127.0.1.4")):
        (driver.instances_dir / key).mkdir(parents=True)
        (driver.instances_dir / key / "instance.json").write_text(json.dumps({"address": address}))
    assert driver._free_address(15432) == "127.0.1.3"


def test_the_pid_check_wants_the_data_dir_in_argv():
    data = "/s/instances/k/data"
    assert processes.argv_names(["postgres", "-D", data], data)
    assert processes.argv_names(["mariadbd", "--datadir=" + data], data)
    assert processes.argv_names(["x", data + "/redis.conf"], data)
    assert not processes.argv_names(["postgres", "-D", data + "2"], data)
    assert not processes.argv_names(["python", "-m", "pytest"], data)


def test_our_own_pid_is_never_taken_for_a_server(tmp_path):
    assert not processes.is_ours(os.getpid(), Paths(tmp_path / "k"))


def test_a_state_dir_path_that_would_need_quoting_is_refused(tmp_path):
    driver = local.LocalDriver(tmp_path / "with space")
    with pytest.raises(errors.DBaaSError, match="State directory"):
        driver._prepare_state_dir(PG, None)


def test_mariadb_character_sets_and_collations_follow_trove_and_the_server():
    from dbaas_api.datastores import mariadb_collations
    assert len(mariadb_collations.CHARSET_OF) == 1242   # the server's own count (10.11.19)
    options = MARIADB.database_options
    assert options(None, None) == (None, None)
    assert options("latin1", None) == ("latin1", "latin1_swedish_ci")     # its default
    assert options(None, "latin1_german1_ci") == ("latin1", "latin1_german1_ci")
    assert options("UTF8", "utf8_bin") == ("utf8mb3", "utf8mb3_bin")
    assert options("utf8mb4", "utf8mb4_uca1400_ai_ci") == ("utf8mb4", "utf8mb4_uca1400_ai_ci")
    assert options("binary", None) == ("binary", "binary")
    for character_set, collate, words in [("latin0", None, "databases[1].character_set': 'latin0'"),
                                          (None, "latin1_klingon_ci", "databases[1].collate"),
                                          ("utf8mb4", "latin1_bin", "not a collation of character set 'utf8mb4'"),
                                          ("utf8mb4; DROP", None, "character_set")]:
        with pytest.raises(errors.BadRequest, match=re.escape(words)):
            options(character_set, collate, field="databases[1]")


def test_postgresql_encodings_and_locales():
    options = PG.database_options
    assert options(None, None) == (None, None)
    assert options("utf-8", None) == ("UTF8", None)            # initdb's locale, C.UTF-8
    assert options("latin1", None) == ("LATIN1", "C")           # a UTF-8 locale would refuse it
    assert options("WIN1252", "posix") == ("WIN1252", "POSIX")
    assert options(None, "C.utf8") == (None, "C.UTF-8")
    for character_set, collate, words in [("BIG5", None, "not a PostgreSQL server encoding"),
                                          (None, "en_US.UTF-8", "not a locale"),
                                          ("LATIN1", "C.UTF-8", "needs character_set UTF8")]:
        with pytest.raises(errors.BadRequest, match=re.escape(words)):
            options(character_set, collate)


def test_redis_databases_have_no_character_sets():
    assert REDIS.database_options(None, "") == (None, None)
    with pytest.raises(errors.BadRequest, match="character_set"):
        REDIS.database_options("utf8", None)
