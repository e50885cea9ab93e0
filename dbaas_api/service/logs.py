"""Trove's instance logs (``GET/POST /instances/{id}/log``): list, show, publish, discard.

The logs are the datastore's own files (``Datastore.guest_logs``: the local driver's
server.log, stdout and stderr of the server); they hold no password (the datastore modules
say why). Publishing copies what is new since the last publish into the backup storage, in
Trove's container ``database_logs`` (on local storage a directory under the backup dir),
in objects of at most OBJECT_BYTES, at most PUBLISH_BYTES a call (the rest stays pending:
``Partial``). The record of what was published is the ``metafile`` object beside them, as in
Trove: its size and the digest of the log's first line, so a log that was rotated or began
again (a restored or restarted server) is noticed and published from its start. No state
here, none in the stack: every API process reads the same files and the same metafile.
"""
import hashlib
import json
import time

from dbaas_api import datastores, errors, records
from dbaas_api.backup import storage as backup_storage

CONTAINER = "database_logs"   # Trove's guest_log_container_name
OBJECT_BYTES = 1 << 20        # Trove's guest_log_limit
PUBLISH_BYTES = 16 << 20
METAFILE = "metafile"
ACTIONS = ("enable", "disable", "publish", "discard")


class LogService:
    def __init__(self, settings, gateway, probe):
        self.settings, self.gateway = settings, gateway
        self.probe = probe   # the live signal (service/health.py), built once by create_app

    def list(self, project_id, instance_id):
        instance = self._instance(project_id, instance_id)
        return [self._view(instance, name) for name in sorted(instance.datastore.guest_logs)]

    def action(self, project_id, instance_id, body):
        """``{"name", "enable"|"disable"|"publish"|"discard": 1}``, or the name alone: show."""
        name = body["name"]
        asked = [action for action in ACTIONS if body.get(action)]
        if "enable" in asked and "disable" in asked:
            raise errors.BadRequest(f"Cannot enable and disable log '{name}'.")
        instance = self._instance(project_id, instance_id)
        if name not in instance.datastore.guest_logs:
            raise errors.NotFound(f"Log '{name}' is not defined for {instance.datastore.title}.")
        if "enable" in asked or "disable" in asked:
            raise errors.BadRequest(f"Cannot {'enable' if 'enable' in asked else 'disable'} a SYSTEM log "
                                    f"('{name}'): it is always on.")
        if "discard" in asked:
            self._storage().delete_prefix(_prefix(instance, name))
        if "publish" in asked:
            self._publish(instance, name)
        return self._view(instance, name)

    # ---- what is on disk, and what was published ----------------------------------------

    def _instance(self, project_id, instance_id):
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        return _Instance(stack["id"], datastores.get(records.instance.TAGS.decode(stack["tags"]).datastore),
                         self.probe.home(stack["id"]))

    def _storage(self):
        return backup_storage.from_settings(self.settings, CONTAINER)

    def _file(self, instance, name):
        return instance.home / instance.datastore.guest_logs[name] if instance.home else None

    def _published(self, instance, name):
        """The metafile's {"log_size", "log_header_digest", "objects"}; empty when none."""
        try:
            return json.loads(b"".join(self._storage().get_stream(_prefix(instance, name), METAFILE)))
        except (backup_storage.CorruptBackup, ValueError):
            return {}

    def _publish(self, instance, name):
        path = self._file(instance, name)
        if path is None or not path.is_file():
            raise errors.Conflict(f"Log '{name}' cannot be published: the server's log file is not "
                                  "reachable from the API on this driver, or the server has none yet.")
        storage, prefix = self._storage(), _prefix(instance, name)
        published, digest = self._published(instance, name), _header_digest(path)
        if published and _rotated(published, digest, path.stat().st_size):
            storage.delete_prefix(prefix)
            published = {}
        offset, objects = published.get("log_size", 0), published.get("objects", 0)
        with open(path, "rb") as log:
            log.seek(offset)
            pending = log.read(PUBLISH_BYTES)
        for start in range(0, len(pending), OBJECT_BYTES):
            part = pending[start:start + OBJECT_BYTES]
            storage.put_stream(prefix, f"log-{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}-{objects:06d}",
                               [part])
            objects, offset = objects + 1, offset + len(part)
        storage.put_stream(prefix, METAFILE, [json.dumps(
            {"log_name": name, "log_type": "SYS", "log_size": offset, "log_header_digest": digest,
             "objects": objects}, sort_keys=True).encode()])
        storage.settle(prefix)

    def _view(self, instance, name):
        """Trove's GuestLog.show(): sizes in bytes; container and prefix once published."""
        path = self._file(instance, name)
        size = path.stat().st_size if path is not None and path.is_file() else 0
        published = self._published(instance, name)
        done = published.get("log_size", 0)
        if published and _rotated(published, _header_digest(path), size):
            status, pending = "Rotated", size
        else:
            pending = max(size - done, 0)
            status = ("Unavailable" if not size else "Published" if not pending
                      else "Partial" if done else "Ready")
        prefix = _prefix(instance, name)
        return {"name": name, "type": "SYS", "status": status, "published": done, "pending": pending,
                "container": CONTAINER if done else "None", "prefix": f"{prefix}/" if done else "None",
                "metafile": f"{prefix}/{METAFILE}"}


class _Instance:
    def __init__(self, id, datastore, home):
        self.id, self.datastore, self.home = id, datastore, home


def _prefix(instance, name):
    """Trove's ``<instance id>/<datastore>-<log>/`` as one storage prefix (no slash in it)."""
    return f"{instance.id}_{instance.datastore.name}-{name}"


def _header_digest(path):
    """The digest of the log's first line (Trove's header digest): another one means the file
    began again."""
    if path is None or not path.is_file():
        return ""
    with open(path, "rb") as log:
        return hashlib.sha256(log.readline()).hexdigest()


def _rotated(published, digest, size):
    return size < published.get("log_size", 0) or digest != published.get("log_header_digest")
