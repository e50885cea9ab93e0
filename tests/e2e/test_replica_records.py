"""What a replication set records, end to end (real Heat, real PostgreSQL and MariaDB): a
replica lists its source's databases and users (its server has them, replicated), and a
promoted replica takes them over as its own record, which later changes then act on.
Growing a source's volume grows its smaller replicas with it, as in Trove."""
import pytest

from tests.e2e.support import can_login, settled
from tests.e2e.test_replication import action, project, wait_settled  # noqa: F401 (project: a fixture)

PW, NEW_PW = "s3cret-Pw!", "N3w-secret-Pw"
SQL = [("postgresql", "15"), ("mariadb", "10.11")]


def record(client, instance_id):
    """(databases, {user: its databases}) as the API lists them for the instance."""
    base = f"/instances/{instance_id}"
    databases = [d["name"] for d in client.get(f"{base}/databases").json()["databases"]]
    users = {u["name"]: [d["name"] for d in u["databases"]] for u in client.get(f"{base}/users").json()["users"]}
    return databases, users


@pytest.mark.parametrize("datastore,version", SQL)
def test_a_replica_lists_its_sources_record_and_a_promoted_one_takes_it_over(stack, project, datastore, version):
    client, made = project
    primary = client.create_instance(
        name="primary", flavorRef="1", volume={"size": 1}, datastore={"type": datastore, "version": version},
        databases=[{"name": "appdb"}], users=[{"name": "app", "password": PW, "databases": [{"name": "appdb"}]}])
    made.append(primary["id"])
    client.wait_status(primary["id"])
    replica = client.create_instance(name="replica", replica_of=primary["id"])
    made.append(replica["id"])
    replica_host = wait_settled(stack, client, replica["id"])[0]["ip"][0]
    expected = (["appdb"], {"app": ["appdb"]})
    assert record(client, replica["id"]) == expected
    assert client.get(f"/instances/{replica['id']}/users/app").json()["user"]["databases"] == [{"name": "appdb"}]

    # A change on the source shows on its replica at once: the same record.
    for path, body in [("/databases", {"databases": [{"name": "later"}]}),
                       ("/users", {"users": [{"name": "late", "password": PW, "databases": [{"name": "later"}]}]})]:
        assert client.post(f"/instances/{primary['id']}{path}", body).status_code == 202
        settled(stack, primary["id"])
    expected = (["appdb", "later"], {"app": ["appdb"], "late": ["later"]})
    assert record(client, replica["id"]) == record(client, primary["id"]) == expected

    # Promoted, the replica has the record as its own; the old primary, now its replica, shows it.
    assert action(client, replica["id"], "promote_to_replica_source").status_code == 202
    wait_settled(stack, client, replica["id"], primary["id"])
    assert record(client, replica["id"]) == record(client, primary["id"]) == expected
    assert can_login(datastore, replica_host, "app", PW, "appdb")          # the server's password kept
    # ... and changes of the new primary act on it: a new password, a revoke, a user dropped.
    base = f"/instances/{replica['id']}"
    for method, path, body in [("put", "/users/app", {"user": {"password": NEW_PW}}),
                               ("delete", "/users/late/databases/later", None), ("delete", "/users/late", None)]:
        response = client.put(base + path, body) if method == "put" else client.delete(base + path)
        assert response.status_code == 202, response.text
        settled(stack, replica["id"])
    assert can_login(datastore, replica_host, "app", NEW_PW, "appdb") and not can_login(
        datastore, replica_host, "app", PW, "appdb")
    assert not can_login(datastore, replica_host, "late", PW)
    assert record(client, primary["id"]) == (["appdb", "later"], {"app": ["appdb"]})


def test_growing_a_sources_volume_grows_its_smaller_replicas(stack, project):
    client, made = project
    primary = client.create_instance(name="primary", flavorRef="1", volume={"size": 1},
                                     datastore={"type": "postgresql", "version": "15"})
    made.append(primary["id"])
    client.wait_status(primary["id"])
    small = client.create_instance(name="small", replica_of=primary["id"])
    made.append(small["id"])
    big = client.create_instance(name="big", replica_of=primary["id"], volume={"size": 3})
    made.append(big["id"])
    wait_settled(stack, client, small["id"], big["id"])

    response = client.post(f"/instances/{primary['id']}/action", {"resize": {"volume": {"size": 2}}})
    assert response.status_code == 202, response.text
    assert client.get(f"/instances/{small['id']}").json()["instance"]["status"] == "RESIZE"   # under way already
    shown = {i["id"]: i for i in wait_settled(stack, client, primary["id"], small["id"], big["id"])}
    assert {name: shown[i["id"]]["volume"]["size"] for name, i in
            (("primary", primary), ("small", small), ("big", big))} == {"primary": 2, "small": 2, "big": 3}
    assert all(i["status"] == "ACTIVE" for i in shown.values())
