"""The HTTP layer: flask-restx namespaces speaking Trove's v1.0 wire format, and the one
error handler. Every failure, whoever raised it (our services, werkzeug's routing, Flask's
JSON parsing, a bug), leaves as Trove's ``{"<key>": {"code": N, "message": "..."}}``.

The OpenAPI (Swagger 2.0) document is served at ``/v1.0/swagger.json``.
"""
import logging

from flask import jsonify
from flask_restx import Api
from flask_restx.swagger import Swagger
from werkzeug.exceptions import HTTPException

from dbaas_api import errors
from dbaas_api.api import (backup_strategies, backups, clusters, configurations, databases, datastores, flavors,
                           instances, limits, logs, mgmt, networks, not_built, openapi, root, users, versions, views,
                           volume_types)

LOG = logging.getLogger(__name__)
SWAGGER_PATH = "/v1.0/swagger.json"
_ERROR_BY_CODE = {cls.code: cls for cls in errors.DBaaSError.__subclasses__()}


class TroveApi(Api):
    """flask-restx's Api with our error handler instead of its own error body (which adds a
    top-level "message" and "did you mean" hints for 404s)."""

    def handle_error(self, e):
        return error_response(e)

    @property
    def __schema__(self):
        """flask-restx's document made valid Swagger 2.0 (api/openapi.py), built once."""
        if self._schema is None:
            self._schema = openapi.swagger2(Swagger(self).as_dict())
        return self._schema

    def _register_doc(self, app_or_blueprint):
        """No Swagger UI and no placeholder root page: ``GET /`` is Trove's version list,
        registered by api/versions.py under flask-restx's "root" endpoint name."""


def init_app(app):
    """Register every namespace and the error handler on ``app``."""

    api = TroveApi(
        title="heat-dbaas", version="v1.0", doc=False,
        description="Database as a service on OpenStack Heat, speaking Trove's v1.0 API.",
        default_swagger_filename=SWAGGER_PATH.lstrip("/"))
    for shared in (views.LINK, views.ADDRESS):   # in more than one namespace's models
        api.models[shared.name] = shared
    api.add_namespace(versions.ns)
    project = "/v1.0/<project_id>"
    api.add_namespace(datastores.ns, path=f"{project}/datastores")
    api.add_namespace(flavors.ns, path=f"{project}/flavors")
    api.add_namespace(volume_types.ns, path=f"{project}/volume-types")
    api.add_namespace(networks.ns, path=f"{project}/networks")
    api.add_namespace(instances.ns, path=f"{project}/instances")
    api.add_namespace(backups.ns, path=f"{project}/backups")
    api.add_namespace(backups.instance_ns, path=f"{project}/instances/<instance_id>/backups")
    instance = f"{project}/instances/<instance_id>"
    api.add_namespace(databases.ns, path=f"{instance}/databases")
    api.add_namespace(users.ns, path=f"{instance}/users")
    api.add_namespace(root.ns, path=f"{instance}/root")
    api.add_namespace(configurations.ns, path=f"{project}/configurations")
    api.add_namespace(mgmt.ns, path=f"{project}/mgmt")
    api.add_namespace(limits.ns, path=f"{project}/limits")
    api.add_namespace(backup_strategies.ns, path=f"{project}/backup_strategies")
    api.add_namespace(logs.ns, path=f"{instance}/log")
    api.add_namespace(not_built.ssl_ns, path=f"{instance}/ssl")
    api.add_namespace(clusters.ns, path=f"{project}/clusters")
    api.init_app(app)
    # Errors outside flask-restx's routes: unknown URLs (404) and wrong methods (405).
    app.register_error_handler(Exception, error_response)
    app.after_request(_no_type_without_body)
    return api


def _no_type_without_body(response):
    """An answer without a body (202, 204...) says no content type: Flask would call it
    text/html."""
    if not response.is_streamed and not response.get_data():
        del response.headers["Content-Type"]
    return response


def error_response(exc):
    """The one error handler: any exception -> Trove's error body and status."""
    error = _as_dbaas_error(exc)
    response = jsonify(error.body())
    response.status_code = error.code
    if isinstance(exc, HTTPException) and exc.code == 405:
        response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response


def _as_dbaas_error(exc):
    if isinstance(exc, errors.DBaaSError):
        if exc.code >= 500 and not isinstance(exc, errors.NotImplementedYet):  # a refusal, not a fault
            LOG.warning("%s: %s", type(exc).__name__, exc.message)
        return exc
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        error = _ERROR_BY_CODE.get(exc.code, errors.BadRequest)(exc.description)
        error.code = exc.code  # a 4xx werkzeug knows and Trove has no key for keeps its code
        return error
    LOG.error("Unexpected error while handling a request",
              exc_info=getattr(exc, "original_exception", None) or exc)
    return errors.DBaaSError()
