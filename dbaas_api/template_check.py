"""``dbaas up`` refuses to start with a template that does not render or that Heat rejects.

Operators' overrides (DBAAS_TEMPLATE_DIRS) and environment files are read per request; a
mistake in one would otherwise show only when some user's request meets it (and the user
would be blamed with a 400). So before the API starts, every datastore x version x topology
x feature combination the service can render is rendered, and, when the operator has
templates or an environment of their own, Heat validates each (its template validate call,
which checks resource types, property names and references). The first error stops the
start, naming the file (and line, where Jinja, YAML or the template's text tells it).
"""
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path

import yaml

from dbaas_api import datastores, errors
from dbaas_api.model import (ClusterSpec, ConfigurationSpec, InstanceSpec, MemberSpec, RootSpec,
                             UserSpec)
from dbaas_api.rendering import BACKUP, CLUSTER, CONFIGURATION, TOPOLOGY_REPLICA, TOPOLOGY_SINGLE

# What Heat's messages name, and how the line defining it looks.
_NAMED = ((re.compile(r"resources\.([A-Za-z0-9_]+)"), r"^\s*{}\s*:"),
          (re.compile(r"Resource Type \(([^)]+)\)"), r"^\s*type\s*:\s*{}\s*$"))


@dataclass(frozen=True)
class Case:
    datastore: str
    version: str
    topology: str
    features: tuple    # e.g. ("root", "configuration")

    def __str__(self):
        with_ = f" with {', '.join(self.features)}" if self.features else ""
        return f"{self.datastore} {self.version} {self.topology}{with_}"


def cases():
    """Every combination the service renders."""
    for store in datastores.all():
        for version in store.versions:
            for topology in (TOPOLOGY_SINGLE, TOPOLOGY_REPLICA):
                roots = (False, True) if store.supports_root and topology == TOPOLOGY_SINGLE else (False,)
                for root, configuration, restore in product(roots, (False, True), (False, True)):
                    features = tuple(name for name, on in (("root", root), ("configuration", configuration),
                                                           ("restore", restore)) if on)
                    yield Case(store.name, version, topology, features)
            if store.min_cluster_members:
                yield Case(store.name, version, CLUSTER, ())
            yield Case(store.name, version, BACKUP, ())
            yield Case(store.name, version, CONFIGURATION, ())


def render(renderer, case):
    """The RenderedStack of one case (errors.TemplateFault when it does not render)."""
    store = datastores.get(case.datastore)
    flavor = datastores.find_flavor("1")
    if case.topology == CLUSTER:
        plan = store.plan_cluster([None] * store.min_cluster_members)
        keys = [f"member_{n}" for n in range(1, len(plan) + 1)]
        return renderer.render_cluster(ClusterSpec(
            project_id="", name="", datastore=store.name, version=case.version, members=tuple(
                MemberSpec(key=keys[i], flavor=flavor, volume_size=1, role=role, number=i + 1,
                           follows=keys[follows] if follows is not None else None, share=tuple(share))
                for i, ((role, follows), share) in enumerate(zip(plan, store.initial_shares(plan))))))
    if case.topology == BACKUP:
        return renderer.render_backup(store.name, case.version, "instance-id")
    if case.topology == CONFIGURATION:
        return renderer.render_configuration(store.name, case.version, {})
    spec = InstanceSpec(
        project_id="", name="", datastore=store.name, version=case.version, flavor=flavor, volume_size=1,
        databases=("db",) if store.supports_databases else (),
        users=(UserSpec("user", "password", ("db",) if store.supports_databases else ()),),
        root=RootSpec("password") if "root" in case.features else None,
        configuration=ConfigurationSpec("group", {}) if "configuration" in case.features else None,
        restore=({"location": "backup", "checksum": "", "position": {}},) if "restore" in case.features else ())
    if case.topology != TOPOLOGY_REPLICA:
        return renderer.render_instance(spec)
    rendered = renderer.render_instance(replace(spec, databases=(), users=(), replica_seed="s", replica_of="s"))
    if "replica_seed" not in (yaml.safe_load(rendered.template).get("parameters") or {}):
        path = renderer.template_file(case.datastore, case.version, TOPOLOGY_SINGLE)
        error = errors.TemplateFault(
            f"The template {path} drops the blocks a replica fills in (replica_parameters, admin_password): "
            f"extend packaged/single.yaml.j2 and override other blocks.")
        error.operator_message = error.message
        raise error
    return rendered


def check(renderer, validate=None, workers=4):
    """Render every case; with ``validate`` (a gateway's ``validate_template``), have Heat
    validate each. Raises errors.TemplateFault for the first failure (in cases() order)."""
    rendered = [(case, render(renderer, case)) for case in cases()]
    if validate is None:
        return len(rendered)

    def refused(item):
        case, stack = item
        try:
            validate(stack)
        except errors.BadRequest as exc:
            return case, exc.message
        return None

    with ThreadPoolExecutor(workers) as pool:
        for failure in pool.map(refused, rendered):
            if failure:
                case, message = failure
                path = renderer.template_file(case.datastore, case.version, case.topology)
                error = errors.TemplateFault(f"Heat refuses the template {path}{_line(path, message)} "
                                             f"(rendered for {case}): {message}")
                error.operator_message = error.message
                raise error
    return len(rendered)


def _line(path, message):
    """``, line N``: where the resource (or type) Heat names is in the file, if it is there."""
    try:
        lines = Path(path).read_text().splitlines() if path else []
    except OSError:
        return ""
    for named, line in _NAMED:
        found = named.search(message)
        if found:
            pattern = re.compile(line.format(re.escape(found.group(1))))
            return next((f", line {n}" for n, text in enumerate(lines, 1) if pattern.match(text)), "")
    return ""
