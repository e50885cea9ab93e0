"""Settings, from environment variables with defaults that make the embedded profile work.

One frozen object, built once per process and passed down explicitly.
"""
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
AUTH_STRATEGIES = ("noauth", "keystone")
PROFILES = ("embedded", "production")
SOURCE_ROOT = PACKAGE_DIR.parent
LOCAL_SERVER = "DBaaS::Local::Server"   # the resource type of the local driver's servers


def _packaged(subdir):
    """The packaged copy of templates/ or etc/: the source tree in a checkout or an
    editable install, else the data files the wheel installed under sys.prefix
    (pyproject.toml, [tool.setuptools.data-files])."""
    import sys
    here = SOURCE_ROOT / subdir
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "heat-dbaas" / subdir


BACKUP_ENV = (
    ("backup_storage", "DBAAS_BACKUP_STORAGE", str), ("backup_dir", "DBAAS_BACKUP_DIR", Path),
    ("backup_segment_mb", "DBAAS_BACKUP_SEGMENT_MB", int),
    ("swift_auth_url", "DBAAS_SWIFT_AUTH_URL", str), ("swift_user", "DBAAS_SWIFT_USER", str),
    ("swift_key", "DBAAS_SWIFT_KEY", str), ("swift_auth_version", "DBAAS_SWIFT_AUTH_VERSION", str),
    ("swift_project", "DBAAS_SWIFT_PROJECT", str), ("swift_container", "DBAAS_SWIFT_CONTAINER", str),
)


QUOTA_ENV = (
    ("quota_instances", "DBAAS_QUOTA_INSTANCES", int), ("quota_volumes", "DBAAS_QUOTA_VOLUMES", int),
    ("quota_backups", "DBAAS_QUOTA_BACKUPS", int), ("quota_ram", "DBAAS_QUOTA_RAM", int),
    ("quota_settle", "DBAAS_QUOTA_SETTLE", float),
)


@functools.lru_cache(maxsize=8)
def _server_type(environment_file):
    """What the environment file maps DBaaS::Server to (None when it cannot be read: the
    renderer, which reads it too, says why)."""
    import yaml
    try:
        with open(environment_file) as handle:
            environment = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError):
        return None
    return ((environment if isinstance(environment, dict) else {}).get("resource_registry") or {}).get(
        "DBaaS::Server")


def _flag(value):
    return value.strip().lower() in ("1", "true", "yes", "on")


def _paths(value):
    return tuple(Path(p) for p in value.split(os.pathsep) if p)


@dataclass(frozen=True)
class Settings:
    state_dir: Path = Path(".state")
    api_host: str = "127.0.0.1"
    api_port: int = 8779
    heat_host: str = "127.0.0.1"
    heat_port: int = 8004
    heat_url: str = ""  # default: http://heat_host:heat_port/v1
    heat_timeout: float = 0.0  # seconds the API waits for one Heat request (0: no limit)
    service_project: str = "dbaas"
    template_dirs: tuple = ()  # the operator's, searched before the packaged one
    environment_file: Path = field(default_factory=lambda: _packaged("templates") / "environments" / "local.yaml")
    max_volume_size: int = 1024
    page_size: int = 20
    # Seconds a change to an instance waits for another change to it to finish before it
    # answers 409 Conflict (0: answer at once). See service/changes.py.
    change_wait: float = 10.0
    # Seconds a change that keeps the instance ACTIVE (databases, users, root, configuration,
    # access) waits for Heat to apply it before it answers; past that it answers as Trove
    # would (202) and reads show it once Heat completes it. 0: answer once Heat accepted it.
    apply_wait: float = 60.0
    # Quota defaults per project (Trove's: -1 is unlimited); an admin sets a project's own
    # with PUT /mgmt/quotas/{project}. quota_settle: seconds past the second its claim was
    # made that a quota-checked request waits before it counts (service/quotas.py).
    quota_instances: int = 10
    quota_volumes: int = 40
    quota_backups: int = 50
    quota_ram: int = -1
    quota_settle: float = 0.3
    # Where backups go: "local" (a directory, the embedded default) or "swift". The engine's
    # DBaaS::Backup plugin reads these; the embedded launcher exports them (backup_env()).
    backup_storage: str = "local"
    backup_dir: Path | None = None          # default <state>/backups
    backup_segment_mb: int = 64             # the largest Swift object, MiB (a local backup is one file)
    swift_auth_url: str = ""
    swift_user: str = ""
    swift_key: str = ""
    swift_auth_version: str = "1"
    swift_project: str = ""                 # Keystone (auth version 3) only
    swift_container: str = "dbaas_backups"
    # "noauth" (the embedded default: the project is the URL's) or "keystone" (tokens are
    # validated by keystonemiddleware; config_file holds [keystone_authtoken] and the
    # [service_credentials] the API talks to Heat with; see identity.py).
    auth_strategy: str = "noauth"
    config_file: Path | None = None
    policy_file: Path = field(default_factory=lambda: _packaged("etc") / "policy.yaml")
    # The control plane: "embedded" (Heat engine + API in one process, SQLite, the default)
    # or "production" (Heat's own services: heat-engine processes and its WSGI API over
    # RabbitMQ, its database on MariaDB; dbaas_api/profiles/production.py).
    profile: str = "embedded"
    heat_engines: int = 2                   # heat-engine processes (production)
    heat_api_workers: int = 2               # gunicorn workers of Heat's API (production)
    heat_convergence: bool = False          # convergence engine instead of legacy (production; docs/operators.md)
    # Heat's database and message bus (production). Empty: a private MariaDB and RabbitMQ
    # under the state dir, on these loopback ports (RabbitMQ uses rabbit_port + 1 and + 2 for
    # its node distribution and its port mapper).
    heat_database_url: str = ""
    heat_transport_url: str = ""
    heat_db_port: int = 23306
    rabbit_port: int = 25680
    # The networks and volume types instances may be created with (service/networks.py).
    networks_file: Path = field(default_factory=lambda: _packaged("etc") / "networks.yaml")

    def __post_init__(self):
        if self.auth_strategy not in AUTH_STRATEGIES:
            raise ValueError(f"DBAAS_AUTH_STRATEGY must be one of {', '.join(AUTH_STRATEGIES)}, "
                             f"not {self.auth_strategy!r}")
        if self.profile not in PROFILES:
            raise ValueError(f"The profile must be one of {', '.join(PROFILES)}, not {self.profile!r}")
        if self.auth_strategy == "keystone" and not self.config_file:
            raise ValueError("The keystone auth strategy needs a config file (DBAAS_CONFIG_FILE).")

    @property
    def keystone(self):
        return self.auth_strategy == "keystone"

    @property
    def backup_root(self):
        return Path(self.backup_dir or self.state_dir / "backups")

    def backup_env(self):
        """The backup settings as the environment variables from_env reads (for the engine)."""
        env = {name: str(getattr(self, key)) for key, name, _ in BACKUP_ENV
               if getattr(self, key) not in (None, "")}
        env["DBAAS_BACKUP_DIR"] = str(self.backup_root)
        return env

    def quota_env(self):
        """The quota settings as the environment variables from_env reads (for the API)."""
        return {name: str(getattr(self, key)) for key, name, _ in QUOTA_ENV}

    @property
    def local_driver(self):
        """Whether servers are local processes (the environment maps DBaaS::Server to the local
        driver's plugin) rather than cloud servers: the one place that knows which runs."""
        return _server_type(str(self.environment_file)) == LOCAL_SERVER

    @property
    def heat_endpoint(self):
        return self.heat_url or f"http://{self.heat_host}:{self.heat_port}/v1"

    @property
    def packaged_templates(self):
        return _packaged("templates")

    @property
    def search_path(self):
        return tuple(self.template_dirs) + (self.packaged_templates,)

    @classmethod
    def from_env(cls, env=None, **overrides):
        env = os.environ if env is None else env
        values = {}
        if "DBAAS_STATE_DIR" in env:
            values["state_dir"] = Path(env["DBAAS_STATE_DIR"])
        for key, name, cast in (
            ("api_host", "DBAAS_API_HOST", str), ("api_port", "DBAAS_API_PORT", int),
            ("heat_host", "DBAAS_HEAT_HOST", str), ("heat_port", "DBAAS_HEAT_PORT", int),
            ("heat_url", "DBAAS_HEAT_URL", str), ("heat_timeout", "DBAAS_HEAT_TIMEOUT", float),
            ("service_project", "DBAAS_SERVICE_PROJECT", str),
            ("max_volume_size", "DBAAS_MAX_VOLUME_SIZE", int),
            ("change_wait", "DBAAS_CHANGE_WAIT", float), ("apply_wait", "DBAAS_APPLY_WAIT", float),
            *QUOTA_ENV,
            ("auth_strategy", "DBAAS_AUTH_STRATEGY", str), ("profile", "DBAAS_PROFILE", str),
            ("heat_engines", "DBAAS_HEAT_ENGINES", int), ("heat_api_workers", "DBAAS_HEAT_API_WORKERS", int),
            ("heat_convergence", "DBAAS_HEAT_CONVERGENCE", _flag),
            ("heat_database_url", "DBAAS_HEAT_DATABASE_URL", str),
            ("heat_transport_url", "DBAAS_HEAT_TRANSPORT_URL", str),
            ("heat_db_port", "DBAAS_HEAT_DB_PORT", int), ("rabbit_port", "DBAAS_RABBIT_PORT", int),
        ):
            if name in env:
                values[key] = cast(env[name])
        if env.get("DBAAS_TEMPLATE_DIRS"):
            values["template_dirs"] = _paths(env["DBAAS_TEMPLATE_DIRS"])
        for key, name in (("environment_file", "DBAAS_ENVIRONMENT_FILE"),
                          ("config_file", "DBAAS_CONFIG_FILE"), ("policy_file", "DBAAS_POLICY_FILE"),
                          ("networks_file", "DBAAS_NETWORKS_FILE")):
            if env.get(name):
                values[key] = Path(env[name]).resolve()
        for key, name, cast in BACKUP_ENV:
            if env.get(name):
                values[key] = cast(env[name])
        values.update(overrides)
        values["state_dir"] = Path(values.get("state_dir", cls.state_dir)).resolve()
        return cls(**values)
