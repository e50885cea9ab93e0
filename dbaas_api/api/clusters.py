"""``/v1.0/{project_id}/clusters``: Trove's cluster API. Each handler: check the project,
validate the shape, call the service, wrap the view (Keystone's order)."""
from flask import Response
from flask_restx import Namespace, Resource, fields

from dbaas_api import errors, schemas
from dbaas_api.api import views
from dbaas_api.api.common import authorize, json_body, page_args, services

ns = Namespace("clusters", description="Database clusters (MariaDB Galera, Redis Cluster)")

create_request = ns.schema_model(
    "ClusterCreate", {k: v for k, v in schemas.CLUSTER_CREATE.items() if k != "$schema"})
action_request = ns.schema_model(
    "ClusterAction", {k: v for k, v in schemas.CLUSTER_ACTION.items() if k != "$schema"})
member_model = ns.model("ClusterInstance", {
    "id": fields.String, "name": fields.String, "type": fields.String(description="the member's role"),
    "status": fields.String, "links": views.LINKS,
    "flavor": fields.Nested(ns.model("ClusterInstanceFlavor", {"id": fields.String, "links": views.LINKS})),
    "volume": fields.Nested(ns.model("ClusterInstanceVolume", {"size": fields.Integer})),
    "ip": fields.List(fields.String), "port": fields.Integer,
})
member_envelope = ns.model("ClusterInstanceEnvelope", {"instance": fields.Nested(ns.clone(
    "ClusterMemberInstance", member_model, {
        "cluster_id": fields.String,
        "datastore": fields.Nested(ns.model("ClusterMemberDatastore", {
            "type": fields.String, "version": fields.String, "version_number": fields.String})),
        "addresses": fields.List(fields.Nested(views.ADDRESS)), "hostname": fields.String}))})
cluster_model = ns.model("Cluster", {
    "id": fields.String, "name": fields.String, "links": views.LINKS,
    "datastore": fields.Nested(ns.model("ClusterDatastore", {"type": fields.String, "version": fields.String})),
    "task": fields.Nested(ns.model("ClusterTask", {
        "id": fields.Integer, "name": fields.String, "description": fields.String})),
    "instances": fields.List(fields.Nested(member_model), description="show and create only"),
    "ip": fields.List(fields.String, description="the members' addresses (show)"),
    "created": fields.String, "updated": fields.String,
})
cluster_envelope = ns.model("ClusterEnvelope", {"cluster": fields.Nested(cluster_model)})
cluster_page = ns.model("ClusterPage", {"clusters": fields.List(fields.Nested(cluster_model)),
                                        "links": views.PAGE_LINKS})


@ns.route("")
class Clusters(Resource):
    @ns.doc(params=views.page_params("id"))
    @ns.response(200, "A page of clusters, newest first, from the stack list alone", cluster_page)
    def get(self, project_id):
        project = authorize(project_id, "dbaas:cluster:list")
        limit, marker = page_args()
        page = services().clusters.list(project, limit, marker)
        return views.paged("clusters", [views.cluster(record) for record in page.items], page.next_marker, limit)

    @ns.expect(create_request)
    @ns.response(200, "The cluster being built", cluster_envelope)
    @ns.response(400, "The request is not valid (too few instances, a datastore without clusters...)")
    def post(self, project_id):
        project = authorize(project_id, "dbaas:cluster:create")
        body = json_body()
        schemas.validate(schemas.CLUSTER_CREATE, body)
        return {"cluster": views.cluster(services().clusters.create(project, body["cluster"]))}


@ns.route("/<cluster_id>")
class Cluster(Resource):
    @ns.response(200, "The cluster with its instances", cluster_envelope)
    @ns.response(404, "No such cluster in this project")
    def get(self, project_id, cluster_id):
        project = authorize(project_id, "dbaas:cluster:show")
        return {"cluster": views.cluster(services().clusters.get(project, cluster_id))}

    @ns.expect(action_request)
    @ns.response(202, "The grow or shrink is under way")
    @ns.response(400, "Not a member, or what is left would not be a working cluster")
    @ns.response(404, "No such cluster in this project")
    @ns.response(409, "The cluster is busy")
    def post(self, project_id, cluster_id):
        """One action: ``grow`` (a list of instances to add) or ``shrink`` (``[{"id": member id}]``)."""
        project = authorize(project_id, "dbaas:cluster:action")
        body = json_body()
        schemas.validate(schemas.CLUSTER_ACTION, body)
        if "grow" in body:
            services().clusters.grow(project, cluster_id, body["grow"])
        elif "shrink" in body:
            services().clusters.shrink(project, cluster_id, body["shrink"])
        else:
            raise errors.NotImplementedYet(f"Cluster action '{next(iter(body))}' is not supported.")
        return Response(status=202)

    @ns.response(202, "Deletion started")
    @ns.response(404, "No such cluster in this project")
    def delete(self, project_id, cluster_id):
        project = authorize(project_id, "dbaas:cluster:delete")
        services().clusters.delete(project, cluster_id)
        return Response(status=202)


@ns.route("/<cluster_id>/instances/<instance_id>")
class ClusterInstance(Resource):
    @ns.response(200, "One member of the cluster", member_envelope)
    @ns.response(404, "No such cluster in this project, or no such member")
    def get(self, project_id, cluster_id, instance_id):
        project = authorize(project_id, "dbaas:cluster:instance:show")
        cluster = services().clusters.get(project, cluster_id)
        return {"instance": views.cluster_instance(services().clusters.member_of(cluster, instance_id), cluster)}
