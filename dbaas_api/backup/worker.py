"""The process that takes a backup: the datastore's tool streamed into storage, outside the
Heat engine's process. (In the engine it shares one GIL with every thread Heat runs; measured
there, the same backup took 1.5x as long.)

DBaaS::Backup starts ``python -m dbaas_api.backup.worker``, writes one JSON line of request to
its stdin (the instance's admin password included: a pipe, never argv, a file or a log) and
keeps stdin open; the worker answers one JSON line on stdout, ``{"location", "size",
"checksum", "position"}`` or ``{"error"}``. Storage settings come from the environment, as in
the engine. Stdin reaching its end means the engine is gone: the worker then stops at once
(its tool with it), so nothing is stored after the engine died and the backup's delete removes
what was.
"""
import json
import os
import sys
import threading
from pathlib import Path

REQUEST_FIELDS = ("datastore", "prefix", "source", "parent_position")


def request(datastore, prefix, source, parent_position=None):
    """The line DBaaS::Backup sends (source: a streams.Source)."""
    fields = {"host": source.host, "port": source.port, "password": source.password, "version": source.version,
              "datadir": str(source.datadir) if source.datadir else None,
              "workdir": str(source.workdir) if source.workdir else None}
    return json.dumps({"datastore": datastore, "prefix": prefix, "source": fields,
                       "parent_position": parent_position}) + "\n"


def run(line):
    """Take the backup a request line asks for; the result as a dict."""
    from dbaas_api import datastores
    from dbaas_api.backup import storage as backup_storage
    from dbaas_api.backup.streams import Source, take
    from dbaas_api.config import Settings
    from dbaas_api.errors import DBaaSError

    asked = json.loads(line)
    fields = dict(asked["source"])
    for key in ("datadir", "workdir"):
        fields[key] = Path(fields[key]) if fields[key] else None
    settings = Settings.from_env()
    if settings.backup_storage == "swift" and settings.swift_auth_version == "1":
        # tempauth needs no Keystone: swiftclient then goes without keystoneclient, whose
        # import alone takes about half a second of this process' start (a None entry
        # makes its import fail, which swiftclient expects when it is not installed).
        sys.modules.setdefault("keystoneclient", None)
    try:
        storage = backup_storage.from_settings(settings)
        stored, position = take(storage, asked["prefix"], datastores.get(asked["datastore"]), Source(**fields),
                                asked.get("parent_position"))
    except DBaaSError as exc:
        return {"error": exc.message}
    return {"location": stored.location, "size": stored.size, "checksum": stored.checksum, "position": position}


def _stop_with_parent():
    sys.stdin.read()
    os._exit(3)


def main():
    line = sys.stdin.readline()
    threading.Thread(target=_stop_with_parent, name="parent-watch", daemon=True).start()
    result = run(line)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)   # the watch thread blocks on stdin


if __name__ == "__main__":
    main()
