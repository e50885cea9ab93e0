"""Networks and volume types: what the operator offers instances (``Settings.networks_file``,
the packaged ``etc/networks.yaml`` by default). No Flask here.

Trove's clients send ``nics: [{"net-id" | "network_id", "subnet_id", "ip_address"}]`` and
``volume: {"type": ...}`` with every create. Each is checked against the offer and either
honoured or refused with a 400 naming it, never accepted and ignored:
- a network is found by id or name; its subnet by id (or the network's first); an
  ``ip_address`` must lie inside that subnet. On the local driver a subnet's CIDR is a band
  of loopback addresses (127.0.0.0/8 is all loopback on Linux) the instance's address is
  taken from; on the cloud driver the ids are Neutron's and the address is Neutron's port's.
- a volume type is found by name or id; the local driver has one storage (the state
  directory's disk), which the packaged offer lists as its one type.
The choice travels to Heat as stack parameters (``Placement``), never as template text.
"""
import functools
import ipaddress
from dataclasses import dataclass

import yaml

from dbaas_api import errors
from dbaas_api.model import Placement


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    cidr: str


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    subnets: tuple  # of Subnet; the first is where an instance goes unless told otherwise


@dataclass(frozen=True)
class VolumeType:
    id: str
    name: str
    description: str = ""
    is_public: bool = True


@dataclass(frozen=True)
class Offer:
    networks: tuple      # of Network; the first is the default
    volume_types: tuple  # of VolumeType; the first is the default

    def network(self, reference, field):
        for network in self.networks:
            if reference in (network.id, network.name):
                return network
        raise errors.BadRequest(f"{field}: network '{_shown(reference)}' is not offered here "
                                f"(GET /networks lists those that are).")

    def volume_type(self, reference):
        """The volume type named or numbered ``reference``, else None."""
        return next((v for v in self.volume_types if reference in (v.id, v.name)), None)

    def placement(self, nics, volume_type=None):
        """The Placement a create's ``nics`` (shape-validated: at most one) and volume type ask for."""
        nic = (nics or [{}])[0]
        field = "nics[0]"
        network_ref = nic.get("network_id") or nic.get("net-id")
        subnet_ref = nic.get("subnet_id")
        if network_ref:
            network = self.network(network_ref, f"{field}.{'network_id' if nic.get('network_id') else 'net-id'}")
        elif subnet_ref:
            network = next((n for n in self.networks if any(s.id == subnet_ref for s in n.subnets)), None)
            if network is None:
                raise errors.BadRequest(f"{field}.subnet_id: subnet '{_shown(subnet_ref)}' is not offered here.")
        else:
            network = self.networks[0]
        subnet = network.subnets[0]
        if subnet_ref:
            subnet = next((s for s in network.subnets if s.id == subnet_ref), None)
            if subnet is None:
                raise errors.BadRequest(f"{field}.subnet_id: subnet '{_shown(subnet_ref)}' is not a subnet of "
                                        f"network '{network.name}' ({network.id}).")
        fixed_ip = nic.get("ip_address") or ""
        if fixed_ip:
            try:
                address = ipaddress.IPv4Address(fixed_ip)
            except ValueError:
                raise errors.BadRequest(f"{field}.ip_address: '{_shown(fixed_ip)}' is not an IPv4 address.") from None
            band = ipaddress.ip_network(subnet.cidr)
            if address not in band or address in (band.network_address, band.broadcast_address):
                raise errors.BadRequest(f"{field}.ip_address: {address} is not a host address of subnet "
                                        f"'{subnet.name}' ({subnet.cidr}).")
            fixed_ip = str(address)
        chosen_type = self.volume_types[0] if volume_type is None else self.volume_type(volume_type)
        if chosen_type is None:
            raise errors.BadRequest(f"volume.type: volume type '{_shown(volume_type)}' is not offered here "
                                    "(GET /volume-types lists those that are).")
        return Placement(network_id=network.id, subnet_id=subnet.id, cidr=subnet.cidr, fixed_ip=fixed_ip,
                         volume_type=chosen_type.name)


def load(path):
    """The offer in ``path`` (YAML: ``networks`` with their ``subnets``, ``volume_types``)."""
    return _load(str(path))


@functools.lru_cache(maxsize=4)
def _load(path):
    with open(path) as handle:
        data = yaml.safe_load(handle) or {}
    networks = tuple(
        Network(id=str(n["id"]), name=str(n["name"]),
                subnets=tuple(Subnet(id=str(s["id"]), name=str(s.get("name", s["id"])),
                                     cidr=str(ipaddress.ip_network(s["cidr"]))) for s in n["subnets"]))
        for n in data.get("networks") or ())
    volume_types = tuple(VolumeType(id=str(v["id"]), name=str(v["name"]), description=str(v.get("description", "")),
                                    is_public=bool(v.get("is_public", True)))
                         for v in data.get("volume_types") or ())
    if not networks or not all(network.subnets for network in networks) or not volume_types:
        raise ValueError(f"{path}: at least one network (each with a subnet) and one volume type are needed.")
    return Offer(networks, volume_types)


def _shown(value):
    value = str(value)
    return value if len(value) <= 60 else value[:60] + "..."
