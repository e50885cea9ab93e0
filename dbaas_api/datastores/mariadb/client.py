"""How every MariaDB role talks to the server: one connection (PyMySQL) and the quoting
the statements are built with."""
import contextlib
import hashlib
import os
import pwd

import pymysql

from dbaas_api import errors


class Client:
    """The admin connection every MariaDB role opens (``connect``). SERVICE_SESSION keeps its
    statements (CREATE USER ... IDENTIFIED BY PASSWORD, CHANGE MASTER ... MASTER_PASSWORD)
    out of the general and slow query logs a user may enable: sql_log_off, and a slow-log
    threshold no statement reaches."""

    SERVICE_SESSION = "SET SESSION sql_log_off = 1, SESSION long_query_time = 31536000"

    def connect(self, host=None, port=None, password="", user=None, unix_socket=None, timeout=5,
                io_timeout=60):
        # Passwords go as UTF-8 bytes (PyMySQL would encode a str as latin-1 and fail on others).
        return pymysql.connect(host=host, port=port or self.port, user=user or self.admin_user,
                               password=password.encode("utf-8"), unix_socket=unix_socket,
                               connect_timeout=timeout, read_timeout=io_timeout, write_timeout=io_timeout,
                               charset="utf8mb4", autocommit=True, init_command=self.SERVICE_SESSION)


    @contextlib.contextmanager
    def _replication_cursor(self, host, port, password, timeout=5):
        try:
            connection = self.connect(host, port, password, timeout=timeout, io_timeout=30)
        except pymysql.MySQLError as exc:
            raise errors.ServiceUnavailable(f"Cannot connect to MariaDB at {host}:{port}: {reason(exc)}") from None
        try:
            with contextlib.closing(connection), connection.cursor() as cursor:
                yield connection, cursor
        except pymysql.MySQLError as exc:
            raise errors.DBaaSError(f"MariaDB at {host}:{port}: {reason(exc)}") from None



def ident(name):
    return "`" + name.replace("`", "``") + "`"


def quoted_account(connection, user, host):
    return f"{connection.escape(user)}@{connection.escape(host)}"


def native_hash(password):
    """mysql_native_password's stored form, computed here so the password never travels in
    a statement (nor shows in the process list)."""
    return "*" + hashlib.sha1(hashlib.sha1(password.encode("utf-8")).digest()).hexdigest().upper()



def os_user():
    return pwd.getpwuid(os.geteuid()).pw_name



def reason(exc):
    return str(exc.args[1]) if len(exc.args) > 1 else str(exc) or type(exc).__name__
