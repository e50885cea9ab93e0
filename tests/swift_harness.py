"""A real OpenStack Swift on loopback for tests and benchmarks: swift 2.38.3 from PyPI (in its
own venv, ``.venv-swift``, so its pins never meet Heat's), one-replica rings, account,
container and object servers, a proxy with tempauth, and the memcached tempauth needs.

Everything lives under one temporary directory and free loopback ports; ``stop()`` kills
every process it started and removes the directory, also after a failed start.

    swift = SwiftAIO(); swift.start()
    swift.env  ->  {"DBAAS_BACKUP_STORAGE": "swift", "DBAAS_SWIFT_AUTH_URL": ..., ...}
    swift.stop()

``SwiftAIO(keystone=...)`` (a tests/keystone.py Keystone) authenticates with Keystone instead
of tempauth, as a cloud's Swift does: keystonemiddleware's auth_token (as the dbaas service
user, from a 0600 proxy.conf) and Swift's keystoneauth, one account ``AUTH_<project id>`` per
project, its members its operators.
"""
import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
SWIFT_VENV = Path(os.environ.get("DBAAS_SWIFT_VENV", ROOT / ".venv-swift"))
SWIFT_PIN = "swift==2.38.3"
REQUIREMENTS = (SWIFT_PIN, "keystonemiddleware==13.0.1")   # the latter: Keystone auth (see above)
USER, KEY = "test:tester", "testing"
SERVERS = ("account", "container", "object")
# Swift moves bytes 64 KiB at a time by default; at 1 MiB its Python does a sixteenth of the
# iterations (measured here: about 1.5x the throughput on two cores).
CHUNKS = ("network_chunk_size = 1048576\ndisk_chunk_size = 1048576\n"
          "client_chunk_size = 1048576\nobject_chunk_size = 1048576\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_swift_venv(venv=SWIFT_VENV):
    """Install swift into its own venv once (about 15 s); later calls return at once."""
    marker = venv / ".installed"
    if marker.exists() and marker.read_text() == " ".join(REQUIREMENTS):
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{venv}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # several test runs may share this checkout
        if not (marker.exists() and marker.read_text() == " ".join(REQUIREMENTS)):
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                                  *REQUIREMENTS], capture_output=True, text=True)
            if pip.returncode != 0:
                raise RuntimeError(f"pip install {' '.join(REQUIREMENTS)} failed: {pip.stderr[-2000:]}")
            marker.write_text(" ".join(REQUIREMENTS))
    return venv


class SwiftAIO:
    def __init__(self, venv=SWIFT_VENV, keystone=None):
        self.venv = venv
        self.keystone = keystone
        self.dir = None
        self.processes = []
        self.ports = {}

    @property
    def url(self):
        return f"http://127.0.0.1:{self.ports['proxy']}"

    @property
    def auth_url(self):
        return f"http://127.0.0.1:{self.ports['proxy']}/auth/v1.0"

    @property
    def env(self):
        """What the engine needs to store backups here (see dbaas_api/config.py)."""
        return {"DBAAS_BACKUP_STORAGE": "swift", "DBAAS_SWIFT_AUTH_URL": self.auth_url,
                "DBAAS_SWIFT_USER": USER, "DBAAS_SWIFT_KEY": KEY}

    def connection(self):
        import swiftclient
        return swiftclient.Connection(authurl=self.auth_url, user=USER, key=KEY, retries=1)

    def connection_for(self, account):
        """A swiftclient connection as a tests/keystone.py Account (Keystone auth)."""
        import swiftclient
        return swiftclient.Connection(
            authurl=account.auth_url, user=account.username, key=account.password, auth_version="3", retries=1,
            os_options={"project_name": account.project_name, "user_domain_name": "Default",
                        "project_domain_name": "Default"})

    def start(self, timeout=60):
        ensure_swift_venv(self.venv)
        self.dir = Path(tempfile.mkdtemp(prefix="dbaas-swift-", dir="/tmp"))
        try:
            self._configure()
            self._spawn(["memcached", "-l", "127.0.0.1", "-p", str(self.ports["memcached"]), "-U", "0",
                         "-m", "32", "-u", "memcache" if os.geteuid() == 0 else os.environ.get("USER", "")],
                        "memcached")
            for server in SERVERS:
                self._spawn([str(self.venv / "bin" / f"swift-{server}-server"), str(self.etc / f"{server}.conf")],
                            server)
            self._spawn([str(self.venv / "bin" / "swift-proxy-server"), str(self.etc / "proxy.conf")], "proxy")
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                process.wait(10)
        self.processes = []
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @property
    def etc(self):
        return self.dir / "etc"

    def _configure(self):
        self.ports = {name: free_port() for name in (*SERVERS, "proxy", "memcached")}
        devices = self.dir / "srv"
        (devices / "d1").mkdir(parents=True)
        self.etc.mkdir()
        (self.etc / "swift.conf").write_text(
            "[swift-hash]\nswift_hash_path_suffix = dbaas-test\nswift_hash_path_prefix = dbaas\n\n"
            "[storage-policy:0]\nname = Policy-0\ndefault = yes\n")
        common = (f"[DEFAULT]\nbind_ip = 127.0.0.1\nswift_dir = {self.etc}\ndevices = {devices}\n"
                  "mount_check = false\nworkers = 0\nlog_level = WARNING\n")
        for server in SERVERS:
            builder = self.etc / f"{server}.builder"
            ring_builder = str(self.venv / "bin" / "swift-ring-builder")
            subprocess.run([ring_builder, str(builder), "create", "6", "1", "1"], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run([ring_builder, str(builder), "add",
                            f"r1z1-127.0.0.1:{self.ports[server]}/d1", "1"], check=True, stdout=subprocess.DEVNULL)
            # rebalance exits 1 with a warning on a one-device ring; the ring is written all the same
            subprocess.run([ring_builder, str(builder), "rebalance"], stdout=subprocess.DEVNULL)
            if not (self.etc / f"{server}.ring.gz").exists():
                raise RuntimeError(f"swift-ring-builder wrote no {server} ring")
            (self.etc / f"{server}.conf").write_text(
                common + f"bind_port = {self.ports[server]}\n\n[pipeline:main]\npipeline = {server}-server\n\n"
                f"[app:{server}-server]\nuse = egg:swift#{server}\n{CHUNKS}")
        proxy = self.etc / "proxy.conf"
        proxy.touch(mode=0o600)   # the keystone filters hold the service user's password
        proxy.write_text(
            common + f"bind_port = {self.ports['proxy']}\n\n[pipeline:main]\n"
            # slo and dlo, as in Swift's sample proxy pipeline: `swift upload` of a stream
            # (the benchmark's raw pipeline) makes a static large object.
            f"pipeline = catch_errors proxy-logging cache {self._auth_filters()} slo dlo proxy-logging proxy-server\n\n"
            f"[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n{CHUNKS}\n"
            f"{self._auth_sections()}\n"
            f"[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:{self.ports['memcached']}\n\n"
            "[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n"
            "[filter:slo]\nuse = egg:swift#slo\n\n[filter:dlo]\nuse = egg:swift#dlo\n\n"
            "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n")

    def _auth_filters(self):
        return "authtoken keystoneauth" if self.keystone else "tempauth"

    def _auth_sections(self):
        if not self.keystone:
            return f"[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = {KEY} .admin\n"
        service = self.keystone.account("dbaas")
        return ("[filter:authtoken]\npaste.filter_factory = keystonemiddleware.auth_token:filter_factory\n"
                f"www_authenticate_uri = {service.auth_url}\nauth_url = {service.auth_url}\n"
                f"auth_type = password\nusername = {service.username}\npassword = {service.password}\n"
                f"project_name = {service.project_name}\nuser_domain_name = Default\n"
                "project_domain_name = Default\ndelay_auth_decision = true\n\n"
                "[filter:keystoneauth]\nuse = egg:swift#keystoneauth\noperator_roles = admin, member\n")

    def _ready(self):
        """Whether the proxy serves an account: tempauth's, or the service project's."""
        if self.keystone:
            storage = f"{self.url}/v1/AUTH_{self.keystone.project_ids['service']}"
            token = self.keystone.token("dbaas")
        else:
            response = requests.get(self.auth_url, headers={"X-Auth-User": USER, "X-Auth-Key": KEY}, timeout=2)
            if response.status_code != 200:
                return False
            storage, token = response.headers["X-Storage-Url"], response.headers["X-Auth-Token"]
        return requests.head(storage, headers={"X-Auth-Token": token}, timeout=2).status_code < 300

    def _spawn(self, argv, name):
        log = open(self.dir / f"{name}.log", "ab")
        with log:
            self.processes.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                   start_new_session=True, close_fds=True))

    def _wait(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a Swift process exited with {process.returncode}; logs in {self.dir}")
            try:
                if self._ready():
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Swift did not answer within {timeout} s; logs in {self.dir}")
            time.sleep(0.1)
