"""``/v1.0/{project_id}/limits``: the project's absolute limits in Trove's shape
(``openstack database limit list``). No rate limits are enforced here, so the list holds the
ABSOLUTE entry alone (Trove adds one entry per rate limit of its ratelimit middleware)."""
from flask_restx import Namespace, Resource, fields

from dbaas_api.api.common import authorize, services

ns = Namespace("limits", description="The project's limits")

absolute_model = ns.model("AbsoluteLimits", {
    "verb": fields.String(example="ABSOLUTE"),
    "max_instances": fields.Integer(description="-1: unlimited"),
    "max_volumes": fields.Integer(description="GB in all volumes"),
    "max_backups": fields.Integer, "max_ram": fields.Integer(description="MB"),
})
limits_model = ns.model("Limits", {"limits": fields.List(fields.Nested(absolute_model))})


@ns.route("")
class Limits(Resource):
    @ns.response(200, "The absolute limits", limits_model)
    def get(self, project_id):
        project_id = authorize(project_id, "dbaas:limits:list")
        limits = services().quotas.limits(project_id)
        return {"limits": [{"verb": "ABSOLUTE", **{f"max_{name}": value for name, value in limits.items()}}]}
