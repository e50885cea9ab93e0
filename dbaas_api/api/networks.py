"""``/v1.0/{project_id}/networks``: the networks instances may be created on (``nics``), the
operator's offer (service/networks.py), in Neutron's shape. Trove itself has no such list
(its clients ask Neutron); this one is where a client of this service finds the ids, and
where the Trove suite's harness reads its ``shared_network``."""
from flask_restx import Namespace, Resource, fields

from dbaas_api.api.common import authorize, services
from dbaas_api.service import networks

ns = Namespace("networks", description="Networks")

subnet_model = ns.model("Subnet", {"id": fields.String, "name": fields.String, "cidr": fields.String})
network_model = ns.model("Network", {"id": fields.String, "name": fields.String,
                                     "subnets": fields.List(fields.Nested(subnet_model))})
network_list_model = ns.model("Networks", {"networks": fields.List(fields.Nested(network_model))})


@ns.route("")
class Networks(Resource):
    @ns.response(200, "Every network", network_list_model)
    def get(self, project_id):
        authorize(project_id, "dbaas:network:list")
        return {"networks": [
            {"id": network.id, "name": network.name,
             "subnets": [{"id": subnet.id, "name": subnet.name, "cidr": subnet.cidr} for subnet in network.subnets]}
            for network in networks.load(services().settings.networks_file).networks]}
