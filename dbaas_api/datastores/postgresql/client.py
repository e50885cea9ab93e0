"""How every PostgreSQL role talks to the server: one connection (psycopg2), where the
binaries are, and values as postgresql.conf and ALTER SYSTEM read them."""
import base64
import contextlib
import hashlib
import hmac
import os

import psycopg2

from dbaas_api import errors

NO_PASSFILE = os.path.join(os.devnull, "pgpass")



class Client:
    """The admin connection every PostgreSQL role opens (``connect``). SERVICE_OPTIONS keeps
    its statements (CREATE ROLE ... PASSWORD, ALTER SYSTEM ...) out of the general log a user
    may enable, and out of log_min_duration_statement's."""
    SERVICE_OPTIONS = "-c log_statement=none -c log_min_duration_statement=-1"
    bin_dir = "/usr/lib/postgresql/{version}/bin"

    def connect(self, host, port, password, dbname="postgres", timeout=5):
        # passfile: a path that cannot exist, so no ~/.pgpass of the engine's user ever
        # supplies or masks a password (/dev/null itself draws a warning from libpq).
        return psycopg2.connect(host=host, port=port, user=self.admin_user, password=password,
                                dbname=dbname, connect_timeout=timeout, passfile=NO_PASSFILE,
                                application_name="heat-dbaas", options=self.SERVICE_OPTIONS)


    @contextlib.contextmanager
    def _connected(self, host, port, password, timeout=5):
        try:
            connection = self.connect(host, port, password, timeout=timeout)
        except psycopg2.Error as exc:
            raise errors.ServiceUnavailable(f"Cannot connect to PostgreSQL at {host}:{port}: {reason(exc)}") from None
        connection.autocommit = True
        try:
            with contextlib.closing(connection), connection.cursor() as cursor:
                yield cursor
        except psycopg2.Error as exc:
            raise errors.DBaaSError(f"PostgreSQL at {host}:{port}: {reason(exc)}") from None



def setting_value(value):
    """A parameter's value as PostgreSQL reads it: booleans as on/off, numbers as they are."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


def scram_verifier(password, iterations=4096):
    """PostgreSQL's stored form of a password (SCRAM-SHA-256, RFC 7677), computed without a
    server: what ALTER ROLE ... PASSWORD takes instead of the password itself."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
    return (f"SCRAM-SHA-256${iterations}:{b64(salt)}$"
            f"{b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}")


def conf_value(value):
    """A postgresql.conf value: numbers bare, strings single-quoted with quotes doubled."""
    value = setting_value(value)
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def reason(exc):
    """The server's own one-line message (never contains the statement or a password)."""
    diag = getattr(exc, "diag", None)
    text = ((diag and diag.message_primary) or str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__
