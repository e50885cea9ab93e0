"""The processes of a local instance: its server (spawned in a session of its own, found again
through its pid file, checked against /proc/<pid>/cmdline before any signal since pids get
reused) and the datastore's setup commands (``Runner``: no shell, output to server.log,
secrets through a pipe only), and the wait for a spawned server to answer (``Waiter``).
"""
import contextlib
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from dbaas_api import errors
from dbaas_api.drivers.local.layout import make_private_dirs, write_logs, write_text
from dbaas_api.waiting import TimedOut, poll_until

LOG = logging.getLogger(__name__)

CHILD_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}
POLL = 0.02   # seconds between looks at a stopping server


def spawn(ds, paths, version, user, extra_args=()):
    """Start the server (not waiting for it) and write its pid file."""
    make_private_dirs(ds, paths, user)   # also for an instance made before they existed
    argv = ds.start_argv(paths, version) + list(extra_args)
    write_logs(ds, paths, starting=True)
    with open(paths.home / "server.log", "ab") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   **child_options(paths, user))
    write_text(paths.home / "pid", f"{process.pid}\n")
    return process


def stop_processes(paths, first_signal, timeout):
    """Signal the server (the pid file's, else any process whose argv names this
    instance, e.g. after a crash mid-create), wait, then SIGKILL its whole session."""
    pids = server_pids(paths)
    recorded = _pid_file_pid(paths)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, first_signal)
    with contextlib.suppress(TimedOut):
        poll_until(lambda: not any(map(alive, pids)), timeout=timeout, interval=POLL)
    killed = []
    for pid in pids:
        if alive(pid):
            killed.append(pid)
            LOG.warning("Server %s of %s did not stop in %.0f s; killing it", pid, paths.home, timeout)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)  # its session: the server and its children
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)    # in case it leads no group (found by scan)
    try:
        poll_until(lambda: not any(map(alive, pids)), timeout=10.0, interval=POLL)
    except TimedOut:
        raise errors.DBaaSError(f"The server of {paths.home} survived SIGKILL.") from None
    if recorded is not None and (recorded not in pids or recorded in killed) and first_signal != signal.SIGKILL:
        _wait_reaped(recorded)   # it died unasked (or was killed): it left its lock files
    with contextlib.suppress(FileNotFoundError):
        (paths.home / "pid").unlink()


REAP_TIMEOUT = 10.0   # seconds to wait for a dead server's parent to reap it


def _wait_reaped(pid):
    """Until a dead server is reaped. The step that spawned it (steps.py) has exited, so init
    is its parent, and init may reap late (measured: 1.9 s on this project's test VM); a
    zombie's pid looks taken, and PostgreSQL, finding it in the postmaster.pid a killed
    server left, refuses to start ("lock file already exists"). Our own child is reaped at
    once (alive); a pid reused by a live process is no zombie."""
    with contextlib.suppress(TimedOut):
        poll_until(lambda: not _zombie(pid), timeout=REAP_TIMEOUT, interval=POLL)


def _zombie(pid):
    alive(pid)   # reaps it when it is our own child
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _pid_file_pid(paths):
    try:
        return int((paths.home / "pid").read_text().strip())
    except (OSError, ValueError):
        return None


def server_pids(paths):
    pid = pid_file_server(paths)
    if pid is not None:
        return [pid]
    found = {pid for pid in all_pids() if is_ours(pid, paths) and alive(pid)}
    # The outermost ones: their children go with them.
    return sorted(pid for pid in found if _ppid(pid) not in found)


class Waiter:
    """Polls a readiness check: done when it returns something true, an error as soon as the
    server exits or when the timeout passes."""

    def __init__(self, ds, paths, process, timeout):
        self.ds, self.paths, self.process = ds, paths, process
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def __call__(self, check, what):
        def answer():
            # Alive before and after the check: an answer while our server is dead (it could
            # not bind, say) came from someone else's.
            self._fail_if_exited()
            result = check()
            if result and self.process.poll() is None:
                return result
            self._fail_if_exited()
            return None
        try:
            return poll_until(answer, timeout=self.deadline - time.monotonic(), interval=self.ds.ready_poll_interval)
        except TimedOut:
            raise errors.DBaaSError(f"{what} did not answer within {self.timeout:.0f} s; "
                                    f"see {self.paths.home / 'server.log'}.") from None

    def _fail_if_exited(self):
        if self.process.poll() is not None:
            raise errors.DBaaSError(f"{self.ds.title} exited with code {self.process.returncode} "
                                    f"while starting; see {self.paths.home / 'server.log'}.")


class Runner:
    """Runs a datastore's setup commands as its system user, without a shell, output appended
    to server.log; what it writes to their stdin goes through a pipe, never a file or argv."""

    def __init__(self, paths, user, timeout):
        self.paths, self.user, self.timeout = paths, user, timeout

    def run(self, argv, stdin=b""):
        if len(stdin) >= 65536:
            raise ValueError("stdin for a setup command must fit in a pipe buffer")
        read_end, write_end = os.pipe()
        try:
            if self.user is not None:
                # /dev/stdin is reopened by path after the uid change: the pipe must be theirs.
                os.fchown(read_end, self.user.pw_uid, self.user.pw_gid)
            os.write(write_end, stdin)
            os.close(write_end)
            write_end = None
            process = self._popen(argv, read_end)
        finally:
            os.close(read_end)
            if write_end is not None:
                os.close(write_end)
        self._finish(process, argv)

    def feed(self, argv, chunks):
        """Run argv with ``chunks`` (an iterable of bytes: a backup as it is read) streamed to
        its stdin, one chunk at a time. When the source fails (a corrupt backup) the command
        is killed and the source's error raised. A source that can ``deliver`` (a
        streams.StoredBackup) gives the command its stdin itself, read and verified by a
        worker process, and this process only waits."""
        if hasattr(chunks, "deliver"):
            return self._feed_from(argv, chunks)
        process = self._popen(argv, subprocess.PIPE)
        try:
            with contextlib.suppress(BrokenPipeError):   # it stopped reading: its exit code says why
                for chunk in chunks:
                    process.stdin.write(chunk)
                process.stdin.close()
        except BaseException:
            kill(process)
            raise
        self._finish(process, argv)

    def _feed_from(self, argv, source):
        started = []
        try:
            source.deliver(lambda stdin: started.append(self._popen(argv, stdin)))
        except BaseException:
            for process in started:
                kill(process)
            raise
        self._finish(started[0], argv)

    def _popen(self, argv, stdin):
        with open(self.paths.home / "server.log", "ab") as log:
            return subprocess.Popen(argv, stdin=stdin, stdout=log, stderr=log, **child_options(self.paths, self.user))

    def _finish(self, process, argv):
        try:
            code = process.wait(self.timeout)
        except subprocess.TimeoutExpired:
            kill(process)
            raise errors.DBaaSError(f"{Path(argv[0]).name} took longer than {self.timeout:.0f} s.") from None
        if code != 0:
            raise errors.DBaaSError(f"{Path(argv[0]).name} failed with exit code {code}; "
                                    f"see {self.paths.home / 'server.log'}.")

    def write(self, path, text):
        write_text(path, text, mode=0o600)
        self._own(path)

    def write_stream(self, path, chunks):
        """A 0600 file of the datastore user's from an iterable of bytes."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            if hasattr(chunks, "copy_to"):   # a worker process writes it (see feed)
                chunks.copy_to(fd)
            else:
                for chunk in chunks:
                    handle.write(chunk)
        self._own(path)

    def mkdir(self, path):
        """A 0700 directory of the datastore user's."""
        os.mkdir(path, 0o700)
        self._own(path)

    def _own(self, path):
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)


def kill(process):
    """Kill a setup command's process group (its own session) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def child_options(paths, user):
    """Own session (outlives us, one process group to kill), a clean environment (nothing of
    the engine's, credentials included), no inherited fds, private files by default."""
    options = {"cwd": str(paths.data), "close_fds": True, "start_new_session": True, "umask": 0o077,
               "env": dict(CHILD_ENV, HOME=str(paths.data))}
    if user is not None:
        options.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        options["env"].update(USER=user.pw_name, LOGNAME=user.pw_name)
    return options


def pid_file_server(paths):
    """The pid in the pid file if that process is alive and is this instance's server."""
    pid = _pid_file_pid(paths)
    return pid if pid is not None and alive(pid) and is_ours(pid, paths) else None


def alive(pid):
    """Running and not a zombie (reaped here when it is our own child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _ppid(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def is_ours(pid, paths):
    """Pids get reused: a pid is this instance's only if its argv names the data dir."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return argv_names(argv, str(paths.data))


def argv_names(argv, data):
    """argv mentions the data dir: as an argument, an option's value, or a path inside it."""
    return any(arg == data or arg.endswith("=" + data) or data + "/" in arg for arg in argv)


def all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]
