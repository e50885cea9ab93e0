"""service/changes.py without Heat: the intent a stack holds comes back from its parameters,
a change sends only what is new or changed, and a busy instance is waited for, then 409."""
import json
import time
from dataclasses import replace

import pytest
import yaml

from dbaas_api import datastores, errors, records
from dbaas_api.config import Settings
from dbaas_api.model import ConfigurationSpec, InstanceSpec, RootSpec, UserSpec
from dbaas_api.rendering import Renderer, resource_key
from dbaas_api.service import changes

HOSTILE = "x'\"; DROP TABLE t; -- {{ 7*7 }} ${HOME} \n: - [a]"


def as_heat_shows_it(spec, rendered):
    """A stack as Heat's show returns it for ``rendered``: every declared parameter as text
    (defaults filled in), hidden ones as ******, and the instance's tags."""
    declared = yaml.safe_load(rendered.template)["parameters"]
    shown = {}
    for name, schema in declared.items():
        value = rendered.parameters.get(name, schema.get("default"))
        shown[name] = "******" if schema.get("hidden") else value if isinstance(value, str) else json.dumps(value)
    instance_tags = records.instance.InstanceTags(spec.project_id, spec.datastore, spec.version, spec.flavor.id,
                                      spec.volume_size, spec.name)
    return {"id": "6f0fdcb1-1e0b-4bf4-9a3b-1a1f6f1b2c3d", "parameters": shown, "tags": records.instance.TAGS.encode(instance_tags)}


def full_spec(datastore="mariadb", version="10.11"):
    return InstanceSpec(
        project_id="p", name=HOSTILE, datastore=datastore, version=version,
        flavor=datastores.find_flavor("3"), volume_size=7,
        databases=("b", HOSTILE, "a"),
        users=(UserSpec("u", "pw-u", ("a",)), UserSpec(HOSTILE, HOSTILE, (HOSTILE, "b"), host="10.%"),
               UserSpec("u", "pw-u2", (), host="10.0.0.1")),
        root=RootSpec("root-pw"), configuration=ConfigurationSpec("cfg", {"max_connections": 200}),
        started_with={"max_connections": 100})


def test_the_spec_comes_back_from_the_stack_with_every_password_kept_not_known():
    spec = full_spec()
    rebuilt = records.instance.spec_from_stack(as_heat_shows_it(spec, Renderer(Settings.from_env(env={})).render_instance(spec)))
    assert rebuilt.databases == tuple(sorted(spec.databases))
    assert {(u.name, u.host, u.databases) for u in rebuilt.users} == {(u.name, u.host, u.databases) for u in spec.users}
    assert all(u.password is None for u in rebuilt.users) and rebuilt.root == RootSpec(None)
    assert rebuilt.configuration == spec.configuration and rebuilt.started_with == spec.started_with
    assert (rebuilt.name, rebuilt.flavor, rebuilt.volume_size, rebuilt.project_id) == (
        spec.name, spec.flavor, spec.volume_size, spec.project_id)


def test_re_rendering_a_rebuilt_spec_changes_nothing():
    renderer = Renderer(Settings.from_env(env={}))
    spec = full_spec()
    first = renderer.render_instance(spec)
    stack = as_heat_shows_it(spec, first)
    again = renderer.render_instance(records.instance.spec_from_stack(stack))
    assert set(yaml.safe_load(again.template)["resources"]) == set(yaml.safe_load(first.template)["resources"])
    assert records.stack.changed_parameters(again.parameters, stack["parameters"]) == {}


def test_only_new_and_changed_parameters_are_sent():
    current = {"volume_size": "5", "user_1_databases": '["a", "b"]', "database_1_name": "a",
               "user_1_password": "******", "configuration_values": '{"b": 1, "a": 2}'}
    rendered = {"volume_size": 5, "user_1_databases": '["a", "b"]', "database_1_name": "a",
                "user_1_password": "******", "configuration_values": '{"a": 2, "b": 1}',
                "database_2_name": "new", "user_1_host": "%"}
    assert records.stack.changed_parameters(rendered, current) == {
        "user_1_password": "******",       # a password that happens to read ****** still goes
        "database_2_name": "new", "user_1_host": "%"}


def test_a_removed_thing_left_as_its_default_is_not_in_the_spec():
    """While an update runs Heat shows the old template's parameters with the new values:
    what the update removes reads as its default, ''."""
    spec = full_spec("postgresql", "15")
    spec = InstanceSpec(**{**spec.__dict__, "users": (UserSpec("u", "pw", ("a",)),)})
    stack = as_heat_shows_it(spec, Renderer(Settings.from_env(env={})).render_instance(spec))
    for key in list(stack["parameters"]):
        if stack["parameters"][key] == "u" or key == "configuration_id":
            stack["parameters"][key] = ""
    rebuilt = records.instance.spec_from_stack(stack)
    assert rebuilt.users == () and rebuilt.configuration is None


def test_a_renamed_user_keeps_its_key_and_a_new_user_of_its_old_name_gets_another():
    """The key is where Heat has the account: rendered under another key it would be
    dropped and made again, empty. Its first name, taken again, must not share it."""
    first = resource_key("user", "a", "%")
    stack = {"parameters": {"datastore": "redis", "datastore_version": "7", "flavor": "1", "volume_size": "1",
                            f"{first}_name": "b"},
             "tags": records.instance.TAGS.encode(records.instance.InstanceTags("p", "redis", "7", "1", 1, "n"))}
    spec = records.instance.spec_from_stack(stack)
    assert spec.users == (UserSpec("b", None, key=first),)
    spec = replace(spec, users=spec.users + (UserSpec("a", "pw"),))
    parameters = Renderer(Settings.from_env(env={})).render_instance(spec).parameters
    names = {key: value for key, value in parameters.items() if key.endswith("_name")}
    assert names[f"{first}_name"] == "b" and sorted(names.values()) == ["a", "b"]


def test_a_busy_attempt_is_retried_until_the_wait_is_over():
    calls = []

    def attempt():
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise changes.busy("busy")
        return "done"
    assert changes.wait_until_free(5, attempt) == "done" and len(calls) == 3

    def always_busy():
        raise changes.busy("instance X is busy")
    started = time.monotonic()
    with pytest.raises(errors.Conflict, match="instance X is busy"):
        changes.wait_until_free(0.3, always_busy)
    assert 0.2 < time.monotonic() - started < 1.0
    with pytest.raises(errors.Conflict):
        changes.wait_until_free(0, always_busy)
