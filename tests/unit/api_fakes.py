"""FAKES for the API unit tests: an in-memory stand-in for Heat (FakeGateway) and for the
Jinja2 renderer (FakeRenderer). They are not the real thing and do not pretend to be: the
e2e tests run the real Heat and renderer. What they keep from the real ones is the contract
the service relies on (see heat_gateway.HeatGateway and rendering.Renderer)."""
import itertools
import json
import uuid

import yaml

from dbaas_api import errors
from dbaas_api.app import create_app
from dbaas_api.config import Settings
from dbaas_api.model import RenderedStack


class FakeRenderer:
    """FAKE renderer: records every InstanceSpec and returns a placeholder stack."""

    def __init__(self):
        self.specs = []

    def render_record(self):
        return RenderedStack(template="heat_template_version: 2021-04-16\nresources: {}\n")

    def render_instance(self, spec):
        self.specs.append(spec)
        return RenderedStack(template="heat_template_version: 2021-04-16\n",
                             parameters={"user_password": "not-a-real-one"})


class FakeGateway:
    """FAKE Heat: stacks in a dict, with the behaviour of Heat that the service relies on:
    list filters on all tags, sorts newest first, starts after the marker and stops at the
    limit; tags come back in a different order than they were given; a deleted stack still
    answers show with DELETE_COMPLETE. Counts list calls so tests can prove one per page.
    Parameters as Heat keeps them: every one the template declares (defaults filled in) as
    text, hidden ones shown as '******'; an update merges what it is sent over what the stack
    has (PATCH) and drops what the new template no longer declares; a second update while
    one runs is 409."""

    def __init__(self):
        self.stacks = {}
        self.list_calls = []
        self.deleted = []
        self.updates = []
        self.stack_actions = []   # (Heat stack action, stack id): cancel, check
        self._clock = itertools.count()
        self.unavailable = False

    def create_stack(self, name, rendered, tags):
        self._check_available()
        stack_id = str(uuid.uuid4())
        tick = next(self._clock)
        self.stacks[stack_id] = {
            "id": stack_id, "stack_name": name, "stack_status": "CREATE_IN_PROGRESS",
            "creation_time": f"2026-01-01T00:{tick // 60:02d}:{tick % 60:02d}Z", "updated_time": None,
            "tags": list(reversed(tags)), "outputs": [], "rendered": rendered,
            "parameters": _heat_parameters(rendered.template, {}, rendered.parameters),
        }
        return stack_id

    def update_stack(self, stack_id, rendered, tags):
        self._check_available()
        stack = self.stacks[stack_id]
        if stack["stack_status"].endswith("_IN_PROGRESS"):
            raise errors.Conflict(f"Stack {stack['stack_name']} already has an action (UPDATE) in progress.")
        self.updates.append({"id": stack_id, "parameters": dict(rendered.parameters), "tags": list(tags)})
        stack.update(stack_status="UPDATE_IN_PROGRESS", updated_time=f"2026-01-03T00:00:{len(self.updates):02d}Z",
                     tags=list(reversed(tags)), rendered=rendered,
                     parameters=_heat_parameters(rendered.template, stack["parameters"], rendered.parameters))

    def get_stack(self, stack_id, resolve_outputs=True):
        self._check_available()
        stack = self.stacks.get(stack_id)
        if stack is None:
            return None
        hidden = _hidden(stack["rendered"].template)
        shown = {k: "******" if k in hidden else v for k, v in stack["parameters"].items()}
        return {**stack, "parameters": shown, "outputs": list(stack["outputs"]) if resolve_outputs else []}

    def list_stacks(self, tags, limit, marker=None, tags_any=()):
        self._check_available()
        self.list_calls.append({"tags": list(tags), "limit": limit, "marker": marker, **(
            {"tags_any": list(tags_any)} if tags_any else {})})
        found = [s for s in self.stacks.values()
                 if set(tags) <= set(s["tags"]) and s["stack_status"] != "DELETE_COMPLETE"
                 and (not tags_any or set(tags_any) & set(s["tags"]))]
        found.sort(key=lambda s: s["creation_time"], reverse=True)
        if marker:
            ids = [s["id"] for s in found]
            found = found[ids.index(marker) + 1:] if marker in ids else found
        return [{k: v for k, v in s.items() if k not in ("outputs", "rendered")} for s in found[:limit]]

    def cancel_stack_action(self, stack_id):
        self._check_available()
        self.stack_actions.append(("cancel_without_rollback", stack_id))

    def check_stack(self, stack_id):
        self._check_available()
        self.stack_actions.append(("check", stack_id))

    def resources(self, stack_id):
        """The stack's resources as Heat lists them; a test sets ``stack["resources"]``."""
        self._check_available()
        if stack_id not in self.stacks:
            raise errors.NotFound(f"The Stack ({stack_id}) could not be found.")
        return [dict(resource) for resource in self.stacks[stack_id].get("resources", [])]

    def delete_stack(self, stack_id):
        self._check_available()
        self.deleted.append(stack_id)
        self.stacks[stack_id]["stack_status"] = "DELETE_IN_PROGRESS"
        if "resources: {}" in str(self.stacks[stack_id]["rendered"].template):
            del self.stacks[stack_id]   # nothing to delete (a configuration group): Heat is done at once

    # Test helpers: what the Heat engine would do on its own.

    def finish(self, stack_id, stack_status="CREATE_COMPLETE", address="127.0.1.2", port=5432):
        stack = self.stacks[stack_id]
        stack["stack_status"] = stack_status
        stack["updated_time"] = "2026-01-02T00:00:00Z"
        stack["outputs"] = [{"output_key": "address", "output_value": address},
                            {"output_key": "port", "output_value": port}]

    def _check_available(self):
        if self.unavailable:
            raise errors.ServiceUnavailable("The orchestration service is unavailable.")


def _declared(template):
    try:
        return (yaml.safe_load(template) or {}).get("parameters") or {}
    except yaml.YAMLError:
        return {}


def _hidden(template):
    return {name for name, schema in _declared(template).items() if (schema or {}).get("hidden")}


def _heat_parameters(template, existing, sent):
    """What Heat holds after a create (existing {}) or a PATCH update, as text."""
    declared = _declared(template)
    merged = {**existing, **{k: v if isinstance(v, str) else json.dumps(v) for k, v in sent.items()}}
    if not declared:  # the FAKE renderer's template declares nothing: keep what was sent
        return merged
    values = {}
    for name, schema in declared.items():
        if name in merged:
            values[name] = merged[name]
        elif "default" in (schema or {}):
            default = schema["default"]
            values[name] = default if isinstance(default, str) else json.dumps(default)
    return values


class Harness:
    """A Flask test client over the real app, wired to the FAKE gateway and (unless
    ``real_renderer``: the Jinja2 one, which changes need; or the ``renderer`` given) the FAKE
    renderer."""

    def __init__(self, real_renderer=False, renderer=None, gateway=None, **settings):
        # Unlimited quotas unless a test sets them: a quota claim waits for its second to end.
        unlimited = {f"quota_{resource}": -1 for resource in ("instances", "volumes", "backups", "ram")}
        # Updates here stay UPDATE_IN_PROGRESS until a test settles them: a change is answered
        # at once (apply_wait 0) unless a test asks for the wait.
        self.settings = Settings(**{**unlimited, "apply_wait": 0, **settings})
        self.gateway = gateway or FakeGateway()
        if renderer is not None:
            self.renderer = renderer
        elif real_renderer:
            from dbaas_api.rendering import Renderer
            self.renderer = Renderer(Settings.from_env(env={}))
        else:
            self.renderer = FakeRenderer()
        self.app = create_app(self.settings, gateway=self.gateway, renderer=self.renderer)
        self.client = self.app.test_client()

    def url(self, path, project="proj-a"):
        return f"/v1.0/{project}{path}"

    def get(self, path, project="proj-a", **kw):
        return self.client.get(self.url(path, project), **kw)

    def post(self, path, body, project="proj-a", **kw):
        return self.client.post(self.url(path, project), json=body, **kw)

    def delete(self, path, project="proj-a"):
        return self.client.delete(self.url(path, project))

    def put(self, path, body, project="proj-a", **kw):
        return self.client.put(self.url(path, project), json=body, **kw)

    def patch(self, path, body, project="proj-a", **kw):
        return self.client.patch(self.url(path, project), json=body, **kw)

    def create(self, project="proj-a", **instance):
        body = {"name": "db1", "flavorRef": "2", "volume": {"size": 1}, **instance}
        response = self.post("/instances", {"instance": body}, project=project)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()["instance"]


def assert_trove_error(response, code, key):
    """Trove's error body: exactly one key, holding code and message."""
    assert response.status_code == code, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == [key], body
    assert body[key]["code"] == code
    assert isinstance(body[key]["message"], str) and body[key]["message"]
    return body[key]["message"]
