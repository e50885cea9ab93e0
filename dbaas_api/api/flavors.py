"""``/v1.0/{project_id}/flavors``: instance sizes. An unknown flavor is 404: the OSC client
resolves ``--flavor X`` with ``GET /flavors/X`` and falls back to listing only on 404."""
from flask_restx import Namespace, Resource, fields

from dbaas_api import datastores as registry
from dbaas_api.api import views
from dbaas_api.api.common import authorize

ns = Namespace("flavors", description="Instance sizes")

flavor_model = ns.model("Flavor", {
    "id": fields.Integer(description="the id when it is numeric, else null"),
    "str_id": fields.String, "name": fields.String,
    "ram": fields.Integer(description="MB"), "vcpus": fields.Integer,
    "disk": fields.Integer, "ephemeral": fields.Integer, "links": views.LINKS,
})
flavor_list_model = ns.model("Flavors", {"flavors": fields.List(fields.Nested(flavor_model))})
flavor_envelope = ns.model("FlavorEnvelope", {"flavor": fields.Nested(flavor_model)})


@ns.route("")
class Flavors(Resource):
    @ns.response(200, "Every flavor", flavor_list_model)
    def get(self, project_id):
        authorize(project_id, "dbaas:flavor:list")
        return {"flavors": [views.flavor(flavor) for flavor in registry.FLAVORS]}


@ns.route("/<flavor_id>")
class Flavor(Resource):
    @ns.response(200, "One flavor", flavor_envelope)
    @ns.response(404, "No such flavor")
    def get(self, project_id, flavor_id):
        authorize(project_id, "dbaas:flavor:show")
        return {"flavor": views.flavor(registry.find_flavor(flavor_id))}
