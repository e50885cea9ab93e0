"""Trove's ``access`` of an instance: ``is_public`` and ``allowed_cidrs``. No Flask here.

What a request means is checked here, before the renderer or Heat see anything:
- ``allowed_cidrs``: IPv4 networks, at most MAX_CIDRS, each at most once. A network with
  host bits set (``10.1.2.3/8``) is refused rather than silently widened or narrowed: the
  instance must show exactly what was asked, and the message names the network meant. A
  bare address is one host (``/32``). IPv6 is refused: instances have IPv4 addresses only,
  on both drivers. An empty list means every address (Trove's default, 0.0.0.0/0).
- ``is_public``: on the cloud driver, a floating IP on the public network as well. On the
  local driver the host is the whole world: an instance's loopback address is reachable
  from every address the host has (and from nowhere else), which is what ``true`` asks for
  there; the instance shows the value it was given.
- On the local driver the datastore itself refuses clients from other addresses; a
  datastore that cannot (Redis: no per-address access control) refuses a restriction.

On a change (``PUT /instances/{id}``) a key left out keeps its current value, so
``openstack database instance update --allowed-cidr X`` (which sends only allowed_cidrs)
leaves is_public alone.
"""
import ipaddress

from dbaas_api import errors
from dbaas_api.model import AccessSpec

MAX_CIDRS = 20


def requested(body, current=AccessSpec()):
    """The AccessSpec that ``body`` (the request's ``access`` object, shape-validated) asks
    for, starting from ``current``."""
    if not isinstance(body, dict):
        raise errors.BadRequest("access must be an object with 'is_public' and/or 'allowed_cidrs'.")
    unknown = sorted(set(body) - {"is_public", "allowed_cidrs"})
    if unknown:
        raise errors.BadRequest(f"access.{unknown[0]}: unknown field; use 'is_public' and 'allowed_cidrs'.")
    is_public = body.get("is_public", current.is_public)
    if not isinstance(is_public, bool):
        raise errors.BadRequest("access.is_public must be true or false.")
    cidrs = current.allowed_cidrs
    if "allowed_cidrs" in body:
        cidrs = allowed_cidrs(body["allowed_cidrs"])
    return AccessSpec(is_public=is_public, allowed_cidrs=cidrs)


def allowed_cidrs(values):
    """The canonical text of each network (``10.0.0.0/8``), in the order given."""
    if not isinstance(values, list):
        raise errors.BadRequest("access.allowed_cidrs must be a list of IPv4 CIDRs such as \"10.0.0.0/8\".")
    if len(values) > MAX_CIDRS:
        raise errors.BadRequest(f"access.allowed_cidrs: at most {MAX_CIDRS} networks, not {len(values)}.")
    networks = []
    for index, value in enumerate(values):
        where = f"access.allowed_cidrs[{index}]"
        if not isinstance(value, str):
            raise errors.BadRequest(f"{where} must be a string such as \"10.0.0.0/8\".")
        text = value.strip()
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise errors.BadRequest(f"{where} is not a CIDR such as \"10.0.0.0/8\": {_shown(value)}.") from None
        if network.version != 4:
            raise errors.BadRequest(f"{where}: IPv6 is not supported (instances have IPv4 addresses only).")
        if ipaddress.ip_interface(text).ip != network.network_address:
            raise errors.BadRequest(f"{where}: {text} has host bits set; did you mean {network}?")
        if str(network) in networks:
            raise errors.BadRequest(f"{where}: {network} is listed more than once.")
        networks.append(str(network))
    return tuple(networks)


def check_driver(access, datastore, settings):
    """Refuse what the instance's driver cannot honour (see the module's docstring)."""
    if settings.local_driver:
        check_local(access, datastore)
    # else a cloud driver: a security group filters every datastore alike


def check_local(access, datastore):
    """What the local driver cannot do (also checked by its Heat plugin, for raw templates)."""
    if restricts(access) and not datastore.filters_clients:
        raise errors.BadRequest(f"access.allowed_cidrs is not supported by {datastore.name} on this driver: "
                                f"{datastore.title} has no access control by client address.")


def restricts(access):
    """Whether any client address is left out (0.0.0.0/0 among the networks: none is)."""
    return bool(access.allowed_cidrs) and "0.0.0.0/0" not in access.allowed_cidrs


def _shown(value):
    return repr(value if len(value) <= 60 else value[:60] + "...")
