"""MariaDB's admin session: databases (schemas), 'name'@'host' accounts, root, access and
configuration on a running server."""
import ipaddress

import pymysql

from dbaas_api import errors
from dbaas_api.datastores.base import INTEGER, Admin, AdminSession, closing_session
from dbaas_api.datastores.mariadb.client import Client, quoted_account, ident, native_hash, reason

# Server error numbers that mean something about the request rather than a fault.
ERRNO_ERRORS = {
    1007: errors.Conflict,   # ER_DB_CREATE_EXISTS
    1008: errors.NotFound,   # ER_DB_DROP_EXISTS
    1049: errors.NotFound,   # ER_BAD_DB_ERROR
    1133: errors.NotFound,   # ER_PASSWORD_NO_MATCH: no such user
    1141: errors.NotFound,   # ER_NONEXISTING_GRANT
}

_SIZE_SUFFIX = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}



class MariaDBAdmin(Client, Admin):
    def admin_session(self, host, port, password):
        try:
            connection = self.connect(host, port, password)
        except pymysql.MySQLError as exc:
            raise errors.ServiceUnavailable(
                f"Cannot connect to MariaDB at {host}:{port} as {self.admin_user}: {reason(exc)}") from None
        return closing_session(MariaDBSession(self, connection), connection)



class MariaDBSession(AdminSession):
    """Users are 'name'@'host' accounts, databases are schemas; access is
    ``ALL PRIVILEGES ON `db`.*``.

    Statements are built with backtick-quoted identifiers (backticks doubled) and string
    literals escaped by the connection, and run without PyMySQL's %-formatting. In GRANT and
    REVOKE the database name is a LIKE pattern: '_' and '%' are escaped there, or a grant on
    `my_db` would also open `myXdb`.
    """

    def __init__(self, datastore, connection):
        super().__init__(datastore)
        self.connection = connection

    def _execute(self, statement):
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall()
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args else None
            if "Errcode: 36" in reason(exc):
                # ENAMETOOLONG: a database is a directory, its name encoded (@002f for '/'...)
                # and the encoded form can pass 255 bytes while the name is within 64 characters.
                raise errors.BadRequest("field 'database': too long for MariaDB once encoded as a "
                                        "file name; use fewer punctuation characters.") from exc
            cls = ERRNO_ERRORS.get(code, errors.DBaaSError)
            raise cls(f"MariaDB: {reason(exc)}") from exc

    def _literal(self, value):
        return self.connection.escape(value)

    def _account(self, user, host):
        return quoted_account(self.connection, user, host)

    def _exists(self, user, host):
        return bool(self._execute(
            f"SELECT 1 FROM mysql.global_priv WHERE User = {self._literal(user)} "
            f"AND Host = {self._literal(host)}"))

    def _require_user(self, user, host):
        if not self._exists(user, host):
            raise errors.NotFound(f"User '{user}'@'{host}' does not exist.")

    def _require_database(self, database):
        if not self._execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = "
                             + self._literal(database)):
            raise errors.NotFound(f"Database '{database}' does not exist.")

    def ping(self):
        return self._execute("SELECT 1") == ((1,),)

    def create_database(self, name, character_set=None, collate=None):
        self.datastore.validate_database_name(name)
        charset, collation = self.datastore.database_options(character_set, collate)
        # Both are names from mariadb_collations.py's table (letters, digits, _): no quoting.
        options = f" CHARACTER SET {charset} COLLATE {collation}" if charset else ""
        self._execute(f"CREATE DATABASE {ident(name)}{options}")

    def drop_database(self, name):
        """Grants outlive a dropped database in MariaDB; revoke them first, or a later database
        of the same name would open to the old users."""
        self.datastore.validate_database_name(name)
        self._require_database(name)
        for user, host in self._execute(
                f"SELECT User, Host FROM mysql.db WHERE Db = {self._literal(_pattern(name))}"):
            self._execute(f"REVOKE ALL PRIVILEGES ON {_on(name)} FROM {self._account(user, host)}")
        self._execute(f"DROP DATABASE {ident(name)}")

    def list_databases(self):
        reserved = self.datastore.reserved_databases
        return sorted(row[0] for row in self._execute("SHOW DATABASES") if row[0].casefold() not in reserved)

    def create_user(self, spec):
        self._check_user_spec(spec)
        for database in spec.databases:
            self._require_database(database)
        if self._exists(spec.name, spec.host):
            raise errors.Conflict(f"User '{spec.name}'@'{spec.host}' already exists.")
        account = self._account(spec.name, spec.host)
        self._execute(f"CREATE USER {account} IDENTIFIED BY PASSWORD "
                      f"{self._literal(native_hash(spec.password))}")
        for database in spec.databases:
            self._execute(f"GRANT ALL PRIVILEGES ON {_on(database)} TO {account}")

    def drop_user(self, name, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_host(host)
        self._require_user(name, host)
        self._execute(f"DROP USER {self._account(name, host)}")

    def set_password(self, name, password, host="%"):
        self.datastore.validate_user_name(name)
        self.datastore.validate_password(password)
        self.datastore.validate_host(host)
        self._require_user(name, host)
        self._execute(f"ALTER USER {self._account(name, host)} IDENTIFIED BY PASSWORD "
                      f"{self._literal(native_hash(password))}")

    def rename_user(self, name, host, new_name, new_host, password):
        """RENAME USER moves its privileges; its password hash does not depend on the name."""
        self._check_accounts((name, host), (new_name, new_host))
        self._require_user(name, host)
        if self._exists(new_name, new_host):
            raise errors.Conflict(f"User '{new_name}'@'{new_host}' already exists.")
        self._execute(f"RENAME USER {self._account(name, host)} TO {self._account(new_name, new_host)}")

    def grant(self, user, database, host="%"):
        self._check(user, database, host)
        self._execute(f"GRANT ALL PRIVILEGES ON {_on(database)} TO {self._account(user, host)}")

    def revoke(self, user, database, host="%"):
        self._check(user, database, host)
        self._execute(f"REVOKE ALL PRIVILEGES ON {_on(database)} FROM {self._account(user, host)}")

    def list_users(self):
        reserved = self.datastore.reserved_users
        grants = {}
        for user, host, pattern in self._execute("SELECT User, Host, Db FROM mysql.db"):
            grants.setdefault((user, host), []).append(_unpattern(pattern))
        rows = self._execute("SELECT User, Host FROM mysql.global_priv ORDER BY User, Host")
        return [{"name": user, "host": host, "databases": sorted(grants.get((user, host), []))}
                for user, host in rows if user and user.casefold() not in reserved]

    def list_user_databases(self, user, host="%"):
        self.datastore.validate_user_name(user)
        self.datastore.validate_host(host)
        self._require_user(user, host)
        rows = self._execute(f"SELECT Db FROM mysql.db WHERE User = {self._literal(user)} "
                             f"AND Host = {self._literal(host)}")
        return sorted(_unpattern(row[0]) for row in rows)

    def _check(self, user, database, host):
        self.datastore.validate_user_name(user)
        self.datastore.validate_database_name(database)
        self.datastore.validate_host(host)
        self._require_user(user, host)
        self._require_database(database)

    def enable_root(self, password):
        """root@'%' with every privilege and GRANT OPTION, as Trove's root is."""
        self.datastore.validate_password(password)
        account = self._account(self.datastore.root_user, "%")
        verb = "ALTER" if self._exists(self.datastore.root_user, "%") else "CREATE"
        self._execute(f"{verb} USER {account} IDENTIFIED BY PASSWORD {self._literal(native_hash(password))}")
        self._execute(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")

    def disable_root(self):
        self._execute(f"DROP USER IF EXISTS {self._account(self.datastore.root_user, '%')}")

    def apply_access(self, allowed_cidrs):
        """The same check as access.cnf's, live: new connections follow it at once."""
        self._execute(f"SET GLOBAL init_connect = {self._literal(self.datastore.access_check(allowed_cidrs))}")

    def apply_logs(self, settings):
        """The file first, then the switch (a log turned on writes to its own file at once)."""
        for name, value in settings.items():
            self._execute(f"SET GLOBAL {name} = {self._literal(value) if name.endswith('_file') else value}")

    def apply_configuration(self, version, flavor, values, previous):
        """SET GLOBAL for what the running server can change (the driver's override file
        keeps the values for the next start); a value no longer given goes back to the
        instance's own setting, or to the server's DEFAULT when it has none."""
        values = self.datastore.validate_configuration(version, values)  # only known names and values
        rules = self.datastore.parameters(version)
        for name in sorted(set(previous) - set(values)):
            if name in rules and not rules[name].restart_required:
                baseline = self.datastore.baseline(version, flavor, name)
                self._set_global(name, "DEFAULT" if baseline is None else self._value(rules[name], baseline))
        for name, value in sorted(values.items()):
            if not rules[name].restart_required:
                self._set_global(name, self._value(rules[name], value))

    def _set_global(self, name, value_sql):
        self._execute(f"SET GLOBAL {ident(name)} = {value_sql}")

    def _value(self, rule, value):
        if isinstance(value, bool):
            return "ON" if value else "OFF"
        if rule.type == INTEGER and isinstance(value, str):  # a size from our config: 256M
            value = int(value[:-1]) * _SIZE_SUFFIX[value[-1].upper()] if value[-1:].isalpha() else int(value)
        if isinstance(value, (int, float)):
            return repr(value)
        return self._literal(value)


def access_check(allowed_cidrs, service_accounts=()):
    """A compound statement that fails (SQLSTATE 28000) unless the connecting client's
    address is in one of ``allowed_cidrs`` or it is one of ``service_accounts`` (USER()
    texts, 'os_repl@127.0.0.1': names of ours, never a user's); "" (no check) when every
    address may connect.
    Only numbers from ipaddress go into it. A client with no address (the unix socket,
    which only the server's OS user can reach) is refused as well."""
    networks = [ipaddress.IPv4Network(cidr) for cidr in allowed_cidrs]
    if not networks or any(network.prefixlen == 0 for network in networks):
        return ""
    client = "INET_ATON(SUBSTRING_INDEX(USER(), '@', -1))"
    allowed = " OR ".join([f"({client} & {int(network.netmask)}) = {int(network.network_address)}"
                           for network in networks] + [f"USER() = '{account}'" for account in service_accounts])
    return (f"BEGIN NOT ATOMIC IF NOT COALESCE({allowed}, FALSE) THEN "
            "SIGNAL SQLSTATE '28000' SET MESSAGE_TEXT = 'Access denied: this address is not allowed'; "
            "END IF; END")



def _on(database):
    """The target of GRANT/REVOKE for all of one database."""
    return f"{ident(_pattern(database))}.*"


def _pattern(database):
    """A database name as GRANT reads it: a LIKE pattern, so escape its wildcards."""
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def _unpattern(pattern):
    out, chars = [], iter(pattern)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)


