"""Start and stop the embedded profile: Heat (engine + API) and the DBaaS API as background
processes, plus the local datastore processes that belong to existing instances.

Everything lives under the state dir: ``run/*.pid``, ``logs/*.log``, ``heat/``, ``instances/``.
"""
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from dbaas_api.drivers.local import LocalDriver
from dbaas_api.errors import DBaaSError
from dbaas_api.waiting import TimedOut, poll_until

LOG = logging.getLogger(__name__)
START_TIMEOUT = 90
STOP_TIMEOUT = 30
# What the processes we start create is theirs alone (0600 files, 0700 directories); the
# few things a datastore's system user must reach are given their mode explicitly.
UMASK = 0o077
# Under the state dir only instances/ is for others (the datastores' users, see
# drivers/local/); these hold Heat's database and config, logs, pids and backups.
PRIVATE_DIRS = ("heat", "logs", "run")


@dataclass(frozen=True)
class Component:
    name: str
    argv: tuple
    health_url: str
    state_dir: Path

    @property
    def pidfile(self):
        return self.state_dir / "run" / f"{self.name}.pid"

    @property
    def logfile(self):
        return self.state_dir / "logs" / f"{self.name}.out"

    def pid(self):
        """The recorded pid if that process is still alive and ours, else None. Ours: we
        started it as the leader of a new session, which a recycled pid hardly ever is."""
        try:
            pid = int(self.pidfile.read_text())
            return pid if os.getsid(pid) == pid and not _is_zombie(pid) else None
        except (OSError, ValueError):
            return None

    def healthy(self):
        try:
            return requests.get(self.health_url, timeout=2).status_code < 500
        except requests.RequestException:
            return False

    def start(self, env):
        if self.pid():
            return False
        for directory in (self.pidfile.parent, self.logfile.parent):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        log = os.open(self.logfile, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env=env, close_fds=True, umask=UMASK)
        finally:
            os.close(log)
        _write_private(self.pidfile, str(process.pid))
        return True

    def wait_healthy(self, timeout=START_TIMEOUT):
        def answered():
            if self.healthy():
                return True
            if not self.pid():
                raise RuntimeError(f"{self.name} exited during start; see {self.logfile}:\n{self.log_tail()}")
            return False
        try:
            return poll_until(answered, timeout=timeout, interval=0.2)
        except TimedOut:
            raise RuntimeError(f"{self.name} did not answer within {timeout}s; see {self.logfile}") from None

    def log_tail(self, lines=15):
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout=STOP_TIMEOUT):
        pid = self.pid()
        if pid:
            _terminate(pid, timeout)
        self.pidfile.unlink(missing_ok=True)


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def make_private(settings):
    """The state dir 0711 (the datastores' system users traverse it to their instance
    directories, and see nothing else), everything of the service's under it 0700/0600;
    also what an older version left readable. The backup dir too when it is the state
    dir's (an operator's own DBAAS_BACKUP_DIR keeps the modes the operator gave it)."""
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o711)
    private = [state / name for name in PRIVATE_DIRS]
    if settings.backup_root.resolve().is_relative_to(state):
        private.append(settings.backup_root)
    for directory in private:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        for root, dirs, files in os.walk(directory):
            for name, mode in [(name, 0o700) for name in dirs] + [(name, 0o600) for name in files]:
                path = os.path.join(root, name)
                if not os.path.islink(path):   # a link's target is not ours to change
                    os.chmod(path, mode)


def _terminate(pid, timeout):
    """SIGTERM the process group, then SIGKILL it if it has not gone within timeout."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        try:
            poll_until(lambda: not Path(f"/proc/{pid}").exists() or _is_zombie(pid), timeout=wait)
            return
        except TimedOut:
            pass   # still there: the next signal


def _is_zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


class Embedded:
    """The embedded profile of one state dir."""

    def __init__(self, settings):
        self.settings = settings
        state = settings.state_dir
        self.heat = Component(
            "heat", (sys.executable, "-m", "dbaas_api.embedded.heat", "--state-dir", str(state)),
            f"http://{settings.heat_host}:{settings.heat_port}/healthcheck", state)
        self.api = Component(
            "api", (sys.executable, "-m", "gunicorn", "--config", "python:dbaas_api.gunicorn_conf",
                    "dbaas_api.app:create_app()"),
            f"http://{settings.api_host}:{settings.api_port}/", state)
        self.driver = LocalDriver(state)

    def _env(self):
        env = dict(os.environ)
        env.update({
            "DBAAS_STATE_DIR": str(self.settings.state_dir),
            "DBAAS_API_HOST": self.settings.api_host, "DBAAS_API_PORT": str(self.settings.api_port),
            "DBAAS_HEAT_HOST": self.settings.heat_host, "DBAAS_HEAT_PORT": str(self.settings.heat_port),
            "DBAAS_AUTH_STRATEGY": self.settings.auth_strategy,
            "DBAAS_POLICY_FILE": str(self.settings.policy_file),
            "DBAAS_TEMPLATE_DIRS": os.pathsep.join(str(d) for d in self.settings.template_dirs),
            "DBAAS_ENVIRONMENT_FILE": str(self.settings.environment_file),
        })
        if self.settings.config_file:
            env["DBAAS_CONFIG_FILE"] = str(self.settings.config_file)
        env.update(self.settings.backup_env())   # the engine's DBaaS::Backup plugin reads them
        env.update(self.settings.quota_env())
        return env

    def up(self):
        make_private(self.settings)
        env = self._env()
        renderer = self.check_templates()
        started = self.heat.start(env)
        self.heat.wait_healthy()
        if self.operator_templates:
            try:
                self.check_templates(renderer, with_heat=True)
            except RuntimeError:
                if started:
                    self.heat.stop()
                raise
        self.reconcile()
        self.api.start(env)
        self.api.wait_healthy()

    @property
    def operator_templates(self):
        """Templates or an environment of the operator's own (the packaged ones are tested)."""
        settings = self.settings
        return bool(settings.template_dirs) or (
            settings.environment_file.resolve()
            != (settings.packaged_templates / "environments" / "local.yaml").resolve())

    def check_templates(self, renderer=None, with_heat=False):
        """Every template combination renders (and, ``with_heat``, Heat validates it), or a
        RuntimeError naming the file and line of the first error: no start with a broken
        override (template_check.py)."""
        from dbaas_api import template_check
        from dbaas_api.heat_gateway import HeatGateway
        from dbaas_api.rendering import LOG as RENDERING_LOG, Renderer
        level = RENDERING_LOG.level
        RENDERING_LOG.setLevel(logging.CRITICAL)   # the error is this call's message, not a log line too
        try:
            renderer = renderer or Renderer(self.settings)
            validate = HeatGateway(self.settings).validate_template if with_heat else None
            template_check.check(renderer, validate)
        except DBaaSError as exc:
            raise RuntimeError(getattr(exc, "operator_message", exc.message)) from None
        except (ValueError, OSError, yaml.YAMLError) as exc:   # the environment file, or a nested
            raise RuntimeError(f"{self.settings.environment_file}: {exc}") from None  # template it names
        finally:
            RENDERING_LOG.setLevel(level)
        return renderer

    def down(self):
        self.api.stop()
        self.heat.stop()
        for instance in self.driver.list():
            self.driver.stop(instance.key)

    def reconcile(self):
        """Start the datastore of every server whose stack exists; destroy only those whose
        stack Heat says is gone, so that no process or data directory outlives the stack that
        owns it and none is lost while its stack lives. The stack may be in any project (a
        person running the templates in their own); a server whose owner cannot be proven
        gone (Heat unreachable, a project the service cannot read, no owner recorded) is
        kept and started. A server a crash left half made stays for its stack's delete."""
        from dbaas_api.heat_gateway import HeatGateway
        gateway = HeatGateway(self.settings)
        started, removed, broken = [], [], []
        for key in self.driver.keys():
            owner = self.driver.owner(key) or {}
            exists = gateway.stack_exists(owner.get("stack_id"), owner.get("project"))
            if exists is False:
                self.driver.destroy(key)
                removed.append(key)
                continue
            if exists is None:
                LOG.warning("Keeping server %s: cannot tell whether its stack %s (project %s) still exists",
                            key, owner.get("stack_id"), owner.get("project"))
            try:
                self.driver.start(key)
                started.append(key)
            except DBaaSError as exc:
                LOG.warning("Server %s of stack %s did not start: %s", key, owner.get("stack_id"), exc.message)
                broken.append(key)
        return started, removed, broken

    def status(self):
        rows = []
        for component in (self.heat, self.api):
            pid = component.pid()
            rows.append((component.name, pid, component.health_url if pid else "", component.logfile))
        return rows
