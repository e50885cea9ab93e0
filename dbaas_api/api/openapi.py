"""The served OpenAPI document as valid Swagger 2.0, made from what flask-restx builds.

Two things are written once here rather than in every handler:
- request bodies are documented with the JSON Schemas that check them (dbaas_api/schemas.py,
  draft 2020-12), which Swagger 2.0 cannot hold as they are: ``$schema`` goes, a type list
  with null becomes the type and ``x-nullable``, and a choice of types (``anyOf``, a type
  list such as a flavorRef's string or integer) leaves the type open;
- every error answer has Trove's body, ``{"<key>": {"code": N, "message": "..."}}``, and the
  errors any call may meet are documented on every call: 400 (the project id, the query, the
  body), 401 and 403 (the token and the policy), 404 when the path names something, 415 when
  the call takes a body, 503 (Heat unavailable).
"""
import copy
import re

ERROR = "Error"
ERROR_SCHEMA = {
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "description": "Trove's error body: one key (badRequest, itemNotFound, ...) holding the code and a message",
    "additionalProperties": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    },
}
COMMON_ERRORS = {
    400: "The project id, a query parameter or the body is not valid",
    401: "No valid token (keystone profile)",
    403: "The policy does not allow the call",
    503: "The orchestration service (Heat) is unavailable",
}
NOT_FOUND = "No such resource in this project"
NOT_JSON = "The body is not JSON"
_METHODS = ("get", "put", "post", "delete", "patch")
_PATH_ID = re.compile(r"\{(?!project_id\})[^}]+\}")


def swagger2(document):
    """``document`` (flask-restx's Swagger dict) made valid Swagger 2.0, as a new dict."""
    document = copy.deepcopy(document)
    definitions = document.setdefault("definitions", {})
    for name, schema in definitions.items():
        definitions[name] = _schema(schema)
    definitions[ERROR] = ERROR_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method in _METHODS:
            if method in operations:
                _document_errors(path, operations, operations[method])
    return document


def _schema(schema):
    """A JSON Schema (2020-12) as a Swagger 2.0 schema object."""
    if not isinstance(schema, dict):
        return schema
    schema = {key: value for key, value in schema.items() if key != "$schema"}
    types = schema.get("type")
    if isinstance(types, list):
        real = [t for t in types if t != "null"]
        if "null" in types:
            schema["x-nullable"] = True
        if len(real) == 1:
            schema["type"] = real[0]
        else:
            del schema["type"]
    if "anyOf" in schema:
        choices = schema.pop("anyOf")
        if {"type": "null"} in choices:
            schema["x-nullable"] = True
            choices = [choice for choice in choices if choice != {"type": "null"}]
        if len(choices) == 1:   # a $ref takes no siblings: allOf keeps x-nullable beside it
            schema = {**schema, "allOf": choices} if "$ref" in choices[0] else {**choices[0], **schema}
        # Several: Swagger 2.0 has no union, so the type stays open; the description says which.
    if isinstance(schema.get("properties"), dict):
        schema["properties"] = {name: _schema(child) for name, child in schema["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = _schema(schema[key])
    if isinstance(schema.get("allOf"), list):
        schema["allOf"] = [_schema(child) for child in schema["allOf"]]
    return schema


def _document_errors(path, operations, operation):
    responses = operation.setdefault("responses", {})
    parameters = operation.get("parameters", []) + operations.get("parameters", [])
    errors = dict(COMMON_ERRORS) if "{project_id}" in path else {}
    if _PATH_ID.search(path):
        errors[404] = NOT_FOUND
    if any(parameter.get("in") == "body" for parameter in parameters):
        errors[415] = NOT_JSON
    for code, description in errors.items():
        responses.setdefault(str(code), {"description": description})
    for code, response in responses.items():
        if code != "default" and int(code) >= 400:
            response["schema"] = {"$ref": f"#/definitions/{ERROR}"}
