"""DBaaS::Local::Server: a datastore server as a local process (the embedded default).

The environment file maps the templates' logical ``DBaaS::Server`` to this type. Each
server gets its own data directory and its own loopback address at the datastore's standard
port, just as a cloud server gets its own IP. The process runs in its own session with a
tracked pid, so it survives an engine restart and can always be found again.

Replication (docs/replication.md): ``replica_of`` is the id of the instance whose server
this one follows ("" while it takes writes). At create the server is seeded from that
instance's; an update of it is a role change: "" promotes the server (after fencing the old
primary ``replica_fence`` and replaying all it wrote, for a switchover), another id makes it
follow that instance's server once that one takes writes. The other server's address (and
its key, to fence it) come from its stack, read inside the engine; the password is the one
this server has (every member of a set shares it).
"""
from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes, constraints, properties, resource, support

from dbaas_api import datastores
from dbaas_api.backup import streams
from dbaas_api.config import Settings
from dbaas_api.drivers import local as local_driver
from dbaas_api.drivers.local import LocalDriver, ServerSpec
from dbaas_api.service import access as access_rules
from heat_plugins import instance_stacks
from heat_plugins.failures import resource_in_error, validation_failed


class LocalServer(resource.Resource):
    """A PostgreSQL, MariaDB or Redis server running as a local process.

    Reaches CREATE_COMPLETE only when the server accepts an authenticated admin connection.
    """

    support_status = support.SupportStatus(version="27.0.0")

    PROPERTIES = (
        DATASTORE, DATASTORE_VERSION, FLAVOR, VOLUME_SIZE, ADMIN_PASSWORD, CONFIGURATION,
        RESTART_GENERATION,
    ) = (
        "datastore", "datastore_version", "flavor", "volume_size", "admin_password", "configuration",
        "restart_generation",
    )

    ATTRIBUTES = (ADDRESS, PORT, REPLICATION) = ("address", "port", "replication")
    RESTORE_FROM = "restore_from"
    IS_PUBLIC, ALLOWED_CIDRS = "is_public", "allowed_cidrs"
    REPLICA_OF, REPLICA_FENCE = "replica_of", "replica_fence"
    GUEST_LOGS = "guest_logs"
    NETWORK, SUBNET, SUBNET_CIDR, FIXED_IP, VOLUME_TYPE = "network", "subnet", "subnet_cidr", "fixed_ip", "volume_type"

    properties_schema = {
        DATASTORE: properties.Schema(
            properties.Schema.STRING,
            _("Datastore type, from the datastore registry."),
            required=True,
            constraints=[constraints.AllowedValues([ds.name for ds in datastores.all()])],
        ),
        DATASTORE_VERSION: properties.Schema(
            properties.Schema.STRING,
            _("Datastore version, from the datastore registry."),
            required=True,
        ),
        FLAVOR: properties.Schema(
            properties.Schema.STRING,
            _("Flavor id; sets the server's memory and connection limits. Changes in place."),
            required=True,
            update_allowed=True,
        ),
        VOLUME_SIZE: properties.Schema(
            properties.Schema.INTEGER,
            _("Size of the data volume in GB (recorded, not enforced, on the local driver). Grows in place."),
            required=True,
            constraints=[constraints.Range(min=1)],
            update_allowed=True,
        ),
        ADMIN_PASSWORD: properties.Schema(
            properties.Schema.STRING,
            _("Password of the datastore's admin account, used only by the engine's plugins."),
            required=True,
        ),
        CONFIGURATION: properties.Schema(
            properties.Schema.MAP,
            _("Configuration parameter values the server starts with (its override file). "
              "Changes in place, for the next start: DBaaS::Configuration applies them live."),
            default={},
            update_allowed=True,
        ),
        RESTART_GENERATION: properties.Schema(
            properties.Schema.INTEGER,
            _("Restart counter: a new value stops and starts the server in place (data kept); "
              "it brings back a server that died, too."),
            default=0,
            update_allowed=True,
        ),
        RESTORE_FROM: properties.Schema(
            properties.Schema.LIST,
            _("Backups the data comes from instead of an empty server: a full backup's "
              "{location, checksum, position}, then its incrementals in order. Used at create "
              "only (update_allowed so that a later re-rendering without it changes nothing)."),
            default=[],
            update_allowed=True,
        ),
        IS_PUBLIC: properties.Schema(
            properties.Schema.BOOLEAN,
            _("Reachable from every address the host has: what a loopback address is (recorded)."),
            default=False,
            update_allowed=True,
        ),
        ALLOWED_CIDRS: properties.Schema(
            properties.Schema.LIST,
            _("IPv4 networks clients may connect from ([]: every address), enforced by the "
              "datastore itself (pg_hba.conf, MariaDB's init_connect). Changes in place."),
            default=[],
            update_allowed=True,
        ),
        REPLICA_OF: properties.Schema(
            properties.Schema.STRING,
            _("The instance whose server this one follows ('' while it takes writes). At create: "
              "the server is seeded from it. Changed: '' promotes the server, an id repoints it."),
            default="",
            update_allowed=True,
        ),
        REPLICA_FENCE: properties.Schema(
            properties.Schema.STRING,
            _("The old primary a promotion fences and catches up with first (a switchover); "
              "'' promotes at once."),
            default="",
            update_allowed=True,
        ),
        GUEST_LOGS: properties.Schema(
            properties.Schema.LIST,
            _("The datastore's USER logs that are on (Trove's general, slow_query): set live where "
              "the server can, else at its next start; kept for every start. Changes in place."),
            default=[],
            update_allowed=True,
        ),
        # Where the server lives (service/networks.py). Used at create only; update_allowed
        # so that nothing a later re-rendering sends can replace the server (and lose its data).
        NETWORK: properties.Schema(
            properties.Schema.STRING, _("The network's id (recorded)."), default="", update_allowed=True),
        SUBNET: properties.Schema(
            properties.Schema.STRING, _("The subnet's id (recorded)."), default="", update_allowed=True),
        SUBNET_CIDR: properties.Schema(
            properties.Schema.STRING,
            _("The band of loopback addresses the server's address comes from ('': 127.0.0.0/16)."),
            default="", update_allowed=True),
        FIXED_IP: properties.Schema(
            properties.Schema.STRING, _("The address to listen on, inside subnet_cidr ('': any free one)."),
            default="", update_allowed=True),
        VOLUME_TYPE: properties.Schema(
            properties.Schema.STRING,
            _("The volume type (recorded: the local driver has one storage, the state directory's disk)."),
            default="", update_allowed=True),
    }

    attributes_schema = {
        ADDRESS: attributes.Schema(_("Address the server listens on."), type=attributes.Schema.STRING),
        PORT: attributes.Schema(_("Port the server listens on."), type=attributes.Schema.INTEGER),
        REPLICATION: attributes.Schema(
            _("What the server says now: {role: primary, replica or unreachable, position}."),
            type=attributes.Schema.MAP, cache_mode=attributes.Schema.CACHE_NONE),
    }

    @staticmethod
    def driver():
        """The local driver of this engine's state dir (the embedded launcher and the production
        profile export DBAAS_STATE_DIR before the engine starts)."""
        return LocalDriver(Settings.from_env().state_dir)

    def data_dir(self):
        """The server's files on this host, for tools that read them (instance_stacks.Endpoint)."""
        instance = self.driver().get(self.resource_id) if self.resource_id else None
        return instance.datadir if instance else None

    def validate(self):
        super().validate()
        with validation_failed():
            datastore = datastores.get(self.properties[self.DATASTORE])
            datastores.find_flavor(self.properties[self.FLAVOR])
        if self.properties[self.DATASTORE_VERSION] not in datastore.versions:
            raise exception.StackValidationFailed(message=_("Unknown %(ds)s version %(v)s") % {
                "ds": datastore.name, "v": self.properties[self.DATASTORE_VERSION]})
        if self.properties[self.CONFIGURATION]:
            with validation_failed():
                datastore.validate_configuration(self.properties[self.DATASTORE_VERSION],
                                                 self.properties[self.CONFIGURATION], field="configuration")
        with validation_failed():
            local_driver.check_placement(self.properties[self.SUBNET_CIDR] or None,
                                         self.properties[self.FIXED_IP] or None)
            access = access_rules.requested({"is_public": self.properties[self.IS_PUBLIC],
                                             "allowed_cidrs": list(self.properties[self.ALLOWED_CIDRS])})
            access_rules.check_local(access, datastore)
        unknown = sorted(set(self.properties[self.GUEST_LOGS]) - set(datastore.user_logs))
        if unknown:
            raise exception.StackValidationFailed(message=_("%(ds)s has no USER log %(log)s") % {
                "ds": datastore.title, "log": unknown[0]})

    def handle_create(self):
        key = self.physical_resource_name()
        # Record the key before anything exists, so that delete can always find it.
        self.resource_id_set(key)
        owner = {"stack_id": self.stack.id, "stack_name": self.stack.name, "resource": self.name,
                 "project": self.stack.context.project_id}
        with resource_in_error():
            self.driver().create(key, ServerSpec(
                datastores.get(self.properties[self.DATASTORE]),
                self.properties[self.DATASTORE_VERSION],
                datastores.find_flavor(self.properties[self.FLAVOR]),
                self.properties[self.ADMIN_PASSWORD],
                owner=owner,
                restore=self._restore_chain(),
                overrides=self.properties[self.CONFIGURATION],
                allowed_cidrs=access_rules.allowed_cidrs(list(self.properties[self.ALLOWED_CIDRS])),
                replica_of=self._seed_source(),
                band=self.properties[self.SUBNET_CIDR] or None,
                fixed_ip=self.properties[self.FIXED_IP] or None,
                logs=tuple(self.properties[self.GUEST_LOGS]),
            ))
        return key

    # A failed update (a restart whose server would not start, say) must not make Heat
    # replace the server on the next update: a replacement is a new, empty server, and the
    # old one's data would be destroyed with it. Heat's default replaces every *_FAILED
    # resource; this one is replaced only when there is no server left to update.
    always_replace_on_check_failed = False

    def needs_replace_failed(self):
        return not self.resource_id or self.driver().get(self.resource_id) is None

    def handle_check(self):
        """reset_status's stack check: the server exists and its process runs."""
        driver = self.driver()
        if driver.get(self.resource_id) is None:
            raise exception.ResourceInError(resource_status="ERROR", status_reason="The server does not exist.")
        if not driver.is_running(self.resource_id):
            raise exception.ResourceInError(resource_status="ERROR",
                                            status_reason="The server is not running; restart the instance.")

    def check_create_complete(self, key):
        # create() returns only once the server accepts authenticated connections.
        return True

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        if not self.resource_id:
            return
        driver, password = self.driver(), self.properties[self.ADMIN_PASSWORD]
        with resource_in_error():
            if self.CONFIGURATION in prop_diff:
                driver.set_overrides(self.resource_id, prop_diff[self.CONFIGURATION] or {})
            if self.GUEST_LOGS in prop_diff:   # before a restart, which then starts with them
                driver.set_logs(self.resource_id, list(prop_diff[self.GUEST_LOGS] or []), password)
            if self.FLAVOR in prop_diff:   # restarts a running server with the new settings
                driver.resize(self.resource_id, datastores.find_flavor(prop_diff[self.FLAVOR]), password)
            # A restart, unless the resize just did one (after a failed update Heat may send
            # both: the server is down then, and the restart is what starts it).
            if self.RESTART_GENERATION in prop_diff and (
                    self.FLAVOR not in prop_diff or not driver.is_running(self.resource_id)):
                driver.restart(self.resource_id, password)
            if self.ALLOWED_CIDRS in prop_diff:
                driver.set_access(self.resource_id, access_rules.allowed_cidrs(list(prop_diff[self.ALLOWED_CIDRS])),
                                  password)
            if self.REPLICA_OF in prop_diff:
                self._change_role(prop_diff[self.REPLICA_OF] or "",
                                  prop_diff.get(self.REPLICA_FENCE, self.properties[self.REPLICA_FENCE]) or "")

    def handle_delete(self):
        if self.resource_id:
            self.driver().destroy(self.resource_id)  # tolerates "already gone"

    def _change_role(self, replica_of, fence):
        password = self.properties[self.ADMIN_PASSWORD]
        if replica_of:
            self.driver().follow(self.resource_id, self._endpoint(replica_of), password)
        else:
            fenced = self._endpoint(fence, running=False).key if fence else None
            self.driver().promote(self.resource_id, password, fenced=fenced)

    def _seed_source(self):
        """The running server a new replica is seeded from (with its data dir, for tools
        that read its files), or None."""
        source = self._endpoint(self.properties[self.REPLICA_OF])
        if source is None:
            return None
        return streams.Source(host=source.host, port=source.port, password=source.password,
                              version=self.properties[self.DATASTORE_VERSION], datadir=source.datadir)

    def _endpoint(self, instance_id, running=True):
        """The server of another instance of the replication set, from its stack."""
        return instance_stacks.endpoint(self.context, instance_id, running) if instance_id else None

    def _restore_chain(self):
        """The backups to restore as verified streams (read only when the driver uses them)."""
        chain = self.properties[self.RESTORE_FROM]
        return streams.open_chain(Settings.from_env(), chain) if chain else None

    def _resolve_attribute(self, name):
        instance = self.driver().get(self.resource_id) if self.resource_id else None
        if instance is None:
            return None
        if name == self.REPLICATION:
            # Resolved for a stack show, where this resource's own properties cannot be
            # resolved (get_attr of a sibling there fails): ask the sibling itself.
            secret = self.stack.resources.get("admin_password")
            password = secret.FnGetAtt("value") if secret is not None else None
            if not password:
                return {"role": "unreachable"}
            return self.driver().replication_state(self.resource_id, password)
        return {self.ADDRESS: instance.address, self.PORT: instance.port}[name]


def resource_mapping():
    return {"DBaaS::Local::Server": LocalServer}
