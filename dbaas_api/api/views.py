"""Trove's v1.0 views (trove/*/views.py), built from our records and the request's host.

Links use the scheme and host the client used (Trove forces https), so they work behind the
embedded profile's plain http. Nothing here reads a password: the records carry none.
"""
import ipaddress
from urllib.parse import urlencode

from flask import request
from flask_restx import Model, fields

from dbaas_api import datastores as registry
from dbaas_api.service.specs import REGION

API_VERSION = "v1.0"


def nullable(field):
    """``field`` documented as possibly null (Swagger 2.0's x-nullable; flask-restx's own
    nullable= is not in the document). The models only document: views are returned as built."""
    field.__schema__ = {**field.__schema__, "x-nullable": True}
    return field


LINK = Model("Link", {"rel": fields.String(example="self"), "href": fields.String})
ADDRESS = Model("InstanceAddress", {"address": fields.String, "type": fields.String,
                                    "network": nullable(fields.String(description="the network's id, null for none"))})
LINKS = fields.List(fields.Nested(LINK))
PAGE_LINKS = fields.List(fields.Nested(LINK), description="rel=next when a further page exists")
VERSION_DOC = {"id": API_VERSION, "status": "CURRENT", "updated": "2012-08-01T00:00:00Z"}


def version_doc():
    return {**VERSION_DOC, "links": [{"rel": "self", "href": f"{request.url_root}{API_VERSION}/"}]}


def links(resource_path, resource_id):
    """[self, bookmark], as trove.common.views.create_links builds them."""
    root, project_id = request.url_root, request.view_args["project_id"]
    return [
        {"href": f"{root}{API_VERSION}/{project_id}/{resource_path}/{resource_id}", "rel": "self"},
        {"href": f"{root}{resource_path}/{resource_id}", "rel": "bookmark"},
    ]


def page_params(marker):
    """The query parameters of a paged list, for the OpenAPI document."""
    return {"limit": {"description": "page size (default 20, at most 100)", "type": "integer", "in": "query"},
            "marker": {"description": f"the last {marker} of the previous page", "type": "string", "in": "query"}}


def paged(collection, items, next_marker, limit):
    """Trove's paginated list: ``links`` with rel=next only when a further page exists."""
    body = {collection: items}
    if next_marker:
        query = {**request.args.to_dict(), "limit": limit, "marker": next_marker}
        body["links"] = [{"rel": "next", "href": f"{request.base_url}?{urlencode(query)}"}]
    return body


def paged_list(collection, items, key, view, limit, marker):
    """A page of an in-memory list sorted by ``key(item)``, after the item whose key is
    ``marker`` (databases and users: the stack holds them all, Trove still pages them)."""
    items = sorted(items, key=key)
    if marker is not None:
        items = [item for item in items if key(item) > marker]
    page = items[:limit]
    return paged(collection, [view(item) for item in page], key(page[-1]) if len(items) > limit else None, limit)


def instance(record, detail=False):
    view = {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "operating_status": record.operating_status,
        "links": links("instances", record.id),
        "flavor": {"id": record.flavor_id, "links": links("flavors", record.flavor_id)},
        "datastore": {"type": record.datastore, "version": record.version,
                      "version_number": record.version},
        "region": REGION,
    }
    view["access"] = {"is_public": record.access.is_public, "allowed_cidrs": list(record.access.allowed_cidrs)}
    if record.volume_size is not None:
        view["volume"] = {"size": record.volume_size}
        if record.volume_used is not None:
            view["volume"]["used"] = record.volume_used
    placement = record.placement
    if placement is not None and placement.volume_type and "volume" in view:
        view["volume"]["type"] = placement.volume_type
    if record.address:
        view.update(_address(record.address, placement.network_id if placement is not None else None))
    if record.port:
        view["port"] = record.port
    if record.progress is not None:
        view["progress"] = {"done": record.progress[0], "total": record.progress[1]}
    if record.fault:
        view["fault"] = {"message": record.fault, "created": record.updated, "details": ""}
    if record.configuration_id and record.configuration_name is not None:
        view["configuration"] = {"id": record.configuration_id, "name": record.configuration_name,
                                 "links": links("configurations", record.configuration_id)}
    if record.replica_of:
        view["replica_of"] = {"id": record.replica_of, "links": links("instances", record.replica_of)}
    if record.replicas:
        view["replicas"] = [{"id": replica, "links": links("instances", replica)} for replica in record.replicas]
    if detail:
        view["created"], view["updated"] = record.created, record.updated
        view["service_status_updated"] = record.service_status_updated
    return view


def _address(address, network=None):
    """Trove shows an IP as ``addresses``/``ip`` (with the network's id) and a host name as ``hostname``."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"hostname": address}
    return {"addresses": [{"address": address, "type": "private", "network": network or None}], "ip": [address]}


def flavor(record):
    """trove/flavor/views.py: the id is an int when it looks like one, str_id always."""
    numeric = record.id.isdigit() and not record.id.startswith("0")
    return {
        "id": int(record.id) if numeric else None,
        "str_id": record.id,
        "name": record.name,
        "ram": record.ram_mb,
        "vcpus": record.vcpus,
        "disk": 0,
        "ephemeral": 0,
        "links": links("flavors", record.id),
    }


def datastore(record, known):
    """``known``: the catalog (service/catalog.py); only active versions are shown."""
    default = known.default(record)
    return {
        "id": record.datastore_id(),
        "name": record.name,
        "links": links("datastores", record.datastore_id()),
        "default_version": default.id if default else None,
        "versions": [datastore_version(version, include_datastore=False) for version in known.versions(record)],
    }


def datastore_version(version, include_datastore=True):
    """A catalog Version as users see it: its own name, the number it runs."""
    view = {"id": version.id, "name": version.name, "version": version.number,
            "links": links("datastores/versions", version.id)}
    if include_datastore:
        view["datastore"] = version.datastore.datastore_id()
    return view


def mgmt_datastore_version(version):
    """trove/extensions/mgmt/datastores/views.py DatastoreVersionView."""
    return {"id": version.id, "name": version.name, "version": version.number,
            "datastore_id": version.datastore.datastore_id(), "datastore_name": version.datastore.name,
            "datastore_manager": version.datastore.name, "active": version.active,
            "default": version.default, "image": version.image, "image_tags": list(version.image_tags),
            "packages": list(version.packages), "registry_ext": None, "repl_strategy": None}


def database(name):
    """trove/extensions/common/views.py SchemaView."""
    return {"name": name}


def user(record):
    """UserView: databases as [{"name"}]; never a password."""
    return {"name": record.name, "host": record.host, "databases": [database(name) for name in record.databases]}


def configuration(group, detail=False):
    """trove/configuration/views.py: ConfigurationView, or DetailedConfigurationView (values,
    instance_count, datastore_version_number) for show and create."""
    datastore_record = registry.get(group.datastore)
    view = {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "created": group.created,
        "updated": group.updated,
        "datastore_version_id": datastore_record.version_id(group.version),
        "datastore_name": group.datastore,
        "datastore_version_name": group.version,
    }
    if detail:
        view.update(values=dict(group.values or {}), instance_count=group.instance_count or 0,
                    datastore_version_number=group.version)
    return view


def configuration_parameter(version, parameter):
    """ConfigurationParameterView of a catalog Version's parameter, plus the rule's allowed
    values (and unit) where it has them."""
    view = {
        "name": parameter.name,
        "datastore_version_id": version.id,
        "restart_required": parameter.restart_required,
        "type": parameter.type,
    }
    for key, value in (("min", parameter.min), ("max", parameter.max)):
        if value is not None:
            view[key] = value
    if parameter.allowed:
        view["allowed_values"] = list(parameter.allowed)
    if parameter.unit:
        view["unit"] = parameter.unit
    return view


# ---- clusters (trove/cluster/views.py) -----------------------------------------------------

def cluster(record):
    """A cluster; ``instances`` (its members) and ``ip`` on show and create, as Trove shows them."""
    view = {
        "id": record.id,
        "name": record.name,
        "links": links("clusters", record.id),
        "datastore": {"type": record.datastore, "version": record.version},
        "task": {"id": record.task.id, "name": record.task.name, "description": record.task.description},
        "created": record.created,
        "updated": record.updated,
    }
    if record.members:
        view["instances"] = [cluster_member(member) for member in record.members]
        view["ip"] = [member.address for member in record.members if member.address]
    if record.fault:
        view["fault"] = {"message": record.fault, "created": record.updated, "details": ""}
    return view


def cluster_member(member):
    view = {
        "id": member.id,
        "name": member.name,
        "type": member.role,
        "status": member.status,
        "links": links("instances", member.id),
        "flavor": {"id": member.flavor_id, "links": links("flavors", member.flavor_id)},
        "volume": {"size": member.volume_size},
    }
    if member.address:
        view["ip"] = [member.address]
    if member.port:
        view["port"] = member.port
    return view


def cluster_instance(member, cluster):
    """A member as an instance of its cluster (``GET /clusters/{id}/instances/{member id}``,
    ``GET /instances/{member id}``)."""
    view = cluster_member(member)
    view["cluster_id"] = cluster.id
    view["datastore"] = {"type": cluster.datastore, "version": cluster.version, "version_number": cluster.version}
    if member.address:
        view.update(_address(member.address))
    return view
