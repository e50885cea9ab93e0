"""``/v1.0/{project_id}/backup_strategies``: where the project's backups go, for the project or
one instance (``openstack database backup strategy create/list/delete``); service/backup_strategies.py."""
from flask import Response, request
from flask_restx import Namespace, Resource, fields

from dbaas_api import errors
from dbaas_api.api.common import PROJECT_ID, authorize, json_body, services

ns = Namespace("backup_strategies", description="Where backups go")

strategy_model = ns.model("BackupStrategy", {
    "project_id": fields.String, "instance_id": fields.String(description="'' for the project's own"),
    "backend": fields.String(description="swift, or local (a directory under the backup dir)"),
    "swift_container": fields.String,
})
strategy_envelope = ns.model("BackupStrategyEnvelope", {"backup_strategy": fields.Nested(strategy_model)})
strategy_list = ns.model("BackupStrategies", {"backup_strategies": fields.List(fields.Nested(strategy_model))})
create_request = ns.model("BackupStrategyCreate", {"backup_strategy": fields.Nested(ns.model(
    "BackupStrategyCreateBody", {"instance_id": fields.String, "swift_container": fields.String(required=True)}))})
scope_params = {"instance_id": {"description": "one instance's strategy", "type": "string", "in": "query"},
                "project_id": {"description": "another project's (admin)", "type": "string", "in": "query"}}


def view(strategy):
    return {"project_id": strategy.project_id, "instance_id": strategy.instance_id,
            "backend": strategy.backend, "swift_container": strategy.container}


def _scope(project_id, rule):
    """(project, instance id) a list or delete acts on: ``?project_id`` other than the
    caller's needs ``dbaas:backup_strategy:other_project`` (admin), as in Trove."""
    project = authorize(project_id, rule)
    wanted = request.args.get("project_id") or project
    if wanted != project:
        if not PROJECT_ID.match(wanted):
            raise errors.BadRequest("project_id must be 1 to 64 letters, digits, '_' or '-'.")
        authorize(project_id, "dbaas:backup_strategy:other_project")
    return wanted, request.args.get("instance_id") or None


@ns.route("")
class BackupStrategies(Resource):
    @ns.doc(params=scope_params)
    @ns.response(200, "The strategies", strategy_list)
    def get(self, project_id):
        project, instance_id = _scope(project_id, "dbaas:backup_strategy:list")
        return {"backup_strategies": [view(s) for s in services().backup_strategies.list(project, instance_id)]}

    @ns.expect(create_request)
    @ns.response(202, "The strategy (replacing the scope's previous one)", strategy_envelope)
    @ns.response(400, "No or a bad swift_container")
    @ns.response(404, "No such instance in this project")
    def post(self, project_id):
        project = authorize(project_id, "dbaas:backup_strategy:create")
        body = json_body()
        data = body.get("backup_strategy") if isinstance(body, dict) else None
        if (not isinstance(data, dict) or set(data) - {"instance_id", "swift_container"}
                or "swift_container" not in data):
            raise errors.BadRequest('The body must be {"backup_strategy": {"swift_container": NAME, '
                                    '"instance_id": ID (optional)}}.')
        instance_id = data.get("instance_id") or None
        if instance_id is not None and not isinstance(instance_id, str):
            raise errors.BadRequest("backup_strategy.instance_id must be the id of an instance.")
        strategy = services().backup_strategies.create(project, instance_id, data["swift_container"])
        return {"backup_strategy": view(strategy)}, 202

    @ns.doc(params=scope_params)
    @ns.response(202, "The strategy of that scope is gone")
    def delete(self, project_id):
        project, instance_id = _scope(project_id, "dbaas:backup_strategy:delete")
        services().backup_strategies.delete(project, instance_id)
        return Response(status=202)
