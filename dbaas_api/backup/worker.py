"""The process that takes a backup (the datastore's tool streamed into storage) or reads one
for a restore (verified, into the restore tool's pipe), outside the Heat engine's process.
(In the engine it shares one GIL with every thread Heat runs; measured there, the same backup
took 1.5x as long, and a restore streamed there reached 0.4x of a bare ``tar -x``.)

DBaaS::Backup starts ``python -m dbaas_api.backup.worker`` (through backup/client.py), writes
one JSON line of request to its stdin (the instance's admin password included: a pipe, never argv, a file or a log) and
keeps stdin open; the worker answers one JSON line on stdout, ``{"location", "size",
"checksum", "position"}`` or ``{"error"}`` (with ``"refused"`` when the storage cannot take it:
full, read-only; no retry will do better). Storage settings come from the environment, as in
the engine. Stdin reaching its end means the engine is gone: the worker then stops at once
(its tool with it), so nothing is stored after the engine died and the backup's delete removes
what was.

A restore's request is ``{"restore": {"location", "checksum", "fd"}}``, ``fd`` a descriptor the
worker inherited (the write end of the restore tool's stdin, or the file to fill), or null
to only verify the backup (the tool reads its one local file itself); the answer ``{"size"}``
once every segment was written and verified, or ``{"error", "corrupt"}``.
"""
import json
import os
import sys
import threading
from pathlib import Path

from dbaas_api.backup import storage as backup_storage
from dbaas_api.backup import streams
from dbaas_api.config import Settings
from dbaas_api.errors import DBaaSError


def run(line):
    """Take the backup (or copy the restore) a request line asks for; the result as a dict."""
    asked = json.loads(line)
    settings = Settings.from_env()
    if settings.backup_storage == "swift" and settings.swift_auth_version == "1":
        # tempauth needs no Keystone: swiftclient then goes without keystoneclient, whose
        # import alone takes about half a second of this process' start (a None entry
        # makes its import fail, which swiftclient expects when it is not installed).
        sys.modules.setdefault("keystoneclient", None)
    if "restore" in asked:
        restore = asked["restore"]
        try:
            storage, prefix = backup_storage.for_location(settings, restore["location"])
            if restore["fd"] is None:   # the restore's tool reads the file itself
                return {"size": storage.verify(prefix, restore["checksum"])}
            return {"size": storage.copy_to(prefix, restore["checksum"], restore["fd"])}
        except DBaaSError as exc:
            return {"error": exc.message, "corrupt": isinstance(exc, backup_storage.CorruptBackup)}
    from dbaas_api import datastores   # a restore goes without: their imports take 0.3 s

    fields = dict(asked["source"])
    for key in ("datadir", "workdir"):
        fields[key] = Path(fields[key]) if fields[key] else None
    storage = None
    try:
        storage = backup_storage.from_settings(settings, asked.get("container"))
        stored, position = streams.take(storage, asked["prefix"], datastores.get(asked["datastore"]),
                                        streams.Source(**fields), asked.get("parent_position"))
    except (DBaaSError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno not in backup_storage.REFUSALS:
            raise
        refusal = storage.refusal() if storage is not None else None
        if refusal or isinstance(exc, OSError):
            return {"error": f"The backup storage refused the backup: {refusal or exc.strerror}.", "refused": True}
        return {"error": exc.message}
    return {"location": stored.location, "size": stored.size, "checksum": stored.checksum, "position": position}


def _stop_with_parent():
    sys.stdin.read()
    streams.stop_running_tools()   # its tool too: one writing into a file would not notice
    os._exit(3)


def main():
    if "--warm" in sys.argv:   # started ahead of its backup: import now, not once asked
        from dbaas_api import datastores  # noqa: F401
    line = sys.stdin.readline()
    if not line:   # the engine went away before asking
        os._exit(0)
    threading.Thread(target=_stop_with_parent, name="parent-watch", daemon=True).start()
    result = run(line)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)   # the watch thread blocks on stdin


if __name__ == "__main__":
    main()
