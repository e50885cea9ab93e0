"""The production profile: Heat as its stock services, the way operators run it.

- ``heat-engine`` (Heat's console script, unchanged), ``Settings.heat_engines`` processes,
  each its own ``host`` (engine-1, engine-2...), with the DBaaS plugins on ``plugin_dirs``;
- Heat's WSGI API (``heat.wsgi.api``, what ``heat-wsgi-api`` serves) under gunicorn;
- Heat's database on MariaDB and oslo.messaging over RabbitMQ: private servers under the
  state dir (profiles/servers.py), or the operator's (``DBAAS_HEAT_DATABASE_URL``,
  ``DBAAS_HEAT_TRANSPORT_URL``), probed before anything of Heat starts;
- the DBaaS API under gunicorn, ``DBAAS_API_WORKERS`` workers (default 4 here).

None of the embedded profile's patches apply (SQLite, polling, fake://); its no-auth filter
does. State: <state>/heat (configs), mariadb/, rabbitmq/, logs/heat-engine-N.log, run/.
"""
import os
import subprocess
import sys
import threading
import warnings
from datetime import datetime, timedelta
from pathlib import Path

from dbaas_api.embedded.lifecycle import START_TIMEOUT, UMASK, Component, Embedded, make_private
from dbaas_api.profiles import servers
from dbaas_api.waiting import TimedOut, poll_until

with warnings.catch_warnings():   # oslo.service's import of eventlet warns that it is deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    from dbaas_api.embedded import heat as embedded_heat

BIN = Path(sys.executable).parent
API_WORKERS = "4"
# Seconds the DBaaS API waits for Heat's API: it waits without a limit while RabbitMQ is away.
HEAT_TIMEOUT = "20"


class Production(Embedded):
    """The production profile of one state dir: same interface as Embedded."""

    def __init__(self, settings):
        super().__init__(settings)
        state = settings.state_dir
        self.files = embedded_heat.HeatFiles(state)
        self.mariadb = None if settings.heat_database_url else servers.PrivateMariaDB(state, settings.heat_db_port)
        self.rabbit = None if settings.heat_transport_url else servers.PrivateRabbitMQ(state, settings.rabbit_port)
        self.heat = Component(
            "heat-api", (str(BIN / "gunicorn"), "--bind", f"{settings.heat_host}:{settings.heat_port}",
                         "--workers", str(settings.heat_api_workers), "--worker-class", "gthread",
                         "--threads", "8", "--timeout", "120", "--name", "heat-api",
                         "dbaas_api.profiles.heat_wsgi:application"),
            f"http://{settings.heat_host}:{settings.heat_port}/healthcheck", state)
        self.engines = [self.engine(number) for number in range(1, settings.heat_engines + 1)]

    # ---- configuration ------------------------------------------------------------------

    @property
    def database_url(self):
        return self.settings.heat_database_url or self.mariadb.url

    @property
    def transport_url(self):
        return self.settings.heat_transport_url or self.rabbit.url

    def engine(self, number):
        """The number-th heat-engine: Heat's console script with heat.conf and its own
        engine-N.conf (host and log file)."""
        conf = self.files.dir / f"engine-{number}.conf"
        return Component(
            f"heat-engine-{number}",
            (str(BIN / "heat-engine"), "--config-file", str(self.files.conf), "--config-file", str(conf)),
            "", self.settings.state_dir)

    def write_config(self, engines=(), engine_options=""):
        """heat.conf for every Heat service, and one small file per engine and for the API."""
        files = embedded_heat.write_config(self.settings)   # the key, api-paste.ini, keystone parts
        settings = self.settings
        text = files.conf.read_text()
        replaced = {
            "host = embedded": "host = heat",
            "transport_url = fake://": f"transport_url = {self.transport_url}",
            "convergence_engine = false": f"convergence_engine = {str(settings.heat_convergence).lower()}",
            f"connection = sqlite:///{files.database}": f"connection = {self.database_url}",
            "periodic_interval = 5": "periodic_interval = 5\nrpc_response_timeout = 30\n"
                                     "engine_life_check_timeout = 2",
        }
        for old, new in replaced.items():
            assert old in text, old
            text = text.replace(old, new)
        text += ("\n[oslo_messaging_rabbit]\nrabbit_retry_interval = 1\nrabbit_retry_backoff = 1\n"
                 "rabbit_interval_max = 2\n")
        _write_private(files.conf, text)
        for engine in engines:
            number = engine.name.rsplit("-", 1)[1]
            _write_private(files.dir / f"engine-{number}.conf",
                           f"[DEFAULT]\nhost = engine-{number}\nlog_file = {self._log(engine.name)}\n"
                           + engine_options)
        _write_private(files.dir / "api.conf", f"[DEFAULT]\nlog_file = {self._log('heat-api')}\n")
        return files

    def _log(self, name):
        return self.settings.state_dir / "logs" / f"{name}.log"

    def _env(self):
        env = super()._env()
        env["DBAAS_HEAT_CONFIG_FILES"] = f"{self.files.conf}:{self.files.dir / 'api.conf'}"
        env["DBAAS_PROFILE"] = "production"
        env.setdefault("DBAAS_API_WORKERS", API_WORKERS)
        env.setdefault("DBAAS_HEAT_TIMEOUT", HEAT_TIMEOUT)
        return env

    # ---- lifecycle --------------------------------------------------------------------

    def up(self):
        make_private(self.settings)   # as the embedded profile: docs/operators.md, What is on disk
        previous = os.umask(UMASK)    # and what this process writes (configs, mariadb/, rabbitmq/)
        try:
            self._up()
        finally:
            os.umask(previous)

    def _up(self):
        (self.settings.state_dir / "run" / "profile").write_text("production\n")
        env = self._env()
        self.start_backing_services(env)
        self.write_config(self.engines)
        self._db_sync(env)
        started = datetime.utcnow() - timedelta(seconds=2)
        for engine in self.engines:
            engine.start(env)
        self.heat.start(env)
        self.heat.wait_healthy()
        self.wait_engines([e.name.removeprefix("heat-") for e in self.engines], started)
        self.reconcile()
        self.api.start(env)
        self.api.wait_healthy()

    def start_backing_services(self, env):
        """MariaDB and RabbitMQ: the private ones started, every one probed; Unreachable
        (naming which and where) instead of Heat services retrying forever."""
        if self.mariadb:
            self.mariadb.start(env)
        servers.probe_database(self.database_url)
        if self.rabbit:
            self.rabbit.start(env)
        servers.probe_rabbit(self.transport_url)

    def _db_sync(self, env):
        result = subprocess.run(
            [str(BIN / "heat-manage"), "--config-file", str(self.files.conf), "db_sync"],
            env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        if result.returncode:
            raise RuntimeError(f"heat-manage db_sync failed:\n{result.stderr[-2000:]}")

    def add_engine(self, plugin_dirs=None):
        """One more heat-engine, started now (a new engine joining the running ones);
        ``plugin_dirs`` other than ours for one that lacks the plugins (tests)."""
        engine = self.engine(len(self.engines) + 1)
        self.engines.append(engine)
        self.write_config([engine], "" if plugin_dirs is None else f"plugin_dirs = {plugin_dirs}\n")
        return self.start_engine(engine)

    def start_engine(self, engine):
        """Start one engine (a new one, or one that died: as systemd would restart it) and
        wait until it reports to Heat."""
        started = datetime.utcnow() - timedelta(seconds=2)
        engine.start(self._env())
        self.wait_engines([engine.name.removeprefix("heat-")], started)
        return engine

    def wait_engines(self, hosts, since, timeout=START_TIMEOUT):
        """Until every engine of ``hosts`` has reported to Heat's service table (it then
        listens for work), or one exits."""
        import pymysql
        from urllib.parse import unquote, urlsplit
        url = urlsplit(self.database_url)

        def reported():
            connection = pymysql.connect(host=url.hostname, port=url.port or 3306, user=unquote(url.username),
                                         password=unquote(url.password or ""), database=url.path.lstrip("/"))
            with connection, connection.cursor() as cursor:
                cursor.execute("SELECT DISTINCT host FROM service WHERE deleted_at IS NULL AND updated_at >= %s",
                               (since,))
                ready = {row[0] for row in cursor.fetchall()}
            if not set(hosts) <= ready:
                for engine in self.engines:
                    if engine.name.removeprefix("heat-") in hosts and not engine.pid():
                        raise RuntimeError(f"{engine.name} exited during start; see "
                                           f"{self._log(engine.name)}:\n{engine.log_tail()}")
            return ready

        try:
            poll_until(reported, until=lambda ready: set(hosts) <= ready, timeout=timeout, interval=0.3)
        except TimedOut as exc:
            missing = sorted(set(hosts) - exc.last)
            raise RuntimeError(f"Heat engines {missing} did not report within {timeout}s") from None

    def down(self):
        self.api.stop()
        self.heat.stop()
        stop_together(self._all_engines())   # each takes ~10 s to finish its work and go
        for instance in self.driver.list():
            self.driver.stop(instance.key)
        if self.rabbit:
            self.rabbit.stop()
        if self.mariadb:
            self.mariadb.stop()

    def _all_engines(self):
        """Every engine with a pid file, also ones a previous run or add_engine started."""
        numbers = {int(p.stem.rsplit("-", 1)[1]) for p in (self.settings.state_dir / "run").glob("heat-engine-*.pid")}
        known = {e.name: e for e in self.engines}
        return list(known.values()) + [self.engine(n) for n in sorted(numbers) if f"heat-engine-{n}" not in known]

    def components(self):
        backing = [c for server in (self.mariadb, self.rabbit) if server
                   for c in ((server.epmd, server.component) if hasattr(server, "epmd") else (server.component,))]
        return backing + self._all_engines() + [self.heat, self.api]

    def status(self):
        rows = []
        for component in self.components():
            pid = component.pid()
            log = component.logfile if component.name not in {e.name for e in self._all_engines()} else \
                self._log(component.name)
            rows.append((component.name, pid, component.health_url if pid else "", log))
        return rows


def stop_together(components):
    threads = [threading.Thread(target=component.stop) for component in components]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _write_private(path, text):
    path.write_text(text)
    path.chmod(0o600)
