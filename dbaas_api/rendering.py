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
import logging
import re
import traceback
from pathlib import Path

import yaml
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, StrictUndefined, TemplateError

from dbaas_api.errors import TemplateFault
from dbaas_api.model import RenderedStack
from dbaas_api.records import backup as backup_record
from dbaas_api.records import cluster as cluster_record
from dbaas_api.records import configuration as configuration_record
from dbaas_api.records import instance as instance_record
from dbaas_api.records.instance import resource_key, user_keys

LOG = logging.getLogger(__name__)

TOPOLOGY_SINGLE = "single"
TOPOLOGY_REPLICA = "replica"   # made as a replica: its admin secret is copied from the source
_SECRET_NAME = re.compile(r"^(?:user_[0-9a-f]{16}|root)_password$")  # the only names that become text
BACKUP = "backup"
CONFIGURATION = "configuration"
CLUSTER = "cluster"
_MEMBER_KEY = re.compile(r"^(?:m[0-9a-f]{12}|member_[1-9][0-9]?)$")  # the service's, or dbaas template's


PACKAGED = "packaged"   # packaged/<name>: the packaged template, also where an override has that name


def template_names(datastore, version, topology):
    """Most specific first: <datastore>/<version>/, then <datastore>/, then shared."""
    name = f"{topology}.yaml.j2"
    return [f"{datastore}/{version}/{name}", f"{datastore}/{name}", name]


class Renderer:
    def __init__(self, settings):
        # The operator's directories first; ``packaged/single.yaml.j2`` is always the packaged
        # one, so an override can extend the template it replaces.
        self.jinja = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(d)) for d in settings.search_path]
                                + [PrefixLoader({PACKAGED: FileSystemLoader(str(settings.packaged_templates))})]),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.environment = yaml.safe_load(settings.environment_file.read_text())
        self.files = nested_templates(self.environment, settings.search_path, settings.environment_file.parent)
        self.nested_names = registry_names(self.environment, settings.search_path, settings.environment_file.parent)
        self.packaged = Path(settings.packaged_templates).resolve()

    def _origin(self, template):
        """How an error names a template: its name, and whose it is (no server path)."""
        packaged = Path(template.filename).resolve().is_relative_to(self.packaged)
        return f"{template.name} ({'packaged' if packaged else 'operator override'})"

    def render_instance(self, spec, key=resource_key):
        """``key(kind, *parts)`` names each database's and user's resources and parameters:
        the service's hashes, or ``dbaas template``'s readable names (raw_templates.py)."""
        databases = [{"key": key("database", name), "name": name, "options": spec.database_options.get(name)}
                     for name in spec.databases]
        database_keys = {d["name"]: d["key"] for d in databases}
        users = [
            {
                "key": user_key,
                "spec": user,
                "depends_on": [database_keys[name] for name in user.databases if name in database_keys],
            }
            for user, user_key in zip(spec.users, user_keys(spec.users, key))
        ]
        live_secrets = {f"{user['key']}_password" for user in users} | ({"root_password"} if spec.root else set())
        retired = sorted(set(spec.retired_secrets) - live_secrets)
        for name in retired:
            if not _SECRET_NAME.match(name):
                raise ValueError(f"not a secret parameter of ours: {name!r}")
        topology = TOPOLOGY_REPLICA if spec.replica_seed else TOPOLOGY_SINGLE
        # A replica extends its datastore's single template, overrides included.
        single = self._select(spec.datastore, spec.version, TOPOLOGY_SINGLE).name
        text = self.render(spec.datastore, spec.version, topology, datastore=spec.datastore, databases=databases,
                           users=users, retired_secrets=retired, root=spec.root is not None,
                           configuration=spec.configuration is not None, restore=bool(spec.restore), single=single)
        return RenderedStack(**text, parameters=instance_record.parameters(spec, key, retired),
                             environment=self.environment, files=self.files)

    def render_backup(self, datastore, version, instance_id, parent=None, container=None):
        """A backup's stack: one DBaaS::Backup of the instance; ``parent`` is the parent
        backup's {location, checksum, position} for an incremental; ``container`` where it
        goes (None: the operator's)."""
        return RenderedStack(
            **self.render(datastore, version, BACKUP, datastore=datastore), environment=self.environment,
            files=self.files,
            parameters=backup_record.parameters(datastore, version, instance_id, parent, container))

    def render_configuration(self, datastore, version, values):
        """A configuration group's stack: a record with its values as a json parameter."""
        return RenderedStack(
            **self.render(datastore, version, CONFIGURATION, datastore=datastore),
            parameters=configuration_record.parameters(datastore, version, values))

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
        text = self.render(spec.datastore, spec.version, CLUSTER, datastore=spec.datastore, members=members)
        return RenderedStack(**text, parameters=cluster_record.parameters(spec), environment=self.environment,
                             files={})


    def _select(self, datastore, version, topology):
        try:
            return self.jinja.select_template(template_names(datastore, version, topology))
        except (TemplateError, RecursionError) as exc:
            raise _broken(template_names(datastore, version, topology)[-1], exc) from None

    def template_file(self, datastore, version, topology):
        """The file a topology of a datastore version is rendered from (the most specific)."""
        return self._select(datastore, version, topology).filename

    def render(self, store, version, topology, **context):
        """{template: the most specific template's text, template_name: which it is}. The text
        must parse as YAML; errors.TemplateFault (HTTP 500, logged) names the template when it
        does not render: an operator's mistake, never the caller's, and Heat never sees it."""
        template = self._select(store, version, topology)
        try:
            text = template.render(**context)
            yaml.safe_load(text)
        except (TemplateError, RecursionError, yaml.YAMLError) as exc:
            raise _broken(template.name, exc, template.filename) from None
        return {"template": text, "template_name": self._origin(template)}


def _broken(name, exc, path=None):
    """errors.TemplateFault naming the template and, where Jinja or YAML says, the line: the
    caller sees the template's name; ``operator_message`` (logged, and ``dbaas up``'s) its file."""
    line, reason = None, str(exc)
    if isinstance(exc, TemplateError) and getattr(exc, "lineno", None):
        name, path, line = getattr(exc, "name", None) or name, getattr(exc, "filename", None) or path, exc.lineno
    elif isinstance(exc, yaml.YAMLError) and getattr(exc, "problem_mark", None):
        name, path = f"{name} (as rendered)", f"{path or name} (as rendered)"
        line, reason = exc.problem_mark.line + 1, f"not YAML: {exc.problem}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    if frames and line is None:
        path, line = frames[-1].filename, frames[-1].lineno
    if isinstance(exc, RecursionError):
        reason = f"it extends itself (an override extends the packaged template as {PACKAGED}/<name>)"
    at = f", line {line}" if line else ""
    error = TemplateFault(f"The template {name}{at} is broken: {reason}")
    error.operator_message = f"The template {path or name}{at} is broken: {reason}"
    LOG.error("%s", error.operator_message)
    return error


def nested_templates(environment, search_path, base=None):
    """{name: text} of the templates an environment maps logical types to (the cloud driver's
    ``DBaaS::Server: ../drivers/openstack/server.yaml``), as Heat takes them: the stack's
    ``files``, by the name the environment gives. A relative path is the environment file's
    (``base``), as the Heat CLI reads it; where it lands in a template directory, the same
    name in the operator's directories comes first."""
    files = {}
    for target, name in registry_names(environment, search_path, base).items():
        for path in [Path(directory) / name for directory in search_path] + ([Path(base) / target] if base else []):
            if path.is_file():
                files[target] = path.read_text()
                break
        else:
            raise ValueError(f"The environment maps a type to {target}, which is in no template directory.")
    return files


def registry_names(environment, search_path, base=None):
    """{path in the environment: its name on the template search path} for each nested template."""
    names = {}
    for target in ((environment or {}).get("resource_registry") or {}).values():
        if not isinstance(target, str) or not target.endswith((".yaml", ".yml")):
            continue  # a plugin type such as DBaaS::Local::Server
        name = re.sub(r"^(?:\.\.?/)+", "", target)
        if base:
            resolved = (Path(base) / target).resolve()
            for directory in search_path:
                if resolved.is_relative_to(Path(directory).resolve()):
                    name = str(resolved.relative_to(Path(directory).resolve()))
                    break
        names[target] = name
    return names
