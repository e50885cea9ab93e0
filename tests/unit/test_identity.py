"""Identity and policy without a Keystone: who the caller is from the environ that
keystonemiddleware leaves, what the policy allows, the management API over the FAKE gateway
(api_fakes), and the keystone profile's settings and heat.conf. The real Keystone is in
tests/e2e/test_keystone.py."""
import configparser

import pytest

from dbaas_api import errors, identity, policy
from dbaas_api.config import SOURCE_ROOT, Settings
from dbaas_api.embedded import heat as embedded_heat
from tests.unit.api_fakes import Harness, assert_trove_error

KEYSTONE_CONF = """\
[keystone_authtoken]
www_authenticate_uri = http://keystone.example:5000/v3
auth_url = http://keystone.example:5000/v3
auth_type = password
username = dbaas
password = the-service-password
project_name = service

[service_credentials]
auth_url = http://keystone.example:5000/v3
auth_type = password
username = dbaas
password = the-service-password
project_name = service
user_domain_name = Default
project_domain_name = Default
"""


@pytest.fixture
def keystone_settings(tmp_path):
    config_file = tmp_path / "dbaas-api.conf"
    config_file.write_text(KEYSTONE_CONF)
    return Settings(state_dir=tmp_path, auth_strategy="keystone", config_file=config_file)


def confirmed(project="p1", roles="member,reader", user="u1"):
    return {"HTTP_X_IDENTITY_STATUS": "Confirmed", "HTTP_X_PROJECT_ID": project,
            "HTTP_X_ROLES": roles, "HTTP_X_USER_ID": user}


# Who is calling.

def test_noauth_caller_is_a_member_of_the_urls_project_whatever_the_headers_say():
    caller = identity.caller(Settings(), {"HTTP_X_ROLES": "admin", "HTTP_X_PROJECT_ID": "other"}, "p1")
    assert caller.project_id == "p1"
    assert set(caller.roles) == {"member", "reader"}


def test_keystone_caller_comes_from_the_validated_token(keystone_settings):
    caller = identity.caller(keystone_settings, confirmed(roles="reader, member"), "p1")
    assert caller == identity.Caller("p1", "u1", ("reader", "member"))


# The caller's own Swift account (where its published logs go, service/logs.py).

SWIFT = "http://swift.example/v1/AUTH_p1"


def catalog(*services):
    import json
    return {"HTTP_X_AUTH_TOKEN": "the-token", "HTTP_X_SERVICE_CATALOG": json.dumps(list(services))}


def test_the_callers_object_store_is_the_public_swift_endpoint_of_its_catalog(keystone_settings):
    environ = catalog({"type": "database", "endpoints": [{"publicURL": "http://trove"}]},
                      {"type": "object-store", "endpoints": [{"region": "RegionOne", "internalURL": "http://in",
                                                              "publicURL": SWIFT}]})
    found = identity.object_store(keystone_settings, environ)
    assert (found.url, found.token) == (SWIFT, "the-token") and "the-token" not in repr(found)


@pytest.mark.parametrize("environ", [
    catalog({"type": "database", "endpoints": [{"publicURL": "http://trove"}]}),
    catalog({"type": "object-store", "endpoints": [{"internalURL": SWIFT}]}),
    {"HTTP_X_AUTH_TOKEN": "t", "HTTP_X_SERVICE_CATALOG": "not json"},
    {"HTTP_X_SERVICE_CATALOG": catalog({"type": "object-store", "endpoints": [{"publicURL": SWIFT}]})[
        "HTTP_X_SERVICE_CATALOG"]},   # no token
])
def test_no_object_store_without_a_public_swift_endpoint_and_a_token(keystone_settings, environ):
    assert identity.object_store(keystone_settings, environ) is None


def test_no_object_store_without_keystone():
    assert identity.object_store(Settings(), catalog(
        {"type": "object-store", "endpoints": [{"publicURL": SWIFT}]})) is None


@pytest.mark.parametrize("environ", [
    {}, {"HTTP_X_IDENTITY_STATUS": "Invalid"},
    # What a client sends itself is never trusted: auth_token strips X-* identity headers,
    # and without its "Confirmed" nothing counts.
    {"HTTP_X_PROJECT_ID": "p1", "HTTP_X_ROLES": "admin"},
])
def test_keystone_without_a_valid_token_is_401(keystone_settings, environ):
    with pytest.raises(errors.Unauthorized):
        identity.caller(keystone_settings, environ, "p1")


@pytest.mark.parametrize("token_project", ["p2", "", None])
def test_keystone_url_project_other_than_the_tokens_is_403(keystone_settings, token_project):
    environ = confirmed()
    environ["HTTP_X_PROJECT_ID"] = token_project
    with pytest.raises(errors.Forbidden):
        identity.caller(keystone_settings, environ, "p1")


# Settings.

def test_settings_refuse_an_unknown_strategy_and_keystone_without_a_config_file():
    with pytest.raises(ValueError, match="DBAAS_AUTH_STRATEGY"):
        Settings(auth_strategy="basic")
    with pytest.raises(ValueError, match="DBAAS_CONFIG_FILE"):
        Settings.from_env(env={"DBAAS_AUTH_STRATEGY": "keystone"})


def test_settings_from_env_select_the_keystone_profile(tmp_path):
    settings = Settings.from_env(env={"DBAAS_AUTH_STRATEGY": "keystone",
                                      "DBAAS_CONFIG_FILE": str(tmp_path / "a.conf"),
                                      "DBAAS_POLICY_FILE": str(tmp_path / "p.yaml")})
    assert settings.keystone and settings.config_file == tmp_path / "a.conf"
    assert settings.policy_file == tmp_path / "p.yaml"
    assert not Settings.from_env(env={}).keystone


# Policy.

@pytest.fixture
def rules():
    return policy.Policy(Settings().policy_file)


def creds(*roles, project="p1"):
    return {"project_id": project, "user_id": "u1", "roles": list(roles)}


def test_readers_read_members_change_admins_manage(rules):
    rules.enforce("dbaas:instance:list", creds("reader"), "p1")
    with pytest.raises(errors.Forbidden):
        rules.enforce("dbaas:instance:create", creds("reader"), "p1")
    rules.enforce("dbaas:instance:create", creds("member", "reader"), "p1")
    with pytest.raises(errors.Forbidden):
        rules.enforce("dbaas:mgmt:instance:list", creds("member", "reader"), "p1")
    rules.enforce("dbaas:mgmt:instance:list", creds("admin", "member", "reader"), "p1")


def test_a_role_in_another_project_grants_nothing_here(rules):
    with pytest.raises(errors.Forbidden):
        rules.enforce("dbaas:instance:delete", creds("member", project="p2"), "p1")


def test_every_rule_the_handlers_name_is_registered():
    import re
    names = {rule.name for rule in policy.RULES}
    used = set()
    for path in (SOURCE_ROOT / "dbaas_api" / "api").glob("*.py"):
        used.update(re.findall(r'authorize\([^,()]+, "([^"]+)"\)', path.read_text()))
    assert used and used <= names, used - names


def test_every_call_has_a_rule_of_its_own():
    """No handler falls back to a shared rule: every rule but the base ones and the two
    defaults is named by a handler, and each instance action has its own."""
    import re
    from dbaas_api.service.actions import ACTIONS
    named = set()
    for path in (SOURCE_ROOT / "dbaas_api" / "api").glob("*.py"):
        named.update(re.findall(r'"(dbaas:[a-z_:]+)"', path.read_text()))
    named.update(policy.action_rule(action) for action in (*ACTIONS, None))
    shared = {rule.name for rule in policy.BASE_RULES} | {policy.DEFAULT_READ, policy.DEFAULT_WRITE}
    assert {rule.name for rule in policy.RULES} - shared - named == set()
    assert set(policy.INSTANCE_ACTIONS) == set(ACTIONS)
    assert policy.action_rule("resize") == "dbaas:instance:resize"
    assert policy.action_rule("explode") == policy.UNKNOWN_ACTION


def test_an_operator_restricts_one_call_alone(tmp_path):
    """Root enable and backup delete each have a rule: forbidding one leaves the rest."""
    rules_file = tmp_path / "policy.yaml"
    rules_file.write_text('"dbaas:root:create": "rule:admin"\n"dbaas:backup:delete": "rule:admin"\n')
    rules = policy.Policy(rules_file)
    member = creds("member", "reader")
    for forbidden in ("dbaas:root:create", "dbaas:backup:delete"):
        with pytest.raises(errors.Forbidden):
            rules.enforce(forbidden, member, "p1")
    for allowed in ("dbaas:root:show", "dbaas:root:delete", "dbaas:backup:create", "dbaas:user:create"):
        rules.enforce(allowed, member, "p1")
    with pytest.raises(errors.Forbidden):
        rules.enforce("dbaas:user:create", creds("reader"), "p1")   # a change still needs member


def test_the_packaged_policy_file_is_the_generated_sample():
    assert (SOURCE_ROOT / "etc" / "policy.yaml").read_text() == policy.sample() + "\n"


def test_the_docs_name_every_rule():
    documented = (SOURCE_ROOT / "docs" / "identity.md").read_text()
    assert [rule.name for rule in policy.RULES if f"`{rule.name}`" not in documented] == []


def test_a_policy_file_overrides_the_defaults(tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"dbaas:instance:create": "rule:admin"\n')
    rules = policy.Policy(policy_file)
    with pytest.raises(errors.Forbidden):
        rules.enforce("dbaas:instance:create", creds("member", "reader"), "p1")
    rules.enforce("dbaas:instance:list", creds("reader"), "p1")  # the rest keep their defaults


# The management API (FAKE gateway: api_fakes).

def test_mgmt_is_forbidden_to_a_member(tmp_path):
    api = Harness()
    assert_trove_error(api.get("/mgmt/instances"), 403, "forbidden")


def test_mgmt_lists_every_projects_instances_with_their_owner(tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"dbaas:mgmt:instance:list": "role:member"\n')
    api = Harness(policy_file=policy_file)
    mine, theirs = api.create(project="proj-a"), api.create(project="proj-b", name="b")
    listed = api.get("/mgmt/instances").get_json()["instances"]
    assert [(i["id"], i["tenant_id"]) for i in listed] == [(theirs["id"], "proj-b"), (mine["id"], "proj-a")]
    only_b = api.get("/mgmt/instances?project_id=proj-b").get_json()["instances"]
    assert [i["id"] for i in only_b] == [theirs["id"]]
    page = api.get("/mgmt/instances?limit=1").get_json()
    assert "marker=" in page["links"][0]["href"] and "tenant_id" in page["instances"][0]
    assert_trove_error(api.get("/mgmt/instances?marker=junk"), 400, "badRequest")


def test_a_project_route_without_its_own_rule_still_meets_the_policy(tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text('"dbaas:instance:list": "!"\n')
    api = Harness(policy_file=policy_file)
    assert_trove_error(api.get("/instances"), 403, "forbidden")
    assert api.get("/flavors").status_code == 200


# The keystone profile's files.

def test_embedded_heat_validates_tokens_with_the_same_keystone(keystone_settings):
    files = embedded_heat.write_config(keystone_settings)
    conf = configparser.RawConfigParser()
    conf.read(files.conf)
    assert conf.get("paste_deploy", "flavor") == "keystone"
    assert conf.get("keystone_authtoken", "auth_url") == "http://keystone.example:5000/v3"
    assert conf.get("clients_keystone", "auth_uri") == "http://keystone.example:5000/v3"
    assert "authtoken" in files.paste.read_text()
    assert files.conf.stat().st_mode & 0o077 == 0  # it holds the service password


def test_noauth_heat_conf_has_no_keystone(tmp_path):
    files = embedded_heat.write_config(Settings(state_dir=tmp_path))
    conf = configparser.RawConfigParser()
    conf.read(files.conf)
    assert conf.get("paste_deploy", "flavor") == "noauth"
    assert not conf.has_section("keystone_authtoken")


def test_service_session_is_the_service_user_in_the_service_project(keystone_settings):
    session = identity.service_session(keystone_settings)
    assert session.auth.auth_url == "http://keystone.example:5000/v3"
    assert session.auth._username == "dbaas" and session.auth._project_name == "service"


def test_the_sample_config_file_loads():
    settings = Settings(auth_strategy="keystone", config_file=SOURCE_ROOT / "etc" / "dbaas-api.conf.sample")
    assert identity.service_session(settings).auth._username == "dbaas"
    assert identity.authtoken_section(settings)["auth_type"] == "password"
