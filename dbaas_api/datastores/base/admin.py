"""The admin session role: databases, users, root, access and configuration on one running
server, through its admin account (the engine plugins and service/accounts.py use it)."""
import contextlib

from dbaas_api import errors


class Admin:
    """A datastore whose running server we manage through an admin account."""

    def admin_session(self, host, port, password):
        """A context manager yielding an AdminSession connected as ``admin_user``."""
        raise errors.NotImplementedYet(f"{self.title} has no admin session.")


class AdminSession:
    """Databases and users on one running server, through its admin account.

    Every method validates its names first (bad input is a 400, never a server error),
    then runs the datastore's own statements with driver-side quoting.
    Missing things raise errors.NotFound, existing ones errors.Conflict.
    """

    def __init__(self, datastore):
        self.datastore = datastore

    def _no_databases(self, *args, **kwargs):
        raise errors.NotImplementedYet(f"{self.datastore.title} has no databases.")

    def _no_root(self, *args, **kwargs):
        raise errors.NotImplementedYet(f"{self.datastore.title} has no root user.")

    def ping(self):
        raise NotImplementedError

    def create_database(self, name, character_set=None, collate=None):
        """``character_set`` and ``collate`` as Datastore.database_options returns them."""
        raise NotImplementedError

    def drop_database(self, name):
        raise NotImplementedError

    def list_databases(self):
        """Names of the databases users can have, system ones left out, sorted."""
        raise NotImplementedError

    def create_user(self, spec):
        """Create the account of a model.UserSpec and grant it spec.databases."""
        raise NotImplementedError

    def _check_user_spec(self, spec):
        """A new account's name, password, host and the names of the databases it is to be
        granted, before any statement runs."""
        ds = self.datastore
        ds.validate_user_name(spec.name)
        ds.validate_password(spec.password)
        ds.validate_host(spec.host)
        for database in spec.databases:
            ds.validate_database_name(database)

    def drop_user(self, name, host="%"):
        raise NotImplementedError

    def set_password(self, name, password, host="%"):
        raise NotImplementedError

    def rename_user(self, name, host, new_name, new_host, password):
        """Give the account ``name``@``host`` a new name and host, keeping its grants and
        what it owns; ``password`` is the one it has (for datastores that cannot keep it).
        NotFound when it is not there, Conflict when the new account exists."""
        raise NotImplementedError

    def _check_accounts(self, *accounts):
        for name, host in accounts:
            self.datastore.validate_user_name(name)
            self.datastore.validate_host(host)

    def grant(self, user, database, host="%"):
        raise NotImplementedError

    def revoke(self, user, database, host="%"):
        raise NotImplementedError

    def list_users(self):
        """[{"name", "host", "databases": [...]}] for the accounts users made, sorted by name."""
        raise NotImplementedError

    def list_user_databases(self, user, host="%"):
        raise NotImplementedError

    def enable_root(self, password):
        """Create the superuser datastore.root_user with ``password``, or give it that
        password when it exists."""
        raise NotImplementedError

    def disable_root(self):
        """Remove datastore.root_user (tolerates it being gone)."""
        raise NotImplementedError

    def apply_access(self, allowed_cidrs):
        """Make the running server follow the access file just written for ``allowed_cidrs``
        (a reload, or the same rule set live), without a restart."""
        raise errors.NotImplementedYet(f"{self.datastore.title} cannot filter clients by address.")

    def apply_logs(self, settings):
        """Make the running server follow LocalProcess.log_settings() ``settings``, just
        written to its log settings file, without a restart."""
        raise errors.NotImplementedYet(f"{self.datastore.title} has no USER logs.")

    def apply_override_file(self):
        """The override file was rewritten: a server that reads it at a reload takes it now.
        MariaDB and Redis read it only at start (their live values are apply_configuration's)."""

    def apply_configuration(self, version, flavor, values, previous):
        """Make the running server follow ``values`` where ``previous`` was applied before:
        set the new and changed ones, return the ones no longer given to their baseline.
        Parameters that need a restart are recorded where the server reads them at start
        and left to the restart."""
        raise NotImplementedError


@contextlib.contextmanager
def closing_session(session, connection):
    """Yield session and always close the connection behind it."""
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):
            connection.close()
