"""Datastore version management through the real Heat engine and real Redis servers, in both
profiles: an operator's version is a record stack every API process reads; users see it in
their lists and create instances on it; disabled, it is hidden and refused to creates while
its instance keeps running; in use, it cannot be deleted. Keystone: members get 403, the
admin 200/202. No-auth has no admin: the operator writes the records with the service's own
DatastoreVersionService (what an admin's POST and PATCH run). The unmodified CLI is in
test_clients.py."""
import uuid

import pytest

from dbaas_api.heat_gateway import HeatGateway
from dbaas_api.rendering import Renderer
from dbaas_api.service.datastore_versions import DatastoreVersionService


def _new(name):
    return {"version": {"datastore_name": "redis", "name": name, "datastore_manager": "redis", "version": "7",
                        "image": "redis-guest", "active": True}}


def _records(settings):
    return DatastoreVersionService(HeatGateway(settings), Renderer(settings))


def _lifecycle(user, manage, name):
    """``manage``: (create body) -> None, (id, patch body) -> None, (id) -> None, list() -> versions."""
    create, patch, delete, listed = manage
    create(_new(name))
    made = next(v for v in listed() if v["name"] == name)
    instance_id = None
    try:
        assert (made["version"], made["active"], made["image"]) == ("7", True, "redis-guest")
        assert name in [v["name"] for v in user.get("/datastores/redis/versions").json()["versions"]]
        instance_id = user.create_instance(name=f"on-{name}", flavorRef="1", volume={"size": 1},
                                           datastore={"type": "redis", "version": name})["id"]
        shown = user.wait_status(instance_id)
        assert shown["datastore"]["version_number"] == "7"
        patch(made["id"], {"active": False})
        assert name not in [v["name"] for v in user.get("/datastores/redis/versions").json()["versions"]]
        refused = user.post("/instances", {"instance": {"name": "refused", "flavorRef": "1", "volume": {"size": 1},
                                                        "datastore": {"type": "redis", "version": name}}})
        assert refused.status_code == 400 and "is not active" in refused.json()["badRequest"]["message"]
        assert user.get(f"/instances/{instance_id}").json()["instance"]["status"] == "ACTIVE"
        with pytest.raises(AssertionError, match="in use by instance"):
            delete(made["id"])
        user.delete_and_wait(instance_id)
        instance_id = None
        delete(made["id"])
        assert name not in [v["name"] for v in listed()]
    finally:
        if instance_id:
            user.delete_and_wait(instance_id)
        for version in listed():
            if version["name"] == name:
                delete(version["id"])


def test_an_operators_version_in_the_no_auth_profile(stack):
    user = stack.client(f"dsv-{uuid.uuid4().hex[:8]}")
    service = _records(stack.settings)

    def refused_as(call):
        def run(*args):
            try:
                call(*args)
            except Exception as exc:   # errors.BadRequest: what the API answers 400 with
                raise AssertionError(str(exc)) from None
        return run

    manage = (refused_as(lambda body: service.create("operator", body)),
              refused_as(lambda version_id, body: service.update("operator", version_id, body)),
              refused_as(service.delete),
              lambda: [{"id": v.id, "name": v.name, "version": v.number, "active": v.active, "image": v.image}
                       for v in service.catalog().versions(everything=True)])
    _lifecycle(user, manage, f"7-site-{uuid.uuid4().hex[:6]}")
    # No admin in this profile: the management calls are refused to everyone.
    assert user.post("/mgmt/datastore-versions", _new("nope")).status_code == 403
    assert user.get("/mgmt/datastore-versions").status_code == 403


def test_an_operators_version_in_the_keystone_profile(keystone, keystone_stack):
    users = {name: keystone_stack.client(keystone.project_ids[keystone.account(name).project_name],
                                         keystone.token(name)) for name in ("alice", "admin")}
    alice, admin = users["alice"], users["admin"]

    def answered(response, code=202):
        assert response.status_code == code, response.text

    def delete(version_id):
        response = admin.delete(f"/mgmt/datastore-versions/{version_id}")
        assert response.status_code == 202, response.text

    manage = (lambda body: answered(admin.post("/mgmt/datastore-versions", body)),
              lambda version_id, body: answered(admin.patch(f"/mgmt/datastore-versions/{version_id}", body)),
              delete, lambda: admin.get("/mgmt/datastore-versions").json()["versions"])
    builtin = next(v for v in manage[3]() if v["datastore_name"] == "redis" and v["name"] == "7")
    for response in (alice.get("/mgmt/datastore-versions"), alice.post("/mgmt/datastore-versions", _new("x")),
                     alice.patch(f"/mgmt/datastore-versions/{builtin['id']}", {"active": False}),
                     alice.delete(f"/mgmt/datastore-versions/{builtin['id']}"),
                     alice.get(f"/mgmt/datastores/versions/{builtin['id']}/parameters")):
        assert response.status_code == 403 and list(response.json()) == ["forbidden"], response.text
    bad = admin.post("/mgmt/datastore-versions", {"version": {**_new("8-site")["version"], "version": "8"}})
    assert bad.status_code == 400 and "this service runs Redis 7" in bad.json()["badRequest"]["message"]
    _lifecycle(alice, manage, f"7-site-{uuid.uuid4().hex[:6]}")
    assert admin.get(f"/mgmt/datastore-versions/{builtin['id']}").json()["version"] == builtin
