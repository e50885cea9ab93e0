"""``/v1.0/{project_id}/instances/{instance_id}/root``: the datastore's superuser.

POST enables it and answers its password, the only time it is ever shown (a password in
the body is used instead of a generated one); POST again sets a new one. GET says whether it
is enabled now; DELETE disables it. Redis has no superuser besides the service's own: 501.
"""
from flask import Response, request
from flask_restx import Namespace, Resource, fields

from dbaas_api import schemas
from dbaas_api.api.common import authorize, caller_user_id, json_body, services

ns = Namespace("root", description="The instance's root (superuser) account")

enable_request = ns.schema_model("RootEnable", schemas.ROOT_ENABLE)
root_model = ns.model("RootUser", {"name": fields.String, "password": fields.String(description="shown once")})
root_created = ns.model("RootCreated", {"user": fields.Nested(root_model)})
root_enabled = ns.model("RootEnabled", {"rootEnabled": fields.Boolean})


@ns.route("")
class Root(Resource):
    @ns.response(200, "Whether root is enabled", root_enabled)
    @ns.response(404, "No such instance in this project")
    @ns.response(501, "The datastore has no root user (Redis)")
    def get(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:root:show")
        return {"rootEnabled": services().accounts.root_enabled(project, instance_id)}

    @ns.expect(enable_request)
    @ns.response(200, "Root is being enabled; here is its password, once", root_created)
    @ns.response(409, "The instance is busy or not ACTIVE")
    @ns.response(501, "The datastore has no root user (Redis)")
    def post(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:root:create")
        body = json_body() if request.get_data() else None
        schemas.validate(schemas.ROOT_ENABLE, body)
        name, password = services().accounts.enable_root(project, instance_id, (body or {}).get("password"),
                                                         by=caller_user_id(project_id))
        return {"user": {"name": name, "password": password}}

    @ns.response(204, "Root is being disabled")
    @ns.response(404, "No such instance, or root is not enabled")
    def delete(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:root:delete")
        services().accounts.disable_root(project, instance_id)
        return Response(status=204)
