"""The embedded Heat API's filter in the no-auth profile: only the installation's own
clients get in, and Heat's per-project isolation stays on.

Without Keystone, Heat's port is open to every local process and its stock noauth filter
makes every caller an admin of the project in the URL. This filter refuses (401) every
request whose ``X-Auth-Token`` is not the installation's access token
(``<state>/heat/access-token``, access_token.py), except version discovery (``GET /``;
``/healthcheck`` does not pass through it). A request that has it acts in the project of the
URL (``/v1/<project>/...``) with the ordinary member role unless it says otherwise with
``X-Roles`` (the embedded launcher's own housekeeping).
"""
import hmac
import json
import re

from dbaas_api.embedded import access_token

_PROJECT_IN_PATH = re.compile(r"^/v1/([^/]+)")
MEMBER_ROLES = "member,reader"
_DISCOVERY = ("", "/")


class ProjectFromPathAuth:
    def __init__(self, app, token):
        self.app = app
        self.token = token.encode()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not (path in _DISCOVERY and environ.get("REQUEST_METHOD", "GET") in ("GET", "HEAD")):
            offered = environ.get("HTTP_X_AUTH_TOKEN", "").encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(offered, self.token):
                return _unauthorized(start_response)
        match = _PROJECT_IN_PATH.match(path)
        project = match.group(1) if match else "anonymous"
        user = environ.get("HTTP_X_USER_ID") or "dbaas"
        environ.update({
            "HTTP_X_IDENTITY_STATUS": "Confirmed",
            "HTTP_X_PROJECT_ID": project,
            "HTTP_X_PROJECT_NAME": project,
            "HTTP_X_USER_ID": user,
            "HTTP_X_USER_NAME": user,
            "HTTP_X_ROLES": environ.get("HTTP_X_ROLES") or MEMBER_ROLES,
            "HTTP_X_AUTH_USER": user,
            "HTTP_X_AUTH_KEY": "unset",
            "HTTP_X_AUTH_URL": "http://127.0.0.1/noauth",
        })
        return self.app(environ, start_response)


def _unauthorized(start_response):
    """Heat's own error body (faultwrap's shape), which heatclient reads."""
    message = "This Heat serves only its installation: send the token in <state>/heat/access-token as X-Auth-Token."
    body = json.dumps({"code": 401, "title": "Unauthorized", "explanation": message,
                       "error": {"type": "Unauthorized", "message": message, "traceback": None}}).encode()
    start_response("401 Unauthorized", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                        ("WWW-Authenticate", 'Token realm="heat-dbaas"')])
    return [body]


def filter_factory(global_conf, **local_conf):
    """``state_dir`` (api-paste.ini): where the installation's token is; made if missing."""
    token = access_token.ensure(local_conf["state_dir"])
    return lambda app: ProjectFromPathAuth(app, token)
