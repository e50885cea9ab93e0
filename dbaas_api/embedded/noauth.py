"""A no-auth filter for the embedded Heat API that keeps Heat's per-project isolation.

Heat's stock noauth filter makes every caller an admin, and Heat skips project filtering
for admins, so every project would see every stack. This one takes the project from the
URL (``/v1/<project>/...``) and gives the caller the ordinary member role unless the
request says otherwise with ``X-Roles`` (used by the embedded launcher's own housekeeping).
Only for the embedded profile: anything that can reach the port can act as any project.
"""
import re

_PROJECT_IN_PATH = re.compile(r"^/v1/([^/]+)")
MEMBER_ROLES = "member,reader"


class ProjectFromPathAuth:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        match = _PROJECT_IN_PATH.match(environ.get("PATH_INFO", ""))
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


def filter_factory(global_conf, **local_conf):
    return ProjectFromPathAuth
