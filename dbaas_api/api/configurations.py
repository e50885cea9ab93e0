"""``/v1.0/{project_id}/configurations``: configuration groups.

A group is a set of parameter values for one datastore version; attaching it to an
instance (``PUT /instances/{id}`` with ``configuration``, or at create) applies them.
PATCH merges values into the group, PUT replaces them; either re-applies the group to the
instances using it. Each handler: check the project, validate the shape, call the service,
wrap the view.
"""
from flask import Response
from flask_restx import Namespace, Resource, fields

from dbaas_api import schemas
from dbaas_api.api import views
from dbaas_api.api.common import authorize, json_body, page_args, services

ns = Namespace("configurations", description="Configuration groups")

create_request = ns.schema_model("ConfigurationCreate", schemas.CONFIGURATION_CREATE)
update_request = ns.schema_model("ConfigurationUpdate", schemas.CONFIGURATION_UPDATE)
configuration_fields = {
    "id": fields.String, "name": fields.String, "description": views.nullable(fields.String()),
    "created": fields.String, "updated": fields.String, "datastore_version_id": fields.String,
    "datastore_name": fields.String, "datastore_version_name": fields.String,
}
configuration_model = ns.model("Configuration", configuration_fields)
detailed_model = ns.model("ConfigurationDetail", dict(
    configuration_fields, values=fields.Raw(description="parameter name -> value"),
    instance_count=fields.Integer, datastore_version_number=fields.String))
configuration_envelope = ns.model("ConfigurationEnvelope", {"configuration": fields.Nested(detailed_model)})
configuration_page = ns.model("ConfigurationPage", {
    "configurations": fields.List(fields.Nested(configuration_model)), "links": views.PAGE_LINKS})
instance_ref = ns.model("ConfigurationInstance", {"id": fields.String, "name": fields.String})
instance_page = ns.model("ConfigurationInstancePage", {
    "instances": fields.List(fields.Nested(instance_ref)), "links": views.PAGE_LINKS})


@ns.route("")
class Configurations(Resource):
    @ns.doc(params=views.page_params("id"))
    @ns.response(200, "A page of the project's groups, newest first, from the stack list alone",
                 configuration_page)
    def get(self, project_id):
        project = authorize(project_id, "dbaas:configuration:list")
        limit, marker = page_args()
        page = services().configurations.list(project, limit, marker)
        return views.paged("configurations", [views.configuration(g) for g in page.items], page.next_marker, limit)

    @ns.expect(create_request)
    @ns.response(200, "The group", configuration_envelope)
    @ns.response(400, "The body or datastore is not valid")
    @ns.response(422, "A parameter is unknown, managed by the service, mistyped or out of range")
    def post(self, project_id):
        project = authorize(project_id, "dbaas:configuration:create")
        body = json_body()
        schemas.validate(schemas.CONFIGURATION_CREATE, body)
        group = services().configurations.create(project, body["configuration"])
        return {"configuration": views.configuration(group, detail=True)}


@ns.route("/<configuration_id>")
class Configuration(Resource):
    @ns.response(200, "The group with its values", configuration_envelope)
    @ns.response(404, "No such group in this project")
    def get(self, project_id, configuration_id):
        project = authorize(project_id, "dbaas:configuration:show")
        group = services().configurations.get(project, configuration_id)
        return {"configuration": views.configuration(group, detail=True)}

    @ns.expect(update_request)
    @ns.response(202, "Values replaced (and re-applied to the instances using the group)")
    @ns.response(409, "An instance using the group was busy")
    @ns.response(422, "A parameter is unknown, managed by the service, mistyped or out of range")
    def put(self, project_id, configuration_id):
        return _update(project_id, configuration_id, merge=False, done=202)

    @ns.expect(update_request)
    @ns.response(200, "Values merged (and re-applied to the instances using the group)")
    @ns.response(409, "An instance using the group was busy")
    @ns.response(422, "A parameter is unknown, managed by the service, mistyped or out of range")
    def patch(self, project_id, configuration_id):
        return _update(project_id, configuration_id, merge=True, done=200)

    @ns.response(202, "The group is being deleted")
    @ns.response(400, "Instances use the group")
    @ns.response(404, "No such group in this project")
    def delete(self, project_id, configuration_id):
        project = authorize(project_id, "dbaas:configuration:delete")
        services().configurations.delete(project, configuration_id)
        return Response(status=202)


@ns.route("/<configuration_id>/instances")
class ConfigurationInstances(Resource):
    @ns.doc(params=views.page_params("id"))
    @ns.response(200, "The project's instances that use the group", instance_page)
    @ns.response(404, "No such group in this project")
    def get(self, project_id, configuration_id):
        project = authorize(project_id, "dbaas:configuration:instances")
        limit, marker = page_args()
        page = services().configurations.instances(project, configuration_id, limit, marker)
        items = [{"id": ref.id, "name": ref.name} for ref in page.items]
        return views.paged("instances", items, page.next_marker, limit)


def _update(project_id, configuration_id, merge, done):
    """PUT answers 202 and PATCH 200, both without a body, as Trove's do."""
    project = authorize(project_id, "dbaas:configuration:edit" if merge else "dbaas:configuration:update")
    body = json_body()
    schemas.validate(schemas.CONFIGURATION_UPDATE, body)
    services().configurations.update(project, configuration_id, body["configuration"], merge=merge)
    return Response(status=done)
