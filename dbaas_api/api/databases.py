"""``/v1.0/{project_id}/instances/{instance_id}/databases``: the instance's databases.

Each handler: check the project, validate the shape, call the service, wrap the view.
Changes answer 202 at once: they are stack updates that Heat carries out.
"""
from flask import Response
from flask_restx import Namespace, Resource, fields

from dbaas_api import schemas
from dbaas_api.api import views
from dbaas_api.api.common import authorize, json_body, one_as_list, page_args, services

ns = Namespace("databases", description="Databases of an instance (not Redis: 501)")

create_request = ns.schema_model("DatabasesCreate", schemas.DATABASES_CREATE)
database_model = ns.model("Database", {"name": fields.String})
database_page = ns.model("DatabasePage", {
    "databases": fields.List(fields.Nested(database_model)), "links": views.PAGE_LINKS})


@ns.route("")
class Databases(Resource):
    @ns.doc(params=views.page_params("name"))
    @ns.response(200, "The instance's databases, by name", database_page)
    @ns.response(404, "No such instance in this project")
    @ns.response(501, "The datastore has no databases (Redis)")
    def get(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:database:list")
        limit, marker = page_args()
        names = services().accounts.list_databases(project, instance_id)
        return views.paged_list("databases", names, str, views.database, limit, marker)

    @ns.expect(create_request)
    @ns.response(202, "The databases are being created")
    @ns.response(400, "A name is invalid, reserved or taken")
    @ns.response(409, "The instance is busy or not ACTIVE")
    def post(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:database:create")
        body = one_as_list(json_body(), "database", "databases")
        schemas.validate(schemas.DATABASES_CREATE, body)
        services().accounts.create_databases(project, instance_id, body["databases"])
        return Response(status=202)


@ns.route("/<database>")
class Database(Resource):
    @ns.response(202, "The database is being dropped (users lose their grants on it)")
    @ns.response(404, "No such instance or database")
    @ns.response(409, "The instance is busy or not ACTIVE")
    def delete(self, project_id, instance_id, database):
        project = authorize(project_id, "dbaas:database:delete")
        services().accounts.delete_database(project, instance_id, database)
        return Response(status=202)
