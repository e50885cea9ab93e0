"""Operators' overrides against the real Heat: `dbaas up` has Heat validate every rendered
combination and refuses to start on the first error, naming its file and line; an override
that extends the packaged template reaches single instances and replicas; one that breaks
while the service runs is the service's 500 naming the template, never the caller's 400.
(Jinja and YAML mistakes are refused before Heat starts: tests/unit/test_overrides.py.)"""
import pytest

from tests.e2e.support import settled

OVERRIDE = "postgresql/single.yaml.j2"
EXTENDING = """{{% extends "packaged/single.yaml.j2" %}}
{{% block extra_resources %}}

  site_marker:
{resource}
{{% endblock %}}
"""
HEAT_REFUSES = {   # what the override's resource is: what Heat says, the line the refusal names
    "an unknown property": ("    type: OS::Heat::RandomString\n    properties: {lenght: 8}\n",
                            "Unknown Property lenght", 4),
    "an unknown resource type": ("    type: DBaaS::NoSuchThing\n", "DBaaS::NoSuchThing", 5),
}


@pytest.fixture(scope="module")
def operator_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("operator")


@pytest.fixture(scope="module")
def operator_stack(operator_dir):
    from tests.harness import Stack
    embedded = Stack(template_dirs=(operator_dir,))
    try:
        yield embedded
    finally:
        embedded.destroy()


def override(operator_dir, text):
    (operator_dir / OVERRIDE).parent.mkdir(parents=True, exist_ok=True)
    (operator_dir / OVERRIDE).write_text(text)


@pytest.mark.parametrize("kind", sorted(HEAT_REFUSES))
def test_dbaas_up_refuses_an_override_heat_refuses_naming_file_and_line(operator_stack, operator_dir, kind):
    resource, says, line = HEAT_REFUSES[kind]
    override(operator_dir, EXTENDING.format(resource=resource))
    with pytest.raises(RuntimeError) as refused:
        operator_stack.up()
    assert f"Heat refuses the template {operator_dir / OVERRIDE}, line {line} " in str(refused.value)
    assert says in str(refused.value) and "(rendered for postgresql 15 single" in str(refused.value)
    assert operator_stack.embedded.heat.pid() is None and operator_stack.embedded.api.pid() is None


def test_an_extending_override_reaches_instances_and_replicas_and_breaking_it_later_is_a_500(
        operator_stack, operator_dir):
    override(operator_dir, EXTENDING.format(resource="    type: OS::Heat::None\n"))
    operator_stack.up()
    client = operator_stack.client("site")
    source = client.create_instance(name="marked", flavorRef="1", volume={"size": 1},
                                    datastore={"type": "postgresql", "version": "15"})
    try:
        client.wait_status(source["id"])
        response = client.post("/instances", {"instance": {"name": "marked-ro", "replica_of": source["id"]}})
        assert response.status_code == 200, response.text
        replica = response.json()["instance"]
        client.wait_status(replica["id"])
        for instance in (source, replica):
            settled(operator_stack, instance["id"])
            names = {r["resource_name"] for r in _gateway(operator_stack).resources(instance["id"])}
            assert "site_marker" in names and "server" in names, names

        override(operator_dir, EXTENDING.format(resource="    type: {{ no_such_variable }}\n"))
        response = client.post("/instances", {"instance": {
            "name": "late", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "postgresql"}}})
        assert response.status_code == 500, response.text
        assert response.json()["instanceFault"]["message"].startswith(
            f"The template {OVERRIDE}, line 5 is broken: 'no_such_variable' is undefined")
        assert str(operator_dir) not in response.text    # the caller sees no server path
        assert f"{operator_dir / OVERRIDE}, line 5" in (operator_stack.state_dir / "logs" / "api.out").read_text()

        override(operator_dir, EXTENDING.format(resource=HEAT_REFUSES["an unknown property"][0]))
        response = client.post("/instances", {"instance": {
            "name": "late", "flavorRef": "1", "volume": {"size": 1}, "datastore": {"type": "postgresql"}}})
        assert response.status_code == 500, response.text
        assert response.json()["instanceFault"]["message"].startswith(
            f"Heat refuses the template {OVERRIDE} (operator override): ")
        client.delete_and_wait(replica["id"])
    finally:
        override(operator_dir, EXTENDING.format(resource="    type: OS::Heat::None\n"))
        client.delete_and_wait(source["id"])


def _gateway(stack):
    from dbaas_api.heat_gateway import HeatGateway
    return HeatGateway(stack.settings)
