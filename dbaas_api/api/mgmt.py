"""``/v1.0/{project_id}/mgmt``: Trove's management API for cloud administrators. Admin only
by default (policy ``dbaas:mgmt:*``); the URL's project is the admin's own."""
from flask import request
from flask_restx import Namespace, Resource, fields

from dbaas_api.api import views
from dbaas_api.api.common import PROJECT_ID, authorize, json_body, page_args, services
from dbaas_api import errors
from dbaas_api.api.instances import instance_model, page_params

ns = Namespace("mgmt", description="Management across projects (admin)")

mgmt_instance_model = ns.clone("MgmtInstance", instance_model, {
    "tenant_id": fields.String(description="the project that owns the instance"),
})
mgmt_instance_page = ns.model("MgmtInstancePage", {
    "instances": fields.List(fields.Nested(mgmt_instance_model)),
    "links": fields.List(fields.Nested(views.LINK), description="rel=next when a further page exists"),
})


@ns.route("/instances")
class MgmtInstances(Resource):
    @ns.doc(params={**page_params, "project_id": {
        "description": "only this project's instances", "type": "string", "in": "query"}})
    @ns.response(200, "A page of every project's instances, newest first", mgmt_instance_page)
    @ns.response(403, "Not an administrator")
    def get(self, project_id):
        authorize(project_id, "dbaas:mgmt:instance:list")
        limit, marker = page_args()
        page, next_marker = services().management.list_instances(
            limit, marker, project_id=request.args.get("project_id") or None)
        items = [{**views.instance(owned.instance, detail=True), "tenant_id": owned.project_id}
                 for owned in page]
        return views.paged("instances", items, next_marker, limit)


quota_usage_model = ns.model("QuotaUsage", {
    "resource": fields.String(example="instances"), "in_use": fields.Integer,
    "reserved": fields.Integer(description="claimed by requests under way"),
    "limit": fields.Integer(description="-1: unlimited"),
})
quota_show_model = ns.model("QuotaShow", {"quotas": fields.List(fields.Nested(quota_usage_model))})
quota_update_model = ns.model("QuotaUpdate", {"quotas": fields.Raw(example={"instances": 5})})


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
