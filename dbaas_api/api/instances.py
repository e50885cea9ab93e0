"""``/v1.0/{project_id}/instances``. Each handler: check the project, validate the shape,
call the service, wrap the view (Keystone's order)."""
from flask import Response, request
from flask_restx import Namespace, Resource, fields

from dbaas_api import errors, policy, schemas
from dbaas_api.api import views
from dbaas_api.api.common import authorize, instance_project, json_body, page_args, services

ns = Namespace("instances", description="Database instances")

create_request = ns.schema_model(
    "InstanceCreate", {k: v for k, v in schemas.INSTANCE_CREATE.items() if k != "$schema"})
action_request = ns.schema_model(
    "InstanceAction", {k: v for k, v in schemas.INSTANCE_ACTION.items() if k != "$schema"})
update_request = ns.schema_model(
    "InstanceUpdate", {k: v for k, v in schemas.INSTANCE_UPDATE.items() if k != "$schema"})
instance_model = ns.model("Instance", {
    "id": fields.String, "name": fields.String,
    "status": fields.String(description="BUILD, ACTIVE, RESIZE, SHUTDOWN, ERROR..."),
    "operating_status": fields.String(
        description="the database's own health from a live signal: HEALTHY, SHUTDOWN, BUILD or RESTARTING "
                    "(down while Heat works), or '' when unknown"),
    "links": views.LINKS,
    "flavor": fields.Nested(ns.model("InstanceFlavor", {"id": fields.String, "links": views.LINKS})),
    "datastore": fields.Nested(ns.model("InstanceDatastore", {
        "type": fields.String, "version": fields.String, "version_number": fields.String})),
    "region": fields.String,
    "access": fields.Nested(ns.model("InstanceAccess", {
        "is_public": fields.Boolean, "allowed_cidrs": fields.List(fields.String)})),
    "volume": fields.Nested(ns.model("InstanceVolume", {
        "size": fields.Integer(description="GB"),
        "used": fields.Float(description="GB the data takes (show only, a live reading)")})),
    "progress": fields.Nested(ns.model("InstanceProgress", {
        "done": fields.Integer, "total": fields.Integer}),
        description="show only, while the instance is built or changed: resources done of the stack's total"),
    "addresses": fields.List(fields.Nested(views.ADDRESS)),
    "ip": fields.List(fields.String),
    "hostname": fields.String,
    "port": fields.Integer,
    "configuration": fields.Nested(ns.model("InstanceConfiguration", {
        "id": fields.String, "name": fields.String, "links": views.LINKS}), description="show only"),
    "replica_of": fields.Nested(ns.model("InstanceReplicaSource", {"id": fields.String, "links": views.LINKS}),
                                description="on a replica: the instance it follows"),
    "replicas": fields.List(fields.Nested(ns.model("InstanceReplica", {"id": fields.String, "links": views.LINKS})),
                            description="the instances following this one"),
    "created": fields.String(description="ISO 8601 (show and detail)"),
    "service_status_updated": views.nullable(fields.String(
        description="ISO 8601 (show and detail): when operating_status was read (live), null when unknown")),
    "updated": fields.String(description="ISO 8601 (show and detail)"),
})
default_configuration = ns.model("InstanceDefaultConfiguration", {"instance": fields.Nested(ns.model(
    "InstanceDefaultConfigurationValues", {"configuration": fields.Raw(
        description="setting name -> the value the config file starts from ('' for a bare flag), and port")}))})
instance_envelope = ns.model("InstanceEnvelope", {"instance": fields.Nested(instance_model)})
instance_page = ns.model("InstancePage", {
    "instances": fields.List(fields.Nested(instance_model)),
    "links": views.PAGE_LINKS,
})


def _page(project_id, detail):
    project = authorize(project_id, "dbaas:instance:list")
    limit, marker = page_args()
    page = services().instances.list(project, limit, marker)
    items = [views.instance(record, detail=detail) for record in page.items]
    return views.paged("instances", items, page.next_marker, limit)


@ns.route("")
class Instances(Resource):
    @ns.doc(params=views.page_params("id"))
    @ns.response(200, "A page of instances, newest first, from the stack list alone", instance_page)
    def get(self, project_id):
        return _page(project_id, detail=False)

    @ns.expect(create_request)
    @ns.response(200, "The instance being built", instance_envelope)
    @ns.response(400, "The request is not valid")
    @ns.response(415, "The body is not JSON")
    @ns.response(501, "The request asks for something not supported yet")
    def post(self, project_id):
        project = authorize(project_id, "dbaas:instance:create")
        body = json_body()
        schemas.validate(schemas.INSTANCE_CREATE, body)
        record = services().instances.create(project, body["instance"])
        return {"instance": views.instance(record, detail=True)}


@ns.route("/detail")
class InstancesDetail(Resource):
    @ns.doc(params=views.page_params("id"))
    @ns.response(200, "A page of instances with created and updated", instance_page)
    def get(self, project_id):
        return _page(project_id, detail=True)


@ns.route("/<instance_id>")
class Instance(Resource):
    @ns.response(200, "The instance, with its address", instance_envelope)
    @ns.response(404, "No such instance in this project")
    def get(self, project_id, instance_id):
        project = authorize(project_id, "dbaas:instance:show")
        try:
            return {"instance": views.instance(services().instances.get(project, instance_id), detail=True)}
        except errors.NotFound:   # a cluster's member, shown as in Trove (docs/clusters.md)
            cluster, member = services().clusters.find_member(project, instance_id)
            return {"instance": views.cluster_instance(member, cluster)}

    @ns.response(202, "Deletion started")
    @ns.response(404, "No such instance in this project")
    def delete(self, project_id, instance_id):
        project = instance_project(project_id, instance_id, "dbaas:instance:delete")
        services().instances.delete(project, instance_id)
        return Response(status=202)

    @ns.expect(update_request)
    @ns.response(202, "The change is under way (the instance stays ACTIVE, or RESTART_REQUIRED)")
    @ns.response(400, "A group of another datastore or version, or another group already attached")
    @ns.response(404, "No such instance in this project")
    @ns.response(409, "The instance is busy or cannot be changed")
    @ns.response(501, "An attribute that cannot be changed yet")
    def put(self, project_id, instance_id):
        """Rename, and attach (``configuration``: an id) or detach (null, or ``{}``) a
        configuration group; at most one attribute besides ``name``, as in Trove."""
        project = authorize(project_id, "dbaas:instance:update")
        body = json_body()
        schemas.validate(schemas.INSTANCE_UPDATE, body)
        services().instances.update(project, instance_id, body["instance"])
        return Response(status=202)

    @ns.expect(update_request)
    @ns.response(202, "As PUT (Trove's deprecated edit)")
    def patch(self, project_id, instance_id):
        return self.put(project_id, instance_id)


@ns.route("/<instance_id>/configuration")
class InstanceDefaultConfiguration(Resource):
    @ns.response(200, "The settings the instance's config file starts from (its flavor's)", default_configuration)
    @ns.response(404, "No such instance in this project")
    def get(self, project_id, instance_id):
        """``openstack database configuration default``: Trove's default configuration."""
        project = authorize(project_id, "dbaas:instance:configuration")
        return {"instance": {"configuration": services().configurations.defaults_of(project, instance_id)}}


@ns.route("/<instance_id>/action")
class InstanceAction(Resource):
    @ns.expect(action_request)
    @ns.response(202, "The action is under way")
    @ns.response(400, "Not exactly one known action, or bad arguments")
    @ns.response(404, "No such instance in this project")
    @ns.response(409, "The instance is busy or in a state the action does not apply to")
    @ns.response(501, "An action that is not supported yet")
    def post(self, project_id, instance_id):
        """restart, resize, reset_status, promote_to_replica_source, eject_replica_source:
        one per request, as Trove takes them (service/actions.py)."""
        asked = request.get_json(silent=True)   # each action has a rule of its own
        action = next(iter(asked)) if isinstance(asked, dict) and len(asked) == 1 else None
        if action == "reset_status":   # admins reach any project's
            project = instance_project(project_id, instance_id, "dbaas:instance:reset_status")
        else:
            project = authorize(project_id, policy.action_rule(action))
        body = json_body()
        schemas.validate(schemas.INSTANCE_ACTION, body)
        services().actions.run(project, instance_id, body)
        return Response(status=202)
