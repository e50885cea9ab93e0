"""A real Keystone for the keystone-profile tests: keystone 30.0.0 from PyPI under gunicorn,
SQLite, fernet tokens and memcached, all on loopback under a throw-away directory.

``Keystone.up()`` makes the identity world the tests use:

- projects ``alpha`` and ``beta`` with one member each (``alice``, ``bob``), and ``carol``,
  who only has the reader role in ``alpha``;
- the ``service`` project with the ``dbaas`` service user (roles ``service`` and ``member``):
  the API validates tokens and talks to Heat as this user, and every stack lives here;
- the bootstrap ``admin`` (role ``admin`` on project ``admin``);
- a ``database`` service whose endpoint ends in ``/v1.0/$(project_id)s`` (``register_database``).

``down()`` stops every process it started and removes the directory, also after a failure.
Passwords are made up per run and never printed.
"""
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from dbaas_api.embedded.lifecycle import Component
from tests.harness import free_port

BIN = Path(sys.executable).parent
WSGI_WRAPPER = """\
# gunicorn's argv would reach keystone's oslo.config and crash the workers: hide it.
import sys
sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402,F401
"""
KEYSTONE_CONF = """\
[DEFAULT]
log_file = {dir}/keystone.log
debug = false

[database]
connection = sqlite:///{dir}/keystone.sqlite

[token]
provider = fernet
expiration = 3600

[fernet_tokens]
key_repository = {dir}/fernet-keys

[fernet_receipts]
key_repository = {dir}/fernet-keys

[credential]
key_repository = {dir}/credential-keys

[identity]
# bcrypt's cheapest setting: tests authenticate often, and these passwords live one run.
password_hash_rounds = 4

[cache]
enabled = true
backend = dogpile.cache.pymemcache
memcache_servers = 127.0.0.1:{memcached_port}
"""


class _TcpComponent(Component):
    """A Component whose health is an open TCP port (memcached speaks no HTTP)."""

    def healthy(self):
        host, _, port = self.health_url.partition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=1):
                return True
        except OSError:
            return False


@dataclass(frozen=True)
class Account:
    """Credentials for one user scoped to one project, as OS_* variables would carry them."""
    auth_url: str
    username: str
    password: str = field(repr=False)  # never in a test report
    project_name: str = ""

    def os_env(self):
        return {
            "OS_AUTH_URL": self.auth_url, "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": self.username, "OS_PASSWORD": self.password,
            "OS_PROJECT_NAME": self.project_name, "OS_USER_DOMAIN_NAME": "Default",
            "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": "RegionOne",
            "OS_INTERFACE": "public",
        }

    def auth_args(self):
        """keyword arguments for keystoneauth1's v3 Password and openstack.connect()."""
        return {"auth_url": self.auth_url, "username": self.username, "password": self.password,
                "project_name": self.project_name, "user_domain_name": "Default",
                "project_domain_name": "Default"}

    def session(self):
        from keystoneauth1 import session
        from keystoneauth1.identity import v3
        return session.Session(auth=v3.Password(**self.auth_args()))


class Keystone:
    # user: (project, roles there)
    USERS = {"alice": ("alpha", ("member",)), "bob": ("beta", ("member",)), "carol": ("alpha", ("reader",)),
             "dbaas": ("service", ("member", "service"))}

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="dbaas-keystone-", dir="/tmp"))
        self.port = free_port()
        self.memcached_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self._passwords = {name: secrets.token_urlsafe(18) for name in ("admin", *self.USERS)}
        self.memcached = _TcpComponent(
            "memcached", ("memcached", "-l", "127.0.0.1", "-p", str(self.memcached_port), "-U", "0",
                          "-m", "64", "-u", "memcache" if os.getuid() == 0 else str(os.getuid())),
            f"127.0.0.1:{self.memcached_port}", self.dir)
        self.keystone = Component(
            "keystone", (sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}",
                         "--workers", "2", "--pythonpath", str(self.dir), "--log-level", "warning",
                         "keystone_wsgi:application"),
            f"http://127.0.0.1:{self.port}/v3", self.dir)
        self.project_ids = {}

    def account(self, username):
        project = "admin" if username == "admin" else self.USERS[username][0]
        return Account(self.url, username, self._passwords[username], project)

    @property
    def secrets(self):
        """Every password of this run, for tests proving none leaks."""
        return tuple(self._passwords.values())

    def _env(self):
        return {**os.environ, "OS_KEYSTONE_CONFIG_DIR": str(self.dir)}

    def _manage(self, *commands, **env):
        """Run keystone-manage once per command (a tuple of arguments), all at once."""
        running = [subprocess.Popen(
            [str(BIN / "keystone-manage"), "--config-file", str(self.dir / "keystone.conf"), *args],
            env={**self._env(), **env}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE) for args in commands]
        for process, args in zip(running, commands):
            _, stderr = process.communicate(timeout=120)
            if process.returncode:
                raise RuntimeError(f"keystone-manage {args[0]} failed: {stderr.decode()[-2000:]}")

    def up(self):
        (self.dir / "keystone.conf").write_text(
            KEYSTONE_CONF.format(dir=self.dir, memcached_port=self.memcached_port))
        (self.dir / "keystone_wsgi.py").write_text(WSGI_WRAPPER)
        self.memcached.start(self._env())
        owner = ("--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid()))
        self._manage(("db_sync",), ("fernet_setup", *owner), ("credential_setup", *owner))
        self._manage(("bootstrap", "--bootstrap-admin-url", self.url, "--bootstrap-public-url", self.url,
                      "--bootstrap-internal-url", self.url, "--bootstrap-region-id", "RegionOne"),
                     OS_BOOTSTRAP_PASSWORD=self._passwords["admin"])  # not in argv, where ps shows it
        self.memcached.wait_healthy(30)
        self.keystone.start(self._env())
        self.keystone.wait_healthy(60)
        self._populate()

    def _admin(self):
        from keystoneclient.v3 import client
        return client.Client(session=self.account("admin").session(), interface="public")

    def _populate(self):
        ks = self._admin()
        roles = {role.name: role for role in ks.roles.list()}
        if "service" not in roles:  # bootstrap makes admin, member, reader (and service, lately)
            roles["service"] = ks.roles.create("service")
        for name, (project_name, granted) in self.USERS.items():
            if project_name not in self.project_ids:
                self.project_ids[project_name] = ks.projects.create(project_name, "default").id
            user = ks.users.create(name, domain="default", password=self._passwords[name])
            for role in granted:
                ks.roles.grant(roles[role], user=user, project=self.project_ids[project_name])
        self.project_ids["admin"] = ks.projects.find(name="admin").id

    def register_database(self, api_url):
        """The catalog entry the unmodified clients look up: service type ``database``."""
        self._register("trove", "database", f"{api_url}/v1.0/$(project_id)s")

    def register_object_store(self, swift_url):
        """A Swift with Keystone auth (tests/swift_harness.py): service type ``object-store``,
        one account per project, as troveclient's log save/tail look it up."""
        self._register("swift", "object-store", f"{swift_url}/v1/AUTH_$(project_id)s")

    def _register(self, name, service_type, url):
        ks = self._admin()
        service = ks.services.create(name, type=service_type, description=f"heat-dbaas tests: {name}")
        for interface in ("public", "internal", "admin"):
            ks.endpoints.create(service, url, interface=interface, region="RegionOne")

    def dbaas_conf(self, policy_file=None):
        """The API's config file for the keystone profile, pointing at this Keystone."""
        user = self.account("dbaas")
        auth = (f"auth_url = {self.url}\nauth_type = password\nusername = {user.username}\n"
                f"password = {user.password}\nuser_domain_name = Default\n"
                f"project_name = {user.project_name}\nproject_domain_name = Default\n")
        text = (f"[keystone_authtoken]\nwww_authenticate_uri = {self.url}\n{auth}"
                f"memcached_servers = 127.0.0.1:{self.memcached_port}\n"
                # Revocation reaches a cached token only when its entry expires: keep it short
                # so the revocation test need not wait five minutes.
                "token_cache_time = 2\n"
                f"\n[service_credentials]\n{auth}")
        if policy_file:
            text += f"\n[oslo_policy]\npolicy_file = {policy_file}\n"
        return text

    def token(self, username):
        """A fresh project-scoped token for ``username``."""
        return self.account(username).session().get_token()

    def short_lived_token(self, username, seconds):
        """A real token that expires in ``seconds``: Keystone caps a token issued for an
        application credential at the credential's own expiry."""
        from datetime import datetime, timedelta, timezone

        from keystoneauth1 import session
        from keystoneauth1.identity import v3
        from keystoneclient.v3 import client

        own = self.account(username).session()
        credential = client.Client(session=own, interface="public").application_credentials.create(
            f"short-{secrets.token_hex(4)}", user=own.get_user_id(),
            expires_at=datetime.now(timezone.utc) + timedelta(seconds=seconds))
        auth = v3.ApplicationCredential(auth_url=self.url, application_credential_id=credential.id,
                                        application_credential_secret=credential.secret)
        return session.Session(auth=auth).get_token()

    def revoke(self, token):
        """Revoke ``token`` (its own holder may)."""
        import requests
        response = requests.delete(f"{self.url}/auth/tokens", timeout=10,
                                   headers={"X-Auth-Token": token, "X-Subject-Token": token})
        assert response.status_code == 204, response.status_code

    def down(self):
        try:
            self.keystone.stop()
            self.memcached.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        return "".join(p.read_text(errors="replace") for p in self.dir.glob("*.log") if p.is_file())


def wait_for(predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
