"""``/v1.0/{project_id}/datastores``: what can be created. Datastores and versions are
accepted by name or id, as Trove accepts them."""
from flask_restx import Namespace, Resource, fields

from dbaas_api import datastores as registry
from dbaas_api.api import views
from dbaas_api.api.common import authorize
from dbaas_api.service import catalog

ns = Namespace("datastores", description="Datastores and their versions")

version_model = ns.model("DatastoreVersion", {
    "id": fields.String, "name": fields.String, "version": fields.String,
    "datastore": fields.String(description="the datastore's id"), "links": views.LINKS,
})
datastore_model = ns.model("Datastore", {
    "id": fields.String, "name": fields.String, "links": views.LINKS,
    "default_version": fields.String(description="the default version's id"),
    "versions": fields.List(fields.Nested(version_model)),
})


datastore_list_model = ns.model("Datastores", {"datastores": fields.List(fields.Nested(datastore_model))})
datastore_envelope = ns.model("DatastoreEnvelope", {"datastore": fields.Nested(datastore_model)})
version_list_model = ns.model("DatastoreVersions", {"versions": fields.List(fields.Nested(version_model))})
version_envelope = ns.model("DatastoreVersionEnvelope", {"version": fields.Nested(version_model)})


@ns.route("")
class Datastores(Resource):
    @ns.response(200, "Every datastore", datastore_list_model)
    def get(self, project_id):
        authorize(project_id, "dbaas:datastore:list")
        return {"datastores": [views.datastore(datastore) for datastore in registry.all()]}


@ns.route("/<datastore>")
class Datastore(Resource):
    @ns.response(200, "One datastore", datastore_envelope)
    @ns.response(404, "No such datastore")
    def get(self, project_id, datastore):
        authorize(project_id, "dbaas:datastore:show")
        return {"datastore": views.datastore(catalog.find_datastore(datastore))}


@ns.route("/<datastore>/versions")
class DatastoreVersions(Resource):
    @ns.response(200, "The datastore's versions", version_list_model)
    @ns.response(404, "No such datastore")
    def get(self, project_id, datastore):
        authorize(project_id, "dbaas:datastore:show")
        found = catalog.find_datastore(datastore)
        return {"versions": [views.datastore_version(found, version) for version in found.versions]}


@ns.route("/<datastore>/versions/<version>")
class DatastoreVersion(Resource):
    @ns.response(200, "One version", version_envelope)
    @ns.response(404, "No such datastore or version")
    def get(self, project_id, datastore, version):
        authorize(project_id, "dbaas:datastore:show")
        found = catalog.find_datastore(datastore)
        return {"version": views.datastore_version(found, catalog.find_version(found, version))}


@ns.route("/versions/<version_id>")
class DatastoreVersionById(Resource):
    @ns.response(200, "One version", version_envelope)
    @ns.response(404, "No such version")
    def get(self, project_id, version_id):
        authorize(project_id, "dbaas:datastore:show")
        return {"version": views.datastore_version(*catalog.find_version_by_id(version_id))}
