"""Reading another instance's stack from inside the engine (no plugin of its own).

A backup, and a replica, need an instance's server: its address and port, its key on the
driver, the admin password its stack made and, when the server runs on this host, its data
directory (which the server resource itself says: this module knows no driver). They load
the instance's stack from Heat's own database in this engine and read its ``server``
resource and the value of its ``admin_password`` resource, so the password never becomes a parameter, property,
attribute or output of the stack that needs it. All stacks live in the service project;
the API checked that the instance is the caller's before any of this runs.
"""
from dataclasses import dataclass
from pathlib import Path

from heat.common import exception

from dbaas_api.errors import DBaaSError


@dataclass(frozen=True)
class Endpoint:
    instance_id: str
    host: str
    port: int
    key: str          # the server's resource id: its key on the driver
    password: str     # the instance's admin password: pass it on, never show it
    datadir: Path = None   # the server's files, when they are on this host (a local server)

    def __repr__(self):  # never the password, also not in a traceback or a log line
        return f"Endpoint({self.instance_id}, {self.host}:{self.port})"


def endpoint(context, instance_id, running=True):
    """The server of instance ``instance_id``; DBaaSError when it is gone (or, with
    ``running``, when it has no address)."""
    from heat.engine import stack as parser   # the engine's, loaded once it runs
    gone = DBaaSError(f"Instance {instance_id} no longer exists.")
    try:
        instance = parser.Stack.load(context, stack_id=instance_id, show_deleted=False)
    except exception.NotFound:
        raise gone from None
    server, secret = instance.resources.get("server"), instance.resources.get("admin_password")
    if server is None or secret is None or server.resource_id is None:
        raise gone
    host, port = server.FnGetAtt("address"), server.FnGetAtt("port")
    if running and (not host or not port):
        raise DBaaSError(f"The server of instance {instance_id} is not running.")
    return Endpoint(instance_id=instance_id, host=host, port=int(port) if port else 0,
                    key=server.resource_id, password=secret.FnGetAtt("value"),
                    datadir=server.data_dir() if hasattr(server, "data_dir") else None)
