"""Where an instance's files are and what they hold: the state dir, each instance's home,
its records (owner.json, instance.json, membership.json), the server files written for it
(config, overrides, access rules, cluster file) and its loopback address.

The layout of ``<state>/instances/<key>/`` is drawn in drivers/local/__init__.py. Files are
written whole or not at all; a file the server reads is root's and readable by the
datastore's group only. No password is written here.
"""
import contextlib
import dataclasses
import fcntl
import ipaddress
import json
import os
import pwd
import re
import shutil
import socket
import stat
import time
from pathlib import Path

from dbaas_api import errors

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
DEFAULT_BAND = "127.0.0.0/16"   # where instances go on a stack that names no subnet
# Members take addresses from 127.0.MEMBER_BAND.1 up (see drivers/local/clusters.py).
MEMBER_BAND = 100

# Keys become directory names: Heat physical resource names and UUIDs fit.
KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
# The state dir ends up inside config files: refuse what would need quoting there.
PATH_PATTERN = re.compile(r"[A-Za-z0-9_./+@:,=-]+")


class StateDir:
    """The state dir and the instance homes under it: names, records, addresses, files.

    Address allocation holds ``<state>/instances/.lock``; each instance has its own lock.
    """

    def __init__(self, state_dir):
        self.state_dir = Path(os.path.abspath(state_dir))
        self.instances_dir = self.state_dir / "instances"

    def owner(self, key):
        """What owner.json says, also for a directory a crash left half made; None if absent."""
        return read_json(self._home(key) / "owner.json")

    def keys(self):
        """The key of every instance directory, including any a crash left half made."""
        if not self.instances_dir.is_dir():
            return []
        return sorted(entry.name for entry in self.instances_dir.iterdir()
                      if entry.is_dir() and KEY_PATTERN.fullmatch(entry.name))

    def home(self, key):
        """The instance's directory (its config files, server.log, data/)."""
        return self._home(key)

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
        return read_json(home / "instance.json")


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
            if fixed_ip in claimed or not bindable(fixed_ip, port):
                raise errors.Conflict(f"nics[0].ip_address: {fixed_ip} is in use.")
            return fixed_ip
        network = check_placement(band)
        skip = first * 256 if network.num_addresses > (first + 1) * 256 else 1
        for offset in range(skip, network.num_addresses - 1):
            address = str(network.network_address + offset)
            if address.endswith((".0", ".255")) or address in claimed:
                continue
            if bindable(address, port):
                return address
        raise errors.ServiceUnavailable(f"No free loopback address is left in {network} for a new local instance.")

    def _move(self, ds, paths, flavor, membership=None):
        """Give a not yet started instance a new address (config and record)."""
        with flock(self.instances_dir / ".lock"):
            record = self._record(paths.home)
            address = self._free_address(ds.port, MEMBER_BAND if membership is not None else 1,
                                         record.get("band"), record.get("fixed_ip"))
            record["address"] = address
            if membership is not None:   # what it learnt of the cluster under its old address
                ds.forget_member_state(paths)
            self._write_membership(ds, paths, address, membership)
            self._write_config(ds, paths, address, ds.port, flavor)
            write_json(paths.home / "instance.json", record)
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
            write_server_file(ds, paths.conf(name), text)
        if not paths.conf(ds.override_file).exists():
            StateDir._write_overrides(ds, paths, None, {})
        if ds.access_file and not paths.conf(ds.access_file).exists():
            StateDir._write_access(ds, paths, ())
        if ds.log_settings_file and not paths.conf(ds.log_settings_file).exists():
            write_logs(ds, paths)

    @staticmethod
    def _write_overrides(ds, paths, version, values):
        """Only values the datastore's rules accept reach a config file."""
        values = ds.validate_configuration(version, values) if values else {}
        for name, text in ds.override_files(values).items():
            write_server_file(ds, paths.conf(name), text)

    @staticmethod
    def _write_access(ds, paths, allowed_cidrs):
        if not ds.filters_clients:
            if any(not cidr.endswith("/0") for cidr in allowed_cidrs):
                raise errors.BadRequest(f"{ds.title} cannot refuse clients by address on this driver.")
            return
        for name, text in ds.access_files(list(allowed_cidrs)).items():
            write_server_file(ds, paths.conf(name), text)

    @contextlib.contextmanager
    def _claim(self, paths, ds, version, flavor, owner, first=1, band=None, fixed_ip=None):
        """Under the state dir's lock: make the instance directory, write owner.json (before
        anything is spawned) and instance.json with the lowest free address. Yields that
        address, holding the instance's own lock until the caller is done with it."""
        home = paths.home
        with contextlib.ExitStack() as held:
            with flock(self.instances_dir / ".lock"):
                try:
                    home.mkdir(mode=0o711)
                except FileExistsError:
                    raise errors.Conflict(f"Local instance '{home.name}' already exists.") from None
                try:
                    os.chmod(home, 0o711)  # whatever the umask: the server's user must traverse it
                    held.enter_context(flock(home / ".lock"))
                    write_json(home / "owner.json", dict(owner or {}))
                    address = self._free_address(ds.port, first, band, fixed_ip)
                    write_json(home / "instance.json", {
                        "datastore": ds.name, "version": version, "address": address, "port": ds.port,
                        "flavor": dataclasses.asdict(flavor), "created_at": time.time(),
                        **({"band": band} if band else {}), **({"fixed_ip": fixed_ip} if fixed_ip else {})})
                except BaseException:
                    shutil.rmtree(home, ignore_errors=True)
                    raise
            yield address

    @staticmethod
    def _write_membership(ds, paths, address, membership):
        if membership is None:
            return
        for name, text in ds.cluster_files(paths, address, membership).items():
            write_server_file(ds, paths.conf(name), text)
        write_json(paths.home / "membership.json", membership)


def write_logs(ds, paths, starting=False):
    """The datastore's log settings file from logs.json (the USER logs that are on, and those
    the running server started with); ``starting``: the server is about to start, so it starts
    with every log that is on, and that is recorded. The settings, for the running server."""
    if not ds.log_settings_file:
        return {}
    state = read_json(paths.home / "logs.json") or {}
    enabled = state.get("enabled", [])
    if starting and state.get("started") != enabled:
        write_json(paths.home / "logs.json", {"enabled": enabled, "started": enabled})
    settings = ds.log_settings(paths, set(enabled), set(enabled if starting else state.get("started", [])))
    for name, text in ds.log_files(settings).items():
        write_server_file(ds, paths.conf(name), text)
    return settings


def run_as(ds):
    """The datastore's system user when we are root (the servers refuse root), else None:
    an unprivileged driver runs servers as itself."""
    if os.geteuid() != 0 or not ds.system_user:
        return None
    try:
        return pwd.getpwnam(ds.system_user)
    except KeyError:
        raise errors.DBaaSError(f"System user '{ds.system_user}' for {ds.title} does not exist; "
                                "is the datastore installed?") from None


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


@contextlib.contextmanager
def flock(path):
    """An exclusive flock; per open file, so it serialises threads as well as processes."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_text(path, text, mode=0o600, group=None):
    """Write whole or not at all (a crash never leaves half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    if group is not None:
        os.fchown(fd, -1, group)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_server_file(ds, path, text):
    """A file the server reads by path (its config): root's, readable by the datastore's
    group only (0640), or the driver's own user's (0600) when that user runs the server."""
    user = run_as(ds)
    write_text(path, text, mode=0o640 if user else 0o600, group=user.pw_gid if user else None)


def write_json(path, data):
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def bindable(address, port):
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


def tree_bytes(top):
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


def make_private_dirs(ds, paths, user):
    """The server's own directories outside its data dir (LocalProcess.private_dirs)."""
    for directory in ds.private_dirs(paths):
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, 0o700)
            if user is not None:
                os.chown(directory, user.pw_uid, user.pw_gid)
