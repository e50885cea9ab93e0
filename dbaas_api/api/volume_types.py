"""``/v1.0/{project_id}/volume-types``: the volume types instances may be created with
(``volume.type``), as troveclient's ``volume_types`` lists them; the operator's offer
(service/networks.py). Every datastore version takes every type:
``/datastores/{ds}/versions/{v}/volume-types`` (datastores.py) lists the same."""
from flask_restx import Namespace, Resource, fields

from dbaas_api import errors
from dbaas_api.api.common import authorize, services
from dbaas_api.service import networks

ns = Namespace("volume-types", description="Volume types")

volume_type_model = ns.model("VolumeType", {
    "id": fields.String, "name": fields.String, "is_public": fields.Boolean, "description": fields.String})
volume_type_list_model = ns.model("VolumeTypes", {"volume_types": fields.List(fields.Nested(volume_type_model))})
volume_type_envelope = ns.model("VolumeTypeEnvelope", {"volume_type": fields.Nested(volume_type_model)})


def offered():
    return networks.load(services().settings.networks_file).volume_types


def view(volume_type):
    """trove/volume_type/views.py"""
    return {"id": volume_type.id, "name": volume_type.name, "is_public": volume_type.is_public,
            "description": volume_type.description}


@ns.route("")
class VolumeTypes(Resource):
    @ns.response(200, "Every volume type", volume_type_list_model)
    def get(self, project_id):
        authorize(project_id, "dbaas:volume_type:list")
        return {"volume_types": [view(volume_type) for volume_type in offered()]}


@ns.route("/<volume_type_id>")
class VolumeType(Resource):
    @ns.response(200, "One volume type", volume_type_envelope)
    @ns.response(404, "No such volume type")
    def get(self, project_id, volume_type_id):
        authorize(project_id, "dbaas:volume_type:show")
        found = networks.load(services().settings.networks_file).volume_type(volume_type_id)
        if found is None:
            raise errors.NotFound(f"Volume type '{volume_type_id}' could not be found.")
        return {"volume_type": view(found)}
