"""Plain HOT for people who run ``openstack stack create`` themselves (``dbaas template``).

The service's templates are Jinja2, and the renderer names each database's and user's
parameters by a hash only it knows. This renders the same templates (the operator's
directories first, so their overrides apply here too) with readable names instead
(``database_orders_name``, ``user_app_password``) and gives what the Heat CLI takes: the
template, an environment file (the driver's resource_registry, with any nested template it
maps to written beside it) and a parameter file (an environment file of ``parameters``).
Passwords are hidden parameters without a default: Heat refuses a stack without them, and
they never go into these files (``--parameter-file user_app_password=FILE`` gives one).
Names become identifiers only as ``[a-z0-9_]``; the names themselves stay parameter values.
"""
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from dbaas_api import datastores
from dbaas_api.model import ClusterSpec, InstanceSpec, MemberSpec, UserSpec

_NOT_IDENTIFIER = re.compile(r"[^a-z0-9]+")
HEADER = """\
# Written by heat-dbaas's `dbaas template {command}`:
# a plain HOT template for `openstack stack create`. docs/templates.md says what each
# parameter is and what an update may change.
"""
SECRETS_HEADER = """\
# Passwords are hidden parameters without a default: give each with
# --parameter-file NAME=FILE (the file holds only the password, no newline).
"""


def readable_key(kind, name, host="%"):
    """``database_orders``, ``user_app`` (``user_app_at_10_0_0_1`` for another host)."""
    words = name if host == "%" else f"{name} at {host}"
    slug = _NOT_IDENTIFIER.sub("_", words.lower()).strip("_")[:40] or "x"
    return f"{kind}_{slug}"


@dataclass(frozen=True)
class Bundle:
    """What ``openstack stack create`` needs: a template, its non-secret parameter values,
    the names of the secrets to pass beside them, an environment and the nested files the
    template and environment name (relative paths, written beside the template)."""
    command: str
    template: dict
    parameters: dict
    secrets: tuple
    environment: dict
    files: dict = field(default_factory=dict)


def single(renderer, datastore, version=None, flavor="2", volume_size=1, databases=(), users=()):
    """One server with its databases and users (``users``: UserSpec with password None)."""
    spec = _instance(datastore, version, flavor, volume_size, databases, users)
    _check_keys(spec)
    template = _hand_use(yaml.safe_load(renderer.render_instance(spec, key=readable_key).template))
    return Bundle(command="", template=template, parameters=_values(renderer, spec),
                  secrets=_secrets(template), **_driver(renderer))


def replica_pair(renderer, datastore, version=None, flavor="2", volume_size=1, databases=(), users=()):
    """A primary (``primary.yaml``, the single template) and a replica of it (``replica.yaml``)
    as two nested stacks of one: the replica copies the primary's admin secret and follows it."""
    spec = _instance(datastore, version, flavor, volume_size, databases, users)
    _check_keys(spec)
    primary = _hand_use(yaml.safe_load(renderer.render_instance(spec, key=readable_key).template))
    seeded = replace(spec, databases=(), users=(), replica_seed="primary", replica_of="primary")
    replica = _hand_use(yaml.safe_load(renderer.render_instance(seeded, key=readable_key).template))
    parameters = primary["parameters"]
    source = {"get_attr": ["primary", "instance_id"]}
    template = {
        "heat_template_version": primary["heat_template_version"],
        "description": f"heat-dbaas {datastore}: a primary and a read-only replica that follows it",
        "parameters": parameters,
        "resources": {
            "primary": {"type": "primary.yaml",
                        "properties": {name: {"get_param": name} for name in parameters}},
            "replica": {"type": "replica.yaml", "properties": {
                **{name: {"get_param": name} for name in ("datastore", "datastore_version", "flavor", "volume_size")},
                "replica_seed": source, "replica_of": source}},
        },
        "outputs": {
            "primary_address": {"description": "The primary's address (takes writes).",
                                "value": {"get_attr": ["primary", "address"]}},
            "replica_address": {"description": "The replica's address (read-only).",
                                "value": {"get_attr": ["replica", "address"]}},
            "port": {"description": "The datastore's port at both addresses.",
                     "value": {"get_attr": ["primary", "port"]}},
        },
    }
    driver = _driver(renderer)
    driver["files"].update({"primary.yaml": _text(primary, ""), "replica.yaml": _text(replica, "")})
    return Bundle(command="", template=template, parameters=_values(renderer, spec), secrets=_secrets(template),
                  **driver)


def cluster(renderer, datastore, version=None, flavor="2", volume_size=1, members=3):
    """A cluster of ``members`` servers (MariaDB Galera, Redis Cluster) in one stack."""
    store = datastores.get(datastore)
    plan = store.plan_cluster([None] * members)
    keys = [f"member_{number}" for number in range(1, members + 1)]
    spec = ClusterSpec(project_id="", name="", datastore=store.name, version=version or store.default_version,
                       members=tuple(
                           MemberSpec(key=keys[index], flavor=datastores.find_flavor(flavor), volume_size=volume_size,
                                      role=role, follows=keys[follows] if follows is not None else None,
                                      number=index + 1, share=tuple(share))
                           for index, ((role, follows), share) in enumerate(zip(plan, store.initial_shares(plan)))))
    rendered = renderer.render_cluster(spec)
    template = _tidy(yaml.safe_load(rendered.template))
    parameters = dict(rendered.parameters, members=yaml.safe_load(rendered.parameters["members"]))
    return Bundle(command="", template=template, parameters=parameters, secrets=(),
                  **_driver(renderer))


def _driver(renderer):
    """The environment and its nested templates, at their names on the template search path
    (``drivers/openstack/server.yaml``), to be written beside the template."""
    names = renderer.nested_names
    environment = dict(renderer.environment)
    if names:
        environment["resource_registry"] = {kind: names.get(target, target) for kind, target
                                            in environment["resource_registry"].items()}
    return {"environment": environment, "files": {names[target]: text for target, text in renderer.files.items()}}


def _instance(datastore, version, flavor, volume_size, databases, users):
    store = datastores.get(datastore)
    version = version or store.default_version
    if version not in store.versions:
        raise ValueError(f"{store.name} has no version {version} (it has {', '.join(store.versions)})")
    for name in databases:
        store.validate_database_name(name)
    for user in users:
        store.validate_user_name(user.name)
    return InstanceSpec(project_id="", name="", datastore=store.name, version=version,
                        flavor=datastores.find_flavor(flavor), volume_size=volume_size,
                        databases=tuple(databases), users=tuple(users))


def _check_keys(spec):
    """Two names that would become one identifier (``my-db`` and ``my_db``) are refused."""
    seen = {}
    for kind, name, host in ([("database", name, "%") for name in spec.databases]
                             + [("user", user.name, user.host) for user in spec.users]):
        key = readable_key(kind, name, host)
        if key in seen:
            raise ValueError(f"The {kind}s {seen[key]!r} and {name!r} would both be {key}: rename one.")
        seen[key] = name


def _tidy(template):
    """Descriptions on one line each (the Jinja templates fold them)."""
    for item in list(template.get("parameters", {}).values()) + list(template.get("outputs", {}).values()):
        if "description" in item:
            item["description"] = " ".join(item["description"].split())
    return template


# Descriptions for parameters the service's templates leave undescribed, by name pattern.
_DESCRIPTIONS = (
    (re.compile(r"^datastore$"), "postgresql, mariadb or redis. Changing it replaces the server: a new, empty one."),
    (re.compile(r"^datastore_version$"), "The datastore's version. Changing it replaces the server: a new, empty one."),
    (re.compile(r"^volume_size$"), "GB of the data volume; grows in place."),
    (re.compile(r"^database_\w+_name$"),
     "A database's name. Changing it replaces the database: the old one is dropped."),
    (re.compile(r"^user_\w+_name$"), "A user's name. Changing it replaces the user."),
    (re.compile(r"^user_\w+_host$"), "The host the user may connect from ('%': any)."),
    (re.compile(r"^user_\w+_databases$"), "The databases the user may use (a json list of names); changes in place."),
)


def _hand_use(template):
    """The service's template as a person uses it: passwords required (the service keeps
    defaults only for its own updates), and the stack's id as an output (replicas name it)."""
    _tidy(template)
    for name, parameter in template["parameters"].items():
        for pattern, text in _DESCRIPTIONS:
            if "description" not in parameter and pattern.match(name):
                parameter["description"] = text
        if parameter.get("hidden"):
            parameter.pop("default", None)
            parameter["description"] = "A password (hidden): give it with --parameter-file."
    template.setdefault("outputs", {})["instance_id"] = {
        "description": "This instance's id: what a replica's replica_of names.",
        "value": {"get_param": "OS::stack_id"}}
    return template


def _values(renderer, spec):
    """The parameter file: the values without a default in the template, and the names."""
    rendered = renderer.render_instance(spec, key=readable_key)
    wanted = ("datastore", "datastore_version", "flavor", "volume_size")
    return {name: (yaml.safe_load(value) if name.endswith("_databases") else value)
            for name, value in rendered.parameters.items()
            if name in wanted or name.endswith(("_name", "_databases"))}


def _secrets(template):
    return tuple(name for name, parameter in template["parameters"].items() if parameter.get("hidden"))


class _Dumper(yaml.SafeDumper):
    """Block style, but intrinsic functions ({get_param: x}) and lists of scalars on one line,
    as people write HOT."""


def _represent_dict(dumper, data):
    leaf = len(data) == 1 and all(not isinstance(v, dict) and "::" not in str(k) for k, v in data.items())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=leaf)


def _represent_list(dumper, data):
    leaf = all(not isinstance(v, (dict, list)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=leaf)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def _text(document, header):
    return header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def write(bundle, directory):
    """Write template.yaml, environment.yaml, parameters.yaml and the nested files into
    ``directory``; the paths written, the template first."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {
        "template.yaml": _text(bundle.template, HEADER.format(command=bundle.command)
                               + (SECRETS_HEADER if bundle.secrets else "")),
        "environment.yaml": _text(bundle.environment, "# The driver: which resource type DBaaS::Server is.\n"),
        "parameters.yaml": _text({"parameters": bundle.parameters},
                                 "# This stack's values (no secrets): pass with -e.\n"),
        **bundle.files,
    }
    paths = []
    for name, text in written.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths.append(path)
    return paths


def create_command(bundle, directory, name="mydb"):
    """The ``openstack stack create`` line for a written bundle."""
    directory = Path(directory)
    secrets = "".join(f" \\\n    --parameter-file {secret}=<a file holding it>" for secret in bundle.secrets)
    return (f"openstack stack create -t {directory / 'template.yaml'} -e {directory / 'environment.yaml'} "
            f"-e {directory / 'parameters.yaml'}{secrets} --wait {name}")


def parse_user(text):
    """``app`` or ``app:orders,reports`` (the databases it may use): a UserSpec, no password."""
    name, _, databases = text.partition(":")
    return UserSpec(name=name, password=None, databases=tuple(d for d in databases.split(",") if d))
