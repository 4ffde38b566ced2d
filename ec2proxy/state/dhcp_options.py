"""DHCP options sets, realised in Neutron.

A set is ours (``dhcp_options``); associated with a VPC made through EC2, it
is written where Neutron's DHCP agent reads it:

* ``domain-name-servers`` on each of the VPC's subnets (``dns_nameservers``;
  ``AmazonProvidedDNS`` is Neutron's own resolver, an empty list);
* ``domain-name``, ``ntp-servers``, ``netbios-name-servers`` and
  ``netbios-node-type`` as each port's ``extra_dhcp_opts``.

Ports made later get the set's options as they are made: a network interface
at CreateNetworkInterface, an instance's ports (which Nova makes while it
builds) by a background job once Neutron has them, so an instance booted into
such a VPC may see the options at its first lease renewal rather than its
first lease.
"""

from __future__ import annotations

import asyncio
import ipaddress

from sqlalchemy import select, update

from ec2proxy.cloud import BackendError
from ec2proxy.db.models import DhcpOptions, Vpc
from ec2proxy.ec2 import errors
from ec2proxy.state import jobs
from ec2proxy.state.public_addresses import ports_of_servers

AMAZON_DNS = "AmazonProvidedDNS"
# EC2 key -> the DHCP option Neutron's agent (dnsmasq) is given on the port; name servers go on the subnet
PORT_OPTIONS = {"domain-name": "domain-name", "ntp-servers": "ntp-server", "netbios-name-servers": "netbios-ns",
                "netbios-node-type": "netbios-nodetype"}
ADDRESS_KEYS = ("domain-name-servers", "ntp-servers", "netbios-name-servers")
MAX_ADDRESSES = 4
NODE_TYPES = ("1", "2", "4", "8")
JOB = "RunInstances.DhcpOptions"
WAIT = 60.0


def validated(configurations: list[dict]) -> list[dict]:
    """CreateDhcpOptions' DhcpConfigurations, checked as EC2 checks them, in the order given."""
    seen: set[str] = set()
    out = []
    for item in configurations or []:
        key, values = str(item.get("Key") or ""), [str(v) for v in item.get("Values") or []]
        if key == "ipv6-address-preferred-lease-time":
            raise errors.UnsupportedOperation("Neutron's DHCP agent has no per-network IPv6 lease time.")
        if key not in PORT_OPTIONS and key != "domain-name-servers":
            raise errors.InvalidParameterValue(f"Value ({key[:64]}) for parameter key is invalid. Unknown "
                                               "DHCP option")
        if key in seen:
            raise errors.InvalidParameterValue(f"The DHCP option '{key}' is given more than once")
        if not values:
            raise errors.InvalidParameterValue(f"The DHCP option '{key}' needs at least one value")
        seen.add(key)
        if key in ADDRESS_KEYS:
            _addresses(key, values)
        elif key == "netbios-node-type" and (len(values) != 1 or values[0] not in NODE_TYPES):
            raise errors.InvalidParameterValue("netbios-node-type must be one of 1, 2, 4 or 8")
        elif key == "domain-name" and any(not v or len(v) > 255 or "," in v for v in values):
            raise errors.InvalidParameterValue("Invalid domain-name value")
        out.append({"Key": key, "Values": values})
    if not out:
        raise errors.MissingParameter("The request must contain the parameter dhcpConfiguration")
    return out


def _addresses(key: str, values: list[str]) -> None:
    if len(values) > MAX_ADDRESSES:
        raise errors.InvalidParameterValue(f"Value for {key} can have at most {MAX_ADDRESSES} addresses")
    if key == "domain-name-servers" and AMAZON_DNS in values:
        if len(values) > 1:
            raise errors.UnsupportedOperation("AmazonProvidedDNS is Neutron's own resolver, which a subnet uses "
                                              "only when it names no other server.")
        return
    for value in values:
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise errors.InvalidParameterValue(f"Value ({value[:64]}) for parameter {key} is invalid. It must "
                                               "be an IPv4 address") from None


def _values(configurations: list[dict] | None, key: str) -> list[str]:
    return next((c["Values"] for c in configurations or [] if c["Key"] == key), [])


def name_servers(configurations: list[dict] | None) -> list[str]:
    """A subnet's ``dns_nameservers`` under the set (none: Neutron's own resolver)."""
    return [v for v in _values(configurations, "domain-name-servers") if v != AMAZON_DNS]


def port_options(configurations: list[dict] | None) -> list[dict]:
    """A port's ``extra_dhcp_opts`` under the set: each option the set has none of is removed (Neutron
    removes an option given with a null value and keeps the ones not named)."""
    out = []
    for key, option in PORT_OPTIONS.items():
        values = _values(configurations, key)
        out.append({"opt_name": option, "opt_value": ",".join(values) if values else None, "ip_version": 4})
    return out


def options_of_port(port: dict) -> list[dict]:
    """The options of ``port_options``' names that the port carries now, in the same shape."""
    held = {o.get("opt_name"): o.get("opt_value") for o in port.get("extra_dhcp_opts") or []
            if o.get("ip_version", 4) in (4, "4", None)}
    return [{"opt_name": name, "opt_value": held.get(name), "ip_version": 4} for name in PORT_OPTIONS.values()]


def takes_options(port: dict) -> bool:
    """Instances' ports and network interfaces; Neutron's own (router, DHCP) are left alone."""
    return not (port.get("device_owner") or "").startswith(("network:", "neutron:"))


async def apply(neutron, subnets: list[dict], ports: list[dict], configurations: list[dict] | None) -> None:
    """Write the set onto the VPC's subnets and ports, only where it changes something; all or nothing: on a
    failure what was changed is put back before the failure is raised."""
    servers = name_servers(configurations)
    wanted = port_options(configurations)
    undo: list[tuple[str, str, dict]] = []
    try:
        for subnet in subnets:
            if subnet.get("ip_version", 4) == 4 and list(subnet.get("dns_nameservers") or []) != servers:
                await neutron.update("subnet", subnet["id"], {"dns_nameservers": servers})
                undo.append(("subnet", subnet["id"], {"dns_nameservers": subnet.get("dns_nameservers") or []}))
        for port in ports:
            if takes_options(port) and options_of_port(port) != wanted:
                await neutron.update("port", port["id"], {"extra_dhcp_opts": wanted})
                undo.append(("port", port["id"], {"extra_dhcp_opts": options_of_port(port)}))
    except BaseException:
        for kind, os_id, before in reversed(undo):
            try:
                await neutron.update(kind, os_id, before)
            except BackendError:
                pass  # gone meanwhile: nothing to put back
        raise


async def of_networks(sessions, project_id: str, network_ids: list[str]) -> dict[str, list[dict]]:
    """The DHCP options set of each of these networks that has one (VPCs made through EC2)."""
    if not network_ids:
        return {}
    async with sessions() as session:
        rows = (await session.execute(select(Vpc.os_id, DhcpOptions.configurations).join(
            DhcpOptions, DhcpOptions.dhcp_options_id == Vpc.dhcp_options_id).where(
            Vpc.project_id == project_id, Vpc.os_id.in_(network_ids)))).tuples().all()
    return dict(rows)


async def in_use(ctx, dhcp_options_id: str) -> bool:
    """Whether a VPC is associated with the set."""
    async with ctx.services.sessions() as session:
        return (await session.scalars(select(Vpc.os_id).where(
            Vpc.dhcp_options_id == dhcp_options_id))).first() is not None


async def associate(session, network_id: str, dhcp_options_id: str) -> None:
    """The VPC's set (or ``default``) as Describe shows it, once Neutron holds its options."""
    await session.execute(update(Vpc).where(Vpc.os_id == network_id).values(dhcp_options_id=dhcp_options_id))


async def schedule(ctx, view, reservation_id: str, server_ids: list[str], by_network: dict[str, list[dict]]) -> None:
    """Give the launched servers' ports on these networks their set's options once Nova has made them (a
    background job)."""
    await jobs.schedule(ctx, view, JOB, [reservation_id], {"servers": server_ids, "networks": by_network})


@jobs.runner(JOB)
async def _to_launched(services, operation, view) -> None:
    details = operation.details or {}
    by_network = details.get("networks") or {}
    ports = [p for p in await ports_of_servers(view, list(details.get("servers") or []), WAIT)
             if p["network_id"] in by_network]
    changes = {}
    for port in ports:
        wanted = port_options(by_network[port["network_id"]])
        if options_of_port(port) != wanted:
            changes[port["id"]] = wanted
    await asyncio.gather(*(view.neutron.update("port", port_id, {"extra_dhcp_opts": wanted})
                           for port_id, wanted in changes.items()))
