"""A long step of the local driver (a create, a restart, a resize, a role change) in a process
of its own, so that the Heat plugin that asks for it keeps Heat's contract: ``handle_*``
starts the step and returns it, ``check_*_complete`` looks at it once (``Step.poll``), and
Heat's timeout or cancel ends it (``Step.cancel``: the step's process group is killed; what it
had spawned, servers and setup commands, runs in sessions of its own and is the caller's to
clean up, as LocalDriver.destroy does).

The step is ``python -m dbaas_api.drivers.local.step_main <state dir> <key>``: its argv names the
instance, so LocalDriver.destroy finds and ends a step still under way for it (one an engine
that died left running, say). The request, the admin password included, is one JSON line on
its stdin (a pipe: never argv, a file or a log); the answer one JSON line on its stdout,
``{}`` or ``{"error": message}``. It lives in a session of its own and does not stop with
the engine: a create the engine's death interrupted still finishes, and a later check of the
stack (reset_status) finds its server.

A call is ``[name, arguments]`` (see step_main.CALLS); the calls of one request run in order, so an
update's several changes keep the order the plugin gives them.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from dbaas_api import errors

MODULE = "dbaas_api.drivers.local.step_main"   # the step's side: what runs the calls


class Step:
    """One step under way (the engine's side)."""

    def __init__(self, state_dir, key, calls, password):
        self.key = key
        self._stderr = tempfile.TemporaryFile()
        self._answer = None
        self.process = subprocess.Popen(
            [sys.executable, "-m", MODULE, str(state_dir), key], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, close_fds=True, start_new_session=True)
        try:
            self.process.stdin.write((json.dumps({"calls": calls, "password": password}) + "\n").encode())
        except BrokenPipeError:   # it died at once: poll says why
            pass
        finally:
            self.process.stdin.close()

    @property
    def pid(self):
        return self.process.pid

    def poll(self):
        """False while the step runs, True once it is done; its error as errors.DBaaSError."""
        if self._answer is None:
            if self.process.poll() is None:
                return False
            self._answer = self._read_answer()
        if "error" in self._answer:
            raise errors.DBaaSError(self._answer["error"])
        return True

    def cancel(self):
        """End the step at once (SIGKILL to its process group) and reap it."""
        if self.process.poll() is None:
            kill_group(self.process.pid)
        self.process.wait()
        self._close()

    def _read_answer(self):
        try:
            line = self.process.stdout.readline()
            try:
                return json.loads(line)
            except ValueError:
                self._stderr.seek(0)
                lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
                return {"error": f"The local driver's step for '{self.key}' exited with code "
                                 f"{self.process.returncode}: {lines[-1][:300] if lines else 'no message'}"}
        finally:
            self._close()

    def _close(self):
        self.process.stdout.close()
        self._stderr.close()


def kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def step_pids(state_dir, key):
    """The steps under way for instance ``key`` of this state dir (their argv says)."""
    wanted = ["-m", MODULE, str(state_dir), key]
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv[1:5] == wanted:
            found.append(int(name))
    return found
