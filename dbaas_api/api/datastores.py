"""``/v1.0/{project_id}/datastores``: what can be created. Datastores and versions are
accepted by name or id, as Trove accepts them."""
from flask_restx import Namespace, Resource, fields

from dbaas_api import datastores as registry
from dbaas_api import errors
from dbaas_api.api import views, volume_types
from dbaas_api.api.common import authorize, services
from dbaas_api.api.not_built import DATASTORES
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


def _known():
    """The catalog as Heat's records say now (one Heat call)."""
    return services().versions.catalog()


def _version(datastore, version):
    found = catalog.find_datastore(datastore)
    return _known().find(found, version)


@ns.route("")
class Datastores(Resource):
    @ns.response(200, "Every datastore", datastore_list_model)
    def get(self, project_id):
        authorize(project_id, "dbaas:datastore:list")
        known = _known()
        return {"datastores": [views.datastore(datastore, known) for datastore in registry.all()]}


@ns.route("/<datastore>")
class Datastore(Resource):
    @ns.response(200, "One datastore", datastore_envelope)
    @ns.response(404, "No such datastore")
    def get(self, project_id, datastore):
        authorize(project_id, "dbaas:datastore:show")
        return {"datastore": views.datastore(catalog.find_datastore(datastore), _known())}

    @ns.response(501, "Datastores are the service's own data: not deleted through the API")
    def delete(self, project_id, datastore):
        authorize(project_id, "dbaas:mgmt:datastore:delete")
        raise errors.NotImplementedYet(DATASTORES)


@ns.route("/<datastore>/versions")
class DatastoreVersions(Resource):
    @ns.response(200, "The datastore's active versions", version_list_model)
    @ns.response(404, "No such datastore")
    def get(self, project_id, datastore):
        authorize(project_id, "dbaas:datastore:show")
        found = catalog.find_datastore(datastore)
        return {"versions": [views.datastore_version(version) for version in _known().versions(found)]}


@ns.route("/<datastore>/versions/<version>")
class DatastoreVersion(Resource):
    @ns.response(200, "One version", version_envelope)
    @ns.response(404, "No such datastore or version")
    def get(self, project_id, datastore, version):
        authorize(project_id, "dbaas:datastore:show")
        return {"version": views.datastore_version(_version(datastore, version))}


@ns.route("/<datastore>/versions/<version>/volume-types")
class DatastoreVersionVolumeTypes(Resource):
    @ns.response(200, "The volume types this version may use (every one offered)", volume_types.volume_type_list_model)
    @ns.response(404, "No such datastore or version")
    def get(self, project_id, datastore, version):
        authorize(project_id, "dbaas:datastore:show")
        _version(datastore, version)
        return {"volume_types": [volume_types.view(volume_type) for volume_type in volume_types.offered()]}


@ns.route("/versions/<version_id>")
class DatastoreVersionById(Resource):
    @ns.response(200, "One version", version_envelope)
    @ns.response(404, "No such version")
    def get(self, project_id, version_id):
        authorize(project_id, "dbaas:datastore:show")
        return {"version": views.datastore_version(_known().by_id(version_id))}


parameter_model = ns.model("ConfigurationParameter", {
    "name": fields.String, "datastore_version_id": fields.String,
    "restart_required": fields.Boolean(description="the server takes a new value only when it restarts"),
    "type": fields.String(description="integer, float, boolean or string"),
    "min": fields.Float, "max": fields.Float,
    "allowed_values": fields.List(fields.String, description="the only values a string may take"),
    "unit": fields.String(description="the unit of an integer value, as the server counts it"),
})
parameter_list_model = ns.model("ConfigurationParameters", {
    "configuration-parameters": fields.List(fields.Nested(parameter_model))})


def parameters(version):
    """The configuration parameters of a catalog Version: its number's rules (datastores/<name>/knowledge.py)."""
    return {"configuration-parameters": [views.configuration_parameter(version, parameter)
                                         for parameter in version.datastore.parameters(version.number).values()]}


def parameter(version, name):
    return views.configuration_parameter(version, version.datastore.parameter(version.number, name))


@ns.route("/<datastore>/versions/<version>/parameters")
class Parameters(Resource):
    @ns.response(200, "The parameters a configuration group may set", parameter_list_model)
    @ns.response(404, "No such datastore or version")
    def get(self, project_id, datastore, version):
        authorize(project_id, "dbaas:datastore:show")
        return parameters(_version(datastore, version))


@ns.route("/<datastore>/versions/<version>/parameters/<name>")
class Parameter(Resource):
    @ns.response(200, "One parameter and its rules", parameter_model)
    @ns.response(404, "No such datastore, version or parameter")
    def get(self, project_id, datastore, version, name):
        authorize(project_id, "dbaas:datastore:show")
        return parameter(_version(datastore, version), name)


@ns.route("/versions/<version_id>/parameters")
class ParametersByVersion(Resource):
    @ns.response(200, "The parameters a configuration group may set", parameter_list_model)
    @ns.response(404, "No such version")
    def get(self, project_id, version_id):
        authorize(project_id, "dbaas:datastore:show")
        return parameters(_known().by_id(version_id))


@ns.route("/versions/<version_id>/parameters/<name>")
class ParameterByVersion(Resource):
    @ns.response(200, "One parameter and its rules", parameter_model)
    @ns.response(404, "No such version or parameter")
    def get(self, project_id, version_id, name):
        authorize(project_id, "dbaas:datastore:show")
        return parameter(_known().by_id(version_id), name)
