"""PostgreSQL's admin session: databases, LOGIN roles, root, pg_hba.conf reloads and
ALTER SYSTEM on a running server."""
import contextlib

import psycopg2
from psycopg2 import extensions, sql

from dbaas_api import errors
from dbaas_api.datastores.base import Admin, AdminSession, closing_session
from dbaas_api.datastores.postgresql.client import Client, reason, setting_value
from dbaas_api.waiting import TimedOut, poll_until

RELOAD_WAIT = 10   # seconds a reload may take to reach new connections
# Server errors that mean something about the request rather than a fault (SQLSTATE codes).
SQLSTATE_ERRORS = {
    "42P04": errors.Conflict,   # duplicate_database
    "42710": errors.Conflict,   # duplicate_object: the role exists
    "55006": errors.Conflict,   # object_in_use
    "2BP01": errors.Conflict,   # dependent_objects_still_exist
    "3D000": errors.NotFound,   # invalid_catalog_name: no such database
    "42704": errors.NotFound,   # undefined_object: no such role
}


class PostgreSQLAdmin(Client, Admin):
    def admin_session(self, host, port, password):
        try:
            connection = self.connect(host, port, password)
        except psycopg2.Error as exc:
            raise errors.ServiceUnavailable(f"Cannot connect to PostgreSQL at {host}:{port} "
                                            f"as {self.admin_user}: {reason(exc)}") from None
        connection.autocommit = True
        return closing_session(PostgreSQLSession(self, connection, host, port, password), connection)



class PostgreSQLSession(AdminSession):
    """Users are LOGIN roles, databases are databases.

    Access to a database is CONNECT on it (``REVOKE ALL ... FROM PUBLIC`` on every database we
    create, so a user not granted one is refused at connect time) plus USAGE and CREATE on its
    ``public`` schema. PostgreSQL 15 took CREATE on public away from PUBLIC; granting it per user
    (rather than making the user the database or schema owner) lets several users share one
    database, each creating tables there. Tables stay owned by whoever created them.
    """

    def __init__(self, datastore, connection, host, port, password):
        super().__init__(datastore)
        self.connection = connection
        self._endpoint = (host, port, password)

    def _execute(self, statement, params=None, connection=None):
        try:
            with (connection or self.connection).cursor() as cursor:
                cursor.execute(statement, params)
                return cursor.fetchall() if cursor.description else None
        except psycopg2.Error as exc:
            cls = SQLSTATE_ERRORS.get(exc.pgcode, errors.DBaaSError)
            raise cls(f"PostgreSQL: {reason(exc)}") from exc

    @contextlib.contextmanager
    def _in_database(self, database):
        """An admin connection to another database: schema privileges live inside each one."""
        host, port, password = self._endpoint
        try:
            connection = self.datastore.connect(host, port, password, dbname=database)
        except psycopg2.Error as exc:
            raise errors.ServiceUnavailable(
                f"Cannot connect to database '{database}': {reason(exc)}") from None
        connection.autocommit = True
        with contextlib.closing(connection):
            yield connection

    def _require_user(self, name):
        if not self._execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)):
            raise errors.NotFound(f"User '{name}' does not exist.")

    def ping(self):
        return self._execute("SELECT 1") == [(1,)]

    def create_database(self, name, character_set=None, collate=None):
        self.datastore.validate_database_name(name)
        encoding, locale = self.datastore.database_options(character_set, collate)
        ident = sql.Identifier(name)
        statement = sql.SQL("CREATE DATABASE {} ENCODING {}").format(ident, sql.Literal(encoding or "UTF8"))
        if locale:   # template1 has initdb's locale: another one starts from template0
            statement += sql.SQL(" LC_COLLATE {0} LC_CTYPE {0} TEMPLATE template0").format(sql.Literal(locale))
        self._execute(statement)
        self._execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))

    def drop_database(self, name):
        self.datastore.validate_database_name(name)
        self._execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))

    def list_databases(self):
        rows = self._execute(
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> ALL(%s) ORDER BY 1",
            (sorted(self.datastore.reserved_databases),))
        return [row[0] for row in rows]

    def create_user(self, spec):
        self._check_user_spec(spec)
        self._execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(spec.name), sql.Literal(self._verifier(spec.name, spec.password))))
        try:
            for database in spec.databases:
                self.grant(spec.name, database)
        except Exception:
            with contextlib.suppress(errors.DBaaSError):
                self._execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(spec.name)))
            raise

    def drop_user(self, name, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_host(host)
        self._require_user(name)
        self._drop_role(name)

    def _drop_role(self, name):
        """Objects the role owns are handed to the admin (their data stays), then it goes."""
        ident = sql.Identifier(name)
        self._execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
        rows = self._execute("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate")
        for (database,) in rows:
            with self._in_database(database) as connection:
                self._execute(sql.SQL("REASSIGN OWNED BY {} TO {}").format(
                    ident, sql.Identifier(self.datastore.admin_user)), connection=connection)
                self._execute(sql.SQL("DROP OWNED BY {}").format(ident), connection=connection)
        self._execute(sql.SQL("DROP ROLE {}").format(ident))

    def set_password(self, name, password, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_password(password)
        self.datastore.validate_host(host)
        self._require_user(name)
        self._execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(self._verifier(name, password))))

    def rename_user(self, name, host, new_name, new_host, password):
        """ALTER ROLE ... RENAME TO: its grants and objects stay its own. PostgreSQL clears
        an MD5 password on a rename (the name is its salt; a SCRAM one stays): set again."""
        self._check_accounts((name, host), (new_name, new_host))
        self._require_user(name)
        if self._execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (new_name,)):
            raise errors.Conflict(f"User '{new_name}' already exists.")
        self._execute(sql.SQL("ALTER ROLE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(new_name)))
        if self._execute("SELECT 1 FROM pg_authid WHERE rolname = %s AND rolpassword IS NULL", (new_name,)):
            self.set_password(new_name, password)

    def grant(self, user, database, host="%"):
        self._check(user, database, host)
        self._execute(sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(
            sql.Identifier(database), sql.Identifier(user)))
        with self._in_database(database) as connection:
            self._execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(user)),
                          connection=connection)

    def revoke(self, user, database, host="%"):
        self._check(user, database, host)
        self._execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
            sql.Identifier(database), sql.Identifier(user)))
        with self._in_database(database) as connection:
            self._execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(sql.Identifier(user)),
                          connection=connection)

    def list_users(self):
        rows = self._execute("""
            SELECT r.rolname,
                   ARRAY(SELECT d.datname FROM pg_database d
                         WHERE NOT d.datistemplate AND d.datname <> ALL(%s)
                           AND has_database_privilege(r.oid, d.oid, 'CONNECT') ORDER BY 1)
            FROM pg_roles r
            WHERE r.rolcanlogin AND NOT r.rolsuper AND r.rolname <> %s
            ORDER BY 1""", (sorted(self.datastore.reserved_databases), self.datastore.admin_user))
        return [{"name": name, "host": "%", "databases": list(databases)} for name, databases in rows]

    def list_user_databases(self, user, host="%"):
        self.datastore.validate_user_name(user)
        self._require_user(user)
        rows = self._execute("""
            SELECT datname FROM pg_database
            WHERE NOT datistemplate AND datname <> ALL(%s)
              AND has_database_privilege(%s, oid, 'CONNECT') ORDER BY 1""",
                             (sorted(self.datastore.reserved_databases), user))
        return [row[0] for row in rows]

    def enable_root(self, password):
        self.datastore.validate_password(password)
        name = self.datastore.root_user
        verb = "ALTER" if self._execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)) else "CREATE"
        self._execute(sql.SQL(verb + " ROLE {} LOGIN SUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS "
                              "PASSWORD {}").format(sql.Identifier(name), sql.Literal(self._verifier(name, password))))

    def disable_root(self):
        name = self.datastore.root_user
        if self._execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)):
            self._drop_role(name)

    def apply_access(self, allowed_cidrs):
        """Reload pg_hba.conf (new connections follow it; open ones stay), after checking
        that the server reads the file without an error (it would keep the old rules).
        Returns once a new connection sees the reload: the postmaster applies it a moment
        after it is asked, and a client right after the change must meet the new rules."""
        broken = self._execute("SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL")
        if broken:
            raise errors.DBaaSError(f"PostgreSQL cannot read pg_hba.conf line {broken[0][0]}: {broken[0][1]}")
        self._reload("pg_hba.conf")

    def apply_logs(self, settings):
        """The log settings file is written: a reload applies it (the collector waits for a
        start, see PostgreSQLProcess.log_settings)."""
        self._reload("the log settings")

    def apply_override_file(self):
        """postgresql.conf includes the override file: a reload reads it (ALTER SYSTEM's
        postgresql.auto.conf, read last, still wins where both set a name)."""
        self._reload("the configuration override file")

    def _reload(self, what):
        """pg_reload_conf(), returning once a new connection sees it: the postmaster reloads
        a moment after it is asked, and a client right after the change (the API answers
        once it is applied) must meet the new rules and values."""
        [(before,)] = self._execute("SELECT pg_conf_load_time()")
        self._execute("SELECT pg_reload_conf()")

        def loaded():
            with self._in_database("postgres") as connection:
                return self._execute("SELECT pg_conf_load_time()", connection=connection)[0][0] > before
        try:
            poll_until(loaded, timeout=RELOAD_WAIT, interval=0.01)
        except TimedOut:
            raise errors.DBaaSError(f"PostgreSQL did not reload {what} within {RELOAD_WAIT} s.") from None

    def apply_configuration(self, version, flavor, values, previous):
        """ALTER SYSTEM (kept by the server in postgresql.auto.conf), then a reload; what
        needs a restart stays pending (pg_settings.pending_restart) until one."""
        values = self.datastore.validate_configuration(version, values)  # only known names and values
        rules = self.datastore.parameters(version)
        for name in sorted(set(previous) - set(values)):
            if name in rules:
                self._execute(sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name)))
        for name, value in sorted(values.items()):
            self._execute(sql.SQL("ALTER SYSTEM SET {} = {}").format(
                sql.Identifier(name), sql.Literal(setting_value(value))))
        self._reload("its configuration")

    def _check(self, user, database, host):
        self.datastore.validate_user_name(user)
        self.datastore.validate_database_name(database)
        self.datastore.validate_host(host)

    def _verifier(self, user, password):
        """The SCRAM verifier, computed here: the password itself never travels to the server,
        so it cannot show up in pg_stat_activity or a server log."""
        return extensions.encrypt_password(password, user, self.connection, "scram-sha-256")

