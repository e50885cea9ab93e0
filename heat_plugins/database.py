"""DBaaS::Database and DBaaS::User: databases and accounts inside a datastore server.

They work over the server's admin endpoint with the datastore's own statements (see
dbaas_api/datastores/), so they are the same whatever driver runs the server.
Changes arrive as stack updates: a new password or a changed list of databases is applied
in place; a new name replaces the resource (drop the old, create the new).
"""
from heat.common import exception
from heat.common.i18n import _
from heat.engine import constraints, properties, resource, support

from dbaas_api import datastores
from dbaas_api.errors import DBaaSError
from dbaas_api.model import UserSpec


class AdminEndpointResource(resource.Resource):
    """A thing that lives inside a server and is managed over its admin connection."""

    support_status = support.SupportStatus(version="27.0.0")

    ENDPOINT_PROPERTIES = (DATASTORE, HOST, PORT, ADMIN_PASSWORD) = (
        "datastore", "host", "port", "admin_password")

    endpoint_schema = {
        DATASTORE: properties.Schema(
            properties.Schema.STRING, _("Datastore type of the server."), required=True,
            constraints=[constraints.AllowedValues([ds.name for ds in datastores.all()])]),
        HOST: properties.Schema(
            properties.Schema.STRING, _("Admin address of the server."), required=True),
        PORT: properties.Schema(
            properties.Schema.INTEGER, _("Admin port of the server."), required=True),
        ADMIN_PASSWORD: properties.Schema(
            properties.Schema.STRING, _("Password of the server's admin account."), required=True),
    }

    def _session(self):
        return datastores.get(self.properties[self.DATASTORE]).admin_session(
            self.properties[self.HOST], self.properties[self.PORT], self.properties[self.ADMIN_PASSWORD])

    def _apply(self, operation):
        """Run operation(session), turning our errors into a resource failure with a clear reason."""
        try:
            with self._session() as session:
                return operation(session)
        except DBaaSError as exc:
            raise exception.ResourceInError(resource_status="ERROR", status_reason=exc.message)

    def _drop(self, operation):
        """Drop this thing, unless the whole stack (and so the server) is going away anyway,
        and tolerate a server that is already gone."""
        if self.resource_id is None or self.stack.action == self.stack.DELETE:
            return
        try:
            with self._session() as session:
                operation(session)
        except DBaaSError:
            pass


class Database(AdminEndpointResource):
    """A database inside the server."""

    PROPERTIES = (NAME,) = ("name",)

    properties_schema = dict(AdminEndpointResource.endpoint_schema, **{
        NAME: properties.Schema(properties.Schema.STRING, _("Database name."), required=True),
    })

    def handle_create(self):
        name = self.properties[self.NAME]
        self._apply(lambda s: s.create_database(name))
        self.resource_id_set(name)

    def handle_delete(self):
        self._drop(lambda s: s.drop_database(self.resource_id))


class User(AdminEndpointResource):
    """An account inside the server, with access to some of its databases."""

    PROPERTIES = (NAME, PASSWORD, DATABASES, ALLOWED_HOST) = ("name", "password", "databases", "allowed_host")

    properties_schema = dict(AdminEndpointResource.endpoint_schema, **{
        NAME: properties.Schema(properties.Schema.STRING, _("User name."), required=True),
        PASSWORD: properties.Schema(
            properties.Schema.STRING, _("User password."), required=True, update_allowed=True),
        DATABASES: properties.Schema(
            properties.Schema.LIST, _("Databases the user may use."), default=[], update_allowed=True),
        ALLOWED_HOST: properties.Schema(
            properties.Schema.STRING, _("Host pattern the user may connect from."), default="%"),
    })

    def _spec(self):
        return UserSpec(name=self.properties[self.NAME], password=self.properties[self.PASSWORD],
                        databases=tuple(self.properties[self.DATABASES]), host=self.properties[self.ALLOWED_HOST])

    def handle_create(self):
        spec = self._spec()
        self._apply(lambda s: s.create_user(spec))
        self.resource_id_set(spec.name)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff:
            return
        new = dict(self.properties, **prop_diff)
        name, host = new[self.NAME], new[self.ALLOWED_HOST]

        def change(session):
            if self.PASSWORD in prop_diff:
                session.set_password(name, prop_diff[self.PASSWORD], host)
            if self.DATABASES in prop_diff:
                before, after = set(self.properties[self.DATABASES]), set(prop_diff[self.DATABASES])
                for database in sorted(after - before):
                    session.grant(name, database, host)
                for database in sorted(before - after):
                    session.revoke(name, database, host)
        self._apply(change)

    def handle_delete(self):
        self._drop(lambda s: s.drop_user(self.resource_id, self.properties[self.ALLOWED_HOST]))


def resource_mapping():
    return {"DBaaS::Database": Database, "DBaaS::User": User}
