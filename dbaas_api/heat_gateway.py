"""The only code that talks to Heat. Stacks live in the service project; every call goes to
``<heat_endpoint>/<service_project>``, and Heat's errors become our error hierarchy here so
no other layer knows heatclient exists.
"""
import logging
import re
from contextlib import contextmanager
from urllib.parse import urlencode

from heatclient import client as heat_client
from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as keystone_exc

from dbaas_api import errors, status
from dbaas_api.embedded import access_token
from dbaas_api.stack_marks import StackMarks

LOG = logging.getLogger(__name__)
# heatclient logs every request body at DEBUG, stack parameters (passwords) included;
logging.getLogger("heatclient.common.http").setLevel(logging.INFO)
logging.getLogger("keystoneauth.session").setLevel(logging.INFO)  # so does keystoneauth1's

# In the no-auth profile the embedded Heat takes the project from the URL and lets in only
# who sends the installation's access token (embedded/access_token.py); NO_AUTH_TOKEN is
# sent to a Heat of one's own without one. In the keystone profile the API is the service
# user (identity.service_session) and Heat validates its token.
NO_AUTH_TOKEN = "dbaas-no-auth"
_SECRET_KEY_WORDS = ("password", "secret", "token")


class HeatGateway:
    # Stack names by id. Heat answers GET /stacks/{id} with a redirect to its canonical
    # /stacks/{name}/{id} (a second request); knowing the name, a stack read is one request.
    # A stack's name and id never change, so this is never stale; it is only forgotten
    # when it grows past NAMES_KEPT.
    NAMES_KEPT = 10000

    def __init__(self, settings, client=None):
        self._settings = settings
        self._client = client or _client(settings)
        self._names = {}
        self._marks = StackMarks(None if settings.keystone else settings.state_dir)

    def create_stack(self, name, rendered, tags):
        """Create the stack and return its id (the instance id)."""
        with _heat_errors(secrets=_secrets(rendered.parameters), template=rendered.template_name):
            body = self._client.stacks.create(
                stack_name=name, disable_rollback=True, tags=",".join(self._marks.tagged(name, tags)),
                **_stack_fields(rendered))
        self._remember(body["stack"]["id"], name)
        return body["stack"]["id"]

    def update_stack(self, stack_id, rendered, tags):
        """Update the stack to a new rendering with PATCH semantics (heatclient's
        ``existing=True``): the template is replaced, ``rendered.parameters`` are merged over
        the stack's own, so a parameter not sent (a hidden password) keeps its value.
        Heat answers 409 (errors.Conflict) while another action holds the stack.

        Heat's update preview is asked first: an update that would replace a resource (a
        property that is not update_allowed changed, in an operator's template say) makes a
        new, empty one and throws the old one's data away, so it is refused before it runs
        (errors.TemplateFault, naming the template and the resources) and the stack is left
        as it was. Our own templates never replace anything."""
        qualified = self._qualified(stack_id)
        tags = self._marks.tagged(self._names.get(stack_id, ""), tags)
        fields = dict(_stack_fields(rendered), tags=",".join(tags))
        secrets = _secrets(rendered.parameters)
        with _heat_errors(secrets=secrets, template=rendered.template_name):
            preview = self._client.http_client.patch(
                f"/stacks/{qualified}/preview?show_nested=True", data=fields).json()
        replaced = (preview.get("resource_changes") or {}).get("replaced") or []
        if replaced:
            resources = ", ".join(sorted(f"{r.get('resource_name')} ({r.get('resource_type')})" for r in replaced))
            LOG.error("Refused the update of stack %s from template %s: Heat would replace %s",
                      stack_id, rendered.template_name or "?", resources)
            raise errors.TemplateFault(
                f"The change was refused and nothing was changed: with template "
                f"'{rendered.template_name or 'unknown'}' Heat would replace {resources}, losing "
                "its data. The service's operator must fix the template.")
        with _heat_errors(secrets=secrets, template=rendered.template_name):
            self._client.stacks.update(stack_id, existing=True, **fields)

    def _qualified(self, stack_id):
        """``name/id``, Heat's canonical path of a stack (one request, no redirect)."""
        if stack_id not in self._names:
            self.get_stack(stack_id, resolve_outputs=False)
        name = self._names.get(stack_id)
        return f"{name}/{stack_id}" if name else stack_id

    def validate_template(self, rendered):
        """Heat's template validate: resource types, property names, references.
        errors.BadRequest with Heat's message when it refuses."""
        fields = _stack_fields(rendered)
        fields.pop("parameters")
        with _heat_errors():
            try:
                self._client.stacks.validate(**fields)
            except heat_exc.HTTPBadRequest as exc:   # the template's fault, whatever type it names
                raise errors.BadRequest(_public_message(exc, ())) from None

    def get_stack(self, stack_id, resolve_outputs=True):
        """The stack as a dict (with ``outputs`` when resolved), or None when Heat has none
        or the API did not make it (stack_marks.py)."""
        name = self._names.get(stack_id)
        try:
            with _heat_errors():
                stack = self._client.stacks.get(f"{name}/{stack_id}" if name else stack_id,
                                                resolve_outputs=resolve_outputs).to_dict()
        except errors.NotFound:
            return None
        if not self._marks.made_here(stack):
            LOG.warning("Ignored stack %s: the API did not make it (no valid mark)", stack_id)
            return None
        self._remember(stack_id, stack.get("stack_name"))
        return stack

    def stack_exists(self, stack_id, project):
        """Whether Heat holds stack ``stack_id`` of ``project`` (any project: a person may run
        the templates in their own): True, False only when Heat says it has no such stack,
        None when this cannot be told (Heat unreachable; in the keystone profile a project
        the service user cannot read). Nothing is ever destroyed on a None."""
        if not stack_id or not project:
            return None
        if project == self._settings.service_project:
            client = self._client
        elif self._settings.keystone:
            return None
        else:
            client = _client(self._settings, project)
        try:
            with _heat_errors():
                stack = client.stacks.get(stack_id, resolve_outputs=False).to_dict()
        except errors.NotFound:
            return False
        except errors.DBaaSError as exc:
            LOG.warning("Cannot tell whether stack %s of project %s exists: %s", stack_id, project, exc.message)
            return None
        return not status.is_gone(stack.get("stack_status"))

    def _remember(self, stack_id, name):
        if name:
            if len(self._names) >= self.NAMES_KEPT:
                self._names.clear()
            self._names[stack_id] = name

    def list_stacks(self, tags, limit, marker=None, tags_any=()):
        """One page of stacks having all ``tags`` (and, given ``tags_any``, at least one of
        those), newest first, in exactly one Heat call.

        heatclient's ``stacks.list`` is a generator that asks again whenever a page comes back
        shorter than ``limit`` (always, on the last page), so this sends the one GET itself.
        """
        params = {"tags": ",".join(tags), "limit": int(limit),
                  "sort_keys": "creation_time", "sort_dir": "desc"}  # Heat's name for created_at
        if marker:
            params["marker"] = marker
        if tags_any:
            params["tags_any"] = ",".join(tags_any)
        with _heat_errors():
            response = self._client.http_client.get(f"/stacks?{urlencode(params)}")
        return [stack for stack in response.json().get("stacks", []) if self._marks.made_here(stack)]

    def resource_types(self, prefix):
        """The names of the resource types Heat's engine knows that start with ``prefix``."""
        with _heat_errors():
            return {t.resource_type for t in self._client.resource_types.list(filters={"name": f"^{prefix}"})}

    def cancel_stack_action(self, stack_id):
        """Stop the create or update under way, without a rollback: the stack ends *_FAILED
        (Heat's ``cancel_without_rollback``). Heat answers 400 when nothing can be cancelled;
        when the engine that ran it is gone, Heat only logs it (an engine marks such stacks
        FAILED when it starts)."""
        with _heat_errors():
            self._client.actions.cancel_without_rollback(stack_id)

    def check_stack(self, stack_id):
        """Heat's stack check: every resource checks its real thing; CHECK_COMPLETE or
        CHECK_FAILED with the reason."""
        with _heat_errors():
            self._client.actions.check(stack_id)

    def delete_stack(self, stack_id):
        with _heat_errors():
            self._client.stacks.delete(stack_id)

    def resources(self, stack_id):
        with _heat_errors():
            return [resource.to_dict() for resource in self._client.resources.list(stack_id)]


def _client(settings, project=None):
    if not settings.keystone:
        # heatclient waits without a limit by default; Heat's API itself waits without one for
        # a message bus that is away (production profile), hence heat_timeout there.
        timeout = {"timeout": settings.heat_timeout} if settings.heat_timeout else {}
        return heat_client.Client(
            "1", endpoint=f"{settings.heat_endpoint}/{project or settings.service_project}",
            token=access_token.read(settings.state_dir) or NO_AUTH_TOKEN, **timeout)
    from dbaas_api import identity
    # keystoneauth1 fills in the session's project (the service project's id) on first use.
    return heat_client.Client("1", session=identity.service_session(settings),
                              endpoint_override=f"{settings.heat_endpoint}/%(project_id)s")


def _stack_fields(rendered):
    return {"template": rendered.template, "parameters": dict(rendered.parameters),
            "environment": dict(rendered.environment), "files": dict(rendered.files)}


@contextmanager
def _heat_errors(secrets=(), template=""):
    """heatclient's exceptions -> errors.*, with Heat's message kept to what a user may see.
    ``template``: the rendering's template_name; Heat's 400 for an operator's override is the
    override's fault (errors.TemplateFault, 500), not the caller's (dbaas up validates them,
    but a template may be edited while the service runs)."""
    try:
        yield
    except (heat_exc.CommunicationError, heat_exc.InvalidEndpoint) as exc:
        LOG.warning("Heat is unreachable: %s", exc)
        raise errors.ServiceUnavailable("The orchestration service is unavailable.") from None
    except keystone_exc.ClientException as exc:  # keystone profile: no token for the service user
        LOG.warning("Cannot reach Heat as the service user: %s", type(exc).__name__)
        raise errors.ServiceUnavailable("The orchestration service is unavailable.") from None
    except heat_exc.HTTPException as exc:
        code = _code(exc)
        message = _public_message(exc, secrets)
        if code == 404:
            raise errors.NotFound(message) from None
        if code == 400 and template.endswith("(operator override)"):
            LOG.error("Heat refuses the template %s: %s", template, message)
            raise errors.TemplateFault(f"Heat refuses the template {template}: {message}") from None
        if code == 400:
            missing = _MISSING_PLUGIN.search(message)
            if missing:   # the engine that took the request has no heat-dbaas plugins: not the user's fault
                LOG.error("A Heat engine lacks the DBaaS plugins: %s", message)
                raise errors.ServiceUnavailable(
                    f"The orchestration service cannot make {missing.group(1)}: its engine has no "
                    "heat-dbaas plugins on its plugin_dirs (docs/operators.md).") from None
            raise errors.BadRequest(message) from None
        if code == 409:
            raise errors.Conflict(message) from None
        LOG.error("Heat answered %s: %s", code, message)
        if code == 503:
            raise errors.ServiceUnavailable("The orchestration service is unavailable.") from None
        backing = _BACKING_FAULTS.get(_error_type(exc))
        if backing:   # Heat's own services lost their message bus or database (production profile)
            raise errors.ServiceUnavailable(f"The orchestration service is unavailable: {backing}.") from None
        raise errors.DBaaSError() from None


# What Heat answers (400) when the engine has no plugin for a type the templates use. User
# input never names a resource type, so this is the operator's engine, never the request.
_MISSING_PLUGIN = re.compile(r"The Resource Type \((DBaaS::[\w:]+)\) could not be found")
# Heat's error types (its fault body's error.type) that say one of its backing services is away.
_BACKING_FAULTS = {
    "MessagingTimeout": "its engines do not answer (its message bus or its engines are down)",
    "MessageDeliveryFailure": "its message bus is down",
    "DBConnectionError": "its database does not answer",
    # An engine's exception that is not Heat's own comes back over RPC as RemoteError, its
    # message withheld: in practice its database (DBConnectionError) went away.
    "RemoteError": "its engine failed on the request (its database may be down; the engine's log says why)",
}


def _error_type(exc):
    error = getattr(exc, "error", None)
    detail = error.get("error") if isinstance(error, dict) else None
    return detail.get("type") if isinstance(detail, dict) else None


def _code(exc):
    try:
        return int(exc.code)
    except (TypeError, ValueError):
        return 500


def _public_message(exc, secrets):
    """Heat's own message: first line only (no traceback, no engine internals), with any
    secret value that Heat echoed (a constraint failure quotes the value) masked."""
    error = getattr(exc, "error", None)
    message = (error.get("error") or {}).get("message") if isinstance(error, dict) else None
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    message = (message or "").strip()
    message = message.splitlines()[0] if message else "The orchestration service rejected the request."
    for secret in secrets:
        message = message.replace(secret, "******")
    return message[:500]


def _secrets(value, key=""):
    """Every string in ``value`` held under a key that names a secret, longest first."""
    found = set()
    if isinstance(value, dict):
        for child_key, child in value.items():
            found.update(_secrets(child, str(child_key)))
    elif isinstance(value, (list, tuple)):
        for child in value:
            found.update(_secrets(child, key))
    elif isinstance(value, str) and value and any(word in key.lower() for word in _SECRET_KEY_WORDS):
        found.add(value)
    return sorted(found, key=len, reverse=True)
