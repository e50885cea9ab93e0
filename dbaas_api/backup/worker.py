"""The process that takes a backup (the datastore's tool streamed into storage) or reads one
for a restore (verified, into the restore tool's pipe), outside the Heat engine's process.
(In the engine it shares one GIL with every thread Heat runs; measured there, the same backup
took 1.5x as long, and a restore streamed there reached 0.4x of a bare ``tar -x``.)

DBaaS::Backup starts ``python -m dbaas_api.backup.worker``, writes one JSON line of request to
its stdin (the instance's admin password included: a pipe, never argv, a file or a log) and
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
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REQUEST_FIELDS = ("datastore", "prefix", "source", "parent_position", "container")


def request(datastore, prefix, source, parent_position=None, container=None):
    """The line DBaaS::Backup sends (source: a streams.Source)."""
    fields = {"host": source.host, "port": source.port, "password": source.password, "version": source.version,
              "datadir": str(source.datadir) if source.datadir else None,
              "workdir": str(source.workdir) if source.workdir else None}
    return json.dumps({"datastore": datastore, "prefix": prefix, "source": fields,
                       "parent_position": parent_position, "container": container}) + "\n"


def restore_request(location, checksum, fd):
    """The line a restore sends: the backup's bytes are to go, verified, into ``fd`` (None:
    only verified)."""
    return json.dumps({"restore": {"location": location, "checksum": checksum, "fd": fd}}) + "\n"


_ahead = None   # the next backup's worker, started ahead of it (see call)


def call(line, pass_fds=(), ahead=False):
    """Run a request in a worker process (the engine's side): the request, password included,
    goes through its stdin, which stays open while it works (its end tells the worker that
    the engine is gone). Returns the worker's result or raises its error.

    ``ahead``: take the worker started ahead for this (its start and imports, about a third
    of a second, already done) and start the next one once this one answered. It waits for
    its request on its stdin and stops with the engine as any worker does. Not for requests
    with descriptors to pass: a process' inherited descriptors are fixed when it starts."""
    global _ahead
    worker, _ahead = (_ahead, None) if ahead else (None, _ahead)
    if worker is None or worker.process.poll() is not None:
        worker = _Worker(pass_fds, warm=ahead)
    try:
        return worker.ask(line)
    finally:
        if ahead and _ahead is None:
            _ahead = _Worker((), warm=True)


class _Worker:
    """One worker process, started and waiting for its request."""

    def __init__(self, pass_fds=(), warm=False):
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dbaas_api.backup.worker", *(["--warm"] if warm else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, close_fds=True, pass_fds=pass_fds)

    def ask(self, line):
        from dbaas_api.backup.storage import CorruptBackup, StorageRefused
        from dbaas_api.errors import DBaaSError

        with self.stderr:
            try:
                self.process.stdin.write(line.encode())
                self.process.stdin.flush()
                answer = self.process.stdout.readline()
            except BrokenPipeError:   # it died waiting: its stderr says why
                answer = b""
            finally:
                self.process.stdin.close()
                self.process.wait()
                self.process.stdout.close()
            try:
                result = json.loads(answer)
            except ValueError:
                self.stderr.seek(0)
                lines = self.stderr.read().decode("utf-8", "replace").strip().splitlines()
                raise DBaaSError(f"The backup worker exited with code {self.process.returncode}: "
                                 f"{lines[-1][:300] if lines else 'no message'}") from None
        if "error" in result:
            kind = CorruptBackup if result.get("corrupt") else StorageRefused if result.get("refused") else DBaaSError
            raise kind(result["error"])
        return result


def run(line):
    """Take the backup (or copy the restore) a request line asks for; the result as a dict."""
    from dbaas_api.backup import storage as backup_storage
    from dbaas_api.config import Settings
    from dbaas_api.errors import DBaaSError

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
    from dbaas_api.backup.streams import Source, take

    fields = dict(asked["source"])
    for key in ("datadir", "workdir"):
        fields[key] = Path(fields[key]) if fields[key] else None
    storage = None
    try:
        storage = backup_storage.from_settings(settings, asked.get("container"))
        stored, position = take(storage, asked["prefix"], datastores.get(asked["datastore"]), Source(**fields),
                                asked.get("parent_position"))
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
    from dbaas_api.backup.streams import stop_running_tools
    stop_running_tools()   # its tool too: one writing into a file would not notice
    os._exit(3)


def main():
    if "--warm" in sys.argv:   # started ahead of its backup: import now, not once asked
        from dbaas_api import datastores  # noqa: F401
        from dbaas_api.backup import storage, streams  # noqa: F401
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
