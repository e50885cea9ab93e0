"""Two places where Heat 27 lets a password out, closed from our side.

1. At rest. With ``encrypt_parameters_and_properties`` Heat encrypts a template's hidden
   parameters only in ``Stack.store`` of a template not stored yet. Every other store of a
   template writes its parameters as they are in memory, and a template read back from the
   database is decrypted: ``Stack.update_task`` stores the new template as the previous one
   (``bu_tmpl.store``, prev_raw_template_id), ``StackUpdate`` re-stores the existing and the
   backup stack's templates (the existing one with the new environment, whose parameters it
   does not declare yet), a failed update stores merged parameters. So after a PATCH the
   new passwords sat in plain text in ``raw_template.environment`` (Heat logs "Encountered
   already-decrypted data" when it reads them back), also after the stack's delete (Heat
   only marks a stack deleted). Here every store of a template encrypts the hidden
   parameters that are not encrypted yet, on a copy: the template in memory is unchanged.
2. Events. Heat records each resource's properties with its events and answers them to
   whoever reads the project (``event show``): a DBaaS::User's password, a DBaaS::Root's,
   every ``admin_password``. Event answers mask those values.
"""
import copy
import re

from oslo_config import cfg

# Heat's own test for an encrypted value (RawTemplate.from_db_object): a (method, data) pair.
_ENCRYPTION_METHODS = ("cryptography_decrypt_v1", "oslo_decrypt_v1")
# A property whose name says it is a secret; user_data is a cloud server's boot script,
# which carries the admin password to the guest (templates/drivers/openstack/server.yaml).
SECRET_PROPERTY = re.compile(r"password|secret|token|user_data|private_key", re.IGNORECASE)
MASK = "******"


_installed = []


def install():
    """Patch the loaded Heat, once, before the engine starts (heat_plugins/redaction.py
    calls it when the engine loads its plugins)."""
    if not _installed:
        _encrypt_every_stored_template()
        _mask_event_properties()
        _installed.append(True)


def _encrypted(value):
    return isinstance(value, (list, tuple)) and len(value) == 2 and value[0] in _ENCRYPTION_METHODS


def environment_at_rest(template):
    """The template's environment as the database gets it: every hidden parameter encrypted
    and listed in encrypted_param_names (Heat decrypts those when it reads the row)."""
    from heat.common import crypt
    from heat.common import environment_format as env_fmt

    environment = template.env.env_as_dict()
    if not cfg.CONF.encrypt_parameters_and_properties:
        return environment
    parameters = copy.deepcopy(environment[env_fmt.PARAMETERS])
    names = list(environment.get(env_fmt.ENCRYPTED_PARAM_NAMES) or [])
    schemata = template.param_schemata()
    for name, value in parameters.items():
        if not _secret_parameter(schemata.get(name), name) or _encrypted(value) or value is None:
            continue
        parameters[name] = crypt.encrypt(value if isinstance(value, str) else str(value))
        if name not in names:
            names.append(name)
    return dict(environment, **{env_fmt.PARAMETERS: parameters, env_fmt.ENCRYPTED_PARAM_NAMES: names})


def _secret_parameter(schema, name):
    """Hidden where the template declares it. A legacy update stores the existing template
    with the new environment (StackUpdate, per updated resource) before that template
    declares a new user's password: undeclared, a name that says secret is taken as one."""
    return schema.hidden if schema is not None else bool(SECRET_PROPERTY.search(name))


def _encrypt_every_stored_template():
    from heat.engine import template as heat_template
    from heat.objects import raw_template

    def store(self, context):
        """Heat's Template.store (heat/engine/template.py), with environment_at_rest."""
        row = {"template": self.t, "files_id": self.files.store(context),
               "environment": environment_at_rest(self)}
        if self.id is None:
            self.id = raw_template.RawTemplate.create(context, row).id
        else:
            raw_template.RawTemplate.update_by_id(context, self.id, row)
        return self.id

    heat_template.Template.store = store


def encrypt_stored_templates(engine):
    """Encrypt the hidden parameters an older version left in plain text in Heat's database
    (deleted stacks' templates too), then VACUUM so that no old page keeps them. Returns how
    many templates it changed."""
    import json

    import sqlalchemy
    from heat.common import crypt

    if not cfg.CONF.encrypt_parameters_and_properties:
        return 0
    changed = 0
    with engine.begin() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT id, template, environment FROM raw_template")).fetchall()
        for row_id, template_text, environment_text in rows:
            template, environment = json.loads(template_text or "{}"), json.loads(environment_text or "{}")
            declared = template.get("parameters") or {}
            parameters = environment.get("parameters") or {}
            plain = [name for name, value in parameters.items()
                     if (declared.get(name) or {}).get("hidden") and value is not None and not _encrypted(value)]
            if not plain:
                continue
            names = list(environment.get("encrypted_param_names") or [])
            for name in plain:
                parameters[name] = list(crypt.encrypt(str(parameters[name])))
                names += [] if name in names else [name]
            environment.update(parameters=parameters, encrypted_param_names=names)
            connection.execute(sqlalchemy.text("UPDATE raw_template SET environment = :environment WHERE id = :id"),
                               {"environment": json.dumps(environment), "id": row_id})
            changed += 1
    if changed and engine.dialect.name == "sqlite":
        import sqlite3
        engine.dispose()
        vacuum = sqlite3.connect(engine.url.database, isolation_level=None)
        try:
            vacuum.execute("VACUUM")
        finally:
            vacuum.close()
    return changed


def masked(value):
    """``value`` with the value of every key that names a secret replaced by MASK, at any depth."""
    if isinstance(value, dict):
        return {key: MASK if SECRET_PROPERTY.search(str(key)) and child not in (None, "") else masked(child)
                for key, child in value.items()}
    if isinstance(value, list):
        return [masked(child) for child in value]
    return value


def _mask_event_properties():
    from heat.engine import api
    from heat.rpc import api as rpc_api

    format_event = api.format_event

    def format_event_masked(*args, **kwargs):
        result = format_event(*args, **kwargs)
        if rpc_api.EVENT_RES_PROPERTIES in result:
            result[rpc_api.EVENT_RES_PROPERTIES] = masked(result[rpc_api.EVENT_RES_PROPERTIES])
        return result

    api.format_event = format_event_masked
