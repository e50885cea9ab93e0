"""`dbaas template`: plain HOT a person runs with `openstack stack create` (no servers here:
the e2e tests in tests/e2e/test_raw_stacks.py create stacks from these with the real CLI)."""
import os
import shlex
from pathlib import Path

import pytest
import yaml

from dbaas_api import cli, raw_templates
from dbaas_api.config import Settings
from dbaas_api.rendering import Renderer

EXAMPLES_DIR = Path(__file__).parents[2] / "templates" / "examples"
# The shipped examples and the command that writes each (UPDATE_EXAMPLES=1 rewrites them).
EXAMPLES = {
    "postgresql": "postgresql --database orders --user app:orders",
    "mariadb": "mariadb --database shop --user app:shop",
    "redis": "redis --user app",
    "postgresql-replica-pair": "postgresql --topology replica-pair --database orders --user app:orders",
    "mariadb-galera": "mariadb --topology cluster --members 3",
}


def written(tmp_path, arguments):
    assert cli.main(["template", *shlex.split(arguments), "--out", str(tmp_path)]) == 0
    return {str(p.relative_to(tmp_path)): p.read_text() for p in sorted(tmp_path.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_shipped_examples_are_what_dbaas_template_writes(name, tmp_path, monkeypatch):
    monkeypatch.delenv("DBAAS_TEMPLATE_DIRS", raising=False)
    fresh = written(tmp_path, EXAMPLES[name])
    shipped = EXAMPLES_DIR / name
    if os.environ.get("UPDATE_EXAMPLES"):
        for relative, text in fresh.items():
            (shipped / relative).parent.mkdir(parents=True, exist_ok=True)
            (shipped / relative).write_text(text)
    assert {str(p.relative_to(shipped)): p.read_text()
            for p in sorted(shipped.rglob("*")) if p.is_file()} == fresh


def test_every_shipped_example_has_its_command():
    assert sorted(p.name for p in EXAMPLES_DIR.iterdir() if p.is_dir()) == sorted(EXAMPLES)


def test_readable_names_passwords_hidden_and_required_and_never_in_a_file(tmp_path):
    files = written(tmp_path, "postgresql --database orders --database my-reports --user app:orders,my-reports")
    template = yaml.safe_load(files["template.yaml"])
    parameters = yaml.safe_load(files["parameters.yaml"])["parameters"]
    assert parameters == {"datastore": "postgresql", "datastore_version": "15", "flavor": "2", "volume_size": 1,
                          "database_orders_name": "orders", "database_my_reports_name": "my-reports",
                          "user_app_name": "app", "user_app_databases": ["orders", "my-reports"]}
    password = template["parameters"]["user_app_password"]
    assert password["hidden"] is True and "default" not in password   # Heat refuses a stack without it
    assert [n for n, p in template["parameters"].items() if p.get("hidden")] == ["user_app_password"]
    assert "password" not in files["parameters.yaml"].replace("user_app_password", "")
    assert set(template["resources"]) >= {"server", "database_orders", "database_my_reports", "user_app"}
    assert template["outputs"]["instance_id"]["value"] == {"get_param": "OS::stack_id"}


def test_names_become_identifiers_only_as_letters_digits_and_underscores():
    assert raw_templates.readable_key("database", "Sales-2026 {{ x }}") == "database_sales_2026_x"
    assert raw_templates.readable_key("user", "app", "10.0.0.%") == "user_app_at_10_0_0"
    assert raw_templates.readable_key("database", "%%%") == "database_x"


def test_two_names_that_would_share_an_identifier_are_refused(tmp_path, capsys):
    assert cli.main(["template", "postgresql", "--database", "my-db", "--database", "my_db",
                     "--out", str(tmp_path)]) == 1
    assert "would both be database_my_db" in capsys.readouterr().err
    assert not (tmp_path / "template.yaml").exists()


def test_a_bad_name_is_refused_as_the_api_would(tmp_path, capsys):
    assert cli.main(["template", "redis", "--database", "x", "--out", str(tmp_path)]) == 1
    assert cli.main(["template", "mariadb", "--user", "x" * 200, "--out", str(tmp_path)]) == 1
    assert cli.main(["template", "nosuch", "--out", str(tmp_path)]) == 1


def test_replica_pair_nests_the_single_template_and_seeds_the_replica_from_it(tmp_path):
    files = written(tmp_path, EXAMPLES["postgresql-replica-pair"])
    template = yaml.safe_load(files["template.yaml"])
    assert template["resources"]["primary"]["type"] == "primary.yaml"
    replica = template["resources"]["replica"]
    assert replica["type"] == "replica.yaml"
    assert replica["properties"]["replica_seed"] == replica["properties"]["replica_of"] == {
        "get_attr": ["primary", "instance_id"]}
    nested = yaml.safe_load(files["replica.yaml"])
    assert nested["resources"]["admin_password"]["type"] == "DBaaS::SourceSecret"
    assert set(template["parameters"]) == set(yaml.safe_load(files["primary.yaml"])["parameters"])


def test_operator_overrides_shape_dbaas_template_too(tmp_path):
    operator = tmp_path / "operator"
    (operator / "redis").mkdir(parents=True)
    (operator / "redis" / "single.yaml.j2").write_text(
        "heat_template_version: 2021-04-16\ndescription: site redis\nparameters: {}\nresources: {}\n")
    renderer = Renderer(Settings.from_env(env={}, template_dirs=(operator,)))
    assert raw_templates.single(renderer, "redis").template["description"] == "site redis"


def test_the_cloud_drivers_nested_template_is_written_beside_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DBAAS_ENVIRONMENT_FILE", str(EXAMPLES_DIR.parent / "environments" / "openstack.yaml"))
    files = written(tmp_path, "redis --user app")
    environment = yaml.safe_load(files["environment.yaml"])
    assert environment["resource_registry"] == {"DBaaS::Server": "drivers/openstack/server.yaml"}
    assert files["drivers/openstack/server.yaml"] == (EXAMPLES_DIR.parent / "drivers/openstack/server.yaml").read_text()
    assert environment["parameter_defaults"]["image"] == "dbaas-guest"
