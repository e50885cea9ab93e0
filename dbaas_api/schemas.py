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
                "databases": DATABASE_REFS,
                "users": {"type": "array", "items": USER,
                          "description": "a list of {\"name\", \"password\", \"databases\"}"},
                "replica_count": {"type": "integer", "minimum": 1, "description": POSITIVE_INTEGER},
                "region_name": NAME,
                "access": {
                    "type": "object",
                    "properties": {
                        "is_public": {"type": "boolean", "description": "true or false"},
                        "allowed_cidrs": {"type": "array", "items": {"type": "string"},
                                          "description": "a list of CIDRs"},
                    },
                    "description": "an object",
                },
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
