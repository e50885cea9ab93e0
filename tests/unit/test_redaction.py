"""The embedded Heat's encryption of hidden parameters at rest, on a SQLite table shaped like
Heat's raw_template (no engine: Heat's own crypt module and config options)."""
import json
import sqlite3

import pytest
import sqlalchemy
from heat.common import config  # noqa: F401  (registers Heat's options)
from heat.common import crypt
from oslo_config import cfg

from dbaas_api.embedded import redaction

TEMPLATE = {"heat_template_version": "2021-04-16",
            "parameters": {"u_password": {"type": "string", "hidden": True}, "u_name": {"type": "string"}}}


@pytest.fixture
def heat_config():
    cfg.CONF.set_override("auth_encryption_key", "k" * 32)
    cfg.CONF.set_override("encrypt_parameters_and_properties", True)
    yield
    cfg.CONF.clear_override("auth_encryption_key")
    cfg.CONF.clear_override("encrypt_parameters_and_properties")


def test_an_older_versions_plain_text_passwords_are_encrypted_and_vacuumed(tmp_path, heat_config):
    path = tmp_path / "heat.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE raw_template (id INTEGER PRIMARY KEY, template TEXT, environment TEXT)")
    already = list(crypt.encrypt("already-encrypted"))
    rows = [(1, {"u_password": "Plain-Secret-1", "u_name": "app"}, ["u_password"]),   # Heat's "already-decrypted"
            (2, {"u_password": "Plain-Secret-2", "u_name": "app"}, []),              # a failed update's merge
            (3, {"u_password": already, "u_name": "app"}, ["u_password"])]
    for row_id, parameters, names in rows:
        con.execute("INSERT INTO raw_template VALUES (?, ?, ?)", (row_id, json.dumps(TEMPLATE), json.dumps(
            {"parameters": parameters, "encrypted_param_names": names, "resource_registry": {}})))
    con.commit()
    con.execute("DELETE FROM raw_template WHERE id = 99")
    con.close()

    assert redaction.encrypt_stored_templates(sqlalchemy.create_engine(f"sqlite:///{path}")) == 2
    assert b"Plain-Secret" not in path.read_bytes()
    con = sqlite3.connect(path)
    for (environment,) in con.execute("SELECT environment FROM raw_template ORDER BY id"):
        environment = json.loads(environment)
        assert environment["encrypted_param_names"] == ["u_password"]
        assert environment["parameters"]["u_name"] == "app"
        assert crypt.decrypt(*environment["parameters"]["u_password"]).startswith(("Plain-Secret", "already"))
    con.close()


def test_every_stored_template_has_its_hidden_parameters_encrypted(heat_config):
    """What Heat stores of a template read back decrypted (its update's previous template)."""
    from heat.engine import environment, template

    tmpl = template.Template(TEMPLATE, env=environment.Environment(
        {"parameters": {"u_password": "Plain-Secret", "u_name": "app"}}))
    stored = redaction.environment_at_rest(tmpl)
    assert stored["encrypted_param_names"] == ["u_password"]
    assert crypt.decrypt(*stored["parameters"]["u_password"]) == "Plain-Secret"
    assert stored["parameters"]["u_name"] == "app"
    assert tmpl.env.params["u_password"] == "Plain-Secret"        # the template in memory is unchanged


def test_a_secret_the_stored_template_does_not_declare_yet_is_encrypted(heat_config):
    """A legacy update stores the existing template with the new environment (StackUpdate,
    per updated resource): a new user's password is not declared there yet."""
    from heat.engine import environment, template

    tmpl = template.Template(TEMPLATE, env=environment.Environment(
        {"parameters": {"u_password": "Plain-1", "u_name": "app", "v_password": "Plain-2", "v_name": "bob"}}))
    stored = redaction.environment_at_rest(tmpl)
    assert sorted(stored["encrypted_param_names"]) == ["u_password", "v_password"]
    assert crypt.decrypt(*stored["parameters"]["v_password"]) == "Plain-2"
    assert stored["parameters"]["v_name"] == "bob"
