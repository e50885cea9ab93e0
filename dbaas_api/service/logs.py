"""Trove's instance logs (``GET/POST /instances/{id}/log``): list, show, enable, disable,
publish, discard.

SYS logs are the datastore's own files (``Datastore.guest_logs``: the local driver's
server.log, stdout and stderr of the server), always on. USER logs (``Datastore.user_logs``:
MariaDB's general and slow_query, PostgreSQL's general) are off until enabled; which are on is
the stack's ``guest_logs`` parameter (the record, changed through InstanceChanges like any
change), which DBaaS::Server sets on the running server where it can and gives it at every
start, so a restart or resize keeps them. One the server takes only at a start (PostgreSQL's
collector) is "Restart Required", and so is the instance, until the restart action. No log
holds a password the service wrote: the service's own connections never log their statements
(the datastore modules say how), and passwords travel hashed anyway. A USER log grows with
what users run: over USER_LOG_BYTES it starts again at the next log call (Trove leaves that
to logrotate), which the published copy sees as Rotated.

Publishing copies what is new since the last publish into the backup storage, in
Trove's container ``database_logs`` (on local storage a directory under the backup dir),
in objects of at most OBJECT_BYTES, at most PUBLISH_BYTES a call (the rest stays pending:
``Partial``), each with Trove's ``X-Object-Meta-Lines``. On Swift, with Keystone, the container
is in the caller's own account, written with the caller's token (the object-store endpoint of
its token's catalog), as Trove's guest does: so the unmodified ``openstack database log save``
and ``log tail`` read it with the caller's credentials. Without an object-store in the catalog
(or without Keystone) it is the operator's backup storage. The record of what was published is
the metafile beside the objects and outside their prefix (troveclient reads every object under
the prefix as log), as in Trove: its size and the digest of the log's first line, so a log
that was rotated or began again (a restored or restarted server) is noticed and published
from its start. What was published is kept nowhere else (not here, not in the stack): every
API process reads the same objects and the same metafile.
"""
import hashlib
import json
import os
import time
from dataclasses import dataclass, replace

from dbaas_api import datastores, errors, records
from dbaas_api.backup import storage as backup_storage
from dbaas_api.records.stack import from_json
from dbaas_api.service.changes import Change

CONTAINER = "database_logs"   # Trove's guest_log_container_name
OBJECT_BYTES = 1 << 20        # Trove's guest_log_limit
PUBLISH_BYTES = 16 << 20
USER_LOG_BYTES = 64 << 20     # the most a USER log file grows to (see the docstring)
METAFILE = "metafile"
ACTIONS = ("enable", "disable", "publish", "discard")


class LogService:
    def __init__(self, settings, gateway, probe, changes):
        self.settings, self.gateway = settings, gateway
        self.probe = probe   # the live signal (service/health.py), built once by create_app
        self.changes = changes   # the one InstanceChanges: enable and disable change the stack

    def list(self, project_id, instance_id, account=None):
        """``account``: the caller's identity.ObjectStore, or None (see the docstring)."""
        instance, storage = self._instance(project_id, instance_id), self._storage(account)
        return [self._view(storage, instance, name) for name in sorted(instance.files)]

    def action(self, project_id, instance_id, body, account=None):
        """``{"name", "enable"|"disable"|"publish"|"discard": 1}``, or the name alone: show."""
        name = body["name"]
        asked = [action for action in ACTIONS if body.get(action)]
        if "enable" in asked and "disable" in asked:
            raise errors.BadRequest(f"Cannot enable and disable log '{name}'.")
        instance = self._instance(project_id, instance_id)
        if name not in instance.files:
            raise errors.NotFound(f"Log '{name}' is not defined for {instance.datastore.title}.")
        if ("enable" in asked or "disable" in asked) and name in instance.datastore.guest_logs:
            raise errors.BadRequest(f"Cannot {'enable' if 'enable' in asked else 'disable'} a SYSTEM log "
                                    f"('{name}'): it is always on.")
        if "enable" in asked or "disable" in asked:
            instance = self._switch(project_id, instance, name, "enable" in asked)
        storage = self._storage(account)
        if "discard" in asked:
            _discard(storage, instance, name)
        if "publish" in asked:
            self._publish(storage, instance, name)
        return self._view(storage, instance, name)

    def _switch(self, project_id, instance, name, enable):
        """The stack's guest_logs with ``name`` on or off (nothing to do: no change)."""
        if instance.home is None:
            raise errors.Conflict(f"Log '{name}' cannot be {'enabled' if enable else 'disabled'}: the "
                                  "server's log files are not reachable from the API on this driver.")
        if (name in instance.enabled) == enable:
            return instance
        def change(current):
            logs = set(current.spec.guest_logs) | {name} if enable else set(current.spec.guest_logs) - {name}
            return Change(replace(current.spec, guest_logs=tuple(sorted(logs))),
                          restart_required=_restart_required(current, logs, instance.started))
        result = self.changes.apply(project_id, instance.id, change)
        return replace(instance, enabled=result.spec.guest_logs)

    # ---- what is on disk, and what was published ----------------------------------------

    def _instance(self, project_id, instance_id):
        stack = records.stack.owned(self.gateway, project_id, instance_id, records.instance.TAGS)
        home = self.probe.home(stack["id"])
        started = from_json((home / "logs.json").read_text(), {}).get("started", []) if (
            home is not None and (home / "logs.json").is_file()) else []
        return _Instance(stack["id"], datastores.get(records.instance.TAGS.decode(stack["tags"]).datastore), home,
                         enabled=tuple(from_json((stack.get("parameters") or {}).get("guest_logs"), [])),
                         started=tuple(started))

    def _storage(self, account):
        if account is not None and self.settings.backup_storage == "swift":
            return backup_storage.in_users_account(account.url, account.token, CONTAINER)
        return backup_storage.from_settings(self.settings, CONTAINER)

    def _file(self, instance, name):
        """The log's file; a USER log over USER_LOG_BYTES is emptied first (the server appends)."""
        if instance.home is None:
            return None
        path = instance.home / instance.files[name]
        if name in instance.datastore.user_logs and path.is_file() and path.stat().st_size > USER_LOG_BYTES:
            os.truncate(path, 0)
        return path

    def _published(self, storage, instance, name):
        """The metafile's {"log_size", "log_header_digest", "objects"}; empty when none."""
        try:
            return json.loads(b"".join(storage.get_stream(_meta_prefix(instance, name), METAFILE)))
        except (backup_storage.CorruptBackup, ValueError):
            return {}

    def _publish(self, storage, instance, name):
        path = self._file(instance, name)
        if path is None or not path.is_file():
            raise errors.Conflict(f"Log '{name}' cannot be published: the server's log file is not "
                                  "reachable from the API on this driver, or the server has none yet.")
        prefix = _prefix(instance, name)
        published, digest = self._published(storage, instance, name), _header_digest(path)
        if not published or _rotated(published, digest, path.stat().st_size):
            _discard(storage, instance, name)   # objects without a metafile: an unfinished publish
            published = {}
        offset, objects = published.get("log_size", 0), published.get("objects", 0)
        with open(path, "rb") as log:
            log.seek(offset)
            pending = log.read(PUBLISH_BYTES)
        for start in range(0, len(pending), OBJECT_BYTES):
            part = pending[start:start + OBJECT_BYTES]
            storage.put_stream(prefix, f"log-{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}-{objects:06d}",
                               [part], headers={"X-Object-Meta-Lines": str(part.count(b"\n"))})
            objects, offset = objects + 1, offset + len(part)
        storage.settle(prefix)
        storage.put_stream(_meta_prefix(instance, name), METAFILE, [json.dumps(
            {"log_name": name, "log_type": instance.type(name), "log_size": offset, "log_header_digest": digest,
             "objects": objects}, sort_keys=True).encode()])
        storage.settle(_meta_prefix(instance, name))

    def _view(self, storage, instance, name):
        """Trove's GuestLog.show(): sizes in bytes; container and prefix once published."""
        path = self._file(instance, name)
        size = path.stat().st_size if path is not None and path.is_file() else 0
        published = self._published(storage, instance, name)
        done = published.get("log_size", 0)
        if published and _rotated(published, _header_digest(path), size):
            status, pending = "Rotated", size
        else:
            pending = max(size - done, 0)
            status = ("Unavailable" if not size else "Published" if not pending
                      else "Partial" if done else "Ready")
        user = instance.type(name) == "USER"
        if user and name not in instance.enabled:
            status = "Disabled"
        elif user and instance.datastore.user_logs[name].restart and name not in instance.started:
            status = "Restart Required"
        elif user and status == "Unavailable":
            status = "Enabled"
        prefix = _prefix(instance, name)
        return {"name": name, "type": instance.type(name), "status": status, "published": done, "pending": pending,
                "container": CONTAINER if done else "None", "prefix": f"{prefix}/" if done else "None",
                "metafile": f"{_meta_prefix(instance, name)}/{METAFILE}"}


@dataclass(frozen=True)
class _Instance:
    id: str
    datastore: object
    home: object          # the local server's directory; None when not reachable here
    enabled: tuple = ()   # the USER logs that are on (the stack's guest_logs)
    started: tuple = ()   # those the running server started with (the driver's logs.json)

    @property
    def files(self):
        """{name: file under home} of every log, SYS and USER."""
        return {**self.datastore.guest_logs,
                **{name: log.file for name, log in self.datastore.user_logs.items()}}

    def type(self, name):
        return "USER" if name in self.datastore.user_logs else "SYS"


def _restart_required(current, logs, started):
    """Whether the instance waits for a restart once ``logs`` are on: a log the server takes
    only at a start that it did not start with, or a configuration value (as before)."""
    datastore = current.datastore
    configuration = current.spec.configuration.values if current.spec.configuration else {}
    return (any(datastore.user_logs[log].restart and log not in started for log in logs)
            or datastore.restart_required(current.spec.version, current.spec.started_with, configuration))


def _prefix(instance, name):
    """Trove's ``<instance id>/<datastore>-<log>/`` as one storage prefix (no slash in it)."""
    return f"{instance.id}_{instance.datastore.name}-{name}"


def _meta_prefix(instance, name):
    """Where the metafile is: beside the log's prefix, not under it (Trove's <prefix>_metafile)."""
    return f"{_prefix(instance, name)}_metafile"


def _discard(storage, instance, name):
    storage.delete_prefix(_prefix(instance, name))
    storage.delete_prefix(_meta_prefix(instance, name))


def _header_digest(path):
    """The digest of the log's first line (Trove's header digest): another one means the file
    began again."""
    if path is None or not path.is_file():
        return ""
    with open(path, "rb") as log:
        return hashlib.sha256(log.readline()).hexdigest()


def _rotated(published, digest, size):
    return size < published.get("log_size", 0) or digest != published.get("log_header_digest")
