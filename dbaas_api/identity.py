"""Who is calling, in either profile, and who the API is when it talks to Heat.

- ``noauth`` (the embedded default): the project is the one in the URL and the caller has the
  member role. Anyone who reaches the port can act as any project: keep it on loopback.
- ``keystone``: keystonemiddleware's auth_token validates the ``X-Auth-Token`` with Keystone
  (``[keystone_authtoken]`` of the config file) and the project comes from the token. It runs
  with ``delay_auth_decision`` so version discovery stays open; every project route then calls
  ``caller()``, which answers 401 for a missing, bad, expired or revoked token and 403 when
  the URL's project is not the token's. The API reaches Heat as the service user of
  ``[service_credentials]`` (a keystoneauth1 session scoped to the service project, where
  every stack lives).
"""
import json
from dataclasses import dataclass, field

from dbaas_api import errors

SERVICE_CREDENTIALS = "service_credentials"
NO_AUTH_ROLES = ("member", "reader")


@dataclass(frozen=True)
class Caller:
    project_id: str
    user_id: str
    roles: tuple

    def credentials(self):
        """What oslo.policy checks."""
        return {"project_id": self.project_id, "user_id": self.user_id, "roles": list(self.roles)}


def caller(settings, environ, url_project):
    """The Caller of this request, or errors.Unauthorized / errors.Forbidden."""
    if not settings.keystone:
        return Caller(url_project, "", NO_AUTH_ROLES)
    if environ.get("HTTP_X_IDENTITY_STATUS") != "Confirmed":
        raise errors.Unauthorized("Authentication required: send a valid Keystone token in X-Auth-Token.")
    project = environ.get("HTTP_X_PROJECT_ID") or ""
    if project != url_project:
        raise errors.Forbidden("The project in the URL is not the project of the token.")
    roles = tuple(role.strip() for role in (environ.get("HTTP_X_ROLES") or "").split(",") if role.strip())
    return Caller(project, environ.get("HTTP_X_USER_ID") or "", roles)


@dataclass(frozen=True)
class ObjectStore:
    """The caller's own Swift account: its URL and the caller's token to reach it."""
    url: str
    token: str = field(repr=False)   # never in a log line


def object_store(settings, environ):
    """The caller's ObjectStore: the public ``object-store`` endpoint of its token's catalog
    (keystonemiddleware hands the catalog over as X-Service-Catalog, in the v2 shape:
    ``publicURL`` per region), or None: no Keystone, or no object-store in the catalog."""
    if not settings.keystone or not environ.get("HTTP_X_AUTH_TOKEN"):
        return None
    try:
        catalog = json.loads(environ.get("HTTP_X_SERVICE_CATALOG") or "[]")
    except ValueError:
        return None
    for service in catalog if isinstance(catalog, list) else []:
        if isinstance(service, dict) and service.get("type") == "object-store":
            for endpoint in service.get("endpoints") or []:
                if isinstance(endpoint, dict) and endpoint.get("publicURL"):
                    return ObjectStore(endpoint["publicURL"], environ["HTTP_X_AUTH_TOKEN"])
    return None


def load_config(path):
    """The profile's config file as a private oslo.config object (not the global CONF, which
    the embedded Heat owns when both share a process in tests)."""
    from keystoneauth1 import loading
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    loading.register_auth_conf_options(conf, SERVICE_CREDENTIALS)
    loading.register_session_conf_options(conf, SERVICE_CREDENTIALS)
    conf(args=[], default_config_files=[str(path)], default_config_dirs=[], project="dbaas",
         prog="dbaas-api", validate_default_values=True)
    return conf


def auth_token(wsgi_app, settings):
    """``wsgi_app`` behind keystonemiddleware's auth_token, configured from the config file."""
    from keystonemiddleware import auth_token as middleware

    _import_eventlet_in_this_thread()
    conf = {"oslo_config_config": load_config(settings.config_file), "delay_auth_decision": "true"}
    return middleware.AuthProtocol(wsgi_app, conf)


def _import_eventlet_in_this_thread():
    """With memcached_servers, auth_token's first request imports oslo.cache's pool, which
    imports eventlet; imported first in a worker thread, eventlet leaves that thread
    unjoinable, so a gunicorn worker hung at exit until the graceful timeout (30 s) killed it.
    Importing it here, in the thread that builds the app, avoids that."""
    try:
        import eventlet  # noqa: F401
    except ImportError:
        pass


def service_session(settings):
    """A keystoneauth1 session as the service user, scoped to the service project."""
    from keystoneauth1 import loading

    conf = load_config(settings.config_file)
    auth = loading.load_auth_from_conf_options(conf, SERVICE_CREDENTIALS)
    if auth is None:
        raise ValueError(f"{settings.config_file}: [{SERVICE_CREDENTIALS}] needs auth_type and credentials.")
    return loading.load_session_from_conf_options(conf, SERVICE_CREDENTIALS, auth=auth)


def authtoken_section(settings):
    """The ``[keystone_authtoken]`` options of the config file, verbatim, for the embedded
    Heat's own heat.conf (Heat validates tokens with the same Keystone)."""
    import configparser

    parser = configparser.RawConfigParser()
    parser.read(settings.config_file)
    if not parser.has_section("keystone_authtoken"):
        raise ValueError(f"{settings.config_file} has no [keystone_authtoken] section.")
    return dict(parser.items("keystone_authtoken"))
