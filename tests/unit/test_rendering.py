"""Rendering: structure from Jinja, values as parameters, operator templates first."""
import os
from pathlib import Path

import pytest
import yaml
from jinja2 import UndefinedError

from dbaas_api import datastores
from dbaas_api.config import Settings
from dbaas_api.model import InstanceSpec, UserSpec
from dbaas_api.rendering import Renderer, resource_key, template_names

GOLDEN = Path(__file__).parent / "golden"
HOSTILE = "x'\"; DROP TABLE t; -- {{ 7*7 }} {% if %} ${HOME} $(id) `id` \n: - [a] &a *a !!python/object"


def spec(datastore="postgresql", version="15", databases=("appdb",), users=None):
    users = users if users is not None else (UserSpec("app", "pw", ("appdb",)),)
    return InstanceSpec(project_id="p1", name="n", datastore=datastore, version=version,
                        flavor=datastores.find_flavor("2"), volume_size=5,
                        databases=tuple(databases), users=tuple(users))


def renderer(**overrides):
    return Renderer(Settings.from_env(env={}, **overrides))


@pytest.mark.parametrize("datastore,version,databases", [
    ("postgresql", "15", ("appdb",)), ("mariadb", "10.11", ("appdb",)), ("redis", "7", ())])
def test_golden(datastore, version, databases):
    users = (UserSpec("app", "pw", tuple(databases)),)
    rendered = renderer().render_instance(spec(datastore, version, databases, users))
    golden = GOLDEN / f"single-{datastore}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered.template)
    assert rendered.template == golden.read_text()
    assert rendered.environment == {"resource_registry": {"DBaaS::Server": "DBaaS::Local::Server"}}


def test_values_are_parameters_never_template_text():
    rendered = renderer().render_instance(spec(
        databases=(HOSTILE,), users=(UserSpec(HOSTILE, HOSTILE, (HOSTILE,)),)))
    assert HOSTILE not in rendered.template
    assert "DROP" not in rendered.template and "$(id)" not in rendered.template
    template = yaml.safe_load(rendered.template)
    hidden = [name for name, p in template["parameters"].items() if p.get("hidden")]
    assert len(hidden) == 1 and rendered.parameters[hidden[0]] == HOSTILE
    names = [v for k, v in rendered.parameters.items() if k.endswith("_name")]
    assert names == [HOSTILE, HOSTILE]
    declared = set(template["parameters"])
    assert set(rendered.parameters) <= declared


def test_user_depends_on_its_databases_and_keys_are_stable():
    one = yaml.safe_load(renderer().render_instance(spec(
        databases=("a", "b"), users=(UserSpec("u", "pw", ("b",)),))).template)
    two = yaml.safe_load(renderer().render_instance(spec(
        databases=("b",), users=(UserSpec("u", "pw", ("b",)),))).template)
    user = one["resources"][resource_key("user", "u", "%")]
    assert user["depends_on"] == [resource_key("database", "b")]
    # Removing database 'a' keeps the resource names of 'b' and of the user.
    assert set(one["resources"]) - set(two["resources"]) == {resource_key("database", "a")}


def test_operator_template_dir_is_searched_first(tmp_path):
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "single.yaml.j2").write_text(
        "heat_template_version: 2021-04-16\ndescription: operator {{ datastore }}\nresources: {}\n")
    rendered = renderer(template_dirs=(tmp_path,)).render_instance(spec("redis", "7", (), ()))
    assert yaml.safe_load(rendered.template)["description"] == "operator redis"
    # Other datastores still come from the packaged templates.
    other = renderer(template_dirs=(tmp_path,)).render_instance(spec())
    assert "DBaaS::Server" in other.template


def test_lookup_order_is_most_specific_first():
    assert template_names("postgresql", "15", "single") == [
        "postgresql/15/single.yaml.j2", "postgresql/single.yaml.j2", "single.yaml.j2"]


def test_undefined_variables_fail_loudly(tmp_path):
    (tmp_path / "single.yaml.j2").write_text("x: {{ no_such_thing }}\n")
    with pytest.raises(UndefinedError):
        renderer(template_dirs=(tmp_path,)).render_instance(spec())
