"""``operating_status``: is the database itself alive? A live signal, not the stack's status.

A stack says CREATE_COMPLETE for ever, also after its server died, so the instance views ask
the place the servers run. What that is depends on the driver the environment file picks:

- Local driver (the embedded profile): the API and the engine run on one machine and share
  the state dir, so the signal is the driver's process table: for each server, its pid file
  and ``/proc/<pid>`` (alive, not a zombie, its argv naming the instance's data dir). Reading
  it costs a directory listing plus a few small file reads per instance and no network call
  or Heat call, so a list page gets the signal for every instance on it at once, and a server
  that died shows SHUTDOWN on the next show or list. Servers are matched to instances by the
  stack id their ``owner.json`` records (read once per server, then remembered: it never
  changes).
- Any other driver (a cloud): the API cannot see the servers' processes, and the list has no
  addresses (tags only), so this module answers "unknown" (``operating_status`` ""), never a
  guess. The cloud-side design is a probe of ``address:port`` with a short timeout on show
  and, for lists, a periodic Heat stack check whose result the list reads from the stack
  status (see docs/api.md). Not built yet for the cloud driver
  (templates/environments/openstack.yaml).

The same process table gives ``volume.used`` (bytes under the data dir) on show, and a list
page's addresses (each server's ``instance.json``), which Heat's stack list does not return.
"""
import threading

from dbaas_api.drivers.local import LocalDriver

HEALTHY, SHUTDOWN = "HEALTHY", "SHUTDOWN"


def probe_for(settings):
    """The probe the configured environment allows: the local process table when servers are
    local processes under this state dir, else one that knows nothing."""
    if settings.local_driver:
        return ProcessTable(settings.state_dir)
    return NoProbe()


class NoProbe:
    def operating_status(self, stack_ids):
        return {}

    def addresses(self, stack_ids):
        return {}

    def used_bytes(self, stack_id):
        return None

    def home(self, stack_id):
        return None


class ProcessTable:
    """The local driver's view of its servers, by the instance (stack) they belong to."""

    def __init__(self, state_dir):
        self.driver = LocalDriver(state_dir)
        self._owners = {}   # server key -> the stack id its owner.json names
        self._lock = threading.Lock()   # API threads share one table

    def operating_status(self, stack_ids):
        """{stack id: HEALTHY or SHUTDOWN} for each of ``stack_ids`` that has a server here;
        one that has none (not made yet, or not a local server) is left out: unknown."""
        wanted = set(stack_ids)
        found = {}
        for key, stack_id in self._servers():
            if stack_id in wanted:
                running = self.driver.is_running(key)
                found[stack_id] = HEALTHY if running and found.get(stack_id, HEALTHY) == HEALTHY else SHUTDOWN
        return found

    def addresses(self, stack_ids):
        """{stack id: the address its server listens on} (instance.json, written when the
        address was allocated, never changed after), for a list page's addresses."""
        wanted = set(stack_ids)
        found = {}
        for key, stack_id in self._servers():
            if stack_id in wanted and stack_id not in found:
                server = self.driver.get(key)
                if server is not None:
                    found[stack_id] = server.address
        return found

    def home(self, stack_id):
        """The directory of the instance's (first) server, where its log files are; None
        when it has none here."""
        keys = sorted(key for key, owner in self._servers() if owner == stack_id)
        return self.driver.home(keys[0]) if keys else None

    def used_bytes(self, stack_id):
        """Bytes under the instance's data dir (its servers', together); None when unknown."""
        sizes = [self.driver.disk_usage(key) for key, owner in self._servers() if owner == stack_id]
        sizes = [size for size in sizes if size is not None]
        return sum(sizes) if sizes else None

    def _servers(self):
        """[(key, stack id)] of every server directory here."""
        keys = self.driver.keys()
        with self._lock:
            for key in set(self._owners) - set(keys):
                del self._owners[key]   # destroyed since
            for key in keys:
                if key not in self._owners:
                    owner = self.driver.owner(key)
                    if owner is not None:   # else being made: owner.json is a moment away
                        self._owners[key] = owner.get("stack_id")
            return [(key, self._owners[key]) for key in keys if key in self._owners]
