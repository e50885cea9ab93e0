"""Turn an InstanceSpec into a Heat stack: Jinja2 decides structure, parameters carry values.

User input never becomes template text. The template only sees resource keys that Python
derives from a hash of each name (``database_<hex>``), so no name, however odd, can change
the YAML; the names themselves travel as stack parameters (passwords as hidden ones).
Keys derive from the name, not the position, so a stack update that removes one user
leaves the others' resources untouched.
"""
import hashlib
import json

import yaml
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined

from dbaas_api.model import RenderedStack

TOPOLOGY_SINGLE = "single"


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

    def render_instance(self, spec):
        databases = [{"key": resource_key("database", name), "name": name} for name in spec.databases]
        database_keys = {d["name"]: d["key"] for d in databases}
        users = [
            {
                "key": resource_key("user", user.name, user.host),
                "spec": user,
                "depends_on": [database_keys[name] for name in user.databases if name in database_keys],
            }
            for user in spec.users
        ]
        template = self.jinja.select_template(template_names(spec.datastore, spec.version, TOPOLOGY_SINGLE))
        text = template.render(datastore=spec.datastore, databases=databases, users=users)

        parameters = {
            "datastore": spec.datastore,
            "datastore_version": spec.version,
            "flavor": spec.flavor.id,
            "volume_size": spec.volume_size,
        }
        for database in databases:
            parameters[f"{database['key']}_name"] = database["name"]
        for user in users:
            parameters[f"{user['key']}_name"] = user["spec"].name
            parameters[f"{user['key']}_password"] = user["spec"].password
            parameters[f"{user['key']}_databases"] = json.dumps(list(user["spec"].databases))
        return RenderedStack(template=text, parameters=parameters, environment=self.environment, files={})
