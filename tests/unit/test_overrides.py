"""Operators' template overrides: the lookup order for every topology, overrides that extend
the packaged templates, and every kind of broken override refused before any request meets
it (no Heat here: tests/e2e/test_overrides.py has Heat's own validation and `dbaas up`)."""
import pytest
import yaml

from dbaas_api import errors, template_check
from dbaas_api.config import Settings
from dbaas_api.embedded.lifecycle import Component, Embedded
from dbaas_api.rendering import Renderer
from dbaas_api.template_check import Case, render

EXTENDING = """{% extends "packaged/single.yaml.j2" %}
{% block extra_resources %}
  site_marker:
    type: OS::Heat::None
{% endblock %}
"""


@pytest.fixture
def nothing_starts(monkeypatch):
    """FAKE Component.start: `dbaas up` must refuse before it starts anything."""
    def started(component, env):
        raise AssertionError(f"dbaas up started {component.name}")
    monkeypatch.setattr(Component, "start", started)


def renderer(directory):
    return Renderer(Settings.from_env(env={}, template_dirs=(directory,)))


def marked(directory, path, text):
    (directory / path).parent.mkdir(parents=True, exist_ok=True)
    (directory / path).write_text(text)


def description(rendered):
    return yaml.safe_load(rendered.template)["description"]


@pytest.mark.parametrize("topology", ["single", "replica", "cluster", "backup", "configuration"])
def test_lookup_is_version_then_datastore_then_shared_then_packaged_for_every_topology(tmp_path, topology):
    case = Case("mariadb", "10.11", topology, ())
    assert description(render(renderer(tmp_path), case)).startswith("heat-dbaas")   # the packaged one
    for path in (f"{topology}.yaml.j2", f"mariadb/{topology}.yaml.j2", f"mariadb/10.11/{topology}.yaml.j2"):
        marked(tmp_path, path, f"heat_template_version: 2021-04-16\ndescription: {path}\n"
                               "parameters: {replica_seed: {type: string}}\nresources: {}\n")
        assert description(render(renderer(tmp_path), case)) == path


def test_a_datastore_override_of_single_reaches_its_replicas_and_no_other_datastore(tmp_path):
    marked(tmp_path, "postgresql/single.yaml.j2", EXTENDING)
    for topology in ("single", "replica"):
        rendered = yaml.safe_load(render(renderer(tmp_path), Case("postgresql", "15", topology, ("restore",))).template)
        assert rendered["resources"]["site_marker"] == {"type": "OS::Heat::None"}, topology
    replica = yaml.safe_load(render(renderer(tmp_path), Case("postgresql", "15", "replica", ())).template)
    assert replica["resources"]["admin_password"]["type"] == "DBaaS::SourceSecret"
    other = yaml.safe_load(render(renderer(tmp_path), Case("mariadb", "10.11", "replica", ())).template)
    assert "site_marker" not in other["resources"]


def test_an_override_extends_the_packaged_template_of_its_own_name(tmp_path):
    marked(tmp_path, "single.yaml.j2", EXTENDING)
    rendered = yaml.safe_load(render(renderer(tmp_path), Case("redis", "7", "single", ("configuration",))).template)
    assert {"server", "admin_password", "configuration", "site_marker"} <= set(rendered["resources"])


BROKEN = {   # kind: (file, text, what the refusal says)
    "syntax": ("postgresql/single.yaml.j2", "{% if %}\n", "postgresql/single.yaml.j2, line 1"),
    "undefined": ("mariadb/10.11/backup.yaml.j2", "a: 1\nb: {{ nothing_of_that_name }}\n",
                  "mariadb/10.11/backup.yaml.j2, line 2"),
    "extends itself": ("single.yaml.j2", '{% extends "single.yaml.j2" %}\n', "it extends itself"),
    "not yaml": ("redis/cluster.yaml.j2", "a: [1\n", "redis/cluster.yaml.j2 (as rendered), line 2"),
    "drops the replica's blocks": ("postgresql/single.yaml.j2", "heat_template_version: 2021-04-16\nresources: {}\n",
                                   "postgresql/single.yaml.j2 drops the blocks a replica fills in"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_each_broken_override_stops_dbaas_up_naming_file_and_line(tmp_path, kind, nothing_starts):
    path, text, says = BROKEN[kind]
    marked(tmp_path / "operator", path, text)
    embedded = Embedded(Settings.from_env(env={}, state_dir=tmp_path / "state",
                                          template_dirs=(tmp_path / "operator",)))
    with pytest.raises(RuntimeError) as refused:
        embedded.up()
    assert says in str(refused.value) and str(tmp_path / "operator") in str(refused.value)


def test_at_request_time_a_broken_override_is_the_services_500_naming_the_template(tmp_path, caplog):
    marked(tmp_path, "redis/7/single.yaml.j2", "a: {{ nothing_of_that_name }}\n")
    with pytest.raises(errors.TemplateFault) as raised:
        render(renderer(tmp_path), Case("redis", "7", "single", ()))
    assert raised.value.code == 500 and raised.value.body()["instanceFault"]["message"].startswith(
        "The template redis/7/single.yaml.j2, line 1 is broken")
    assert str(tmp_path / "redis/7/single.yaml.j2") in caplog.text   # the operator's log has the file


def test_every_case_renders_with_the_packaged_templates_and_heat_is_asked_about_each(tmp_path):
    seen = []
    count = template_check.check(Renderer(Settings.from_env(env={})), validate=seen.append)  # FAKE Heat: accepts
    assert count == len(seen) == len(list(template_check.cases())) >= 40


def test_heats_refusal_names_the_file_and_the_line_of_the_resource(tmp_path):
    marked(tmp_path, "mariadb/single.yaml.j2", EXTENDING)

    def validate(rendered):  # FAKE Heat, refusing as it does
        if "site_marker" in rendered.template:
            raise errors.BadRequest("Property error: resources.site_marker.properties: Unknown Property x")

    with pytest.raises(errors.TemplateFault) as raised:
        template_check.check(renderer(tmp_path), validate)
    assert raised.value.message.startswith(f"Heat refuses the template {tmp_path / 'mariadb/single.yaml.j2'}, line 3 ")
    assert "(rendered for mariadb 10.11 single)" in raised.value.message


@pytest.mark.parametrize("text,says", [
    ("resource_registry:\n  DBaaS::Server: ../drivers/nowhere.yaml\n", "../drivers/nowhere.yaml, which is in no template"),
    ("resource_registry: [\n", "while parsing"),
])
def test_an_environment_that_cannot_be_used_stops_dbaas_up(tmp_path, nothing_starts, text, says):
    environment = tmp_path / "environment.yaml"
    environment.write_text(text)
    embedded = Embedded(Settings.from_env(env={}, state_dir=tmp_path / "state", environment_file=environment))
    with pytest.raises(RuntimeError) as refused:
        embedded.up()
    assert str(environment) in str(refused.value) and says in str(refused.value)
