"""Request body shapes, as JSON Schema, after Trove's ``trove/common/apischema.py``.

Shape only: whether a datastore, version or flavor exists is the service's question. Unknown
fields are allowed as in Trove (clients send fields we ignore); the service refuses the ones
whose meaning it cannot honour. Error messages name the field and the rule, never the value:
a value may be a password.
"""
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from dbaas_api import errors

NAME = {
    "type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S",
    "description": "a non-blank string of at most 255 characters",
}
PASSWORD = {"type": "string", "minLength": 1, "maxLength": 255,
            "description": "a string of 1 to 255 characters"}
POSITIVE_INTEGER = "a positive integer"
VOLUME_SIZE = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "description": POSITIVE_INTEGER},
        {"type": "string", "pattern": "^0*[1-9][0-9]*$", "description": POSITIVE_INTEGER},
    ],
    "description": POSITIVE_INTEGER + " (GB)",
}
FLAVOR_REF_TEXT = "a flavor id, name or link"
FLAVOR_REF = {
    "anyOf": [
        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S", "description": FLAVOR_REF_TEXT},
        {"type": "integer", "description": FLAVOR_REF_TEXT},
    ],
    "description": FLAVOR_REF_TEXT,
}
DATABASE_REF = {
    "type": "object", "required": ["name"], "properties": {"name": NAME},
    "description": "an object with a 'name'",
}
DATABASE_REFS = {"type": "array", "items": DATABASE_REF, "description": "a list of {\"name\": ...}"}
DATABASE_OPTION = {"type": "string", "maxLength": 255, "description": "a string (\"\": the server's default)"}
NEW_DATABASE = {
    "type": "object", "required": ["name"],
    "properties": {"name": NAME, "character_set": DATABASE_OPTION, "collate": DATABASE_OPTION},
    "description": "an object with a 'name' and optionally 'character_set' and 'collate'",
}
USER = {
    "type": "object",
    "required": ["name", "password"],
    "properties": {
        "name": NAME,
        "password": PASSWORD,
        "host": {"type": "string", "minLength": 1, "maxLength": 255, "description": "a host pattern"},
        "databases": DATABASE_REFS,
    },
    "description": "an object with 'name' and 'password'",
}

CONFIGURATION_REF = {
    "type": ["string", "null"], "minLength": 1, "maxLength": 255,
    "description": "a configuration group's id or link, or null",
}
DESCRIPTION = {"type": ["string", "null"], "maxLength": 255,
               "description": "a string of at most 255 characters, or null"}
VALUES = {"type": "object", "description": "an object of parameter name -> value"}
DATASTORE = {
    "type": "object",
    "properties": {"type": NAME, "version": NAME, "version_number": NAME},
    "description": "an object with 'type' and 'version'",
}


def _envelope(key, inner, title, description):
    """A request body holding one object or list under ``key``, as Trove's do."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title,
            "type": "object", "required": [key], "properties": {key: inner}, "description": description}


def _non_empty_list(items, description):
    return {"type": "array", "minItems": 1, "items": items, "description": description}


DATABASES_CREATE = _envelope("databases", _non_empty_list(NEW_DATABASE, "a non-empty list of {\"name\": ...}"),
    "Databases create request", "a JSON object with a 'databases' list")
USERS_CREATE = _envelope("users", _non_empty_list(USER, "a non-empty list of {\"name\", \"password\", ...}"),
                         "Users create request", "a JSON object with a 'users' list")
USERS_PASSWORDS = _envelope("users", _non_empty_list({
    "type": "object", "required": ["name", "password"],
    "properties": {"name": NAME, "password": PASSWORD, "host": USER["properties"]["host"]},
    "description": "an object with 'name' and 'password'"},
    "a non-empty list of {\"name\", \"password\"}"),
    "Users password change request", "a JSON object with a 'users' list")
USER_UPDATE = _envelope("user", {
    "type": "object", "minProperties": 1,
    "properties": {"name": NAME, "password": PASSWORD, "host": USER["properties"]["host"]},
    "description": "an object with a new 'password', 'name' or 'host'"},
    "User update request", "a JSON object with a 'user' object")
USER_GRANT = _envelope("databases", _non_empty_list(DATABASE_REF, "a non-empty list of {\"name\": ...}"),
                       "User access grant request", "a JSON object with a 'databases' list")
ROOT_ENABLE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Root enable request",
    "type": ["object", "null"],
    "properties": {"password": {"type": ["string", "null"], "minLength": 1, "maxLength": 255,
                                "description": "a string of 1 to 255 characters, or null"}},
    "description": "nothing, or an object with an optional 'password'",
}
_LOG_FLAG = {"type": ["integer", "boolean"], "description": "1 (or true) to do it"}
LOG_ACTION = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Instance log action",
    "type": "object", "required": ["name"],
    "properties": {"name": NAME, "enable": _LOG_FLAG, "disable": _LOG_FLAG, "publish": _LOG_FLAG,
                   "discard": _LOG_FLAG},
    "description": "an object with the log's 'name' and at most 'enable', 'disable', 'publish', 'discard'",
}
CONFIGURATION_CREATE = _envelope("configuration", {
    "type": "object", "required": ["name", "values"],
    "properties": {"name": NAME, "description": DESCRIPTION, "values": VALUES, "datastore": DATASTORE},
    "description": "an object with 'name', 'values' and 'datastore'"},
    "Configuration group create request", "a JSON object with a 'configuration' object")
CONFIGURATION_UPDATE = _envelope("configuration", {
    "type": "object",
    "properties": {"name": NAME, "description": DESCRIPTION, "values": VALUES},
    "description": "an object with 'values' (and optionally 'name', 'description')"},
    "Configuration group update request", "a JSON object with a 'configuration' object")
# Trove's access; what the CIDRs mean (IPv4, no host bits, how many) is service/access.py's.
ACCESS = {
    "type": "object",
    "properties": {
        "is_public": {"type": "boolean", "description": "true or false"},
        "allowed_cidrs": {"type": "array", "items": {"type": "string", "description": "a CIDR string"},
                          "maxItems": 100, "description": "a list of CIDRs such as \"10.0.0.0/8\""},
    },
    "additionalProperties": False,
    "description": "an object with 'is_public' and/or 'allowed_cidrs'",
}

# Trove's nics (at most one); what the ids and the address mean is service/networks.py's.
_NIC_REF = {"type": "string", "minLength": 1, "maxLength": 255, "description": "a network's id or name"}
NICS = {
    "type": "array", "maxItems": 1,
    "items": {"type": "object", "additionalProperties": False,
              "properties": {"net-id": _NIC_REF, "network_id": _NIC_REF,
                             "subnet_id": {**_NIC_REF, "description": "a subnet's id"},
                             "ip_address": {"type": "string", "maxLength": 64, "description": "an IPv4 address"}},
              "description": "an object with 'network_id' (or 'net-id'), 'subnet_id' and/or 'ip_address'"},
    "description": "a list of at most one network interface",
}

# Detach: null, or "" as Trove's clients send it.
DETACH = {"type": ["null", "string"], "maxLength": 0, "description": "null or \"\" (detach the replica)"}

INSTANCE_UPDATE = _envelope("instance", {
    "type": "object",
    "properties": {"name": NAME, "configuration": CONFIGURATION_REF, "access": ACCESS,
                   "replica_of": DETACH, "slave_of": DETACH},
    "description": "an object with 'name' and/or 'configuration', 'access' or 'replica_of'"},
    "Instance update request", "a JSON object with an 'instance' object")

INSTANCE_ACTION = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Instance action request",
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "description": "an object naming exactly one action, e.g. {\"restart\": {}}",
}

INSTANCE_CREATE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Instance create request",
    "type": "object",
    "required": ["instance"],
    "properties": {
        "instance": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": NAME,
                "flavorRef": FLAVOR_REF,
                "volume": {
                    "type": "object", "required": ["size"],
                    "properties": {
                        "size": VOLUME_SIZE,
                        "type": {"type": ["string", "null"], "description": "a volume type or null"},
                    },
                    "description": "an object with a 'size' in GB",
                },
                "datastore": {
                    "type": "object",
                    "properties": {
                        "type": NAME, "version": NAME, "version_number": NAME,
                    },
                    "description": "an object with 'type' and 'version'",
                },
                "databases": {"type": "array", "items": NEW_DATABASE, "description": "a list of {\"name\": ...}"},
                "users": {"type": "array", "items": USER,
                          "description": "a list of {\"name\", \"password\", \"databases\"}"},
                "configuration": CONFIGURATION_REF,
                "replica_of": {"type": "string", "minLength": 1, "maxLength": 255,
                               "description": "the id (or link) of the instance to replicate"},
                "replica_count": {"type": "integer", "minimum": 1, "maximum": 100,
                                  "description": "an integer from 1 to 100 (with replica_of)"},
                "region_name": NAME,
                "access": ACCESS,
                "nics": NICS,
            },
            "description": "an object",
        },
    },
    "description": "a JSON object with an 'instance' object",
}

_VALIDATORS = {}


def validate(schema, body):
    """Raise errors.BadRequest naming the first field that breaks ``schema``."""
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = Draft202012Validator(schema)
    error = best_match(validator.iter_errors(body))
    if error is not None:
        raise errors.BadRequest(_message(error))


def _message(error):
    where = _path(error.absolute_path)
    if error.validator == "required":
        return f"{where}: {error.message}"  # names the missing property, not a value
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "type" and not description:
        description = f"of type {error.validator_value}"
    return f"{where} must be {description or 'valid (' + str(error.validator) + ')'}."


def _path(parts):
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "The body"

# ---- clusters (after trove/common/apischema.py's cluster create and action bodies) --------
CLUSTER_INSTANCE = {
    "type": "object",
    "required": ["flavorRef"],
    "properties": {
        "flavorRef": FLAVOR_REF,
        "volume": {"type": "object", "required": ["size"], "properties": {"size": VOLUME_SIZE},
                   "description": "an object with a 'size'"},
        "type": {"type": ["string", "null"], "maxLength": 64,
                 "description": "a member type of the datastore's clusters, or null"},
    },
    "description": "an object with 'flavorRef' and 'volume'",
}
CLUSTER_CREATE = _envelope("cluster", {
    "type": "object", "required": ["name", "datastore", "instances"],
    "properties": {"name": NAME, "datastore": {**DATASTORE, "required": ["type"]},
                   "instances": _non_empty_list(CLUSTER_INSTANCE, "a non-empty list of instances")},
    "description": "an object with 'name', 'datastore' and 'instances'"},
    "Cluster create request", "a JSON object with a 'cluster' object")
CLUSTER_ACTION = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Cluster action request",
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "properties": {
        "grow": _non_empty_list(CLUSTER_INSTANCE, "a non-empty list of instances to add"),
        "shrink": _non_empty_list({"type": "object", "required": ["id"],
                                   "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 64,
                                                         "description": "a member's id"}},
                                   "description": "an object with an 'id'"},
                                  "a non-empty list of {\"id\": ...} of members to remove"),
    },
    "description": "a JSON object with one action: 'grow' or 'shrink'",
}
