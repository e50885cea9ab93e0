"""Version discovery: ``GET /`` and ``GET /v1.0/``, unauthenticated (openstacksdk and the
embedded profile's health check read them before they have a token)."""
from flask_restx import Namespace, Resource, fields

from dbaas_api.api import views

ns = Namespace("versions", path="/", description="API versions (no authentication)")

version_model = ns.model("Version", {
    "id": fields.String(example="v1.0"),
    "status": fields.String(example="CURRENT"),
    "updated": fields.String(example="2012-08-01T00:00:00Z"),
    "links": views.LINKS,
})
versions_model = ns.model("Versions", {"versions": fields.List(fields.Nested(version_model))})
version_envelope = ns.model("VersionEnvelope", {"version": fields.Nested(version_model)})


@ns.route("/", endpoint="root")  # flask-restx's swagger basePath is url_for("root")
class Versions(Resource):
    @ns.response(200, "Every API version", versions_model)
    def get(self):
        return {"versions": [views.version_doc()]}


@ns.route(f"/{views.API_VERSION}/")
class Version(Resource):
    @ns.response(200, "This API version", version_envelope)
    def get(self):
        return {"version": views.version_doc()}
