"""How every Redis role talks to the server: one client (redis-py, no hidden retries), the
replication account every member has, and values as CONFIG SET and redis.conf read them."""
import contextlib
import hashlib

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from dbaas_api import errors


class Client:
    """The admin connection every Redis role opens (``connect``)."""
    replication_user = "os_repl"
    REPLICATION_RULES = ("on", "resetkeys", "resetchannels", "-@all", "+psync", "+replconf", "+ping", "+sync")

    def connect(self, host, port, password, timeout=5, io_timeout=60):
        # No hidden retries: redis-py's default backoff turns one refused connect into 4 s.
        return redis.Redis(host=host, port=port, password=password, socket_connect_timeout=timeout,
                           socket_timeout=io_timeout, decode_responses=True,
                           retry=Retry(NoBackoff(), 0))


    def _info(self, address, port, password):
        with self._replication_client(address, port, password, timeout=2) as client:
            return client.info("replication")

    @contextlib.contextmanager
    def _replication_client(self, host, port, password, timeout=5):
        client = self.connect(host, port, password, timeout=timeout, io_timeout=30)
        try:
            yield client
        except redis.RedisError as exc:
            raise errors.DBaaSError(f"Redis at {host}:{port}: {exc}") from None
        finally:
            client.close()


    def _replication_account(self, client, admin_password):
        client.execute_command("ACL", "SETUSER", self.replication_user, "reset",
                               f"#{sha256(self.replication_password(admin_password))}", *self.REPLICATION_RULES)
        client.execute_command("ACL", "SAVE")



def wire(value):
    """A value as CONFIG SET and redis.conf read it: booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def conf_value(value):
    """Strings in double quotes (an empty one must still be an argument); a configuration's
    strings hold no quotes or backslashes (allowed values or a pattern without them)."""
    return f'"{value}"' if isinstance(value, str) else wire(value)


def sha256(password):
    """The form Redis keeps passwords in (ACL '#<hex>'); sent this way the password itself
    never reaches the server or its ACL file."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()
