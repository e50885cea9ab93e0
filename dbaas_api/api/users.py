"""``/v1.0/{project_id}/instances/{instance_id}/users``: accounts and their access.

A user in a URL is ``name`` or ``name@host`` (MariaDB accounts have a host; '%' when
omitted), as Trove reads it. No answer here ever carries a password.
Each handler: check the project, validate the shape, call the service, wrap the view.
"""
from flask import Response
from flask_restx import Namespace, Resource, fields

from dbaas_api import schemas
from dbaas_api.api import views
from dbaas_api import errors
from dbaas_api.api.common import authorize, json_body, one_as_list, page_args, services
from dbaas_api.api.databases import database_model

ns = Namespace("users", description="Users of an instance and their access to databases")

create_request = ns.schema_model("UsersCreate", schemas.USERS_CREATE)
passwords_request = ns.schema_model("UsersPasswords", schemas.USERS_PASSWORDS)
update_request = ns.schema_model("UserUpdate", schemas.USER_UPDATE)
grant_request = ns.schema_model("UserGrant", schemas.USER_GRANT)
user_model = ns.model("User", {
    "name": fields.String, "host": fields.String,
    "databases": fields.List(fields.Nested(database_model)),
})
user_envelope = ns.model("UserEnvelope", {"user": fields.Nested(user_model)})
user_page = ns.model("UserPage", {"users": fields.List(fields.Nested(user_model)), "links": views.PAGE_LINKS})
access_model = ns.model("UserAccess", {"databases": fields.List(fields.Nested(database_model))})


def _user_key(user):
    return user.id


def _user_ref(new):
    return f"{new['name']}@{new['host']}" if new.get("host") else new["name"]


@ns.route("")
class Users(Resource):
    @ns.doc(params=views.page_params("name@host"))
    @ns.response(200, "The instance's users (root is not one of them)", user_page)
    @ns.response(404, "No such instance in this project")
    def get(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:user:list")
        limit, marker = page_args()
        users = services().accounts.list_users(project, instance_id)
        return views.paged_list("users", users, _user_key, views.user, limit, marker)

    @ns.expect(create_request)
    @ns.response(202, "The users are being created")
    @ns.response(400, "A name, password, host or database is invalid, reserved, taken or missing")
    @ns.response(409, "The instance is busy or not ACTIVE")
    def post(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:user:create")
        body = one_as_list(json_body(), "user", "users")
        schemas.validate(schemas.USERS_CREATE, body)
        services().accounts.create_users(project, instance_id, body["users"])
        return Response(status=202)

    @ns.expect(passwords_request)
    @ns.response(202, "The passwords are being changed")
    @ns.response(404, "No such instance or user")
    def put(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:user:change_password")
        body = json_body()
        schemas.validate(schemas.USERS_PASSWORDS, body)
        services().accounts.change_passwords(project, instance_id, body["users"])
        return Response(status=202)


@ns.route("/<user>")
class User(Resource):
    @ns.response(200, "The user", user_envelope)
    @ns.response(404, "No such instance or user")
    def get(self, project_id, instance_id, user):
        project = authorize(project_id, "dbaas:user:show")
        return {"user": views.user(services().accounts.get_user(project, instance_id, user))}

    @ns.expect(create_request)
    @ns.response(202, "The user is being created (openstacksdk's create_user posts here)")
    @ns.response(400, "The user in the body is not the one in the URL")
    def post(self, project_id, instance_id, user):
        project = authorize(project_id, "dbaas:user:create")
        body = one_as_list(json_body(), "user", "users")
        schemas.validate(schemas.USERS_CREATE, body)
        new = body["users"]
        if len(new) != 1 or user not in (new[0]["name"], _user_ref(new[0])):
            raise errors.BadRequest("The body must create exactly the user named in the URL.")
        services().accounts.create_users(project, instance_id, body["users"])
        return Response(status=202)

    @ns.expect(update_request)
    @ns.response(202, "The password, name or host is being changed (the account keeps its grants)")
    @ns.response(400, "A name, host or password is invalid or reserved, or the new name is taken")
    @ns.response(404, "No such instance or user")
    def put(self, project_id, instance_id, user):
        project = authorize(project_id, "dbaas:user:update")
        body = json_body()
        schemas.validate(schemas.USER_UPDATE, body)
        services().accounts.update_user(project, instance_id, user, body["user"])
        return Response(status=202)

    @ns.response(202, "The user is being dropped")
    @ns.response(404, "No such instance or user")
    def delete(self, project_id, instance_id, user):
        project = authorize(project_id, "dbaas:user:delete")
        services().accounts.delete_user(project, instance_id, user)
        return Response(status=202)


@ns.route("/<user>/databases")
class UserAccess(Resource):
    @ns.response(200, "The databases the user may use", access_model)
    @ns.response(404, "No such instance or user")
    def get(self, project_id, instance_id, user):
        project = authorize(project_id, "dbaas:user:database:list")
        names = services().accounts.user_databases(project, instance_id, user)
        return {"databases": [views.database(name) for name in names]}

    @ns.expect(grant_request)
    @ns.response(202, "Access is being granted")
    @ns.response(400, "A database the instance does not have")
    @ns.response(404, "No such instance or user")
    def put(self, project_id, instance_id, user):
        project = authorize(project_id, "dbaas:user:grant")
        body = json_body()
        schemas.validate(schemas.USER_GRANT, body)
        services().accounts.grant(project, instance_id, user, body["databases"])
        return Response(status=202)


@ns.route("/<user>/databases/<database>")
class UserDatabase(Resource):
    @ns.response(202, "Access is being revoked")
    @ns.response(404, "No such instance or user, or the user has no access to that database")
    def delete(self, project_id, instance_id, user, database):
        project = authorize(project_id, "dbaas:user:revoke")
        services().accounts.revoke(project, instance_id, user, database)
        return Response(status=202)
