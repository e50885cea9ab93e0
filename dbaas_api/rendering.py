"""Turn an InstanceSpec into a Heat stack: Jinja2 decides structure, parameters carry values.

User input never becomes template text. The template only sees resource keys that Python
derives from a hash of each name (``database_<hex>``), so no name, however odd, can change
the YAML; the names themselves travel as stack parameters (passwords as hidden ones).
Keys derive from the name, not the position, so a stack update that removes one user
leaves the others' resources untouched.

A user whose password is None is rendered without a value for its hidden password parameter:
on a PATCH update Heat keeps the value it has. That is how a change re-renders the whole
instance without knowing (or ever reading back) its users' passwords.
"""
import hashlib
import json
import re
from pathlib import Path

import yaml
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from dbaas_api.model import RenderedStack

TOPOLOGY_SINGLE = "single"
TOPOLOGY_REPLICA = "replica"   # made as a replica: its admin secret is copied from the source
_SECRET_NAME = re.compile(r"^(?:user_[0-9a-f]{16}|root)_password$")  # the only names that become text
BACKUP = "backup"
CONFIGURATION = "configuration"
CLUSTER = "cluster"
_MEMBER_KEY = re.compile(r"^(?:m[0-9a-f]{12}|member_[1-9][0-9]?)$")  # the service's, or dbaas template's


def resource_key(kind, *parts):
    digest = hashlib.sha256("\0".join((kind,) + parts).encode()).hexdigest()[:16]
    return f"{kind}_{digest}"


def template_names(datastore, version, topology):
    """Most specific first: <datastore>/<version>/, then <datastore>/, then shared."""
    name = f"{topology}.yaml.j2"
    return [f"{datastore}/{version}/{name}", f"{datastore}/{name}", name]


class Renderer:
    def __init__(self, settings):
        self.jinja = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(d)) for d in settings.search_path]),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.environment = yaml.safe_load(settings.environment_file.read_text())
        self.files = nested_templates(self.environment, settings.search_path)
        self.packaged = Path(settings.packaged_templates).resolve()

    def _origin(self, template):
        """How an error names a template: its name, and whose it is (no server path)."""
        packaged = Path(template.filename).resolve().is_relative_to(self.packaged)
        return f"{template.name} ({'packaged' if packaged else 'operator override'})"

    def render_instance(self, spec, key=resource_key):
        """``key(kind, *parts)`` names each database's and user's resources and parameters:
        the service's hashes, or ``dbaas template``'s readable names (raw_templates.py)."""
        databases = [{"key": key("database", name), "name": name} for name in spec.databases]
        database_keys = {d["name"]: d["key"] for d in databases}
        users = [
            {
                "key": key("user", user.name, user.host),
                "spec": user,
                "depends_on": [database_keys[name] for name in user.databases if name in database_keys],
            }
            for user in spec.users
        ]
        live_secrets = {f"{user['key']}_password" for user in users} | ({"root_password"} if spec.root else set())
        retired = sorted(set(spec.retired_secrets) - live_secrets)
        for name in retired:
            if not _SECRET_NAME.match(name):
                raise ValueError(f"not a secret parameter of ours: {name!r}")
        topology = TOPOLOGY_REPLICA if spec.replica_seed else TOPOLOGY_SINGLE
        template = self.jinja.select_template(template_names(spec.datastore, spec.version, topology))
        text = template.render(datastore=spec.datastore, databases=databases, users=users, retired_secrets=retired,
                               root=spec.root is not None, configuration=spec.configuration is not None,
                               restore=bool(spec.restore))

        parameters = {
            "datastore": spec.datastore,
            "datastore_version": spec.version,
            "flavor": spec.flavor.id,
            "volume_size": spec.volume_size,
            "configuration_values": to_json(spec.configuration.values if spec.configuration else {}),
            "configuration_started_with": to_json(spec.started_with),
            "restart_generation": spec.restarts,
            "is_public": str(spec.access.is_public),  # as Heat shows a boolean: True, False
            "allowed_cidrs": to_json(list(spec.access.allowed_cidrs)),
            "replica_of": spec.replica_of or "",
            "replica_fence": spec.replica_fence or "",
            **placement_parameters(spec.placement),
        }
        if spec.replica_seed:
            parameters["replica_seed"] = spec.replica_seed
        for database in databases:
            parameters[f"{database['key']}_name"] = database["name"]
        for user in users:
            parameters[f"{user['key']}_name"] = user["spec"].name
            parameters[f"{user['key']}_host"] = user["spec"].host
            parameters[f"{user['key']}_databases"] = to_json(list(user["spec"].databases))
            if user["spec"].password is not None:
                parameters[f"{user['key']}_password"] = user["spec"].password
        if spec.root is not None:
            parameters["root_enabled"] = "yes"
            if spec.root.password is not None:
                parameters["root_password"] = spec.root.password
        parameters.update({name: "" for name in retired})
        if spec.configuration is not None:
            parameters["configuration_id"] = spec.configuration.id
        if spec.restore:
            parameters["restore_from"] = json.dumps(list(spec.restore), sort_keys=True)
        return RenderedStack(template=text, parameters=parameters, environment=self.environment, files=self.files,
                             template_name=self._origin(template))

    def render_backup(self, datastore, version, instance_id, parent=None, container=None):
        """A backup's stack: one DBaaS::Backup of the instance; ``parent`` is the parent
        backup's {location, checksum, position} for an incremental; ``container`` where it
        goes (None: the operator's)."""
        template = self.jinja.select_template(template_names(datastore, version, BACKUP))
        return RenderedStack(
            template=template.render(datastore=datastore), environment=self.environment, files=self.files,
            template_name=self._origin(template),
            parameters={"instance_id": instance_id, "datastore": datastore, "datastore_version": version,
                        "parent": json.dumps(parent or {}, sort_keys=True), "container": container or ""})

    def render_configuration(self, datastore, version, values):
        """A configuration group's stack: a record with its values as a json parameter."""
        template = self.jinja.select_template(template_names(datastore, version, CONFIGURATION))
        return RenderedStack(
            template=template.render(datastore=datastore), template_name=self._origin(template),
            parameters={"datastore": datastore, "datastore_version": version, "values": to_json(values)})

    def render_record(self):
        """A record that is only its tags (a project's quota limits, a quota claim)."""
        template = self.jinja.get_template("record.yaml.j2")
        return RenderedStack(template=template.render(), template_name=self._origin(template))

    def render_cluster(self, spec):
        """A cluster's stack: one DBaaS::ClusterMember per member, in creation order; each
        joins through the members before it (its peers) and a replica follows its master."""
        keys = [member.key for member in spec.members]
        for member in spec.members:
            if (not _MEMBER_KEY.match(member.key) or not re.fullmatch(r"[a-z]{1,20}", member.role)
                    or (member.follows and member.follows not in keys)):
                raise ValueError(f"not a member key of ours: {member.key!r}")
        if len(set(keys)) != len(keys):
            raise ValueError("member keys must be unique")
        members = [{"key": member.key, "role": member.role, "peers": keys[:index], "follows": member.follows,
                    "share": bool(member.share)}
                   for index, member in enumerate(spec.members)]
        template = self.jinja.select_template(template_names(spec.datastore, spec.version, CLUSTER))
        text = template.render(datastore=spec.datastore, members=members)
        parameters = {
            "datastore": spec.datastore,
            "datastore_version": spec.version,
            "members": to_json({member.key: {"flavor": member.flavor.id, "volume_size": member.volume_size,
                                             "role": member.role, "follows": member.follows, "index": index,
                                             "number": member.number, "share": list(member.share)}
                                for index, member in enumerate(spec.members)}),
        }
        return RenderedStack(template=text, parameters=parameters, environment=self.environment, files={},
                             template_name=self._origin(template))


def nested_templates(environment, search_path):
    """{name: text} of the templates an environment maps logical types to (the cloud driver's
    ``DBaaS::Server: drivers/openstack/server.yaml``), found on the template search path (the
    operator's directories first): Heat takes them as the stack's ``files``."""
    files = {}
    for target in ((environment or {}).get("resource_registry") or {}).values():
        if not isinstance(target, str) or not target.endswith((".yaml", ".yml")):
            continue  # a plugin type such as DBaaS::Local::Server
        for directory in search_path:
            path = Path(directory) / target
            if path.is_file():
                files[target] = path.read_text()
                break
        else:
            raise ValueError(f"The environment maps a type to {target}, which is in no template directory.")
    return files


PLACEMENT_PARAMETERS = {"network_id": "network_id", "subnet_id": "subnet_id", "subnet_cidr": "cidr",
                        "fixed_ip": "fixed_ip", "volume_type": "volume_type"}


def placement_parameters(placement):
    """The stack parameters of a Placement (service/changes.py reads them back)."""
    return {parameter: getattr(placement, field) for parameter, field in PLACEMENT_PARAMETERS.items()}


def to_json(value):
    """A json stack parameter's text, stable for comparisons (sorted keys, like Heat's)."""
    return json.dumps(value, sort_keys=True)
