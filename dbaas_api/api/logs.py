"""``/v1.0/{project_id}/instances/{instance_id}/log``: the instance's logs, as Trove's
``openstack database log list/show/enable/disable/publish/save`` call them (service/logs.py)."""
from flask_restx import Namespace, Resource, fields

from dbaas_api import schemas
from dbaas_api.api.common import authorize, json_body, object_store, services

ns = Namespace("instance-logs", description="The instance's logs: list, show, enable, disable, publish, discard")

action_request = ns.schema_model("LogAction", schemas.LOG_ACTION)
log_model = ns.model("Log", {
    "name": fields.String, "type": fields.String(description="SYS: always on; USER: off until enabled"),
    "status": fields.String(description="Unavailable, Disabled, Enabled, Restart Required, Ready, Partial, "
                                        "Published or Rotated"),
    "published": fields.Integer(description="bytes in the container"),
    "pending": fields.Integer(description="bytes not published yet"),
    "container": fields.String, "prefix": fields.String, "metafile": fields.String})
log_list = ns.model("LogList", {"logs": fields.List(fields.Nested(log_model))})
log_answer = ns.model("LogAnswer", {"log": fields.Nested(log_model)})


@ns.route("")
class Logs(Resource):
    @ns.response(200, "The logs the datastore has", log_list)
    @ns.response(404, "No such instance in this project")
    def get(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:instance:log:list")
        return {"logs": services().logs.list(project, instance_id, object_store())}

    @ns.expect(action_request)
    @ns.response(200, "The log after the action (none: show)", log_answer)
    @ns.response(400, "Enabling or disabling a SYS log, or both at once")
    @ns.response(404, "No such instance, or no such log")
    @ns.response(409, "The log file is not reachable (another driver, or no server yet), or the "
                      "instance is busy with another change")
    def post(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:instance:log:action")
        body = json_body()
        schemas.validate(schemas.LOG_ACTION, body)
        return {"log": services().logs.action(project, instance_id, body, object_store())}
