"""DBaaS::Local::Server: a datastore server as a local process (the embedded default).

The environment file maps the templates' logical ``DBaaS::Server`` to this type. Each
server gets its own data directory and its own loopback address at the datastore's standard
port, just as a cloud server gets its own IP. The process runs in its own session with a
tracked pid, so it survives an engine restart and can always be found again.

Heat's contract, as Heat's own plugins keep it: ``handle_create`` and ``handle_update`` start
the driver's work as one step in a process of its own (drivers/local/steps.py) and return it;
``check_*_complete`` looks at it once per poll. So Heat's timeout (timeout_mins), a cancel
(reset_status) or a delete of the stack ends a step that hangs: ``handle_*_cancel`` kills
the step, and a create's cancel removes what it made. The step does not die with the engine:
a create the engine's death interrupted finishes, and reset_status's check finds its server.

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
from dbaas_api.config import Settings
from dbaas_api.drivers import local as local_driver
from dbaas_api.drivers.local import LocalDriver, steps
from dbaas_api.service import access as access_rules
from heat_plugins import instance_stacks, schemas
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
        DATASTORE: schemas.datastore_type(_("Datastore type, from the datastore registry.")),
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
        """Start the create (a step process of the driver's, drivers/local/steps.py) and hand
        it to check_create_complete: Heat's timeout and cancel can end it there."""
        key = self.physical_resource_name()
        # Record the key before anything exists, so that delete can always find it.
        self.resource_id_set(key)
        with resource_in_error():
            spec = self._spec()
        return self._step([("create", {"spec": spec})])

    def _spec(self):
        """The new server (a ServerSpec's fields as JSON, the password apart: see _step)."""
        return {
            "datastore": self.properties[self.DATASTORE], "version": self.properties[self.DATASTORE_VERSION],
            "flavor": self.properties[self.FLAVOR], "owner": self._owner(),
            "restore": list(self.properties[self.RESTORE_FROM]) or None,
            "overrides": self.properties[self.CONFIGURATION],
            "allowed_cidrs": access_rules.allowed_cidrs(list(self.properties[self.ALLOWED_CIDRS])),
            "replica_of": self._source_fields(self._endpoint(self.properties[self.REPLICA_OF])),
            "band": self.properties[self.SUBNET_CIDR] or None, "fixed_ip": self.properties[self.FIXED_IP] or None,
            "logs": list(self.properties[self.GUEST_LOGS]),
        }

    def _owner(self):
        return {"stack_id": self.stack.id, "stack_name": self.stack.name, "resource": self.name,
                "project": self.stack.context.project_id}

    def _step(self, calls):
        """Start the driver's calls in a step process; the password goes through its stdin."""
        with resource_in_error():
            return steps.Step(Settings.from_env().state_dir, self.resource_id, calls,
                              self.properties[self.ADMIN_PASSWORD])

    def check_create_complete(self, step):
        """One look: done once the server accepts an authenticated admin connection."""
        with resource_in_error():
            return step.poll()

    def handle_create_cancel(self, step):
        """Heat's timeout or cancel: end the step and remove what it made (process, directory)."""
        step.cancel()
        self.driver().destroy(self.resource_id)

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

    def handle_update(self, json_snippet, tmpl_diff, prop_diff):
        """Start the update's driver calls (one step, in order) for check_update_complete."""
        calls = self._update_calls(prop_diff) if self.resource_id else []
        return self._step(calls) if calls else None

    def _update_calls(self, prop_diff):
        calls = []
        if self.CONFIGURATION in prop_diff:
            calls.append(("set_overrides", {"values": prop_diff[self.CONFIGURATION] or {}}))
        if self.GUEST_LOGS in prop_diff:   # before a restart, which then starts with them
            calls.append(("set_logs", {"logs": list(prop_diff[self.GUEST_LOGS] or [])}))
        if self.FLAVOR in prop_diff:   # restarts a running server with the new settings
            calls.append(("resize", {"flavor": prop_diff[self.FLAVOR]}))
        # A restart, unless the resize just did one (after a failed update Heat may send
        # both: the server is down then, and the restart is what starts it).
        if self.RESTART_GENERATION in prop_diff:
            calls.append(("restart", {"unless_running": self.FLAVOR in prop_diff}))
        if self.ALLOWED_CIDRS in prop_diff:
            calls.append(("set_access", {"cidrs": access_rules.allowed_cidrs(list(prop_diff[self.ALLOWED_CIDRS]))}))
        if self.REPLICA_OF in prop_diff:
            fence = prop_diff.get(self.REPLICA_FENCE, self.properties[self.REPLICA_FENCE])
            calls.append(self._role_change(prop_diff[self.REPLICA_OF] or "", fence or ""))
        return calls

    def check_update_complete(self, step):
        if step is None:
            return True
        with resource_in_error():
            return step.poll()

    def handle_update_cancel(self, step):
        """Heat's cancel (reset_status) or timeout: end the step; the server stays as the step
        left it (a restart puts it right), its data untouched."""
        if step is not None:
            step.cancel()

    def handle_delete(self):
        if self.resource_id:
            self.driver().destroy(self.resource_id)  # tolerates "already gone"

    def _role_change(self, replica_of, fence):
        """The step call of a role change: follow another server, or take writes."""
        with resource_in_error():
            if replica_of:
                return ("follow", {"source": self._source_fields(self._endpoint(replica_of))})
            return ("promote", {"fenced": self._endpoint(fence, running=False).key if fence else None})

    def _source_fields(self, source):
        """A server of this replication set as the step's JSON (a streams.Source), or None."""
        if source is None:
            return None
        return {"host": source.host, "port": source.port, "password": source.password,
                "version": self.properties[self.DATASTORE_VERSION],
                "datadir": str(source.datadir) if source.datadir else None}

    def _endpoint(self, instance_id, running=True):
        """The server of another instance of the replication set, from its stack."""
        return instance_stacks.endpoint(self.context, instance_id, running) if instance_id else None

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
