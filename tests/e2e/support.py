"""What the e2e tests of changes need besides HTTP: when Heat has finished a change (the
API keeps an instance ACTIVE while one runs, as Trove does), logging in as a user the way a
client would, and the server's own settings. Everything here talks to the real services."""
import contextlib
import threading
import time

import psycopg2
import pymysql
import redis
import requests
from heatclient import client as heatclient
from redis.backoff import NoBackoff
from redis.retry import Retry

from dbaas_api.embedded import access_token
from dbaas_api.heat_gateway import HeatGateway

PORTS = {"postgresql": 5432, "mariadb": 3306, "redis": 6379}


def patch(client, path, body):
    return requests.patch(client.base + path, json=body, timeout=30)


def settled(stack, instance_id, timeout=120):
    """Wait until Heat has finished with the stack; its status and the seconds it took."""
    gateway = HeatGateway(stack.settings)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        found = gateway.get_stack(instance_id, resolve_outputs=False)
        if not found["stack_status"].endswith("_IN_PROGRESS"):
            assert found["stack_status"].endswith("_COMPLETE"), (found["stack_status"], found["stack_status_reason"])
            return found["stack_status"], time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"stack {instance_id} still busy after {timeout}s")


def change(client, stack, method, path, body=None, expect=202):
    """Make a change through the API, check its answer, and wait for Heat to carry it out."""
    if method == "patch":
        response = patch(client, path, body)
    elif method == "delete":
        response = client.delete(path)
    else:
        response = getattr(client, method)(path, body)
    assert response.status_code == expect, response.text
    settled(stack, path.split("/")[2])
    return response


def heat_client(stack, project=None, token=None):
    """heatclient on the embedded Heat (the service project by default) as the person who
    owns the installation: with its access token (or ``token``, a Keystone one)."""
    return heatclient.Client("1", endpoint=f"{stack.settings.heat_endpoint}/{project or stack.settings.service_project}",
                             token=token or access_token.read(stack.state_dir))


def admin_password(stack, instance_id, project=None, token=None):
    """The instance's admin password, from its stack (the test is the operator here)."""
    return heat_client(stack, project, token).resources.get(instance_id, "admin_password").attributes["value"]


@contextlib.contextmanager
def connected(datastore, host, user, password, database=None):
    """A client connection as the user; raises the driver's error when refused."""
    if datastore == "postgresql":
        connection = psycopg2.connect(host=host, port=5432, user=user, password=password,
                                      dbname=database or "postgres", connect_timeout=5)
        connection.autocommit = True
    elif datastore == "mariadb":
        connection = pymysql.connect(host=host, port=3306, user=user, password=password.encode(),
                                     database=database, connect_timeout=5, autocommit=True, charset="utf8mb4")
    else:
        connection = redis.Redis(host=host, port=6379, username=user, password=password, socket_timeout=5,
                                 decode_responses=True, retry=Retry(NoBackoff(), 0))
        connection.ping()
    try:
        yield connection
    finally:
        connection.close()


REFUSED = (psycopg2.OperationalError, psycopg2.errors.InsufficientPrivilege, pymysql.err.OperationalError,
           redis.AuthenticationError, redis.ResponseError)


def can_login(datastore, host, user, password, database=None):
    try:
        with connected(datastore, host, user, password, database):
            return True
    except REFUSED:
        return False


def write_and_read(datastore, host, user, password, database):
    """A table (or key) written and read back as the user: what "may use it" means."""
    with connected(datastore, host, user, password, database) as connection:
        if datastore == "redis":
            connection.set("k", "v")
            return connection.get("k")
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS t (v text)")
            cursor.execute("INSERT INTO t VALUES ('v')")
            cursor.execute("SELECT v FROM t LIMIT 1")
            return cursor.fetchone()[0]


def setting(datastore, host, user, password, name):
    """The value the running server reports: SHOW / @@GLOBAL / CONFIG GET."""
    with connected(datastore, host, user, password) as connection:
        if datastore == "redis":
            return connection.config_get(name)[name]
        with connection.cursor() as cursor:
            cursor.execute(f"SHOW {name}" if datastore == "postgresql" else f"SELECT @@GLOBAL.{name}")
            return str(cursor.fetchone()[0])


def race_creates(url, instances, headers=None):
    """POST each instance body to ``url``/instances at the same moment, one thread each;
    the answers as [(status code, json)]."""
    answers, barrier = [], threading.Barrier(len(instances))

    def create(instance):
        barrier.wait()
        response = requests.post(f"{url}/instances", json={"instance": instance}, headers=headers, timeout=60)
        answers.append((response.status_code, response.json()))
    threads = [threading.Thread(target=create, args=(instance,)) for instance in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def eventually(check, timeout=5.0):
    """PostgreSQL applies a reload a moment after it is asked: poll."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def as_stored(views):
    """An instance view (or a list of them) without what is read live each time it is shown
    (``service_status_updated`` is the time of the read), for comparing two reads."""
    if isinstance(views, list):
        return [as_stored(view) for view in views]
    return {key: value for key, value in views.items() if key != "service_status_updated"}
