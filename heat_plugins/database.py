"""DBaaS::Database, DBaaS::User, DBaaS::Root and DBaaS::Configuration: what lives inside a
datastore server.

They work over the server's admin endpoint with the datastore's own statements (see
dbaas_api/datastores/), so they are the same whatever driver runs the server.
Changes arrive as stack updates: a new password, a changed list of databases or new
configuration values are applied in place, and so is a user's new name or host (the
account is renamed); a database's new name replaces the resource (drop the old, create the
new). Deleting one undoes it (drop, revoke, restore the defaults) unless the
whole stack, and so the server, is going away.
"""
import contextlib

from heat.common import exception
from heat.common.i18n import _
from heat.engine import properties, resource, support

from dbaas_api import datastores
from dbaas_api.errors import Conflict, DBaaSError, NotFound
from dbaas_api.model import UserSpec
from heat_plugins import schemas
from heat_plugins.failures import resource_in_error, validation_failed


class AdminEndpointResource(resource.Resource):
    """A thing that lives inside a server and is managed over its admin connection."""

    support_status = support.SupportStatus(version="27.0.0")

    ENDPOINT_PROPERTIES = (DATASTORE, HOST, PORT, ADMIN_PASSWORD) = (
        "datastore", "host", "port", "admin_password")

    endpoint_schema = {
        DATASTORE: schemas.datastore_type(_("Datastore type of the server.")),
        HOST: properties.Schema(
            properties.Schema.STRING, _("Admin address of the server."), required=True),
        PORT: properties.Schema(
            properties.Schema.INTEGER, _("Admin port of the server."), required=True),
        ADMIN_PASSWORD: properties.Schema(
            properties.Schema.STRING, _("Password of the server's admin account."), required=True),
    }

    # A failed action must not make Heat replace the thing on the next update: replacing a
    # database drops it and its data. Heat's default replaces every *_FAILED resource (and
    # one whose check failed); we replace only what was never made.
    always_replace_on_check_failed = False

    def needs_replace_failed(self):
        return self.resource_id is None

    def handle_check(self):
        """reset_status's stack check: the server answers its admin account."""
        self._apply(lambda session: session.ping())

    def _session(self):
        return datastores.get(self.properties[self.DATASTORE]).admin_session(
            self.properties[self.HOST], self.properties[self.PORT], self.properties[self.ADMIN_PASSWORD])

    def _apply(self, operation):
        """Run operation(session), turning our errors into a resource failure with a clear reason."""
        with resource_in_error():
            with self._session() as session:
                return operation(session)

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

    PROPERTIES = (NAME, CHARACTER_SET, COLLATE) = ("name", "character_set", "collate")

    properties_schema = dict(AdminEndpointResource.endpoint_schema, **{
        NAME: properties.Schema(properties.Schema.STRING, _("Database name."), required=True),
        CHARACTER_SET: properties.Schema(
            properties.Schema.STRING, _("Character set (PostgreSQL: encoding); \"\": the server's."), default=""),
        COLLATE: properties.Schema(
            properties.Schema.STRING, _("Collation (PostgreSQL: LC_COLLATE and LC_CTYPE); \"\": the server's."),
            default=""),
    })

    def handle_create(self):
        """A database the server has already (restored from a backup that holds it, as
        Trove's clients restore) is kept as it is, data and all."""
        name, charset, collate = (self.properties[key] or None for key in self.PROPERTIES)

        def create(session):
            with contextlib.suppress(Conflict):
                session.create_database(name, charset, collate)
        self._apply(create)
        self.resource_id_set(name)

    def handle_delete(self):
        self._drop(lambda s: s.drop_database(self.resource_id))


class User(AdminEndpointResource):
    """An account inside the server, with access to some of its databases."""

    PROPERTIES = (NAME, PASSWORD, DATABASES, ALLOWED_HOST) = ("name", "password", "databases", "allowed_host")

    properties_schema = dict(AdminEndpointResource.endpoint_schema, **{
        NAME: properties.Schema(
            properties.Schema.STRING, _("User name; a new one renames the account in place."),
            required=True, update_allowed=True),
        PASSWORD: properties.Schema(
            properties.Schema.STRING, _("User password."), required=True, update_allowed=True),
        DATABASES: properties.Schema(
            properties.Schema.LIST, _("Databases the user may use."), default=[], update_allowed=True),
        ALLOWED_HOST: properties.Schema(
            properties.Schema.STRING, _("Host pattern the user may connect from; a new one moves "
                                        "the account in place."), default="%", update_allowed=True),
    })

    def _spec(self):
        return UserSpec(name=self.properties[self.NAME], password=self.properties[self.PASSWORD],
                        databases=tuple(self.properties[self.DATABASES]), host=self.properties[self.ALLOWED_HOST])

    def handle_create(self):
        """A user the server has already (restored from a backup that holds it, or
        replicated to a promoted replica) is kept, with what it owns: it takes the password
        asked for (none: a promoted replica's record, which keeps the server's) and the
        grants named."""
        spec = self._spec()

        def create(session):
            if spec.password:
                try:
                    return session.create_user(spec)
                except Conflict:
                    session.set_password(spec.name, spec.password, spec.host)
            else:
                session.list_user_databases(spec.name, spec.host)   # NotFound: not on the server
            for database in spec.databases:
                session.grant(spec.name, database, spec.host)
        self._apply(create)
        self.resource_id_set(spec.name)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not prop_diff:
            return
        new = dict(self.properties, **prop_diff)
        name, host = new[self.NAME], new[self.ALLOWED_HOST]
        old_name, old_host = self.properties[self.NAME], self.properties[self.ALLOWED_HOST]

        def change(session):
            if (name, host) != (old_name, old_host):
                # Its grants and what it owns go with it; the password it has is kept
                # (PostgreSQL clears an MD5 one on a rename: given again from the record).
                session.rename_user(old_name, old_host, name, host, new[self.PASSWORD])
                self.resource_id_set(name)
            if self.PASSWORD in prop_diff:
                session.set_password(name, prop_diff[self.PASSWORD], host)
            if self.DATABASES in prop_diff:
                before, after = set(self.properties[self.DATABASES]), set(prop_diff[self.DATABASES])
                for database in sorted(after - before):
                    session.grant(name, database, host)
                for database in sorted(before - after):
                    with contextlib.suppress(NotFound):  # dropped in the same update
                        session.revoke(name, database, host)
        self._apply(change)

    def handle_delete(self):
        self._drop(lambda s: s.drop_user(self.resource_id, self.properties[self.ALLOWED_HOST]))


class Root(AdminEndpointResource):
    """The datastore's superuser account (``root``), as Trove's root enable makes it."""

    PROPERTIES = (PASSWORD,) = ("password",)

    properties_schema = dict(AdminEndpointResource.endpoint_schema, **{
        PASSWORD: properties.Schema(
            properties.Schema.STRING, _("The superuser's password; a new one changes it in place."),
            required=True, update_allowed=True),
    })

    def validate(self):
        super().validate()
        datastore = datastores.get(self.properties[self.DATASTORE])
        if not datastore.supports_root:
            raise exception.StackValidationFailed(message=f"{datastore.title} has no root user.")

    def handle_create(self):
        password = self.properties[self.PASSWORD]
        self._apply(lambda s: s.enable_root(password))
        self.resource_id_set(datastores.get(self.properties[self.DATASTORE]).root_user)

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if self.PASSWORD in prop_diff:
            self._apply(lambda s: s.enable_root(prop_diff[self.PASSWORD]))

    def handle_delete(self):
        self._drop(lambda s: s.disable_root())


class Configuration(AdminEndpointResource):
    """A configuration group's values, applied to the running server.

    What the server can take at once is set now; the rest waits for a restart, read from
    where the server keeps it (PostgreSQL's ALTER SYSTEM; for the others the driver's
    override file, which the server resource writes from the same values). Deleting it puts
    every value back to the instance's own setting."""

    PROPERTIES = (DATASTORE_VERSION, FLAVOR, VALUES) = ("datastore_version", "flavor", "values")

    properties_schema = dict(AdminEndpointResource.endpoint_schema, **{
        DATASTORE_VERSION: properties.Schema(
            properties.Schema.STRING, _("Datastore version: whose parameter rules apply."), required=True),
        FLAVOR: properties.Schema(
            properties.Schema.STRING, _("The server's flavor: its own settings are what a value "
                                        "goes back to when no longer set."),
            required=True, update_allowed=True),
        VALUES: properties.Schema(
            properties.Schema.MAP, _("Parameter name -> value."), default={}, update_allowed=True),
    })

    def validate(self):
        super().validate()
        with validation_failed():
            datastore = datastores.get(self.properties[self.DATASTORE])
            datastore.validate_configuration(self.properties[self.DATASTORE_VERSION], self.properties[self.VALUES])
            datastores.find_flavor(self.properties[self.FLAVOR])

    def _applier(self, values, previous, flavor=None):
        version = self.properties[self.DATASTORE_VERSION]
        flavor = datastores.find_flavor(flavor or self.properties[self.FLAVOR])
        return lambda session: session.apply_configuration(version, flavor, values or {}, previous or {})

    def handle_create(self):
        self._apply(self._applier(self.properties[self.VALUES], {}))
        self.resource_id_set(self.physical_resource_name())

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if prop_diff:
            values = prop_diff.get(self.VALUES, self.properties[self.VALUES])
            self._apply(self._applier(values, self.properties[self.VALUES], prop_diff.get(self.FLAVOR)))

    def handle_delete(self):
        self._drop(self._applier({}, self.properties[self.VALUES]))


def resource_mapping():
    return {"DBaaS::Database": Database, "DBaaS::User": User, "DBaaS::Root": Root,
            "DBaaS::Configuration": Configuration}
