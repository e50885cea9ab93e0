"""The replication role: a primary and the replicas that follow it (see
docs/replication.md, drivers/local/, heat_plugins/local_server.py)."""
import hmac

from dbaas_api import errors
from dbaas_api.waiting import TimedOut, poll_until


class Replication:
    """A datastore whose servers can follow one another."""

    # A member of a replication set is a primary (takes writes) or a replica (follows one).
    # Every member has the same admin password (a replica's stack copies its source's).
    # A ``source`` below is an object with ``host``, ``port`` and ``password`` (that admin
    # password); ``position`` is an int that grows with what a server has written or
    # replayed (PostgreSQL: the WAL LSN), comparable between the members of one set.
    # seed_replica's source is a backup.streams.Source (datadir and a scratch workdir too:
    # tools that read the source's files need them).

    supports_replication = False
    # Whether a replica's server has its source's databases and users (they are replicated):
    # then a replica shows its source's record and a promoted one takes it over.
    replicates_accounts = True
    fence_stops_server = False   # True: fencing a primary is stopping it (see stopped_position)

    def replication_password(self, admin_password):
        """The replication account's password: derived from the admin password every member
        shares, so nothing more is kept anywhere in Heat, and it opens replication only."""
        return hmac.new(admin_password.encode(), b"heat-dbaas replication", "sha256").hexdigest()

    def check_replica_flavor(self, source_flavor, replica_flavor):
        """Refuse (errors.BadRequest) a replica flavor the datastore cannot follow a source
        of ``source_flavor`` with (default: any will do)."""

    def prepare_source(self, source):
        """On the primary, before a replica is seeded from it: what replication needs there
        (an account of its own, say). Idempotent; safe when several replicas do it at once."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def seed_replica(self, paths, version, runner, source):
        """Instead of initialise(): fill the empty paths.data from the running ``source``
        and configure the server to follow it from its first start."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def after_replica_start(self, paths, address, port, password, source):
        """Steps that need the running replica, once, right after its first start (default none)."""

    def replication_state(self, address, port, password):
        """What the running server says: {"role": "primary" or "replica", "position": int}.
        Raises errors.DBaaSError when it cannot be asked."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def follow(self, paths, runner, address, port, password, source, running, restart):
        """Make the server follow ``source`` (a primary or a replica until now). ``running``:
        whether it runs; ``restart()`` stops it if it runs and starts it (when only a
        restart makes it follow)."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def promote(self, paths, runner, address, port, password):
        """The running replica stops following and takes writes; returns once it does."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def fence(self, address, port, password):
        """The running primary stops taking writes; returns its final position (for
        datastores whose fence_stops_server is False)."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def unfence(self, address, port, password):
        """Undo fence() when the switchover cannot go on: the primary takes writes again."""

    def stopped_position(self, paths, version):
        """The final position of a cleanly stopped server (fence_stops_server datastores)."""
        raise errors.NotImplementedYet(f"{self.title} replication is not supported.")

    def wait_replayed(self, address, port, password, position, timeout):
        """Return once the running replica has replayed everything up to ``position``;
        errors.DBaaSError after ``timeout`` seconds."""
        try:
            return poll_until(lambda: self.replication_state(address, port, password),
                              until=lambda state: state["position"] >= position, timeout=timeout, interval=0.01)
        except TimedOut:
            raise errors.DBaaSError(f"The replica at {address} did not replay up to the old primary's "
                                    f"position within {timeout:.0f} s.") from None

