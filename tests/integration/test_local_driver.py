"""The local driver with real PostgreSQL, MariaDB and Redis processes.

Each test makes its own state dir (see conftest.py) and leaves no process or file behind.
Clients connect the way a user would: psycopg2 / PyMySQL / redis-py to (address, standard port).
"""
import os
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

import psycopg2
import pymysql
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dbaas_api import datastores, errors
from dbaas_api.datastores.redis import Redis
from dbaas_api.drivers.local import LocalDriver, ServerSpec, processes
from dbaas_api.model import UserSpec
from tests.integration.conftest import new_state_dir, wipe

PG = datastores.get("postgresql")
MARIADB = datastores.get("mariadb")
REDIS = datastores.get("redis")
TINY = datastores.find_flavor("db.tiny")
LARGE = datastores.find_flavor("db.large")
# Quotes, a backslash and a non-ASCII letter: quoting has to be right all the way down.
ADMIN_PASSWORD = "adm'in \"pw\" \\ ü"
USER_PASSWORD = "us'er pw ü"

SERVERS = (PG.bin_dir.format(version="15"), MARIADB.server_bin, REDIS.server_bin)
pytestmark = pytest.mark.skipif(not all(map(os.path.exists, SERVERS)),
                                reason="needs PostgreSQL 15, MariaDB and Redis installed")


def create(driver, ds, key=None, flavor=TINY):
    return driver.create(key or f"it-{ds.name}", ServerSpec(ds, ds.default_version, flavor, ADMIN_PASSWORD,
                                                            owner={"stack_id": f"stack-{ds.name}"}))


def pg(instance, user, password, dbname):
    connection = psycopg2.connect(host=instance.address, port=instance.port, user=user, password=password,
                                  dbname=dbname, connect_timeout=5)
    connection.autocommit = True
    return connection


def maria(instance, user, password, database=None):
    return pymysql.connect(host=instance.address, port=instance.port, user=user,
                           password=password.encode(), database=database, autocommit=True,
                           connect_timeout=5, charset="utf8mb4")


def rds(instance, user=None, password=None):
    # No retries: redis-py would retry a refused login for seconds with backoff.
    return redis.Redis(host=instance.address, port=instance.port, username=user, password=password,
                       socket_connect_timeout=5, decode_responses=True, retry=Retry(NoBackoff(), 0))


def query(connection, statement, *params):
    with connection.cursor() as cursor:
        cursor.execute(statement, params or None)
        return cursor.fetchall() if cursor.description else None


def processes_naming(path):
    """Pids of every process whose argv mentions path (what a leak would look like)."""
    found = []
    for pid in processes.all_pids():
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if str(path) in argv:
            found.append(pid)
    return found


def assert_destroyed(driver, instance):
    home = Path(instance.datadir).parent
    driver.destroy(instance.key)
    assert not home.exists()
    assert not Path(f"/proc/{instance.pid}").exists() or not processes.alive(instance.pid)
    assert processes_naming(home) == []
    assert driver.get(instance.key) is None and instance.key not in driver.keys()
    driver.destroy(instance.key)  # already gone: fine


def assert_no_plain_password(instance):
    """Not in any file of the instance (data dir included), nor in the server's argv."""
    home = Path(instance.datadir).parent
    secret = ADMIN_PASSWORD.encode()
    for path in home.rglob("*"):
        if path.is_file() and not path.is_socket():
            assert secret not in path.read_bytes(), path
    assert secret not in Path(f"/proc/{instance.pid}/cmdline").read_bytes()


def assert_instance_layout(driver, instance, ds):
    home = Path(instance.datadir).parent
    assert home == driver.state_dir / "instances" / instance.key
    assert {"owner.json", "instance.json", "pid", "data", "server.log"} <= {p.name for p in home.iterdir()}
    assert instance.address.startswith("127.0.") and not instance.address.startswith("127.0.0.")
    assert instance.port == ds.port and instance.flavor == TINY
    assert instance.owner == {"stack_id": f"stack-{ds.name}"}
    data = os.stat(instance.datadir)
    assert data.st_mode & 0o777 == 0o700
    if ds.system_user and os.geteuid() == 0:
        import pwd
        assert data.st_uid == pwd.getpwnam(ds.system_user).pw_uid
        assert data.st_uid == os.stat(f"/proc/{instance.pid}").st_uid  # the server runs as that user
    assert driver.is_running(instance.key)
    assert [i.key for i in driver.list()] == [instance.key]


# ---- one full life per datastore ----------------------------------------------------------

def test_postgresql_lifecycle(driver):
    instance = create(driver, PG)
    assert_instance_layout(driver, instance, PG)
    assert_no_plain_password(instance)
    with PG.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        assert admin.ping()
        admin.create_database("shop")
        admin.create_database("other")
        admin.create_user(UserSpec("app", USER_PASSWORD, ("shop",)))
        assert admin.list_databases() == ["other", "shop"]
        assert admin.list_users() == [{"name": "app", "host": "%", "databases": ["shop"]}]
        with pytest.raises(errors.Conflict):
            admin.create_database("shop")

    with pg(instance, "app", USER_PASSWORD, "shop") as connection:
        query(connection, "CREATE TABLE orders (id int, item text)")   # CREATE on schema public
        query(connection, "INSERT INTO orders VALUES (1, 'tea')")
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        pg(instance, "app", USER_PASSWORD, "other")
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        pg(instance, "app", "wrong", "shop")

    driver.stop(instance.key)
    assert not driver.is_running(instance.key)
    with pytest.raises(psycopg2.OperationalError):
        pg(instance, "app", USER_PASSWORD, "shop")
    restarted = driver.start(instance.key)
    assert driver.start(instance.key) == restarted  # idempotent
    assert restarted.pid != instance.pid and restarted.address == instance.address
    with pg(restarted, "app", USER_PASSWORD, "shop") as connection:
        assert query(connection, "SELECT id, item FROM orders") == [(1, "tea")]

    with PG.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        admin.revoke("app", "shop")
        assert admin.list_user_databases("app") == []
    with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
        pg(restarted, "app", USER_PASSWORD, "shop")
    assert_destroyed(driver, restarted)


def test_mariadb_lifecycle(driver):
    instance = create(driver, MARIADB)
    assert_instance_layout(driver, instance, MARIADB)
    assert_no_plain_password(instance)
    with MARIADB.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        admin.create_database("shop")
        admin.create_database("other")
        admin.create_user(UserSpec("app", USER_PASSWORD, ("shop",)))
        assert admin.list_databases() == ["other", "shop"]
        assert admin.list_users() == [{"name": "app", "host": "%", "databases": ["shop"]}]
        with pytest.raises(errors.Conflict):
            admin.create_user(UserSpec("app", "x"))

    with maria(instance, "app", USER_PASSWORD, "shop") as connection:
        query(connection, "CREATE TABLE orders (id int, item text)")
        query(connection, "INSERT INTO orders VALUES (1, 'tea')")
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        maria(instance, "app", USER_PASSWORD, "other")

    driver.stop(instance.key)
    assert not driver.is_running(instance.key)
    restarted = driver.start(instance.key)
    with maria(restarted, "app", USER_PASSWORD, "shop") as connection:
        assert query(connection, "SELECT id, item FROM orders") == ((1, "tea"),)

    with MARIADB.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        admin.revoke("app", "shop")
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        maria(restarted, "app", USER_PASSWORD, "shop")
    assert_destroyed(driver, restarted)


def test_redis_lifecycle(driver):
    instance = create(driver, REDIS)
    assert_instance_layout(driver, instance, REDIS)
    assert_no_plain_password(instance)
    with REDIS.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        admin.create_user(UserSpec("app", USER_PASSWORD))
        assert admin.list_users() == [{"name": "app", "host": "%", "databases": []}]
        with pytest.raises(errors.NotImplementedYet, match="no databases"):
            admin.create_database("shop")
        with pytest.raises(errors.NotImplementedYet):
            admin.grant("app", "shop")

    client = rds(instance, "app", USER_PASSWORD)
    client.set("order:1", "tea")
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.flushall()                       # @dangerous stays the admin's
    client.close()
    with pytest.raises(redis.exceptions.AuthenticationError):
        rds(instance, "app", "wrong").ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        rds(instance).get("order:1")   # no password, no data

    driver.stop(instance.key)
    restarted = driver.start(instance.key)
    client = rds(restarted, "app", USER_PASSWORD)          # the ACL user survived the restart
    assert client.get("order:1") == "tea"                  # and so did the data (appendonly)
    client.close()
    with REDIS.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        admin.set_password("app", "new pw")
        assert rds(restarted, "app", "new pw").ping()
        admin.drop_user("app")
        with pytest.raises(errors.NotFound):
            admin.drop_user("app")
    with pytest.raises(redis.exceptions.AuthenticationError):
        rds(restarted, "app", "new pw").ping()
    assert_destroyed(driver, restarted)


# ---- names and accounts -------------------------------------------------------------------

ODD = ["it's", 'dq"x', "we`ird", "sp ace", "ünï 数据", "a%b_c", "back\\slash", "x;DROP"]


def test_postgresql_stores_odd_names_as_given(driver):
    instance = create(driver, PG)
    with PG.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        for name in ODD:
            admin.create_database(name)
        admin.create_user(UserSpec("o'neil \"x\"", USER_PASSWORD, tuple(ODD)))
        assert admin.list_databases() == sorted(ODD, key=lambda n: n.encode())
        assert sorted(admin.list_user_databases("o'neil \"x\"")) == sorted(ODD)
        with pytest.raises(errors.BadRequest, match="reserved"):
            admin.create_database("postgres")
        with pytest.raises(errors.NotFound):
            admin.grant("nobody", "it's")
        with pytest.raises(errors.NotFound):
            admin.grant("o'neil \"x\"", "nothing")
    with pg(instance, "o'neil \"x\"", USER_PASSWORD, "ünï 数据") as connection:
        query(connection, "CREATE TABLE t (x int)")
    with PG.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        admin.drop_user("o'neil \"x\"")   # owns a table: handed to the admin, then dropped
        admin.drop_database("x;DROP")
        assert admin.list_users() == []
        assert "x;DROP" not in admin.list_databases()


def test_mariadb_stores_odd_names_and_grants_are_not_wildcards(driver):
    instance = create(driver, MARIADB)
    with MARIADB.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        for name in ODD + ["my_db", "myXdb"]:
            admin.create_database(name)
        admin.create_user(UserSpec("o'neil", USER_PASSWORD, ("my_db", "a%b_c", "back\\slash")))
        assert admin.list_user_databases("o'neil") == sorted(["my_db", "a%b_c", "back\\slash"])
        with pytest.raises(errors.BadRequest, match="file name"):
            admin.create_database("/" * 64)   # 64 characters, but '@002f' x 64 on disk
    with maria(instance, "o'neil", USER_PASSWORD, "my_db") as connection:
        assert query(connection, "SELECT DATABASE()") == (("my_db",),)
    with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
        maria(instance, "o'neil", USER_PASSWORD, "myXdb")   # `my_db` is not the pattern my_db
    with MARIADB.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        admin.drop_database("my_db")
        admin.create_database("my_db")
        assert admin.list_user_databases("o'neil") == sorted(["a%b_c", "back\\slash"])  # no stale grant
        admin.set_password("o'neil", "new pw")
    assert maria(instance, "o'neil", "new pw").open


def test_mariadb_has_no_account_without_a_password(driver):
    instance = create(driver, MARIADB)
    with maria(instance, "os_admin", ADMIN_PASSWORD) as connection:
        rows = query(connection, "SELECT User, Host, JSON_VALUE(Priv, '$.account_locked') "
                                 "FROM mysql.global_priv ORDER BY User")
    assert [row[:2] for row in rows] == [("mariadb.sys", "localhost"), ("os_admin", "%")]
    assert rows[0][2] in ("1", "true")   # mariadb.sys is locked
    for user in ("root", "mysql", ""):
        with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
            maria(instance, user, "")


# ---- the driver ---------------------------------------------------------------------------

def test_parallel_creates_get_different_addresses(driver):
    made, failures = [], []

    def make(key):
        try:
            made.append(create(driver, PG, key=key))
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
    threads = [threading.Thread(target=make, args=(f"par-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len({instance.address for instance in made}) == 2
    for instance in made:
        with PG.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
            assert admin.ping()


def test_each_datastore_gets_its_own_address_in_one_state_dir(driver):
    addresses = {create(driver, ds).address for ds in (REDIS, PG)}
    assert len(addresses) == 2


def squat(address, port):
    """Listen on address:port; None when another process (another state dir's server, a
    parallel test run) got there first, which takes the address just the same."""
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no owner
    try:
        squatter.bind((address, port))
        squatter.listen()
        return squatter
    except OSError:
        squatter.close()
        return None


def test_an_address_in_use_elsewhere_is_skipped(driver):
    taken = driver._free_address(REDIS.port)
    squatter = squat(taken, REDIS.port)
    try:
        instance = create(driver, REDIS)
        assert instance.address != taken
    finally:
        if squatter:
            squatter.close()


class SquattedRedis(Redis):
    """Redis whose address gets taken (as by another state dir's server) while it initialises."""
    squatter = taken = None

    def initialise(self, paths, version, admin_password, runner):
        super().initialise(paths, version, admin_password, runner)
        self.taken = LocalDriver._record(paths.home)["address"]
        self.squatter = squat(self.taken, self.port)


def test_an_address_taken_during_create_is_replaced(driver):
    ds = SquattedRedis()
    try:
        instance = create(driver, ds)
        assert instance.address != ds.taken
        with REDIS.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
            assert admin.ping()
    finally:
        if ds.squatter:
            ds.squatter.close()


def test_resize_rewrites_settings_and_keeps_data(driver):
    instance = create(driver, PG)
    with PG.admin_session(instance.address, instance.port, ADMIN_PASSWORD) as admin:
        admin.create_database("kept")
    resized = driver.resize(instance.key, LARGE, ADMIN_PASSWORD)
    assert resized.flavor == LARGE and resized.address == instance.address and resized.pid != instance.pid
    with pg(resized, "os_admin", ADMIN_PASSWORD, "kept") as connection:
        assert query(connection, "SHOW shared_buffers") == [("512MB",)]
        assert query(connection, "SHOW max_connections") == [("400",)]

    other = create(driver, REDIS)
    driver.stop(other.key)
    resized = driver.resize(other.key, LARGE)   # stopped: rewritten, not started
    assert resized.pid is None and resized.flavor == LARGE
    started = driver.start(other.key, ADMIN_PASSWORD)
    assert rds(started, password=ADMIN_PASSWORD).config_get("maxmemory") == {"maxmemory": str(1536 << 20)}


class NeverReadyRedis(Redis):
    def probe(self, address, port, password=None):
        return False


def test_a_failed_create_leaves_no_process_no_directory_and_no_password(driver):
    driver.START_TIMEOUT = 1.0
    with pytest.raises(errors.DBaaSError) as excinfo:
        create(driver, NeverReadyRedis(), key="doomed")
    assert "did not answer" in excinfo.value.message
    assert ADMIN_PASSWORD not in excinfo.value.message
    assert not (driver.instances_dir / "doomed").exists()
    assert processes_naming(driver.instances_dir / "doomed") == []


def test_create_of_an_existing_key_is_a_conflict_and_harms_nothing(driver):
    instance = create(driver, REDIS)
    with pytest.raises(errors.Conflict):
        create(driver, REDIS)
    assert driver.is_running(instance.key)


def test_a_reused_pid_is_never_signalled(driver):
    instance = create(driver, REDIS)
    driver.stop(instance.key)
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (Path(instance.datadir).parent / "pid").write_text(f"{stranger.pid}\n")
        assert not driver.is_running(instance.key)
        driver.stop(instance.key)
        assert stranger.poll() is None
        started = driver.start(instance.key)
        assert started.pid not in (None, stranger.pid)
        driver.destroy(instance.key)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_a_server_whose_pid_file_was_lost_is_found_not_doubled(driver):
    instance = create(driver, REDIS)
    (Path(instance.datadir).parent / "pid").unlink()
    assert driver.start(instance.key).pid == instance.pid
    (Path(instance.datadir).parent / "pid").unlink()
    assert_destroyed(driver, instance)   # destroy finds it through /proc


def test_a_server_that_ignores_its_stop_signal_is_killed(driver):
    instance = create(driver, PG)
    os.kill(instance.pid, signal.SIGSTOP)   # a stopped process cannot act on SIGINT
    try:
        driver.stop(instance.key, timeout=0.5)
        assert not driver.is_running(instance.key)
        assert processes_naming(Path(instance.datadir).parent) == []
    finally:
        if processes.alive(instance.pid):
            os.kill(instance.pid, signal.SIGKILL)
    assert driver.start(instance.key, ADMIN_PASSWORD).pid   # data survived the SIGKILL


@pytest.mark.skipif(os.geteuid() != 0, reason="the datastore users only exist as others when root")
def test_a_state_dir_the_datastore_user_cannot_traverse_is_refused():
    parent = new_state_dir()
    try:
        os.chmod(parent, 0o700)
        driver = LocalDriver(parent / "state")
        with pytest.raises(errors.DBaaSError, match=f"{parent} is not searchable by the 'postgres' user"):
            create(driver, PG)
        assert not (parent / "state" / "instances" / "it-postgresql").exists()
    finally:
        wipe(parent)


def test_instances_outlive_the_driver_object_and_are_listed_from_disk(driver):
    instance = create(driver, REDIS)
    again = LocalDriver(driver.state_dir)
    assert again.list() == [instance]
    assert again.is_running(instance.key)
    again.stop(instance.key)
    assert not driver.is_running(instance.key)
    shutil.rmtree(Path(instance.datadir).parent / "data")   # a broken instance still goes away
    again.destroy(instance.key)
    assert again.list() == []
