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
from dbaas_api.service.accounts import AccountService
from dbaas_api.service.configurations import ConfigurationService
from dbaas_api.service.backup_strategies import BackupStrategyService
from dbaas_api.service.backups import BackupService
from dbaas_api.service.clusters import ClusterService
from dbaas_api.service.instances import InstanceService
from dbaas_api.service.logs import LogService
from dbaas_api.service.management import ManagementService
from dbaas_api.service.quotas import QuotaService


@dataclass(frozen=True)
class Services:
    """What the handlers call, built once per app."""
    settings: Settings
    instances: InstanceService
    backups: BackupService
    accounts: AccountService
    configurations: ConfigurationService
    policy: Policy
    management: ManagementService
    quotas: QuotaService
    backup_strategies: BackupStrategyService
    clusters: ClusterService = None
    logs: LogService = None


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
    quotas = QuotaService(settings, gateway, renderer)
    instances = InstanceService(settings, gateway, renderer, quotas)
    app.extensions[SERVICES] = Services(
        settings=settings, instances=instances, backups=instances.backups,
        accounts=AccountService(settings, gateway, renderer),
        configurations=ConfigurationService(settings, gateway, renderer),
        policy=Policy(settings.policy_file), management=ManagementService(gateway), quotas=quotas,
        backup_strategies=instances.backups.strategies,
        clusters=ClusterService(settings, gateway, renderer, instances), logs=LogService(settings, gateway))
    api.init_app(app)
    if settings.keystone:
        from dbaas_api import identity
        app.wsgi_app = identity.auth_token(app.wsgi_app, settings)
    return app
