"""The life of a local server: create, start, stop, restart, resize, destroy, and what is
known of it (LocalDriver.get). The driver's other parts: layout.py (files and addresses),
processes.py (spawning, stopping, setup commands), replication.py and clusters.py (roles).
"""
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import time
from pathlib import Path

from dbaas_api import datastores, errors
from dbaas_api.datastores.base import Paths
from dbaas_api.drivers.local import processes, steps
from dbaas_api.drivers.local.clusters import ClusterSteps
from dbaas_api.drivers.local.layout import MEMBER_BAND, StateDir, bindable, flock, make_private_dirs, read_json, \
    run_as, tree_bytes, write_json, write_logs, write_text
from dbaas_api.drivers.local.processes import Runner, Waiter
from dbaas_api.drivers.local.replication import ReplicationSteps
from dbaas_api.model import Flavor

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ServerSpec:
    """What a new server is to be (LocalDriver.create). ``overrides``: configuration values it
    starts with (see set_overrides); ``allowed_cidrs``: the networks clients may connect from
    (see set_access); ``restore``: a backup chain its data comes from (see Datastore.restore);
    ``replica_of``: a running source (host, port, password) it is seeded from and follows
    (see replication.py); ``membership``: it is a cluster member (see clusters.py); ``band``:
    the CIDR (inside 127.0.0.0/8) its address comes from (default 127.0.0.0/16), ``fixed_ip``:
    that address exactly (a Conflict when taken); ``logs``: the USER logs it starts with (see
    set_logs). Secrets stay out of its repr."""

    datastore: object            # a Datastore, or its name
    version: str
    flavor: Flavor
    admin_password: str = dataclasses.field(repr=False)
    owner: dict = None           # who it belongs to: owner.json
    overrides: dict = None
    allowed_cidrs: tuple = ()
    restore: object = dataclasses.field(default=None, repr=False)
    replica_of: object = dataclasses.field(default=None, repr=False)
    membership: dict = None
    band: str = None
    fixed_ip: str = None
    logs: tuple = ()


@dataclasses.dataclass(frozen=True)
class LocalInstance:
    key: str
    datastore: str
    version: str
    address: str
    port: int
    datadir: Path
    pid: int = None          # the running server's pid, None when it is not running
    flavor: Flavor = None
    owner: dict = dataclasses.field(default=None, compare=False)


class LocalDriver(ReplicationSteps, ClusterSteps, StateDir):
    """Create, start, stop, resize and destroy local datastore servers under one state dir.

    Safe to use from several threads and processes at once: address allocation holds
    ``<state>/instances/.lock``, and every operation on an instance holds its own lock.
    """

    START_TIMEOUT = 60.0    # seconds for a server to answer after it is spawned
    STOP_TIMEOUT = 30.0     # seconds for a clean shutdown before SIGKILL
    INIT_TIMEOUT = 300.0    # seconds for initdb / mariadb-install-db

    def create(self, key, spec):
        """Make and start a new server as ``spec`` (a ServerSpec) says; return once its admin
        accepts an authenticated connection. On any failure nothing is left behind (process
        or directory)."""
        ds = _datastore(spec.datastore)
        if spec.version not in ds.versions:
            raise errors.BadRequest(f"field 'version': {ds.title} {spec.version} is not offered.")
        ds.validate_password(spec.admin_password, field="admin_password")
        user = run_as(ds)
        self._prepare_state_dir(ds, user)
        paths = Paths(self._home(key))
        first = MEMBER_BAND if spec.membership is not None else 1
        with self._claim(paths, ds, spec.version, spec.flavor, spec.owner, first, spec.band, spec.fixed_ip) as address:
            try:
                started = time.monotonic()
                self._write_overrides(ds, paths, spec.version, spec.overrides or {})
                self._write_access(ds, paths, spec.allowed_cidrs)
                write_json(paths.home / "logs.json", {"enabled": sorted(spec.logs), "started": []})
                address = self._provision(ds, paths, spec, user, address)
                LOG.info("Created %s instance %s at %s:%s in %.2f s", ds.name, key, address, ds.port,
                         time.monotonic() - started)
            except BaseException as exc:
                processes.stop_processes(paths, signal.SIGKILL, 5.0)
                shutil.rmtree(paths.home, ignore_errors=True)
                if isinstance(exc, errors.DBaaSError) or not isinstance(exc, Exception):
                    raise
                raise errors.DBaaSError(
                    f"Could not create {ds.title} instance '{key}': {type(exc).__name__}: {exc}") from exc
        return self.get(key)

    def start(self, key, admin_password=None, timeout=None):
        """Start a stopped server (idempotent). Waits until it answers: authenticated when
        admin_password is given, else until it answers its protocol at all."""
        home = self._existing_home(key)
        with flock(home / ".lock"):
            return self._start(key, admin_password, timeout)

    def stop(self, key, timeout=None):
        """Stop the server cleanly (its own shutdown signal, then SIGKILL after timeout).
        Tolerates a server that is not running or an instance that is gone."""
        home = self._home(key)
        if not home.is_dir():
            return
        with flock(home / ".lock"):
            self._stop(key, timeout)

    def destroy(self, key):
        """End a step still under way for the instance (steps.py), stop the server and delete
        everything of the instance. Tolerates "already gone"."""
        home = self._home(key)
        for pid in steps.step_pids(self.state_dir, key):
            steps.kill_group(pid)
        if not home.is_dir():
            return
        with flock(home / ".lock"):
            processes.stop_processes(Paths(home), self._stop_signal(key), self.STOP_TIMEOUT)
            shutil.rmtree(home, ignore_errors=True)
            if home.exists():
                raise errors.DBaaSError(f"Could not remove {home}.")

    def resize(self, key, flavor, admin_password=None):
        """Rewrite the memory and connection settings and restart a running server; data stays."""
        home = self._existing_home(key)
        with flock(home / ".lock"):
            record = self._record(home)
            ds = datastores.get(record["datastore"])
            was_running = self._pid(key) is not None
            self._write_config(ds, Paths(home), record["address"], record["port"], flavor)
            record["flavor"] = dataclasses.asdict(flavor)
            write_json(home / "instance.json", record)
            if was_running:
                self._stop(key, None)
                return self._start(key, admin_password, None)
            return self.get(key)

    def restart(self, key, admin_password=None):
        """Stop the server (if it runs) and start it again; returns once it answers
        (authenticated when admin_password is given). Brings back a server that died."""
        home = self._existing_home(key)
        with flock(home / ".lock"):
            self._stop(key, None)
            return self._start(key, admin_password, None)

    def disk_usage(self, key):
        """Bytes the server's data directory takes on disk (None when there is no instance)."""
        data = Paths(self._home(key)).data
        if not data.is_dir():
            return None
        return tree_bytes(data)

    def set_overrides(self, key, values, admin_password=None):
        """Write the configuration values the server reads at its next start (the datastore's
        override file, included by its config). A DBaaS::Configuration resource applies what
        it can over the admin connection; a running server that also reads the file at a
        reload (PostgreSQL) is reloaded (with ``admin_password``), so what it runs agrees with
        both, whichever of the two writers comes last: Heat runs them at once on a detach."""
        home = self._existing_home(key)
        with flock(home / ".lock"):
            record = self._record(home)
            ds = datastores.get(record["datastore"])
            self._write_overrides(ds, Paths(home), record["version"], values)
            if admin_password is not None and self._pid(key) is not None:
                with ds.admin_session(record["address"], record["port"], admin_password) as session:
                    session.apply_override_file()

    def set_access(self, key, allowed_cidrs, admin_password):
        """Only clients from ``allowed_cidrs`` (IPv4 networks; empty: every address) may
        connect from now on: the datastore's access file, which the server reads at every
        start, and the same rules applied to the running server without a restart."""
        home = self._existing_home(key)
        with flock(home / ".lock"):
            record = self._record(home)
            ds = datastores.get(record["datastore"])
            # The config too (the same text), so that one written before access files
            # existed includes this one from the next start.
            self._write_config(ds, Paths(home), record["address"], record["port"], Flavor(**record["flavor"]))
            self._write_access(ds, Paths(home), allowed_cidrs)
            if self._pid(key) is not None:
                with ds.admin_session(record["address"], record["port"], admin_password) as session:
                    session.apply_access(list(allowed_cidrs))

    def set_logs(self, key, logs, admin_password):
        """The USER logs ``logs`` (names of Datastore.user_logs) are on from now on: recorded
        for every later start, and set on the running server where it takes them live (one
        that needs a start waits for it: the server keeps what it started with)."""
        home = self._existing_home(key)
        with flock(home / ".lock"):
            record = self._record(home)
            ds = datastores.get(record["datastore"])
            state = read_json(home / "logs.json") or {}
            write_json(home / "logs.json", {"enabled": sorted(logs), "started": state.get("started", [])})
            settings = write_logs(ds, Paths(home))
            # The config too (the same text), so that one written before log settings files
            # existed includes this one from the next start.
            self._write_config(ds, Paths(home), record["address"], record["port"], Flavor(**record["flavor"]))
            if self._pid(key) is not None:
                with ds.admin_session(record["address"], record["port"], admin_password) as session:
                    session.apply_logs(settings)

    def get(self, key):
        """The instance, or None when there is no (complete) instance of that key."""
        home = self._home(key)
        record = self._record(home)
        if record is None:
            return None
        return LocalInstance(
            key=key, datastore=record["datastore"], version=record["version"],
            address=record["address"], port=record["port"], datadir=Paths(home).data,
            pid=self._pid(key), flavor=Flavor(**record["flavor"]),
            owner=read_json(home / "owner.json"))

    def list(self):  # noqa: A003 - reads as driver.list()
        """Every complete instance on disk, running or not, by key."""
        return [instance for instance in map(self.get, self.keys()) if instance is not None]

    def is_running(self, key):
        return self._pid(key) is not None

    def _instance(self, key):
        instance = self.get(key)
        if instance is None:
            raise errors.NotFound(f"Local instance '{key}' cannot be found.")
        return instance

    def _provision(self, ds, paths, spec, user, address):
        """Data dir, config, initialisation (or the data of a backup chain: see
        Datastore.restore; or of a source: Datastore.seed_replica), first start; returns
        the address it ended on."""
        version, flavor, admin_password = spec.version, spec.flavor, spec.admin_password
        restore, replica_of, membership = spec.restore, spec.replica_of, spec.membership
        self._make_data_dir(paths, user)
        make_private_dirs(ds, paths, user)
        self._write_membership(ds, paths, address, membership)
        self._write_config(ds, paths, address, ds.port, flavor)
        runner = Runner(paths, user, self.INIT_TIMEOUT)
        initialises = membership is None or ds.member_initialises(membership)
        if replica_of:
            replica_of = dataclasses.replace(replica_of, workdir=paths.home / "seed")
            ds.prepare_source(replica_of)
            ds.seed_replica(paths, version, runner, replica_of)
        elif restore:
            ds.restore(paths, version, admin_password, runner, restore)
        elif initialises:
            ds.initialise(paths, version, admin_password, runner)
        if membership is not None:
            ds.prepare_member(paths, runner, admin_password, membership)
        for attempt in (1, 2, 3):
            process = processes.spawn(ds, paths, version, user, ds.member_start_args(membership) if membership else ())
            wait = Waiter(ds, paths, process, self.START_TIMEOUT)
            try:
                # restored servers, replicas and joining members have their accounts already
                if not restore and not replica_of and initialises:
                    ds.after_first_start(paths, address, ds.port, admin_password, wait)
                wait(lambda: ds.probe(address, ds.port, admin_password), f"{ds.title} at {address}")
                if replica_of:
                    ds.after_replica_start(paths, address, ds.port, admin_password, replica_of)
                return address
            except errors.DBaaSError:
                if process.poll() is None or attempt == 3 or bindable(address, ds.port):
                    raise
            # Our lock covers this state dir only: a server of another state dir took the
            # address since we chose it. Move to the next free one.
            address = self._move(ds, paths, flavor, membership)

    def _start(self, key, admin_password, timeout):
        instance = self.get(key)
        if instance is None:
            raise errors.NotFound(f"Local instance '{key}' cannot be found.")
        if instance.pid is not None:
            return instance
        ds = datastores.get(instance.datastore)
        paths = Paths(self._home(key))
        running = processes.server_pids(paths)
        if running:  # running, but its pid file was lost: adopt it rather than start a second
            write_text(paths.home / "pid", f"{running[0]}\n")
            return self.get(key)
        process = processes.spawn(ds, paths, instance.version, run_as(ds), self._member_restart(key, ds, paths))
        wait = Waiter(ds, paths, process, timeout or self.START_TIMEOUT)
        try:
            wait(lambda: ds.probe(instance.address, instance.port, admin_password),
                 f"{ds.title} at {instance.address}")
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise
        return self.get(key)

    def _stop(self, key, timeout):
        processes.stop_processes(Paths(self._home(key)), self._stop_signal(key), timeout or self.STOP_TIMEOUT)

    def _pid(self, key):
        return processes.pid_file_server(Paths(self._home(key)))

    def _stop_signal(self, key):
        record = self._record(self._home(key))
        return datastores.get(record["datastore"]).stop_signal if record else signal.SIGTERM


def _datastore(datastore):
    return datastores.get(datastore) if isinstance(datastore, str) else datastore
