"""DBaaS::Backup: a backup of an instance, stored in Swift or a local directory.

``handle_create`` starts a worker process (dbaas_api/backup/worker.py, holding a few MiB
whatever the database's size) that runs the datastore's own backup tool against the
instance's server and streams its output into storage (see dbaas_api/backup/);
``check_create_complete`` looks at the worker once per poll, as Heat's own plugins look at
their cloud's work, so that Heat's timeout and cancel end a backup that hangs
(``handle_create_cancel``: the worker stops its tool, what it stored is removed). Size,
SHA-256 and location become the resource's attributes (the backup stack's outputs); the
position (where an incremental on top starts) too.

Where the instance's admin endpoint comes from: the instance's own stack, loaded from Heat's
database in this engine (heat_plugins/instance_stacks.py). So the admin password never
becomes a parameter, property, attribute or output of the backup stack; it reaches the
worker (the engine's child) through a pipe.

The location is recorded as the resource id before the first byte is stored, so delete finds
the objects of a backup whose engine died mid-way; a failed backup removes what it stored.
"""
import contextlib
import json
import shutil

from heat.common import exception
from heat.common.i18n import _
from heat.engine import attributes, properties, resource, support

from dbaas_api import datastores
from dbaas_api.backup import storage as backup_storage
from dbaas_api.backup import client, streams
from dbaas_api.config import Settings
from dbaas_api.errors import DBaaSError
from heat_plugins import instance_stacks, schemas
from heat_plugins.failures import resource_in_error


class Backup(resource.Resource):
    """A backup of the server of an instance stack, taken with the datastore's own tool."""

    support_status = support.SupportStatus(version="27.0.0")

    PROPERTIES = (INSTANCE_ID, DATASTORE, DATASTORE_VERSION, PARENT, CONTAINER) = (
        "instance_id", "datastore", "datastore_version", "parent", "container")

    ATTRIBUTES = (LOCATION, SIZE, CHECKSUM, POSITION) = ("location", "size", "checksum", "position")

    properties_schema = {
        INSTANCE_ID: properties.Schema(
            properties.Schema.STRING, _("The instance stack whose server is backed up."), required=True),
        DATASTORE: schemas.datastore_type(_("Datastore type of the instance.")),
        DATASTORE_VERSION: properties.Schema(
            properties.Schema.STRING, _("Datastore version of the instance."), required=True),
        PARENT: properties.Schema(
            properties.Schema.MAP,
            _("For an incremental backup: the parent's location, checksum and position."), default={}),
        CONTAINER: properties.Schema(
            properties.Schema.STRING,
            _("The container (Swift) or directory under the backup dir (local) it goes to; "
              "empty: the operator's."), default=""),
    }

    attributes_schema = {
        LOCATION: attributes.Schema(_("Where the backup is stored."), type=attributes.Schema.STRING),
        SIZE: attributes.Schema(_("Bytes stored."), type=attributes.Schema.INTEGER),
        CHECKSUM: attributes.Schema(_("SHA-256 (hex) of its segments' SHA-256 digests."),
                                    type=attributes.Schema.STRING),
        POSITION: attributes.Schema(_("What an incremental on top of this backup starts from."),
                                    type=attributes.Schema.MAP),
    }

    def handle_create(self):
        """Start the backup in a worker process and hand the worker to check_create_complete,
        so that Heat's timeout and cancel can end it (handle_create_cancel)."""
        settings = Settings.from_env()
        datastore = datastores.get(self.properties[self.DATASTORE])
        prefix = self.stack.id   # the backup's id
        container = self.properties[self.CONTAINER] or None
        self.resource_id_set(backup_storage.from_settings(settings, container).location(prefix))
        parent = self.properties[self.PARENT] or None
        workdir = self._workdir(settings)
        workdir.mkdir(parents=True, mode=0o700, exist_ok=True)
        try:
            with _translated():
                source = self._source(workdir)
            return client.start(client.request(datastore.name, prefix, source, parent and parent.get("position"),
                                               container))
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    def check_create_complete(self, worker):
        """One look at the worker: done once the backup is stored."""
        try:
            with _translated():
                result = worker.poll()
        except BaseException:
            shutil.rmtree(self._workdir(Settings.from_env()), ignore_errors=True)
            raise
        if result is None:
            return False
        shutil.rmtree(self._workdir(Settings.from_env()), ignore_errors=True)
        self.data_set(self.SIZE, str(result["size"]))
        self.data_set(self.CHECKSUM, result["checksum"])
        self.data_set(self.POSITION, json.dumps(result["position"]))
        return True

    def handle_create_cancel(self, worker):
        """Heat's timeout or cancel: the worker stops its tool; what it stored goes (as delete)."""
        worker.stop()
        self.handle_delete()

    def handle_delete(self):
        if self.resource_id is None:
            return
        shutil.rmtree(self._workdir(Settings.from_env()), ignore_errors=True)   # an engine died mid-backup
        storage, prefix = backup_storage.for_location(Settings.from_env(), self.resource_id)
        try:
            storage.delete_prefix(prefix)
        except DBaaSError as exc:
            raise exception.Error(exc.message)

    def _resolve_attribute(self, name):
        data = self.data()
        if name == self.LOCATION:
            return self.resource_id if self.SIZE in data else None   # only once it is complete
        if name == self.SIZE:
            return int(data[self.SIZE]) if self.SIZE in data else None
        if name == self.CHECKSUM:
            return data.get(self.CHECKSUM)
        return json.loads(data[self.POSITION]) if self.POSITION in data else None

    def _workdir(self, settings):
        """The tool's scratch directory, under the state dir: what a dead engine left there
        goes with the backup's delete."""
        return settings.state_dir / "backup-work" / self.stack.id

    def _source(self, workdir):
        """The instance's server: address, port and admin password from its stack."""
        server = instance_stacks.endpoint(self.context, self.properties[self.INSTANCE_ID])
        return streams.Source(host=server.host, port=server.port, password=server.password,
                              version=self.properties[self.DATASTORE_VERSION], datadir=server.datadir,
                              workdir=workdir)


@contextlib.contextmanager
def _translated():
    """Our errors as Heat's (failures.py), a refusing storage apart: Heat retries a create only
    after ResourceInError (6 tries, ~69 s of BUILDING), and full or read-only storage stays so;
    this fails at once."""
    with resource_in_error():
        try:
            yield
        except backup_storage.StorageRefused as exc:
            raise exception.Error(exc.message) from exc


def resource_mapping():
    return {"DBaaS::Backup": Backup}
