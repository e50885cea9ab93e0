"""``/v1.0/{project_id}/mgmt``: Trove's management API for cloud administrators. Admin only
by default (policy ``dbaas:mgmt:*``); the URL's project is the admin's own."""
from flask import Response, request
from flask_restx import Namespace, Resource, fields

from dbaas_api.api import datastores as datastores_api
from dbaas_api.api import views
from dbaas_api.api.not_built import PARAMETERS
from dbaas_api.api.common import PROJECT_ID, authorize, json_body, page_args, services
from dbaas_api import errors
from dbaas_api.api.instances import instance_model

ns = Namespace("mgmt", description="Management across projects (admin)")

mgmt_instance_model = ns.clone("MgmtInstance", instance_model, {
    "tenant_id": fields.String(description="the project that owns the instance"),
})
mgmt_instance_envelope = ns.model("MgmtInstanceEnvelope", {"instance": fields.Nested(ns.clone(
    "MgmtInstanceDetail", mgmt_instance_model, {
        "server": fields.Raw(description="always null: no Nova server"),
        "service_status": views.nullable(fields.String(description="the database's health, null when unknown")),
        "deleted": fields.Boolean, "deleted_at": views.nullable(fields.String(description="always null")),
        "task_description": fields.String}))})
mgmt_instance_page = ns.model("MgmtInstancePage", {
    "instances": fields.List(fields.Nested(mgmt_instance_model)),
    "links": views.PAGE_LINKS,
})


@ns.route("/instances")
class MgmtInstances(Resource):
    @ns.doc(params={**views.page_params("id"), "project_id": {
        "description": "only this project's instances", "type": "string", "in": "query"}})
    @ns.response(200, "A page of every project's instances, newest first", mgmt_instance_page)
    @ns.response(403, "Not an administrator")
    def get(self, project_id):
        authorize(project_id, "dbaas:mgmt:instance:list")
        limit, marker = page_args()
        page = services().management.list_instances(
            limit, marker, project_id=request.args.get("project_id") or None)
        items = [{**views.instance(owned.instance, detail=True), "tenant_id": owned.project_id}
                 for owned in page.items]
        return views.paged("instances", items, page.next_marker, limit)


# Trove's management actions; the ones that move or rebuild a server have no meaning here.
MGMT_ACTIONS = {"reboot": "restart", "reset-task-status": "reset_status"}
MGMT_NOT_BUILT = {
    "stop": "Stopping an instance's server without deleting it is not supported: it would be "
            "restarted by the next change; delete the instance, or restart it.",
    "migrate": "Migrating an instance to another host is the compute service's (Nova's) job, "
               "not this API's.",
    "rebuild": "Rebuilding an instance on another image does not apply: datastores run as "
               "their upstream container images; change the datastore version instead.",
}


@ns.route("/instances/<instance_id>")
class MgmtInstance(Resource):
    @ns.response(200, "The instance as its owner sees it, with its owner and Trove's management fields",
                 mgmt_instance_envelope)
    @ns.response(403, "Not an administrator")
    @ns.response(404, "No such instance in any project")
    def get(self, project_id, instance_id):
        authorize(project_id, "dbaas:mgmt:instance:show")
        owner = services().management.owner_of(instance_id)
        instance = services().instances.get(owner, instance_id)
        view = views.instance(instance, detail=True)
        return {"instance": {**view, "tenant_id": owner, "server": None,
                             "service_status": instance.operating_status or None,
                             "deleted": False, "deleted_at": None, "task_description": instance.status}}


@ns.route("/instances/<instance_id>/action")
class MgmtInstanceAction(Resource):
    @ns.response(202, "The action is under way")
    @ns.response(403, "Not an administrator")
    @ns.response(501, "stop, migrate and rebuild: not supported, with the reason")
    def post(self, project_id, instance_id):
        """``reboot`` (the restart action) and ``reset-task-status`` (reset_status) on any
        project's instance."""
        authorize(project_id, "dbaas:mgmt:instance:action")
        body = json_body()
        if not isinstance(body, dict) or len(body) != 1:
            raise errors.BadRequest("The body must name exactly one action: one of "
                                    f"{', '.join(sorted({*MGMT_ACTIONS, *MGMT_NOT_BUILT}))}.")
        (name, _arguments), = body.items()
        if name in MGMT_NOT_BUILT:
            raise errors.NotImplementedYet(MGMT_NOT_BUILT[name])
        if name not in MGMT_ACTIONS:
            raise errors.BadRequest(f"Unknown action '{name}': one of "
                                    f"{', '.join(sorted({*MGMT_ACTIONS, *MGMT_NOT_BUILT}))}.")
        owner = services().management.owner_of(instance_id)
        services().actions.run(owner, instance_id, {MGMT_ACTIONS[name]: {}})
        return Response(status=202)


root_history_model = ns.model("RootHistory", {"root_history": fields.Nested(ns.model("RootHistoryEntry", {
    "id": fields.String(description="the instance"),
    "enabled": fields.String(description="when root was first enabled (UTC); Never; Unknown for an "
                                         "instance whose root was enabled before the service kept it"),
    "user": fields.String(description="the user id that enabled it; Nobody")}))})


@ns.route("/instances/<instance_id>/root")
class MgmtInstanceRoot(Resource):
    @ns.response(200, "When root was first enabled, and by whom (Trove's RootHistoryView)", root_history_model)
    @ns.response(403, "Not an administrator")
    @ns.response(404, "No such instance in any project")
    @ns.response(501, "The datastore has no root user (Redis)")
    def get(self, project_id, instance_id):
        authorize(project_id, "dbaas:mgmt:instance:root")
        root = services().accounts.root_history(services().management.owner_of(instance_id), instance_id)
        enabled = "Never" if root is None else root.enabled_at or "Unknown"
        return {"root_history": {"id": instance_id, "enabled": enabled,
                                 "user": (root.enabled_by if root else "") or "Nobody"}}


quota_usage_model = ns.model("QuotaUsage", {
    "resource": fields.String(example="instances"), "in_use": fields.Integer,
    "reserved": fields.Integer(description="claimed by requests under way"),
    "limit": fields.Integer(description="-1: unlimited"),
})
quota_show_model = ns.model("QuotaShow", {"quotas": fields.List(fields.Nested(quota_usage_model))})
quota_update_model = ns.model("QuotaUpdate", {"quotas": fields.Raw(example={"instances": 5})})


mgmt_version_model = ns.model("MgmtDatastoreVersion", {
    "id": fields.String, "name": fields.String,
    "version": fields.String(description="the version number it runs (one the datastore's module knows)"),
    "datastore_id": fields.String, "datastore_name": fields.String, "datastore_manager": fields.String,
    "active": fields.Boolean(description="false: hidden from users' lists and refused to creates"),
    "default": fields.Boolean, "image": views.nullable(fields.String(description="the image reference given")),
    "image_tags": fields.List(fields.String), "packages": fields.List(fields.String),
    "registry_ext": views.nullable(fields.String()), "repl_strategy": views.nullable(fields.String())})
version_create_model = ns.model("MgmtDatastoreVersionCreate", {"version": fields.Nested(ns.model(
    "MgmtDatastoreVersionNew", {
        "datastore_name": fields.String(required=True, example="mariadb"),
        "name": fields.String(required=True, example="10.11-site"),
        "datastore_manager": fields.String(required=True, example="mariadb"),
        "version": fields.String(description="the number it runs; default: the name", example="10.11"),
        "image": fields.String, "image_tags": fields.List(fields.String), "packages": fields.List(fields.String),
        "active": fields.Boolean(required=True), "default": fields.Boolean}))})
version_patch_model = ns.model("MgmtDatastoreVersionPatch", {
    "name": fields.String, "datastore_manager": fields.String, "image": fields.String,
    "image_tags": fields.List(fields.String), "packages": fields.List(fields.String),
    "active": fields.Boolean, "default": fields.Boolean})


@ns.route("/datastore-versions")
class MgmtDatastoreVersions(Resource):
    @ns.response(200, "Every datastore version, inactive ones too", ns.model("MgmtDatastoreVersions", {
        "versions": fields.List(fields.Nested(mgmt_version_model))}))
    @ns.response(403, "Not an administrator")
    def get(self, project_id):
        authorize(project_id, "dbaas:mgmt:datastore_version:list")
        known = services().versions.catalog()
        return {"versions": [views.mgmt_datastore_version(version) for version in known.versions(everything=True)]}

    @ns.expect(version_create_model)
    @ns.response(202, "Created (as Trove: no body)")
    @ns.response(400, "Not a datastore, a number or a name this service can take")
    @ns.response(403, "Not an administrator")
    def post(self, project_id):
        """Trove's ``datastore version create``: a name, image and flags for a version number
        the service runs (service/datastore_versions.py)."""
        authorize(project_id, "dbaas:mgmt:datastore_version:create")
        services().versions.create(project_id, json_body())
        return Response(status=202)


@ns.route("/datastore-versions/<version_id>")
class MgmtDatastoreVersion(Resource):
    @ns.response(200, "One datastore version", ns.model("MgmtDatastoreVersionEnvelope", {
        "version": fields.Nested(mgmt_version_model)}))
    @ns.response(404, "No such datastore version")
    def get(self, project_id, version_id):
        authorize(project_id, "dbaas:mgmt:datastore_version:show")
        return {"version": views.mgmt_datastore_version(services().versions.catalog().by_id(version_id))}

    @ns.expect(version_patch_model)
    @ns.response(202, "Changed")
    @ns.response(400, "A value the version cannot take")
    @ns.response(404, "No such datastore version")
    def patch(self, project_id, version_id):
        """Trove's ``datastore version set``: built-in versions too."""
        authorize(project_id, "dbaas:mgmt:datastore_version:update")
        services().versions.update(project_id, version_id, json_body())
        return Response(status=202)

    @ns.response(202, "Deleted")
    @ns.response(400, "A built-in version, or one instances use")
    @ns.response(404, "No such datastore version")
    def delete(self, project_id, version_id):
        authorize(project_id, "dbaas:mgmt:datastore_version:delete")
        services().versions.delete(version_id)
        return Response(status=202)


@ns.route("/datastores/versions/<version_id>/parameters")
class MgmtParameters(Resource):
    @ns.response(200, "The version's configuration parameters", datastores_api.parameter_list_model)
    @ns.response(404, "No such datastore version")
    def get(self, project_id, version_id):
        authorize(project_id, "dbaas:mgmt:datastore_version:parameter:list")
        return datastores_api.parameters(services().versions.catalog().by_id(version_id))

    @ns.response(501, PARAMETERS)
    def post(self, project_id, version_id):
        authorize(project_id, "dbaas:mgmt:datastore_version:parameter:change")
        raise errors.NotImplementedYet(PARAMETERS)


@ns.route("/datastores/versions/<version_id>/parameters/<name>")
class MgmtParameter(Resource):
    @ns.response(200, "One parameter", datastores_api.parameter_model)
    @ns.response(404, "No such datastore version or parameter")
    def get(self, project_id, version_id, name):
        authorize(project_id, "dbaas:mgmt:datastore_version:parameter:list")
        return datastores_api.parameter(services().versions.catalog().by_id(version_id), name)

    @ns.response(501, PARAMETERS)
    def put(self, project_id, version_id, name):
        authorize(project_id, "dbaas:mgmt:datastore_version:parameter:change")
        raise errors.NotImplementedYet(PARAMETERS)

    @ns.response(501, PARAMETERS)
    def delete(self, project_id, version_id, name):
        authorize(project_id, "dbaas:mgmt:datastore_version:parameter:change")
        raise errors.NotImplementedYet(PARAMETERS)


@ns.route("/quotas/<target_project>")
class Quotas(Resource):
    @ns.response(200, "Usage and limits of the project", quota_show_model)
    @ns.response(403, "Not an administrator")
    def get(self, project_id, target_project):
        authorize(project_id, "dbaas:mgmt:quota:show")
        rows = services().quotas.show(_project(target_project))
        return {"quotas": [{"resource": row.resource, "in_use": row.in_use, "reserved": row.reserved,
                            "limit": row.limit} for row in rows]}

    @ns.expect(quota_update_model)
    @ns.response(200, "The limits set", quota_update_model)
    @ns.response(403, "Not an administrator")
    def put(self, project_id, target_project):
        authorize(project_id, "dbaas:mgmt:quota:update")
        body = json_body()
        if not isinstance(body, dict) or "quotas" not in body:
            raise errors.BadRequest("The body must be {\"quotas\": {resource: limit}}.")
        return {"quotas": services().quotas.update(_project(target_project), body["quotas"])}


def _project(target_project):
    if not PROJECT_ID.match(target_project):
        raise errors.BadRequest("The project id must be 1 to 64 letters, digits, '_' or '-'.")
    return target_project
