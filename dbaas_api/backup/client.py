"""The engine's side of a backup worker (dbaas_api/backup/worker.py, the process): the
request lines DBaaS::Backup and a restore send, and ``call``, which runs one in a worker
process of its own and returns its answer or raises its error. Kept apart from the worker's
own code so that streams.py (which restores through a worker) and the worker (which streams)
import each other's modules in one direction only."""
import contextlib
import json
import subprocess
import sys
import tempfile

from dbaas_api.backup.storage import CorruptBackup, StorageRefused
from dbaas_api.errors import DBaaSError


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
    worker = _take(pass_fds, ahead)
    try:
        worker.send(line)
        return worker.answer()
    finally:
        if ahead:
            _start_ahead()


def start(line):
    """Send a request to the worker started ahead and return that worker at once, for a Heat
    plugin's check_*_complete to ``poll`` it and its cancel to ``stop`` it."""
    worker = _take((), True)
    worker.send(line)
    return worker


def _take(pass_fds, ahead):
    global _ahead
    worker, _ahead = (_ahead, None) if ahead else (None, _ahead)
    if worker is None or worker.process.poll() is not None:
        worker = _Worker(pass_fds, warm=ahead)
    return worker


def _start_ahead():
    global _ahead
    if _ahead is None:
        _ahead = _Worker((), warm=True)


class _Worker:
    """One worker process, started and waiting for its request."""

    STOP_TIMEOUT = 10.0   # seconds for a stopped worker to end its tool and exit before SIGKILL

    def __init__(self, pass_fds=(), warm=False):
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dbaas_api.backup.worker", *(["--warm"] if warm else [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, close_fds=True, pass_fds=pass_fds)

    def send(self, line):
        try:
            self.process.stdin.write(line.encode())
            self.process.stdin.flush()
        except BrokenPipeError:   # it died waiting: answer says why
            pass

    def poll(self):
        """None while it works; then its result, or its error raised (as ``call``)."""
        if self.process.poll() is None:
            return None
        _start_ahead()
        return self.answer()

    def stop(self):
        """Its end of stdin: the worker stops its tool and exits (killed if it does not)."""
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()
        try:
            self.process.wait(self.STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self.stderr.close()

    def answer(self):
        with self.stderr:
            try:
                answer = self.process.stdout.readline()
            finally:
                with contextlib.suppress(BrokenPipeError):
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
