"""The local driver: datastore servers as private local processes (the embedded default).

Each instance lives in ``<state>/instances/<key>/``:

    owner.json     who it belongs to (the stack); written before anything is spawned, so a
                   crash never leaves a process or directory that nothing can trace
    instance.json  datastore, version, address, port, flavor (no secrets)
    <conf files>   the datastore's config, written by us, read by the server (no secrets)
    <override file> an attached configuration's values, included by the config (no secrets)
    <access file>  the networks clients may connect from, as the server's own rules
    pid            the server's pid while it runs
    data/          the server's own files, 0700, owned by the datastore's system user
    server.log     the server's stdout/stderr and the output of its initialisation

Each instance gets its own loopback address 127.0.X.Y (X >= 1; 127.0.0.x is the host's own
services) and listens on its datastore's standard port there, as a cloud instance would on its
own IP. Servers run in their own session, as the datastore's system user when we are root, so
they outlive the process that started them and are found again through the pid file. Before
any signal the pid is checked against /proc/<pid>/cmdline (pids get reused).

What differs between datastores (commands, config, readiness) is asked of the datastore
module; nothing here names one. No password is written to disk, passed in argv, logged, or
put in an error message.
"""
import contextlib
import dataclasses
import fcntl
import ipaddress
import json
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

from dbaas_api import datastores, errors
from dbaas_api.datastores.base import Paths
from dbaas_api.model import Flavor
from dbaas_api.waiting import TimedOut, poll_until

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
DEFAULT_BAND = "127.0.0.0/16"   # where instances go on a stack that names no subnet

LOG = logging.getLogger(__name__)

# Keys become directory names: Heat physical resource names and UUIDs fit.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
# The state dir ends up inside config files: refuse what would need quoting there.
PATH_PATTERN = re.compile(r"[A-Za-z0-9_./+@:,=-]+")
CHILD_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
             "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}


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


class LocalDriver:
    """Create, start, stop, resize and destroy local datastore servers under one state dir.

    Safe to use from several threads and processes at once: address allocation holds
    ``<state>/instances/.lock``, and every operation on an instance holds its own lock.
    """

    START_TIMEOUT = 60.0    # seconds for a server to answer after it is spawned
    STOP_TIMEOUT = 30.0     # seconds for a clean shutdown before SIGKILL
    INIT_TIMEOUT = 300.0    # seconds for initdb / mariadb-install-db
    POLL = 0.02

    def __init__(self, state_dir):
        self.state_dir = Path(os.path.abspath(state_dir))
        self.instances_dir = self.state_dir / "instances"

    # ---- public API ----------------------------------------------------------------------

    def create(self, key, owner, datastore, version, flavor, admin_password, overrides=None, restore=None,
               allowed_cidrs=(), replica_of=None, membership=None, band=None, fixed_ip=None):
        """Make and start a new server; return once its admin accepts an authenticated
        connection. ``overrides``: configuration values it starts with (see set_overrides);
        ``allowed_cidrs``: the networks clients may connect from (see set_access);
        ``replica_of``: a running source (host, port, password) it is seeded from and
        follows (see the replication section); ``membership``: it is a cluster member (see
        the clusters section); ``band``: the CIDR (inside 127.0.0.0/8) its address comes from
        (default 127.0.0.0/16), ``fixed_ip``: that address exactly (a Conflict when taken).
        On any failure nothing is left behind (process or directory)."""
        ds = _datastore(datastore)
        if version not in ds.versions:
            raise errors.BadRequest(f"field 'version': {ds.title} {version} is not offered.")
        ds.validate_password(admin_password, field="admin_password")
        user = self._run_as(ds)
        self._prepare_state_dir(ds, user)
        paths = Paths(self._home(key))
        first = self.MEMBER_BAND if membership is not None else 1
        with self._claim(paths, ds, version, flavor, owner, first, band, fixed_ip) as address:
            try:
                started = time.monotonic()
                self._write_overrides(ds, paths, version, overrides or {})
                self._write_access(ds, paths, allowed_cidrs)
                address = self._provision(ds, paths, version, flavor, admin_password, user, address, restore,
                                          replica_of, membership)
                LOG.info("Created %s instance %s at %s:%s in %.2f s", ds.name, key, address, ds.port,
                         time.monotonic() - started)
            except BaseException as exc:
                self._stop_processes(paths, signal.SIGKILL, 5.0)
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
        with _flock(home / ".lock"):
            return self._start(key, admin_password, timeout)

    def stop(self, key, timeout=None):
        """Stop the server cleanly (its own shutdown signal, then SIGKILL after timeout).
        Tolerates a server that is not running or an instance that is gone."""
        home = self._home(key)
        if not home.is_dir():
            return
        with _flock(home / ".lock"):
            self._stop(key, timeout)

    def destroy(self, key):
        """Stop the server and delete everything of the instance. Tolerates "already gone"."""
        home = self._home(key)
        if not home.is_dir():
            return
        with _flock(home / ".lock"):
            self._stop_processes(Paths(home), self._stop_signal(key), self.STOP_TIMEOUT)
            shutil.rmtree(home, ignore_errors=True)
            if home.exists():
                raise errors.DBaaSError(f"Could not remove {home}.")

    def resize(self, key, flavor, admin_password=None):
        """Rewrite the memory and connection settings and restart a running server; data stays."""
        home = self._existing_home(key)
        with _flock(home / ".lock"):
            record = self._record(home)
            ds = datastores.get(record["datastore"])
            was_running = self._pid(key) is not None
            self._write_config(ds, Paths(home), record["address"], record["port"], flavor)
            record["flavor"] = dataclasses.asdict(flavor)
            _write_json(home / "instance.json", record)
            if was_running:
                self._stop(key, None)
                return self._start(key, admin_password, None)
            return self.get(key)

    def restart(self, key, admin_password=None):
        """Stop the server (if it runs) and start it again; returns once it answers
        (authenticated when admin_password is given). Brings back a server that died."""
        home = self._existing_home(key)
        with _flock(home / ".lock"):
            self._stop(key, None)
            return self._start(key, admin_password, None)

    def home(self, key):
        """The instance's directory (its config files, server.log, data/)."""
        return self._home(key)

    def disk_usage(self, key):
        """Bytes the server's data directory takes on disk (None when there is no instance)."""
        data = Paths(self._home(key)).data
        if not data.is_dir():
            return None
        return _tree_bytes(data)

    def set_overrides(self, key, values):
        """Write the configuration values the server reads at its next start (the datastore's
        override file, included by its config). The running server is not touched: a
        DBaaS::Configuration resource applies what it can over the admin connection."""
        home = self._existing_home(key)
        with _flock(home / ".lock"):
            record = self._record(home)
            self._write_overrides(datastores.get(record["datastore"]), Paths(home), record["version"], values)

    def set_access(self, key, allowed_cidrs, admin_password):
        """Only clients from ``allowed_cidrs`` (IPv4 networks; empty: every address) may
        connect from now on: the datastore's access file, which the server reads at every
        start, and the same rules applied to the running server without a restart."""
        home = self._existing_home(key)
        with _flock(home / ".lock"):
            record = self._record(home)
            ds = datastores.get(record["datastore"])
            # The config too (the same text), so that one written before access files
            # existed includes this one from the next start.
            self._write_config(ds, Paths(home), record["address"], record["port"], Flavor(**record["flavor"]))
            self._write_access(ds, Paths(home), allowed_cidrs)
            if self._pid(key) is not None:
                with ds.admin_session(record["address"], record["port"], admin_password) as session:
                    session.apply_access(list(allowed_cidrs))

    # ---- clusters ------------------------------------------------------------------------
    # A member is an instance whose config includes the datastore's cluster file (written
    # from its ``membership``, see Datastore.cluster_files), recorded in membership.json so
    # that a later change of its peers can rewrite it. The datastore joins and leaves.
    # Members take addresses from 127.0.MEMBER_BAND.1 up: a joining Galera member binds its
    # port only after its state transfer, so for seconds its address looks free to servers of
    # another state dir (which do not see our claims), and the single servers those make
    # churn through the lowest addresses.
    MEMBER_BAND = 100

    def set_membership(self, key, membership):
        """Rewrite a member's cluster file (its peers changed): read at its next start."""
        home = self._existing_home(key)
        with _flock(home / ".lock"):
            record = self._record(home)
            self._write_membership(datastores.get(record["datastore"]), Paths(home), record["address"], membership)

    def membership(self, key):
        return _read_json(self._home(key) / "membership.json")

    def _member_restart(self, key, ds, paths):
        """Before a stopped member starts again: it may join any member of its cluster in this
        state dir (its cluster file lists them all). When none of them runs, the one that can
        start the cluster alone (Galera: the last to leave) starts first, this one included."""
        membership = self.membership(key)
        if membership is None:
            return ()
        siblings = [other for other in self.keys()
                    if other != key and (self.membership(other) or {}).get("cluster") == membership["cluster"]]
        records = [record for record in (self._record(self._home(other)) for other in siblings) if record]
        self._write_membership(ds, paths, self._record(paths.home)["address"],
                               dict(membership, peers=[record["address"] for record in records]))
        if any(self.is_running(other) for other in siblings):
            return ()
        if ds.can_start_cluster(paths):
            return tuple(ds.member_start_args(dict(membership, peers=[])))
        for other in siblings:
            if ds.can_start_cluster(Paths(self._home(other))):
                self.start(other)
                break
        return ()

    @staticmethod
    def _write_membership(ds, paths, address, membership):
        if membership is None:
            return
        for name, text in ds.cluster_files(paths, address, membership).items():
            _write_server_file(ds, paths.conf(name), text)
        _write_json(paths.home / "membership.json", membership)

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
            owner=_read_json(home / "owner.json"))

    def list(self):  # noqa: A003 - reads as driver.list()
        """Every complete instance on disk, running or not, by key."""
        return [instance for instance in map(self.get, self.keys()) if instance is not None]

    def owner(self, key):
        """What owner.json says, also for a directory a crash left half made; None if absent."""
        return _read_json(self._home(key) / "owner.json")

    def keys(self):
        """The key of every instance directory, including any a crash left half made."""
        if not self.instances_dir.is_dir():
            return []
        return sorted(entry.name for entry in self.instances_dir.iterdir()
                      if entry.is_dir() and KEY_PATTERN.fullmatch(entry.name))

    def is_running(self, key):
        return self._pid(key) is not None

    # ---- replication ---------------------------------------------------------------------
    # Role changes of a server in a replication set (see docs/replication.md); what they
    # mean for a datastore is asked of its module. ``source`` is any object with host, port
    # and password (the admin password every member of a set shares).

    FOLLOW_TIMEOUT = 120.0   # seconds a follower waits for its new source to take writes
    CATCH_UP_TIMEOUT = 60.0  # seconds a promoted replica waits to replay the old primary's writes

    def replication_state(self, key, admin_password):
        """{"role": "primary" | "replica" | "unreachable", "position": int}: the server's answer."""
        instance = self.get(key)
        if instance is None or instance.pid is None:
            return {"role": "unreachable"}
        try:
            return datastores.get(instance.datastore).replication_state(instance.address, instance.port,
                                                                        admin_password)
        except errors.DBaaSError:
            return {"role": "unreachable"}

    def fence(self, key, admin_password):
        """The primary stops taking writes (PostgreSQL: a clean stop); returns its final position."""
        instance = self._instance(key)
        ds = datastores.get(instance.datastore)
        if ds.fence_stops_server:
            self.stop(key)
            return ds.stopped_position(Paths(self._home(key)), instance.version)
        return ds.fence(instance.address, instance.port, admin_password)

    def promote(self, key, admin_password, fenced=None):
        """The replica takes writes. ``fenced``: the key of the old primary (a switchover):
        fence it first, then wait until this replica has replayed all it wrote; should that
        fail, the old primary is started again and takes writes as before."""
        instance = self._instance(key)
        ds = datastores.get(instance.datastore)
        if fenced is not None:
            position = self.fence(fenced, admin_password)
            try:
                ds.wait_replayed(instance.address, instance.port, admin_password, position, self.CATCH_UP_TIMEOUT)
            except errors.DBaaSError:
                with contextlib.suppress(errors.DBaaSError):
                    self._unfence(fenced, admin_password)
                raise
        home = self._existing_home(key)
        with _flock(home / ".lock"):
            ds.promote(Paths(home), _Runner(Paths(home), self._run_as(ds), self.INIT_TIMEOUT),
                       instance.address, instance.port, admin_password)

    def _unfence(self, key, admin_password):
        instance = self._instance(key)
        ds = datastores.get(instance.datastore)
        if ds.fence_stops_server:
            self.start(key, admin_password)
        else:
            ds.unfence(instance.address, instance.port, admin_password)

    def follow(self, key, source, admin_password):
        """The server follows ``source`` once that takes writes (waits for it: a switchover
        promotes it meanwhile)."""
        instance = self._instance(key)
        ds = datastores.get(instance.datastore)
        try:
            poll_until(lambda: _source_role(ds, source) == "primary", timeout=self.FOLLOW_TIMEOUT, interval=0.05)
        except TimedOut:
            raise errors.DBaaSError(f"The new primary at {source.host} did not take writes within "
                                    f"{self.FOLLOW_TIMEOUT:.0f} s.") from None
        home = self._existing_home(key)
        with _flock(home / ".lock"):
            paths = Paths(home)

            def restart():
                self._stop(key, None)
                self._start(key, admin_password, None)
            ds.follow(paths, _Runner(paths, self._run_as(ds), self.INIT_TIMEOUT), instance.address,
                      instance.port, admin_password, source, self._pid(key) is not None, restart)

    def _instance(self, key):
        instance = self.get(key)
        if instance is None:
            raise errors.NotFound(f"Local instance '{key}' cannot be found.")
        return instance

    # ---- processes -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _claim(self, paths, ds, version, flavor, owner, first=1, band=None, fixed_ip=None):
        """Under the state dir's lock: make the instance directory, write owner.json (before
        anything is spawned) and instance.json with the lowest free address. Yields that
        address, holding the instance's own lock until the caller is done with it."""
        home = paths.home
        with contextlib.ExitStack() as held:
            with _flock(self.instances_dir / ".lock"):
                try:
                    home.mkdir(mode=0o711)
                except FileExistsError:
                    raise errors.Conflict(f"Local instance '{home.name}' already exists.") from None
                try:
                    os.chmod(home, 0o711)  # whatever the umask: the server's user must traverse it
                    held.enter_context(_flock(home / ".lock"))
                    _write_json(home / "owner.json", dict(owner or {}))
                    address = self._free_address(ds.port, first, band, fixed_ip)
                    _write_json(home / "instance.json", {
                        "datastore": ds.name, "version": version, "address": address, "port": ds.port,
                        "flavor": dataclasses.asdict(flavor), "created_at": time.time(),
                        **({"band": band} if band else {}), **({"fixed_ip": fixed_ip} if fixed_ip else {})})
                except BaseException:
                    shutil.rmtree(home, ignore_errors=True)
                    raise
            yield address

    def _provision(self, ds, paths, version, flavor, admin_password, user, address, restore=None,
                   replica_of=None, membership=None):
        """Data dir, config, initialisation (or the data of a backup chain: see
        Datastore.restore; or of a source: Datastore.seed_replica), first start; returns
        the address it ended on."""
        self._make_data_dir(paths, user)
        self._write_membership(ds, paths, address, membership)
        self._write_config(ds, paths, address, ds.port, flavor)
        runner = _Runner(paths, user, self.INIT_TIMEOUT)
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
            process = self._spawn(ds, paths, version, user, ds.member_start_args(membership) if membership else ())
            wait = _Waiter(ds, paths, process, self.START_TIMEOUT)
            try:
                # restored servers, replicas and joining members have their accounts already
                if not restore and not replica_of and initialises:
                    ds.after_first_start(paths, address, ds.port, admin_password, wait)
                wait(lambda: ds.probe(address, ds.port, admin_password), f"{ds.title} at {address}")
                if replica_of:
                    ds.after_replica_start(paths, address, ds.port, admin_password, replica_of)
                return address
            except errors.DBaaSError:
                if process.poll() is None or attempt == 3 or _bindable(address, ds.port):
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
        running = self._server_pids(paths)
        if running:  # running, but its pid file was lost: adopt it rather than start a second
            _write_text(paths.home / "pid", f"{running[0]}\n")
            return self.get(key)
        process = self._spawn(ds, paths, instance.version, self._run_as(ds), self._member_restart(key, ds, paths))
        wait = _Waiter(ds, paths, process, timeout or self.START_TIMEOUT)
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
        self._stop_processes(Paths(self._home(key)), self._stop_signal(key), timeout or self.STOP_TIMEOUT)

    def _spawn(self, ds, paths, version, user, extra_args=()):
        argv = ds.start_argv(paths, version) + list(extra_args)
        with open(paths.home / "server.log", "ab") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                       **_child_options(paths, user))
        _write_text(paths.home / "pid", f"{process.pid}\n")
        return process

    def _pid(self, key):
        return _pid_file_server(Paths(self._home(key)))

    def _stop_processes(self, paths, first_signal, timeout):
        """Signal the server (the pid file's, else any process whose argv names this
        instance, e.g. after a crash mid-create), wait, then SIGKILL its whole session."""
        pids = self._server_pids(paths)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, first_signal)
        with contextlib.suppress(TimedOut):
            poll_until(lambda: not any(map(_alive, pids)), timeout=timeout, interval=self.POLL)
        for pid in pids:
            if _alive(pid):
                LOG.warning("Server %s of %s did not stop in %.0f s; killing it", pid, paths.home, timeout)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)  # its session: the server and its children
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)    # in case it leads no group (found by scan)
        try:
            poll_until(lambda: not any(map(_alive, pids)), timeout=10.0, interval=self.POLL)
        except TimedOut:
            raise errors.DBaaSError(f"The server of {paths.home} survived SIGKILL.") from None
        with contextlib.suppress(FileNotFoundError):
            (paths.home / "pid").unlink()

    @staticmethod
    def _server_pids(paths):
        pid = _pid_file_server(paths)
        if pid is not None:
            return [pid]
        found = {pid for pid in _all_pids() if _is_ours(pid, paths) and _alive(pid)}
        # The outermost ones: their children go with them.
        return sorted(pid for pid in found if _ppid(pid) not in found)

    def _stop_signal(self, key):
        record = self._record(self._home(key))
        return datastores.get(record["datastore"]).stop_signal if record else signal.SIGTERM

    # ---- files and addresses -------------------------------------------------------------

    def _home(self, key):
        if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
            raise errors.BadRequest(f"Local instance key {key!r} is not valid: letters, digits, '_.-', "
                                    "at most 80 characters.")
        return self.instances_dir / key

    def _existing_home(self, key):
        home = self._home(key)
        if not (home / "instance.json").is_file():
            raise errors.NotFound(f"Local instance '{key}' cannot be found.")
        return home

    @staticmethod
    def _record(home):
        return _read_json(home / "instance.json")

    @staticmethod
    def _run_as(ds):
        """The datastore's system user when we are root (the servers refuse root), else None:
        an unprivileged driver runs servers as itself."""
        if os.geteuid() != 0 or not ds.system_user:
            return None
        try:
            return pwd.getpwnam(ds.system_user)
        except KeyError:
            raise errors.DBaaSError(f"System user '{ds.system_user}' for {ds.title} does not exist; "
                                    "is the datastore installed?") from None

    def _prepare_state_dir(self, ds, user):
        if not PATH_PATTERN.fullmatch(str(self.state_dir)):
            raise errors.DBaaSError(f"State directory {self.state_dir}: use only letters, digits "
                                    "and '_./+@:,=-' in its path (it goes into config files).")
        if not self.instances_dir.is_dir():
            self.instances_dir.mkdir(parents=True, exist_ok=True)
            os.chmod(self.instances_dir, 0o711)
        if user is None:
            return
        groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
        for directory in (self.instances_dir, *self.instances_dir.parents):
            if not _searchable(directory.stat(), user.pw_uid, groups):
                raise errors.DBaaSError(
                    f"State directory {self.state_dir}: {directory} is not searchable by the "
                    f"'{user.pw_name}' user that runs {ds.title}; make it so (chmod o+x {directory}, "
                    "e.g. mode 0711) or choose another DBAAS_STATE_DIR.")

    def _free_address(self, port, first=1, band=None, fixed_ip=None):
        """The lowest address of ``band`` (default 127.0.0.0/16) past its first ``first`` x 256
        (127.0.0.x is the host's own) that no instance here has claimed and where nothing else
        listens on this port (another state dir's instance, say); ``fixed_ip`` instead when it
        is free. Caller holds the lock."""
        claimed = {record["address"] for record in map(self._record, map(self._home, self.keys()))
                   if record}
        if fixed_ip:
            if fixed_ip in claimed or not _bindable(fixed_ip, port):
                raise errors.Conflict(f"nics[0].ip_address: {fixed_ip} is in use.")
            return fixed_ip
        network = check_placement(band)
        skip = first * 256 if network.num_addresses > (first + 1) * 256 else 1
        for offset in range(skip, network.num_addresses - 1):
            address = str(network.network_address + offset)
            if address.endswith((".0", ".255")) or address in claimed:
                continue
            if _bindable(address, port):
                return address
        raise errors.ServiceUnavailable(f"No free loopback address is left in {network} for a new local instance.")

    def _move(self, ds, paths, flavor, membership=None):
        """Give a not yet started instance a new address (config and record)."""
        with _flock(self.instances_dir / ".lock"):
            record = self._record(paths.home)
            address = self._free_address(ds.port, self.MEMBER_BAND if membership is not None else 1,
                                         record.get("band"), record.get("fixed_ip"))
            record["address"] = address
            if membership is not None:   # what it learnt of the cluster under its old address
                ds.forget_member_state(paths)
            self._write_membership(ds, paths, address, membership)
            self._write_config(ds, paths, address, ds.port, flavor)
            _write_json(paths.home / "instance.json", record)
        return address

    @staticmethod
    def _make_data_dir(paths, user):
        paths.data.mkdir(mode=0o700)
        if user is not None:
            os.chown(paths.data, user.pw_uid, user.pw_gid)
        with open(paths.home / "server.log", "ab"):
            pass
        os.chmod(paths.home / "server.log", 0o600)

    @staticmethod
    def _write_config(ds, paths, address, port, flavor):
        """Root's, readable by the server's group inside the 0711 home (the server reads them
        by path). The config includes the override file, so that must exist."""
        for name, text in ds.config_files(paths, address, port, flavor).items():
            _write_server_file(ds, paths.conf(name), text)
        if not paths.conf(ds.override_file).exists():
            LocalDriver._write_overrides(ds, paths, None, {})
        if ds.access_file and not paths.conf(ds.access_file).exists():
            LocalDriver._write_access(ds, paths, ())

    @staticmethod
    def _write_overrides(ds, paths, version, values):
        """Only values the datastore's rules accept reach a config file."""
        values = ds.validate_configuration(version, values) if values else {}
        for name, text in ds.override_files(values).items():
            _write_server_file(ds, paths.conf(name), text)


    @staticmethod
    def _write_access(ds, paths, allowed_cidrs):
        if not ds.filters_clients:
            if any(not cidr.endswith("/0") for cidr in allowed_cidrs):
                raise errors.BadRequest(f"{ds.title} cannot refuse clients by address on this driver.")
            return
        for name, text in ds.access_files(list(allowed_cidrs)).items():
            _write_server_file(ds, paths.conf(name), text)


class _Waiter:
    """Polls a readiness check: done when it returns something true, an error as soon as the
    server exits or when the timeout passes."""

    def __init__(self, ds, paths, process, timeout):
        self.ds, self.paths, self.process = ds, paths, process
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout

    def __call__(self, check, what):
        def answer():
            # Alive before and after the check: an answer while our server is dead (it could
            # not bind, say) came from someone else's.
            self._fail_if_exited()
            result = check()
            if result and self.process.poll() is None:
                return result
            self._fail_if_exited()
            return None
        try:
            return poll_until(answer, timeout=self.deadline - time.monotonic(), interval=self.ds.ready_poll_interval)
        except TimedOut:
            raise errors.DBaaSError(f"{what} did not answer within {self.timeout:.0f} s; "
                                    f"see {self.paths.home / 'server.log'}.") from None

    def _fail_if_exited(self):
        if self.process.poll() is not None:
            raise errors.DBaaSError(f"{self.ds.title} exited with code {self.process.returncode} "
                                    f"while starting; see {self.paths.home / 'server.log'}.")


def check_placement(band, fixed_ip=None):
    """The band (an ip_network inside 127.0.0.0/8; default DEFAULT_BAND), with ``fixed_ip``
    inside it; else errors.BadRequest naming the property."""
    try:
        network = ipaddress.ip_network(band or DEFAULT_BAND)
    except ValueError:
        raise errors.BadRequest(f"subnet_cidr: {band!r} is not a CIDR.") from None
    if network.version != 4 or not network.subnet_of(LOOPBACK):
        raise errors.BadRequest(f"subnet_cidr: {network} is not a loopback band (inside {LOOPBACK}).")
    if fixed_ip:
        try:
            inside = ipaddress.ip_address(fixed_ip) in network
        except ValueError:
            inside = False
        if not inside:
            raise errors.BadRequest(f"fixed_ip: {fixed_ip!r} is not an address in {network}.")
    return network


class _Runner:
    """Runs a datastore's setup commands as its system user, without a shell, output appended
    to server.log; what it writes to their stdin goes through a pipe, never a file or argv."""

    def __init__(self, paths, user, timeout):
        self.paths, self.user, self.timeout = paths, user, timeout

    def run(self, argv, stdin=b""):
        if len(stdin) >= 65536:
            raise ValueError("stdin for a setup command must fit in a pipe buffer")
        read_end, write_end = os.pipe()
        try:
            if self.user is not None:
                # /dev/stdin is reopened by path after the uid change: the pipe must be theirs.
                os.fchown(read_end, self.user.pw_uid, self.user.pw_gid)
            os.write(write_end, stdin)
            os.close(write_end)
            write_end = None
            process = self._popen(argv, read_end)
        finally:
            os.close(read_end)
            if write_end is not None:
                os.close(write_end)
        self._finish(process, argv)

    def feed(self, argv, chunks):
        """Run argv with ``chunks`` (an iterable of bytes: a backup as it is read) streamed to
        its stdin, one chunk at a time. When the source fails (a corrupt backup) the command
        is killed and the source's error raised. A source that can ``deliver`` (a
        streams.StoredBackup) gives the command its stdin itself, read and verified by a
        worker process, and this process only waits."""
        if hasattr(chunks, "deliver"):
            return self._feed_from(argv, chunks)
        process = self._popen(argv, subprocess.PIPE)
        try:
            with contextlib.suppress(BrokenPipeError):   # it stopped reading: its exit code says why
                for chunk in chunks:
                    process.stdin.write(chunk)
                process.stdin.close()
        except BaseException:
            _kill(process)
            raise
        self._finish(process, argv)

    def _feed_from(self, argv, source):
        started = []
        try:
            source.deliver(lambda stdin: started.append(self._popen(argv, stdin)))
        except BaseException:
            for process in started:
                _kill(process)
            raise
        self._finish(started[0], argv)

    def _popen(self, argv, stdin):
        with open(self.paths.home / "server.log", "ab") as log:
            return subprocess.Popen(argv, stdin=stdin, stdout=log, stderr=log, **_child_options(self.paths, self.user))

    def _finish(self, process, argv):
        try:
            code = process.wait(self.timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            raise errors.DBaaSError(f"{Path(argv[0]).name} took longer than {self.timeout:.0f} s.") from None
        if code != 0:
            raise errors.DBaaSError(f"{Path(argv[0]).name} failed with exit code {code}; "
                                    f"see {self.paths.home / 'server.log'}.")

    def write(self, path, text):
        _write_text(path, text, mode=0o600)
        self._own(path)

    def write_stream(self, path, chunks):
        """A 0600 file of the datastore user's from an iterable of bytes."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            if hasattr(chunks, "copy_to"):   # a worker process writes it (see feed)
                chunks.copy_to(fd)
            else:
                for chunk in chunks:
                    handle.write(chunk)
        self._own(path)

    def mkdir(self, path):
        """A 0700 directory of the datastore user's."""
        os.mkdir(path, 0o700)
        self._own(path)

    def _own(self, path):
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)


# ---- small helpers -----------------------------------------------------------------------

def _datastore(datastore):
    return datastores.get(datastore) if isinstance(datastore, str) else datastore


def _source_role(ds, source):
    try:
        return ds.replication_state(source.host, source.port, source.password)["role"]
    except errors.DBaaSError:
        return None


def _kill(process):
    """Kill a setup command's process group (its own session) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _child_options(paths, user):
    """Own session (outlives us, one process group to kill), a clean environment (nothing of
    the engine's, credentials included), no inherited fds, private files by default."""
    options = {"cwd": str(paths.data), "close_fds": True, "start_new_session": True, "umask": 0o077,
               "env": dict(CHILD_ENV, HOME=str(paths.data))}
    if user is not None:
        options.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        options["env"].update(USER=user.pw_name, LOGNAME=user.pw_name)
    return options


@contextlib.contextmanager
def _flock(path):
    """An exclusive flock; per open file, so it serialises threads as well as processes."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_text(path, text, mode=0o600, group=None):
    """Write whole or not at all (a crash never leaves half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    if group is not None:
        os.fchown(fd, -1, group)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _write_server_file(ds, path, text):
    """A file the server reads by path (its config): root's, readable by the datastore's
    group only (0640), or the driver's own user's (0600) when that user runs the server."""
    user = LocalDriver._run_as(ds)
    _write_text(path, text, mode=0o640 if user else 0o600, group=user.pw_gid if user else None)


def _write_json(path, data):
    _write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _bindable(address, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _searchable(st, uid, groups):
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _pid_file_server(paths):
    """The pid in the pid file if that process is alive and is this instance's server."""
    try:
        pid = int((paths.home / "pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) and _is_ours(pid, paths) else None


def _alive(pid):
    """Running and not a zombie (reaped here when it is our own child)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _ppid(pid):
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _is_ours(pid, paths):
    """Pids get reused: a pid is this instance's only if its argv names the data dir."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return _argv_names(argv, str(paths.data))


def _argv_names(argv, data):
    """argv mentions the data dir: as an argument, an option's value, or a path inside it."""
    return any(arg == data or arg.endswith("=" + data) or data + "/" in arg for arg in argv)


def _tree_bytes(top):
    """Allocated bytes of every file under ``top`` (as du counts them), not following links."""
    total, pending = 0, [str(top)]
    while pending:
        with contextlib.suppress(OSError), os.scandir(pending.pop()) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    else:
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
    return total


def _all_pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]
