"""``/v1.0/{project_id}/backups`` and ``/v1.0/{project_id}/instances/{id}/backups``.

Each handler: check the project, validate the shape, call the service, wrap the view
(Keystone's order). Views follow trove/backup/views.py: ``size`` is in GB as Trove has it;
``size_bytes`` and ``checksum`` (SHA-256 of the stored stream) are ours.
"""
import re
from pathlib import Path

from flask import Response, request
from flask_restx import Namespace, Resource, fields

from dbaas_api import datastores, errors, schemas
from dbaas_api.api import views
from dbaas_api.api.common import authorize, json_body, page_args, services

FILTER = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
ns = Namespace("backups", description="Backups of instances, stored in Swift (or a local directory)")
instance_ns = Namespace("instance-backups", description="The backups of one instance")

BACKUP_CREATE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Backup create request",
    "type": "object",
    "required": ["backup"],
    "properties": {
        "backup": {
            "type": "object",
            "required": ["name", "instance"],
            "properties": {
                "name": schemas.NAME,
                "instance": {"type": "string", "minLength": 1, "maxLength": 64,
                             "description": "the id of an instance"},
                "description": {"type": ["string", "null"], "maxLength": 255,
                                "description": "a string of at most 255 characters"},
                "parent_id": {"type": ["string", "null"], "maxLength": 64, "description": "the id of a backup"},
                "incremental": {"type": ["integer", "boolean"], "enum": [0, 1, True, False],
                                "description": "0 or 1"},
                "swift_container": {"type": ["string", "null"],
                                    "description": "a container name (local storage: a directory)"},
            },
            "description": "an object with 'name' and 'instance'",
        },
    },
    "description": "a JSON object with a 'backup' object",
}

create_request = ns.schema_model("BackupCreate", {k: v for k, v in BACKUP_CREATE.items() if k != "$schema"})
backup_model = ns.model("Backup", {
    "id": fields.String, "name": fields.String, "description": views.nullable(fields.String()),
    "status": fields.String(description="NEW, BUILDING, COMPLETED, FAILED, DELETING, DELETE_FAILED"),
    "instance_id": fields.String,
    "parent_id": views.nullable(fields.String(description="set for an incremental")),
    "locationRef": views.nullable(fields.String(
        description="swift://container/id, or local://[container/]id under the backup dir (once COMPLETED)")),
    "size": views.nullable(fields.Float(description="GB, as Trove shows it (once COMPLETED)")),
    "size_bytes": views.nullable(fields.Integer()),
    "checksum": views.nullable(fields.String(
        description="SHA-256 over its segments' SHA-256 digests (manifest.json), once COMPLETED")),
    "datastore": fields.Nested(ns.model("BackupDatastore", {
        "type": fields.String, "version": fields.String, "version_id": fields.String})),
    "project_id": fields.String, "created": fields.String, "updated": fields.String,
    "fault": fields.Nested(ns.model("BackupFault", {"message": fields.String}), description="when FAILED"),
})
backup_envelope = ns.model("BackupEnvelope", {"backup": fields.Nested(backup_model)})
backup_page = ns.model("BackupPage", {
    "backups": fields.List(fields.Nested(backup_model)),
    "links": views.PAGE_LINKS,
})
list_params = {
    **views.page_params("id"),
    "instance_id": {"description": "only this instance's backups", "type": "string", "in": "query"},
    "datastore": {"description": "only backups of this datastore", "type": "string", "in": "query"},
}


def view(record, project_id):
    body = {
        "id": record.id, "name": record.name, "description": record.description,
        "status": record.status, "instance_id": record.instance_id, "parent_id": record.parent_id,
        "locationRef": public_location(record.location), "checksum": record.checksum, "size_bytes": record.size,
        "size": round(record.size / 1024 ** 3, 6) if record.size is not None else None,
        "datastore": {"type": record.datastore, "version": record.version,
                      "version_id": _version_id(record.datastore, record.version)},
        "project_id": project_id, "created": record.created, "updated": record.updated,
    }
    if record.fault:
        body["fault"] = {"message": record.fault}
    return body


def public_location(location):
    """Where a backup is, as a user may see it: a Swift location as it is; a local one
    relative to the backup dir (``local://<container>/<id>``), never a path on the server."""
    if not location or not location.startswith("file://"):
        return location
    try:
        relative = Path(location[len("file://"):]).relative_to(services().settings.backup_root)
    except ValueError:
        relative = Path(location).name
    return f"local://{relative}"


def _version_id(datastore, version):
    try:
        return datastores.get(datastore).version_id(version)
    except errors.NotFound:
        return None


def _filter(name):
    """A list filter from the query: an id or a datastore's name (a stack tag: the fuzz's
    ``datastore=&u,`` was a 500), else 400 naming it."""
    value = request.args.get(name) or None
    if value is not None and not FILTER.match(value):
        raise errors.BadRequest(f"{name} must be 1 to 64 letters, digits, '.', '_' or '-'.")
    return value


def _page(project, page):
    limit = page_args()[0]
    return views.paged("backups", [view(record, project) for record in page.items], page.next_marker, limit)


@ns.route("")
class Backups(Resource):
    @ns.doc(params=list_params)
    @ns.response(200, "A page of backups, newest first", backup_page)
    def get(self, project_id):
        project = authorize(project_id, "dbaas:backup:list")
        limit, marker = page_args()
        page = services().backups.list(project, limit, marker, instance_id=_filter("instance_id"),
                                       datastore=_filter("datastore"))
        return _page(project, page)

    @ns.expect(create_request)
    @ns.response(202, "The backup being taken", backup_envelope)
    @ns.response(400, "The request is not valid")
    @ns.response(404, "No such instance")
    @ns.response(409, "A backup of the instance is already running")
    @ns.response(422, "The instance is not ACTIVE")
    def post(self, project_id):
        project = authorize(project_id, "dbaas:backup:create")
        body = json_body()
        schemas.validate(BACKUP_CREATE, body)
        record = services().backups.create(project, body["backup"])
        return {"backup": view(record, project)}, 202


@ns.route("/<backup_id>")
class Backup(Resource):
    @ns.response(200, "The backup, with its size, checksum and location once COMPLETED", backup_envelope)
    @ns.response(404, "No such backup in this project")
    def get(self, project_id, backup_id):
        project = authorize(project_id, "dbaas:backup:show")
        return {"backup": view(services().backups.get(project, backup_id), project)}

    @ns.response(202, "Deletion started: the stored objects go with it")
    @ns.response(404, "No such backup in this project")
    @ns.response(409, "The backup is still running, or has incremental backups (delete those first)")
    def delete(self, project_id, backup_id):
        project = authorize(project_id, "dbaas:backup:delete")
        services().backups.delete(project, backup_id)
        return Response(status=202)


@instance_ns.route("")
class InstanceBackups(Resource):
    @instance_ns.doc(params=views.page_params("id"))
    @instance_ns.response(200, "A page of the instance's backups, newest first", backup_page)
    @instance_ns.response(404, "No such instance in this project")
    def get(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:instance:backup:list")
        limit, marker = page_args()
        return _page(project, services().backups.list_of_instance(project, instance_id, limit, marker))
