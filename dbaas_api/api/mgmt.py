"""``/v1.0/{project_id}/mgmt``: Trove's management API for cloud administrators. Admin only
by default (policy ``dbaas:mgmt:*``); the URL's project is the admin's own."""
from flask import request
from flask_restx import Namespace, Resource, fields

from dbaas_api.api import views
from dbaas_api.api.common import authorize, page_args, services
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
