"""An instance as list and show present it: read from its stack (tags; outputs on show) and
from the live signal of its server (service/health.py). Below every service that shows an
instance (instances, backups, management), so none of them calls another to read one."""
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from dbaas_api import records, status
from dbaas_api.model import AccessSpec, Placement
from dbaas_api.service import health as health_probe

# A server that is down while Heat builds the instance or restarts it for a change: what the
# operating_status says instead of SHUTDOWN.
STARTING = {status.BUILD: "BUILD", status.REBOOT: "RESTARTING", status.RESIZE: "RESTARTING"}


@dataclass(frozen=True)
class Instance:
    """What the views show about one instance, read from its stack."""
    id: str
    name: str
    status: str
    datastore: str
    version: str
    flavor_id: str
    volume_size: int | None
    created: str
    updated: str
    address: str | None = None
    port: int | None = None
    fault: str | None = None  # why the last operation failed, when status is ERROR
    configuration_id: str | None = None
    configuration_name: str | None = None  # show only: the group's name costs a Heat call
    access: AccessSpec = AccessSpec()  # a list's from tags; show reads the stack's parameters
    replica_of: str | None = None           # the instance this replica follows
    replicas: tuple | None = None           # show only: the ids of the instances following this one
    operating_status: str = ""  # the database's own health, from a live signal (service/health.py)
    volume_used: float | None = None  # GB under the data dir (show only)
    progress: tuple | None = None  # (done, total) resources while Heat works (show only)
    placement: Placement | None = None  # its network and volume type (show only)
    service_status_updated: str | None = None  # when operating_status was read (it is live)


def live(instances, probe):
    """The instances with their operating_status from the live signal: HEALTHY while the
    server runs; a server that is not running is SHUTDOWN, and a settled instance (ACTIVE
    or RESTART_REQUIRED) whose server died shows status SHUTDOWN too, as Trove shows it
    (restart brings it back); while Heat builds it or restarts it for a change, the
    server being down is expected: BUILD or RESTARTING."""
    health = probe.operating_status([instance.id for instance in instances])
    read_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    live = []
    for instance in instances:
        operating = health.get(instance.id, "")
        settled = instance.status in (status.ACTIVE, status.RESTART_REQUIRED)
        if operating == health_probe.SHUTDOWN and instance.status in STARTING:
            operating = STARTING[instance.status]
        died = settled and operating == health_probe.SHUTDOWN
        live.append(replace(instance, operating_status=operating, service_status_updated=read_at if operating else None,
                            status=status.SHUTDOWN if died else instance.status))
    return tuple(live)


def from_stack(stack):
    """A stack from Heat's list (tags only) or show (outputs too) -> Instance."""
    instance_tags = records.instance.TAGS.decode(stack.get("tags"))
    outputs = records.stack.outputs(stack)
    created = stack.get("creation_time") or ""
    trove_status = status.instance_status(stack.get("stack_status"), instance_tags)
    fault = status.fault_message(stack.get("stack_status_reason")) if trove_status == status.ERROR else None
    return instance(
        stack["id"], instance_tags, trove_status,
        created=created, updated=stack.get("updated_time") or created,
        address=outputs.get("address") or None, port=_port(outputs.get("port")), fault=fault)


def instance(stack_id, instance_tags, trove_status, **fields):
    fields.setdefault("access", AccessSpec(instance_tags.is_public, instance_tags.allowed_cidrs))
    return Instance(
        id=stack_id, name=instance_tags.name, status=trove_status,
        datastore=instance_tags.datastore, version=instance_tags.version,
        flavor_id=instance_tags.flavor_id, volume_size=instance_tags.volume_size,
        configuration_id=instance_tags.configuration_id, replica_of=instance_tags.replica_of, **fields)


def _port(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
