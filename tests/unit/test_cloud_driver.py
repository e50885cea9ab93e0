"""The cloud driver's templates (templates/environments/openstack.yaml ->
templates/drivers/openstack/server.yaml), read and validated by Heat's own template machinery.

There is no Nova, Cinder or Neutron here, so nothing is created: Heat parses the templates,
checks every resource's properties against the real OS:: resource types' schemas, resolves
the intrinsic functions (repeat, if, get_param paths, str_replace) with real parameter values,
and checks that the nested template takes exactly DBaaS::Server's properties and gives its
attributes. The one FAKE: Heat is told the cloud's services exist (it would otherwise ask
Keystone's catalog) and value checks that need them (names of networks, images) are off.
The resolved security group rules and boot script are compared with golden files.
"""
import json
import os
from pathlib import Path

import pytest
import yaml

from dbaas_api import datastores
from dbaas_api.config import Settings
from dbaas_api.model import AccessSpec, InstanceSpec, UserSpec
from dbaas_api.rendering import Renderer

from dbaas_api.embedded import heat as embedded_heat  # noqa: F401 - the engine's threading backend, first

heat_template_format = pytest.importorskip("heat.common.template_format")
from heat.common import context as heat_context  # noqa: E402
from heat.common import exception as heat_exception  # noqa: E402
from heat.engine import environment, resources, template  # noqa: E402
from heat.engine import resource as heat_resource  # noqa: E402
from heat.engine import stack as heat_stack  # noqa: E402

TEMPLATES = Path(__file__).parents[2] / "templates"
ENVIRONMENT_FILE = TEMPLATES / "environments" / "openstack.yaml"
SERVER = "drivers/openstack/server.yaml"
REGISTERED = f"../{SERVER}"   # relative to the environment file, as the Heat CLI reads it
GOLDEN = Path(__file__).parent / "golden"
ADMIN_PASSWORD = "Adm1nPassw0rdFromRandomString"


@pytest.fixture(scope="module")
def heat(request):
    """Heat's resource types, ours among them, as the engine registers them."""
    resources.initialise()
    from heat_plugins import backup, database, local_server
    for module in (backup, database, local_server):
        for name, cls in module.resource_mapping().items():
            resources.global_env().register_class(name, cls)
    available = heat_resource.Resource.is_service_available
    heat_resource.Resource.is_service_available = classmethod(lambda cls, context: (True, None))  # FAKE catalog
    request.addfinalizer(lambda: setattr(heat_resource.Resource, "is_service_available", available))


def heat_stack_of(text, parameters, environment_dict=None, files=None):
    env = environment.Environment({**(environment_dict or {}), "parameters": parameters})
    tmpl = template.Template(heat_template_format.parse(text), files=files or {}, env=env)
    context = heat_context.RequestContext(user_id="dbaas", project_id="service", is_admin=False)
    return heat_stack.Stack(context, "dbaas-test", tmpl, strict_validate=False)


def server_stack(datastore, **properties):
    """The nested template as Heat would make the server's nested stack: DBaaS::Server's
    properties plus the environment's parameter_defaults."""
    defaults = yaml.safe_load(ENVIRONMENT_FILE.read_text())["parameter_defaults"]
    parameters = {**defaults, "datastore": datastore, "datastore_version": datastores.get(datastore).default_version,
                  "flavor": "2", "volume_size": 5, "admin_password": ADMIN_PASSWORD, **properties}
    stack = heat_stack_of((TEMPLATES / SERVER).read_text(), parameters)
    stack.parameters.validate(context=stack.context, validate_value=True)  # values too: nothing external
    stack.validate(validate_res_tmpl_only=True)
    return stack


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb", "redis"])
def test_golden_rules_and_boot_script(heat, datastore):
    stack = server_stack(datastore, allowed_cidrs=["10.0.0.0/8", "192.168.7.0/24"])
    resolved = {
        "resources": sorted(stack),
        "security_group_rules": stack["security_group"].properties["rules"],
        "nova_flavor": stack["server"].properties["flavor"],
        "volume_size": stack["volume"].properties["size"],
        "user_data": stack["server"].properties["user_data"].splitlines(),
    }
    golden = GOLDEN / f"openstack-server-{datastore}.json"
    text = json.dumps(resolved, indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_one_ingress_rule_per_network_on_the_datastore_port_and_the_service_always(heat):
    rules = server_stack("mariadb", allowed_cidrs=["10.0.0.0/8", "127.0.5.0/24", "1.2.3.4/32"]) \
        ["security_group"].properties["rules"]
    assert [(r["direction"], r["protocol"], r["port_range_min"], r["port_range_max"], r["remote_ip_prefix"])
            for r in rules] == [("ingress", "tcp", 3306, 3306, cidr)
                                for cidr in ("10.0.0.0/24", "10.0.0.0/8", "127.0.5.0/24", "1.2.3.4/32")]
    everyone = server_stack("redis", allowed_cidrs=[])["security_group"].properties["rules"]
    assert [r["remote_ip_prefix"] for r in everyone] == ["10.0.0.0/24", "0.0.0.0/0"]
    assert {r["port_range_min"] for r in everyone} == {6379}


def test_is_public_adds_a_floating_ip_and_address_follows(heat):
    private = server_stack("postgresql")
    assert "floating_ip" not in private
    assert private.outputs["port"].get_value() == 5432
    public = server_stack("postgresql", is_public=True)
    assert public["floating_ip"].properties["floating_network"] == "public"
    assert set(public["floating_ip"].t.required_resource_names()) == {"port"}
    assert set(public.outputs["address"].required_resource_names()) == {"floating_ip"}
    assert set(private.outputs["address"].required_resource_names()) == {"port"}


@pytest.mark.parametrize("unsupported", [{"restore_from": [{"location": "x"}]}, {"replica_of": "an-instance"}])
def test_restoring_and_replicas_are_refused_by_the_template(heat, unsupported):
    with pytest.raises(heat_exception.StackValidationFailed, match="not supported by the openstack driver"):
        server_stack("postgresql", **unsupported)


def test_ports_and_datastores_agree_with_the_registry():
    nested = yaml.safe_load((TEMPLATES / SERVER).read_text())
    containers = nested["parameters"]["containers"]["default"]
    assert {name: spec["port"] for name, spec in containers.items()} == {
        ds.name: ds.port for ds in datastores.all()}
    assert nested["parameters"]["datastore"]["constraints"][0]["allowed_values"] == [ds.name for ds in datastores.all()]


def instance_spec(datastore="postgresql", access=AccessSpec(allowed_cidrs=("10.0.0.0/8",))):
    version = datastores.get(datastore).default_version
    databases = ("appdb",) if datastore != "redis" else ()
    return InstanceSpec(project_id="p1", name="n", datastore=datastore, version=version,
                        flavor=datastores.find_flavor("2"), volume_size=5, databases=databases,
                        users=(UserSpec("app", "pw-0123456789", databases),), access=access)


@pytest.mark.parametrize("datastore", ["postgresql", "mariadb", "redis"])
def test_the_rendered_instance_validates_with_the_cloud_environment(heat, datastore):
    """The whole instance stack as the API sends it: the nested template must take every
    property single.yaml.j2 gives DBaaS::Server and give the attributes it reads."""
    rendered = Renderer(Settings.from_env(env={}, environment_file=ENVIRONMENT_FILE)).render_instance(
        instance_spec(datastore))
    assert set(rendered.files) == {REGISTERED}
    assert rendered.environment["resource_registry"] == {"DBaaS::Server": REGISTERED}
    assert json.loads(rendered.parameters["allowed_cidrs"]) == ["10.0.0.0/8"]
    stack = heat_stack_of(rendered.template, rendered.parameters, rendered.environment, rendered.files)
    stack.validate(validate_res_tmpl_only=True)
    server = stack["server"]
    assert type(server).__name__ == "TemplateResource" and server.template_url == REGISTERED
    child = server.child_params()  # the nested stack's parameters: the server's properties
    assert json.loads(child["allowed_cidrs"]) == ["10.0.0.0/8"] and child["datastore"] == datastore


def test_a_nested_template_missing_a_property_fails_validation(heat):
    rendered = Renderer(Settings.from_env(env={}, environment_file=ENVIRONMENT_FILE)).render_instance(instance_spec())
    broken = yaml.safe_load(rendered.files[REGISTERED])
    del broken["parameters"]["allowed_cidrs"]
    broken["conditions"]["everyone"] = {"equals": [1, 1]}
    del broken["resources"]["security_group"]["properties"]["rules"]
    stack = heat_stack_of(rendered.template, rendered.parameters, rendered.environment,
                          {REGISTERED: yaml.safe_dump(broken)})
    with pytest.raises(heat_exception.StackValidationFailed, match="allowed_cidrs"):
        stack.validate(validate_res_tmpl_only=True)


def test_the_heat_cli_finds_the_nested_template_beside_the_environment_file():
    """`openstack stack create -e templates/environments/openstack.yaml`: heatclient reads the
    registry's path relative to the environment file and sends that file."""
    from heatclient.common import template_utils
    files, environment = template_utils.process_multiple_environments_and_files([str(ENVIRONMENT_FILE)])
    (url,) = environment["resource_registry"].values()
    assert url == (TEMPLATES / SERVER).resolve().as_uri()
    assert json.loads(files[url]) == heat_template_format.parse((TEMPLATES / SERVER).read_text())  # as json


def test_an_operators_copy_of_the_environment_elsewhere_still_finds_the_nested_template(tmp_path):
    copy = tmp_path / "etc" / "my-openstack.yaml"
    copy.parent.mkdir()
    copy.write_text(ENVIRONMENT_FILE.read_text())
    (tmp_path / "operator" / "drivers" / "openstack").mkdir(parents=True)
    (tmp_path / "operator" / SERVER).write_text("heat_template_version: 2021-04-16\n# site's\n")
    packaged = Renderer(Settings.from_env(env={}, environment_file=copy))
    assert packaged.files == {REGISTERED: (TEMPLATES / SERVER).read_text()}
    operators = Renderer(Settings.from_env(env={}, environment_file=copy, template_dirs=(tmp_path / "operator",)))
    assert operators.files[REGISTERED].endswith("# site's\n")


@pytest.mark.parametrize("properties,words", [
    ({"subnet_cidr": "10.0.0.0/24"}, "not a loopback band"),
    ({"allowed_cidrs": ["10.0.0.1/8"]}, "host bits"),
    ({"datastore": "redis", "datastore_version": "7", "allowed_cidrs": ["10.0.0.0/8"]}, "not supported by redis"),
])
def test_the_local_server_plugin_refuses_what_it_cannot_honour_in_a_raw_template(heat, properties, words):
    """Users of the raw templates (openstack stack create) meet the API's rules at validation."""
    server = {"datastore": "postgresql", "datastore_version": "15", "flavor": "1", "volume_size": 1,
              "admin_password": ADMIN_PASSWORD, **properties}
    text = yaml.safe_dump({"heat_template_version": "2021-04-16",
                           "resources": {"server": {"type": "DBaaS::Local::Server", "properties": server}}})
    stack = heat_stack_of(text, {})
    with pytest.raises(heat_exception.StackValidationFailed, match=words):
        stack.validate()
