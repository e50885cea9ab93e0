"""Rendering: structure from Jinja, values as parameters, operator templates first."""
import os
from pathlib import Path

import pytest
import yaml

from dbaas_api import datastores, errors
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
    assert rendered.environment == {"resource_registry": {"DBaaS::Server": "DBaaS::Local::Server",
                                                          "DBaaS::ClusterMember": "DBaaS::Local::ClusterMember"}}


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


def test_undefined_variables_fail_loudly_as_the_templates_fault(tmp_path):
    (tmp_path / "single.yaml.j2").write_text("a: 1\nx: {{ no_such_thing }}\n")
    with pytest.raises(errors.TemplateFault) as raised:
        renderer(template_dirs=(tmp_path,)).render_instance(spec())
    assert raised.value.code == 500   # the operator's mistake, never the caller's 400
    assert raised.value.message.startswith("The template single.yaml.j2, line 2 is broken: 'no_such_thing'")
    assert raised.value.operator_message.startswith(f"The template {tmp_path / 'single.yaml.j2'}, line 2 is")


def test_a_user_without_a_password_keeps_the_stacks_one():
    rendered = renderer().render_instance(spec(users=(UserSpec("kept", None, ("appdb",)),
                                                      UserSpec("new", "pw-new", ()))))
    passwords = {k: v for k, v in rendered.parameters.items() if k.endswith("_password")}
    assert passwords == {f"{resource_key('user', 'new', '%')}_password": "pw-new"}
    declared = yaml.safe_load(rendered.template)["parameters"]
    assert declared[f"{resource_key('user', 'kept', '%')}_password"] == {"type": "string", "hidden": True, "default": ""}


def test_root_and_configuration_are_resources_with_parameters():
    from dbaas_api.model import ConfigurationSpec, RootSpec
    base = spec()
    with_all = InstanceSpec(**{**base.__dict__, "root": RootSpec("root-pw"),
                               "configuration": ConfigurationSpec("cfg-1", {"work_mem": 8192}),
                               "started_with": {"work_mem": 4096}})
    rendered = renderer().render_instance(with_all)
    template = yaml.safe_load(rendered.template)
    assert template["resources"]["root"]["type"] == "DBaaS::Root"
    assert template["resources"]["configuration"]["type"] == "DBaaS::Configuration"
    assert template["resources"]["server"]["properties"]["configuration"] == {"get_param": "configuration_values"}
    assert rendered.parameters["root_password"] == "root-pw" and template["parameters"]["root_password"]["hidden"]
    assert rendered.parameters["configuration_id"] == "cfg-1"
    assert rendered.parameters["configuration_values"] == '{"work_mem": 8192}'
    assert rendered.parameters["configuration_started_with"] == '{"work_mem": 4096}'
    # Kept root (password None): the resource stays, no value is sent.
    kept = renderer().render_instance(InstanceSpec(**{**base.__dict__, "root": RootSpec()}))
    assert "root" in yaml.safe_load(kept.template)["resources"] and "root_password" not in kept.parameters
    # Without them: no resources, and the values are {}.
    plain = yaml.safe_load(renderer().render_instance(base).template)
    assert {"root", "configuration"}.isdisjoint(plain["resources"])


def test_every_parameter_a_change_can_remove_has_a_default():
    """Heat's legacy engine reads the old template with the new parameters while an update
    runs: a parameter without a default that the update drops would break stack show."""
    from dbaas_api.model import ConfigurationSpec, RootSpec
    full = InstanceSpec(**{**spec().__dict__, "root": RootSpec("pw"), "configuration": ConfigurationSpec("c", {})})
    declared = yaml.safe_load(renderer().render_instance(full).template)["parameters"]
    always = {"datastore", "datastore_version", "flavor", "volume_size"}
    assert [name for name, schema in declared.items() if name not in always and "default" not in schema] == []


def test_a_configuration_group_renders_as_a_record_without_resources():
    rendered = renderer().render_configuration("mariadb", "10.11", {"max_connections": 200, "a": True})
    template = yaml.safe_load(rendered.template)
    assert template["resources"] == {} and template["parameters"]["values"]["type"] == "json"
    assert rendered.parameters == {"datastore": "mariadb", "datastore_version": "10.11",
                                   "values": '{"a": true, "max_connections": 200}'}


def test_secrets_of_removed_things_stay_declared_and_emptied():
    from dbaas_api.model import RootSpec
    gone = f"{resource_key('user', 'gone', '%')}_password"
    back = f"{resource_key('user', 'back', '%')}_password"
    base = spec(users=(UserSpec("back", "pw-back", ()),))
    rendered = renderer().render_instance(InstanceSpec(**{**base.__dict__, "root": RootSpec(),
                                                          "retired_secrets": (gone, back, "root_password")}))
    declared = yaml.safe_load(rendered.template)["parameters"]
    assert declared[gone] == {"type": "string", "hidden": True, "default": "",
                              "description": "The emptied secret of something removed (Heat keeps hidden parameters)."}
    assert rendered.parameters[gone] == "" and rendered.parameters[back] == "pw-back"
    assert "root_password" not in rendered.parameters and rendered.parameters["root_enabled"] == "yes"
    with pytest.raises(ValueError):
        renderer().render_instance(InstanceSpec(**{**base.__dict__, "retired_secrets": ("x: {{ 7*7 }}",)}))


def test_replica_golden_and_its_secret_comes_from_the_source():
    """A replica renders the single template with the source's secret (DBaaS::SourceSecret)
    instead of a RandomString; which server it follows is a parameter, no password is one."""
    from dataclasses import replace
    source = "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d"
    replica = replace(spec(databases=(), users=()), replica_of=source, replica_seed=source)
    rendered = renderer().render_instance(replica)
    golden = GOLDEN / "replica-postgresql.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(rendered.template)
    assert rendered.template == golden.read_text()
    template = yaml.safe_load(rendered.template)
    assert template["resources"]["admin_password"] == {
        "type": "DBaaS::SourceSecret", "properties": {"instance_id": {"get_param": "replica_seed"}}}
    assert template["resources"]["server"]["properties"]["replica_of"] == {"get_param": "replica_of"}
    assert (rendered.parameters["replica_of"], rendered.parameters["replica_seed"]) == (source, source)
    assert not any("password" in name for name in rendered.parameters)
    # Promoted, it keeps the replica shape (its secret) and follows nobody.
    promoted = renderer().render_instance(replace(replica, replica_of=None))
    assert yaml.safe_load(promoted.template)["resources"]["admin_password"]["type"] == "DBaaS::SourceSecret"
    assert promoted.parameters["replica_of"] == ""
    # A single instance made as such keeps its RandomString whatever it follows.
    demoted = renderer().render_instance(replace(spec(), replica_of=source))
    assert yaml.safe_load(demoted.template)["resources"]["admin_password"]["type"] == "OS::Heat::RandomString"
    assert "replica_seed" not in demoted.parameters
