"""What every handler does before calling a service: check the project, read the body, read
the page. Kept out of the resources so each handler stays four lines in Keystone's order."""
import json
import re

from flask import current_app, request

from dbaas_api import errors, identity

PROJECT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_PAGE_SIZE = 100
_SURROGATE = re.compile(r"[\ud800-\udfff]")
SERVICES = "dbaas"  # key in app.extensions


def services():
    """The Services bundle create_app put on the application."""
    return current_app.extensions[SERVICES]


def authorize(project_id, rule):
    """The project the request acts for, once the caller may do ``rule`` (the handler's own
    policy rule, policy.RULES) there: 401 without a valid token, 403 when the URL's project
    is not the token's or the policy says no (identity.py, policy.py)."""
    caller = identity.caller(services().settings, request.environ, project_id)
    if not PROJECT_ID.match(project_id or ""):
        raise errors.BadRequest("The project id in the URL must be 1 to 64 letters, digits, '_' or '-'.")
    services().policy.enforce(rule, caller.credentials(), project_id)
    return caller.project_id


def caller_user_id(project_id):
    """The authenticated caller's user id ("" in the no-auth profile): what root history names."""
    return identity.caller(services().settings, request.environ, project_id).user_id


def object_store():
    """The caller's own Swift account (identity.ObjectStore), or None."""
    return identity.object_store(services().settings, request.environ)


def instance_project(project_id, instance_id, rule):
    """authorize() for a call on one instance, and the project that owns it: the caller's
    own; or, when ``rule`` holds with the instance's owner as its target (by default for
    admins: Trove's admin context skips the tenant check), that owner. Anyone else meets the
    instance as not found (404), as in their own project."""
    project = authorize(project_id, rule)
    owner = services().instances.owner(instance_id)
    if owner is None or owner == project:
        return project
    caller = identity.caller(services().settings, request.environ, project_id)
    return owner if services().policy.allows(rule, caller.credentials(), owner) else project


def json_body():
    """The request body as JSON: 415 when it is not JSON, 400 when it does not parse."""
    if not request.is_json:
        raise errors.UnsupportedMediaType("The request body must be JSON (Content-Type: application/json).")
    try:
        body = json.loads(request.get_data())
    except json.JSONDecodeError as exc:
        raise errors.BadRequest(
            f"The request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    except (ValueError, RecursionError):  # not UTF-8, or nested beyond reason
        raise errors.BadRequest("The request body is not valid JSON.") from None
    _refuse_lone_surrogates(body, "")
    return body


def _refuse_lone_surrogates(value, path):
    """JSON's \\ud800 escapes decode to half a UTF-16 pair, which is no character: no name,
    password or value can hold one (the servers, Heat and UTF-8 cannot), so 400 naming the
    field, before anything uses it."""
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise errors.BadRequest(f"{path or 'The body'} holds a lone surrogate (\\ud800-\\udfff), "
                                    "which is not a character.")
    elif isinstance(value, dict):
        for key, child in value.items():
            _refuse_lone_surrogates(key, f"{path} (a key)" if path else "A key")
            _refuse_lone_surrogates(child, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _refuse_lone_surrogates(child, f"{path}[{index}]")


def one_as_list(body, singular, plural):
    """openstacksdk's database proxy creates one database or user per call and sends
    ``{"database": {...}}`` or ``{"users": {...}}``, which Trove refuses; Trove's shape is a
    list under the plural key, and that is what the handler goes on with."""
    if isinstance(body, dict) and len(body) == 1:
        one = body.get(singular, body.get(plural))
        if isinstance(one, dict):
            return {plural: [one]}
    return body


def page_args():
    """(limit, marker) from the query string; limit defaults to the page size, at most 100."""
    raw_limit = request.args.get("limit")
    if raw_limit is None:
        limit = services().settings.page_size
    elif raw_limit.isascii() and raw_limit.isdigit() and int(raw_limit) >= 1:   # not "²"
        limit = int(raw_limit)
    else:
        raise errors.BadRequest("limit must be a positive integer.")
    return min(limit, MAX_PAGE_SIZE), request.args.get("marker") or None
