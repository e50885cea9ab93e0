"""The embedded Heat: the real engine and its v1 API in one process, on loopback.

Heat 27 has no heat-all, and oslo.service's launcher forks a worker after which the
in-process ``fake://`` transport no longer reaches the engine (FIELD-NOTES). So this starts
``EngineService`` directly on oslo.service's threading backend and serves the v1 paste app
with a threaded WSGI server in the same process.

Run as ``python -m dbaas_api.embedded.heat --state-dir DIR``; ``dbaas up`` does that.
"""
import argparse
import logging as pylogging
import os
import secrets
import signal
import threading
import time
from pathlib import Path

from oslo_service import backend

backend.init_backend(backend.BackendType.THREADING)

from oslo_config import cfg  # noqa: E402
from oslo_log import log as logging  # noqa: E402

from dbaas_api.config import Settings  # noqa: E402
from dbaas_api.embedded import access_token, redaction, sqlite  # noqa: E402

LOG = logging.getLogger("dbaas.embedded.heat")

# The legacy (non-convergence) engine takes a stack lock for each action: a second change to
# an instance while one runs gets 409 instead of silently superseding it, and an engine that
# died mid-action has its stacks marked FAILED when it starts again (convergence leaves them
# IN_PROGRESS). Measured here it was not slower for our small stacks (20 concurrent creates:
# 4.3 s legacy, 6.5 s convergence).
#
# Heat sleeps a fixed second between the steps of a resource operation; a local datastore
# is ready in well under that, so the embedded engine polls faster. Seconds.
POLL_INTERVAL = 0.05

PASTE_INI = """\
[composite:heat-api]
use = egg:Paste#urlmap
/: api
/healthcheck: healthcheck

[composite:api]
paste.composite_factory = heat.api:pipeline_factory
noauth = request_id faultwrap projectauth context versionnegotiation apiv1app
keystone = request_id faultwrap authtoken context versionnegotiation apiv1app

[app:apiv1app]
paste.app_factory = heat.common.wsgi:app_factory
heat.app_factory = heat.api.openstack.v1:API

[app:healthcheck]
paste.app_factory = oslo_middleware:Healthcheck.app_factory

[filter:versionnegotiation]
paste.filter_factory = heat.common.wsgi:filter_factory
heat.filter_factory = heat.api.openstack:version_negotiation_filter

[filter:faultwrap]
paste.filter_factory = heat.common.wsgi:filter_factory
heat.filter_factory = heat.api.openstack:faultwrap_filter

[filter:context]
paste.filter_factory = heat.common.context:ContextMiddleware_filter_factory

[filter:request_id]
paste.filter_factory = oslo_middleware.request_id:RequestId.factory

[filter:projectauth]
paste.filter_factory = dbaas_api.embedded.noauth:filter_factory
state_dir = {state_dir}

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
"""


class HeatFiles:
    """Where the embedded Heat keeps its state: all of it under <state>/heat."""

    def __init__(self, state_dir):
        self.dir = Path(state_dir) / "heat"
        self.conf = self.dir / "heat.conf"
        self.paste = self.dir / "api-paste.ini"
        self.database = self.dir / "heat.sqlite"
        self.key = self.dir / "auth_encryption_key"
        self.log = Path(state_dir) / "logs" / "heat.log"

    def private(self):
        """Every file here that exists: all of them are the service's alone (0600); SQLite
        gives its -wal and -shm files the database file's mode."""
        return [path for path in (self.conf, self.paste, self.key, self.database, self.log,
                                  *(self.database.with_name(self.database.name + suffix)
                                    for suffix in ("-wal", "-shm", "-journal")))
                if path.exists()]


def plugin_dir():
    import heat_plugins
    return heat_plugins.DIRECTORY


def write_config(settings):
    """Write heat.conf and api-paste.ini; keep the encryption key across restarts."""
    files = HeatFiles(settings.state_dir)
    for directory in (files.dir, files.log.parent):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
    if not files.key.exists():
        files.key.write_text(secrets.token_hex(16))
    access_token.ensure(settings.state_dir)
    files.paste.write_text(PASTE_INI.format(state_dir=settings.state_dir))
    conf = f"""\
[DEFAULT]
host = embedded
transport_url = fake://
plugin_dirs = {plugin_dir()}
deferred_auth_method = password
auth_encryption_key = {files.key.read_text().strip()}
encrypt_parameters_and_properties = true
convergence_engine = false
max_stacks_per_tenant = 100000
max_resources_per_stack = 1000
num_engine_workers = 1
executor_thread_pool_size = 64
periodic_interval = 5
log_file = {files.log}
debug = false
bind_host = {settings.heat_host}
bind_port = {settings.heat_port}

[database]
connection = sqlite:///{files.database}
max_pool_size = 16
max_overflow = 64

[paste_deploy]
flavor = {settings.auth_strategy}
api_paste_config = {files.paste}

[heat_api]
bind_host = {settings.heat_host}
bind_port = {settings.heat_port}

[oslo_policy]
enforce_new_defaults = true
enforce_scope = false
""" + (_keystone_sections(settings) if settings.keystone else "")
    files.conf.write_text(conf)
    for path in files.private():
        path.chmod(0o600)
    return files


def _keystone_sections(settings):
    """The keystone profile: Heat validates tokens with the same Keystone, with the API's
    [keystone_authtoken] options (deferred_auth_method stays password: no trusts)."""
    from dbaas_api import identity

    authtoken = identity.authtoken_section(settings)
    lines = ["", "[keystone_authtoken]"] + [f"{key} = {value}" for key, value in authtoken.items()]
    auth_uri = authtoken.get("www_authenticate_uri") or authtoken.get("auth_url", "")
    lines += ["", "[clients_keystone]", f"auth_uri = {auth_uri}", ""]
    return "\n".join(lines)


def _prepare_database(files):
    from heat.db import api as db_api
    from heat.db import migration

    fresh = not files.database.exists()
    migration.db_sync()
    if fresh:
        db_api.get_engine().dispose()
        sqlite.use_autoincrement_ids(str(files.database))
    sqlite.harden_engine(db_api.get_engine())
    if redaction.encrypt_stored_templates(db_api.get_engine()):
        LOG.info("Encrypted the hidden parameters an older version stored in plain text")


def _speed_up_polling():
    from heat.engine import scheduler

    original = scheduler.TaskRunner._sleep

    def _sleep(self, wait_time):
        original(self, None if wait_time is None else wait_time * POLL_INTERVAL)

    scheduler.TaskRunner._sleep = _sleep


def _speed_up_delete_after_cancel():
    """A delete of a stack the engine is still creating or updating cancels that action,
    then looks every second (time.sleep(1.0) in EngineService.delete_stack) for the lock to
    be free; meanwhile the stack reads *_FAILED. The engine looks every POLL_INTERVAL here."""
    from heat.engine import service as engine_service

    engine_service.time = _TimeWithSleep(lambda seconds: time.sleep(seconds * POLL_INTERVAL))


def _wake_listeners_on_delivery():
    """oslo.messaging's in-process fake:// driver has each RPC listener sleep 50 ms between
    looks at its queue, so every call from Heat's API to its engine waited 25 ms on average
    for nothing (a GET of a stack makes two). Its sleeps now end as soon as a message is
    delivered. (A delivery in the instant between a listener's look and its sleep still
    waits out that one sleep, as before.)"""
    from oslo_messaging._drivers import impl_fake

    delivered = threading.Condition()
    deliver = impl_fake.FakeExchange.deliver_message

    def deliver_message(self, *args, **kwargs):
        deliver(self, *args, **kwargs)
        with delivered:
            delivered.notify_all()

    def sleep(seconds):
        with delivered:
            delivered.wait(seconds)

    impl_fake.FakeExchange.deliver_message = deliver_message
    impl_fake.time = _TimeWithSleep(sleep)


class _TimeWithSleep:
    """The time module, but for its sleep: what a Heat or oslo module we slow down less is
    given in place of ``time``."""

    def __init__(self, sleep):
        self.sleep = sleep

    def __getattr__(self, name):
        return getattr(time, name)


def serve(settings):
    os.umask(0o077)   # Heat's database, its log, backups: the service's alone (0600)
    # The plugins run in this process and find the local driver's state here.
    os.environ["DBAAS_STATE_DIR"] = str(settings.state_dir)
    files = write_config(settings)
    logging.register_options(cfg.CONF)
    cfg.CONF(args=[], default_config_files=[str(files.conf)], project="heat", prog="heat-embedded")
    logging.setup(cfg.CONF, "heat")

    from heat.common import config, messaging
    from heat.engine import service as engine_service
    from heat.rpc import api as rpc_api

    config.set_config_defaults()
    messaging.setup()
    _prepare_database(files)
    redaction.install()   # before anything is stored (heat_plugins/redaction.py again, a no-op)
    _speed_up_polling()
    _speed_up_delete_after_cancel()
    _wake_listeners_on_delivery()

    engine = engine_service.EngineService(cfg.CONF.host, rpc_api.ENGINE_TOPIC)
    engine.start()
    app = config.load_paste_app("heat-api")

    from werkzeug.serving import make_server
    pylogging.getLogger("werkzeug").setLevel(pylogging.WARNING)
    server = make_server(settings.heat_host, settings.heat_port, app, threaded=True)

    def _stop(signum, _frame):
        LOG.info("Signal %s: stopping the embedded Heat", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    LOG.info("Embedded Heat serving on http://%s:%s/v1", settings.heat_host, settings.heat_port)
    try:
        server.serve_forever()
    finally:
        engine.stop()
    os._exit(0)  # the engine's timer threads are not daemons


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", help="overrides DBAAS_STATE_DIR")
    args = parser.parse_args(argv)
    overrides = {"state_dir": Path(args.state_dir)} if args.state_dir else {}
    serve(Settings.from_env(**overrides))


if __name__ == "__main__":
    main()
