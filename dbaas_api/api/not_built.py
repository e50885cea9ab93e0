"""Calls of Trove's API reference that are not built here: each answers 501 with the reason
(rather than a bare 404 that says the URL is wrong), after the policy check every call has.
docs/api.md has the table of every call and its state."""
import re

from flask_restx import Namespace, Resource

from dbaas_api import errors
from dbaas_api.api.common import authorize

SSL = "Instance TLS certificates (/instances/{id}/ssl) are not built: there is no certificate service."
DATASTORES = ("Datastores are the service's own (dbaas_api/datastores/<name>/: how a server is run, "
              "configured, backed up and replicated), changed by a release, not through the API; "
              "`datastore version set --disable` hides a version from users.")
PARAMETERS = ("A datastore version's configuration parameters are its datastore's rules, kept as data "
              "(dbaas_api/datastores/<name>/knowledge.py: types, ranges, which need a restart, which the service "
              "manages) and checked by the code that writes the server's configuration, so they change "
              "with a release, not through the API. GET lists and shows them.")


def not_built(ns, url, reason, rule, *methods):
    """Route ``url`` of ``ns``: its ``methods`` answer 501 ``reason`` once ``rule`` allows
    the caller."""
    def refuse(self, project_id, **ids):
        authorize(project_id, rule)
        raise errors.NotImplementedYet(reason)
    name = "".join(word.title() for word in re.findall(r"[a-z]+", f"{ns.name} {url}"))   # its operationIds
    resource = type(name, (Resource,), {method: ns.response(501, reason)(refuse) for method in methods})
    ns.add_resource(resource, url, endpoint=f"{ns.name}:{url}")


ssl_ns = Namespace("instance-ssl", description="Instance TLS (not built: 501)")
not_built(ssl_ns, "", SSL, "dbaas:instance:ssl", "get", "post")
