"""Role changes of a local server in a replication set (see docs/replication.md): fence,
promote, follow. What they mean for a datastore is asked of its module; ``source`` is any
object with host, port and password (the admin password every member of a set shares).
"""
import contextlib

from dbaas_api import datastores, errors
from dbaas_api.datastores.base import Paths
from dbaas_api.drivers.local.layout import flock, run_as
from dbaas_api.drivers.local.processes import Runner
from dbaas_api.waiting import TimedOut, poll_until


class ReplicationSteps:
    """The replication part of LocalDriver (which gives it get, start, stop, _start, _stop)."""

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
        with flock(home / ".lock"):
            ds.promote(Paths(home), Runner(Paths(home), run_as(ds), self.INIT_TIMEOUT),
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
        with flock(home / ".lock"):
            paths = Paths(home)

            def restart():
                self._stop(key, None)
                self._start(key, admin_password, None)
            ds.follow(paths, Runner(paths, run_as(ds), self.INIT_TIMEOUT), instance.address,
                      instance.port, admin_password, source, self._pid(key) is not None, restart)


def _source_role(ds, source):
    try:
        return ds.replication_state(source.host, source.port, source.password)["role"]
    except errors.DBaaSError:
        return None
