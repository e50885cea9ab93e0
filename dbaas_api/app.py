"""The Flask application factory (``gunicorn 'dbaas_api.app:create_app()'``).

The app keeps no state of its own: the records are Heat stacks, so any number of these
processes can serve the same clients.
"""
from dataclasses import dataclass

from flask import Flask

from dbaas_api import api
from dbaas_api.api.common import SERVICES
from dbaas_api.config import Settings
from dbaas_api.policy import Policy
from dbaas_api.service import health, replication
from dbaas_api.service.accounts import AccountService
from dbaas_api.service.actions import InstanceActions
from dbaas_api.service.backup_strategies import BackupStrategyService
from dbaas_api.service.backups import BackupService
from dbaas_api.service.changes import InstanceChanges
from dbaas_api.service.clusters import ClusterService
from dbaas_api.service.configurations import ConfigurationService
from dbaas_api.service.datastore_versions import DatastoreVersionService
from dbaas_api.service.instances import InstanceService
from dbaas_api.service.logs import LogService
from dbaas_api.service.management import ManagementService
from dbaas_api.service.quotas import QuotaService
from dbaas_api.service.replication import Replication
from dbaas_api.service.specs import CreateSpecs


@dataclass(frozen=True)
class Services:
    """What the handlers call, built once per app (build_services)."""
    settings: Settings
    instances: InstanceService
    actions: InstanceActions
    backups: BackupService
    accounts: AccountService
    configurations: ConfigurationService
    policy: Policy
    management: ManagementService
    quotas: QuotaService
    backup_strategies: BackupStrategyService
    clusters: ClusterService
    logs: LogService
    versions: DatastoreVersionService


def build_services(settings, gateway, renderer):
    """Every service, once, each handed the ones below it: the graph runs one way (no service
    calls back into one that holds it). One InstanceChanges, so every change to an instance,
    from whichever service, passes the rules that span instances."""
    quotas = QuotaService(settings, gateway, renderer)
    changes = InstanceChanges(settings, gateway, renderer,
                              checks=[lambda current, spec: replication.check_flavor_change(gateway, current, spec)])
    configurations = ConfigurationService(settings, gateway, renderer, changes)
    specs = CreateSpecs(settings, configurations)
    probe = health.probe_for(settings)
    strategies = BackupStrategyService(settings, gateway, renderer)
    backups = BackupService(settings, gateway, renderer, quotas=quotas, strategies=strategies, health=probe)
    replicas = Replication(gateway, changes, specs)
    return Services(
        settings=settings,
        instances=InstanceService(settings, gateway, renderer, quotas=quotas, changes=changes,
                                  configurations=configurations, specs=specs, backups=backups,
                                  replication=replicas, health=probe),
        actions=InstanceActions(settings, gateway, changes=changes, quotas=quotas, replication=replicas),
        backups=backups, accounts=AccountService(changes), configurations=configurations,
        policy=Policy(settings.policy_file), management=ManagementService(gateway), quotas=quotas,
        backup_strategies=strategies, clusters=ClusterService(settings, gateway, renderer, quotas=quotas, specs=specs),
        logs=LogService(settings, gateway, probe, changes), versions=DatastoreVersionService(gateway, renderer))


def create_app(config=None, gateway=None, renderer=None):
    """``config``: a Settings (default Settings.from_env()); ``gateway`` and ``renderer``
    default to the real ones (tests pass fakes, so nothing here imports heatclient or Jinja
    until it is needed)."""
    settings = config or Settings.from_env()
    if gateway is None:
        from dbaas_api.heat_gateway import HeatGateway
        gateway = HeatGateway(settings)
    if renderer is None:
        from dbaas_api.rendering import Renderer
        renderer = Renderer(settings)

    app = Flask(__name__, static_folder=None)
    app.config.update(
        RESTX_ERROR_404_HELP=False,     # no "did you mean" hints in 404 bodies
        ERROR_INCLUDE_MESSAGE=False,    # no flask-restx "message" beside Trove's error key
        RESTX_MASK_SWAGGER=False,
    )
    app.extensions[SERVICES] = build_services(settings, gateway, renderer)
    api.init_app(app)
    if settings.keystone:
        from dbaas_api import identity
        app.wsgi_app = identity.auth_token(app.wsgi_app, settings)
    return app
