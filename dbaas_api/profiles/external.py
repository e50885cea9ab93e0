"""An operator's existing Heat (``DBAAS_HEAT_URL``): ``dbaas up`` runs only the DBaaS API,
once that Heat has shown it knows the DBaaS:: resource types, so that an engine without the
plugins is refused at start with what to do, never a half-made stack at the first create.
The Heat, its engines and the datastores they run are the operator's (docs/operators.md,
An operator's Heat)."""
import socket
from urllib.parse import urlsplit

from dbaas_api import errors
from dbaas_api.embedded.lifecycle import Embedded, make_private

# A type every installation of the plugins provides; with the driver types the environment
# maps to, it tells whether the engine that answered has them.
PLUGIN_TYPE = "DBaaS::Database"
CONNECT_TIMEOUT = 5


class External(Embedded):
    """The API alone, in front of an operator's Heat."""

    def _env(self):
        env = super()._env()
        env["DBAAS_HEAT_URL"] = self.settings.heat_url
        return env

    def up(self):
        make_private(self.settings)
        renderer = self.check_templates()
        self.check_plugins(renderer.environment)
        (self.settings.state_dir / "run" / "profile").write_text(f"{self.settings.profile}\n")
        self.api.start(self._env())
        self.api.wait_healthy()

    def check_plugins(self, environment):
        """RuntimeError unless the Heat at DBAAS_HEAT_URL answers and knows the plugin types
        the templates and the environment's driver need."""
        from dbaas_api.heat_gateway import HeatGateway
        url = self.settings.heat_endpoint
        parts = urlsplit(url)
        try:   # first a connect with a timeout: the gateway may wait without one
            socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)),
                                     timeout=CONNECT_TIMEOUT).close()
            known = HeatGateway(self.settings).resource_types("DBaaS::")
        except OSError as exc:
            raise RuntimeError(f"The Heat at {url} (DBAAS_HEAT_URL) does not answer: {exc}") from None
        except errors.DBaaSError as exc:
            raise RuntimeError(f"The Heat at {url} (DBAAS_HEAT_URL) does not answer: {exc.message}") from None
        registry = (environment or {}).get("resource_registry") or {}
        needed = {PLUGIN_TYPE} | {t for t in registry.values() if isinstance(t, str) and t.startswith("DBaaS::")}
        missing = sorted(needed - known)
        if missing:
            raise RuntimeError(
                f"The Heat at {url} (DBAAS_HEAT_URL) has no {', '.join(missing)}: its engines need "
                "heat-dbaas installed and `dbaas plugin-dir`'s directory in heat.conf's plugin_dirs "
                "(docs/operators.md, An operator's Heat).")

    def down(self):
        self.api.stop()

    def status(self):
        pid = self.api.pid()
        return [("api", pid, self.api.health_url if pid else "", self.api.logfile)]
