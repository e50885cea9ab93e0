"""Raw stacks: a person runs the shipped examples, and `dbaas template`'s output, with the
unmodified `openstack stack create/update/check/delete` against the embedded Heat, in their
own Heat project, and logs in as the user the stack made with the datastore's client."""
import secrets
import shlex
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from dbaas_api import cli
from tests.e2e import heat_cli
from tests.e2e.support import REFUSED, can_login, connected, write_and_read

EXAMPLES = Path(__file__).parents[2] / "templates" / "examples"
UPDATE = "--database reports --user analyst:reports"   # what the update adds


@dataclass
class Raw:
    name: str
    datastore: str
    directory: Path           # what the stack was created from
    arguments: str            # the `dbaas template` arguments that write it (for the update)
    database: str | None
    password: Path            # the file holding user app's password
    address: str = ""


def secret_file(directory, name):
    path = Path(directory) / name
    path.write_text(secrets.token_urlsafe(18))
    path.chmod(0o600)
    return path


def template(directory, arguments):
    assert cli.main(["template", *shlex.split(arguments), "--out", str(directory)]) == 0
    return Path(directory)


def stacks_of(stack, project):
    return heat_cli.openstack(stack, project, "stack", "list", "-f", "value", "-c", "Stack Name").split()


def run_all(stack, project, commands):
    """Several ``openstack`` commands at once (each CLI start costs seconds), then wait for
    Heat to finish with the stacks they name: {name: status}."""
    for process in [heat_cli.start(stack, project, *arguments) for arguments in commands.values()]:
        heat_cli.finish(process)
    return heat_cli.settle(stack, project, list(commands))


def delete_all(stack, project):
    names = stacks_of(stack, project)
    for process in [heat_cli.start(stack, project, "stack", "delete", "--yes", name) for name in names]:
        heat_cli.finish(process, check=False)
    return heat_cli.settle(stack, project, names)


def servers_of(stack, project):
    driver = stack.embedded.driver
    return [key for key in driver.keys() if (driver.owner(key) or {}).get("project") == project]


@pytest.fixture(scope="module")
def project():
    return f"alice-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def raw(stack, project, tmp_path_factory):
    """Three stacks from the shipped examples and one from fresh `dbaas template` output,
    created at once; deleted afterwards whatever happened."""
    work = tmp_path_factory.mktemp("raw")
    made = [Raw("pg", "postgresql", EXAMPLES / "postgresql", "postgresql --database orders --user app:orders",
                "orders", secret_file(work, "pg.pw")),
            Raw("maria", "mariadb", EXAMPLES / "mariadb", "mariadb --database shop --user app:shop",
                "shop", secret_file(work, "maria.pw")),
            Raw("kv", "redis", EXAMPLES / "redis", "redis --user app", None, secret_file(work, "kv.pw"))]
    fresh = "postgresql --version 15 --database ledger --user app:ledger --flavor 1"
    made.append(Raw("fresh", "postgresql", template(work / "fresh", fresh), fresh, "ledger",
                    secret_file(work, "fresh.pw")))
    try:
        created = run_all(stack, project, {r.name: heat_cli.create_args(
            r.directory, r.name, [("user_app_password", r.password)]) for r in made})
        assert set(created.values()) == {"CREATE_COMPLETE"}, created
        for r in made:
            r.address = heat_cli.outputs(stack, project, r.name)["address"]
        yield made
    finally:
        delete_all(stack, project)


def test_a_raw_stack_is_an_instance_through_the_heat_cli_alone(stack, project, raw, tmp_path):
    for r in raw:
        assert write_and_read(r.datastore, r.address, "app", r.password.read_text(), r.database) == "v", r.name

    # The service does not show them: they are in the person's project, not the service's.
    ids = {heat_cli.heat(stack, project).stacks.get(r.name).id for r in raw}
    for viewer in (project, "someone-else"):
        client = stack.client(viewer)
        listed = client.get("/instances").json()["instances"]
        assert not ids & {i["id"] for i in listed}
        assert all(client.get(f"/instances/{i}").status_code == 404 for i in ids)

    stack.down()
    stack.up()
    for r in raw:   # the same server, with its data
        assert heat_cli.outputs(stack, project, r.name)["address"] == r.address
        with connected(r.datastore, r.address, "app", r.password.read_text(), r.database) as connection:
            if r.datastore == "redis":
                assert connection.get("k") == "v"
            else:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT v FROM t")
                    assert [tuple(row) for row in cursor.fetchall()] == [("v",)], r.name

    # An update adds a database and a user and changes app's password, in place.
    updates, logins = {}, []
    for r in raw:
        directory = template(tmp_path / r.name, f"{r.arguments} {UPDATE if r.database else '--user analyst'}")
        old, r.password = r.password, secret_file(tmp_path, f"{r.name}.new.pw")
        analyst = secret_file(tmp_path, f"{r.name}.analyst.pw")
        logins.append((r, old, analyst))
        updates[r.name] = [
            "stack", "update", "--existing", "-t", directory / "template.yaml", "-e", directory / "environment.yaml",
            "-e", directory / "parameters.yaml", "--parameter-file", f"user_app_password={r.password}",
            "--parameter-file", f"user_analyst_password={analyst}", r.name]
    assert set(run_all(stack, project, updates).values()) == {"UPDATE_COMPLETE"}
    for r, old, analyst in logins:
        assert heat_cli.outputs(stack, project, r.name)["address"] == r.address, "the server was replaced"
        assert not can_login(r.datastore, r.address, "app", old.read_text(), r.database)
        assert write_and_read(r.datastore, r.address, "app", r.password.read_text(), r.database) == "v"
        assert write_and_read(r.datastore, r.address, "analyst", analyst.read_text(),
                              "reports" if r.database else None) == "v"

    checked = run_all(stack, project, {r.name: ["stack", "check", r.name] for r in raw})
    assert set(checked.values()) == {"CHECK_COMPLETE"}, checked

    assert set(delete_all(stack, project).values()) == {"GONE"}
    assert stacks_of(stack, project) == []
    assert servers_of(stack, project) == []   # processes and data directories gone
    for r in raw:
        with pytest.raises(REFUSED + (redis.ConnectionError,)):
            with connected(r.datastore, r.address, "app", r.password.read_text(), r.database):
                pass


def test_a_replica_pair_and_a_galera_cluster_from_the_shipped_examples(stack, tmp_path):
    project = f"bob-{uuid.uuid4().hex[:8]}"
    password = secret_file(tmp_path, "pair.pw")
    try:
        created = run_all(stack, project, {
            "pair": heat_cli.create_args(EXAMPLES / "postgresql-replica-pair", "pair",
                                         [("user_app_password", password)]),
            "galera": heat_cli.create_args(EXAMPLES / "mariadb-galera", "galera")})
        assert set(created.values()) == {"CREATE_COMPLETE"}, created
        pair = heat_cli.outputs(stack, project, "pair")
        assert write_and_read("postgresql", pair["primary_address"], "app", password.read_text(), "orders") == "v"
        with connected("postgresql", pair["replica_address"], "app", password.read_text(), "orders") as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_is_in_recovery()")
                assert cursor.fetchone() == (True,)
        assert len(heat_cli.outputs(stack, project, "galera")["members"]) == 3
        assert len(servers_of(stack, project)) == 5
    finally:
        delete_all(stack, project)
    assert stacks_of(stack, project) == []
    assert servers_of(stack, project) == []


def test_the_services_instances_are_not_in_the_callers_heat_project(stack):
    project = f"carol-{uuid.uuid4().hex[:8]}"
    client = stack.client(project)
    instance = client.create_instance(name="api-made", flavorRef="1", volume={"size": 1},
                                      datastore={"type": "redis", "version": "7"})
    try:
        client.wait_status(instance["id"])
        assert stacks_of(stack, project) == []
        assert heat_cli.settle(stack, project, [instance["id"]]) == {instance["id"]: "GONE"}
    finally:
        client.delete_and_wait(instance["id"])
