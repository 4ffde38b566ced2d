"""The network read model: Neutron networks, subnets and ports as EC2 VPCs, subnets and network interfaces.

How EC2's VPC networking maps onto Neutron (README, "VPC networking"):

* a VPC is a Neutron network (its subnets are the VPC's subnets) and, when made through EC2, a Neutron router
  whose interfaces on those subnets are the VPC's local route; our ``vpcs`` row keeps the VPC's CIDR block,
  the router and the DNS attributes, which Neutron has no field for. The project's other networks are VPCs as
  they are (the one Nova gives an instance by default is the default VPC);
* a subnet is a Neutron subnet of that network; MapPublicIpOnLaunch lives in ``subnet_settings``;
* an internet gateway is ours (``internet_gateways``); attached, it is the VPC router's external gateway;
* route tables, their routes and associations are ours; a route to an instance or a network interface is an
  extra route of the VPC's router (next hop: the port's address);
* a network interface is a Neutron port; its secondary private addresses are more fixed IPs of it, its
  primary one named by a tag (``ec2proxy.ec2.vpcs.primary_fixed_ip``);
* a DHCP options set is ours; associated, it is the subnets' name servers and the ports' extra DHCP options
  (``ec2proxy.state.dhcp_options``);
* a project with no network gets a default VPC when it first needs one (``ec2proxy.state.default_vpc``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any, Awaitable, Callable, Collection

from sqlalchemy import select

from ec2proxy.cloud import BackendNotFound, CloudView
from ec2proxy.cloud.clients import Neutron
from ec2proxy.context import RequestContext
from ec2proxy.db.models import InternetGateway, RouteTable, SubnetSetting, Vpc, VpcGroup
from ec2proxy.ec2 import errors, filters, ids, tagging, vpcs
from ec2proxy.ec2.servers import hostname
from ec2proxy.ec2.vpcs import association_id
from ec2proxy.readmodels import tag_reads

_get = filters.path
VPC_FILTERS = {
    "vpc-id": _get("VpcId"), "cidr": _get("CidrBlock"), "cidr-block": _get("CidrBlock"),
    "cidr-block-association.cidr-block": _get("CidrBlockAssociationSet.CidrBlock"),
    "cidr-block-association.association-id": _get("CidrBlockAssociationSet.AssociationId"),
    "cidr-block-association.state": _get("CidrBlockAssociationSet.CidrBlockState.State"),
    "is-default": _get("IsDefault"), "owner-id": _get("OwnerId"), "state": _get("State"),
    "dhcp-options-id": _get("DhcpOptionsId"), "instance-tenancy": _get("InstanceTenancy"),
    "ipv6-cidr-block-association.ipv6-cidr-block": _get("Ipv6CidrBlockAssociationSet.Ipv6CidrBlock"),
    **tagging.FILTERS,
    "ipv6-cidr-block-association.association-id": _get("Ipv6CidrBlockAssociationSet.AssociationId"),
    "ipv6-cidr-block-association.state": _get("Ipv6CidrBlockAssociationSet.Ipv6CidrBlockState.State"),
    "ipv6-cidr-block-association.ipv6-pool": filters.absent,
}
SUBNET_FILTERS = {
    "subnet-id": _get("SubnetId"), "vpc-id": _get("VpcId"), "cidr-block": _get("CidrBlock"),
    "cidr": _get("CidrBlock"), "cidrBlock": _get("CidrBlock"), "availability-zone": _get("AvailabilityZone"),
    "availabilityZone": _get("AvailabilityZone"), "default-for-az": _get("DefaultForAz"),
    "defaultForAz": _get("DefaultForAz"), "state": _get("State"), "owner-id": _get("OwnerId"),
    "available-ip-address-count": _get("AvailableIpAddressCount"),
    "map-public-ip-on-launch": _get("MapPublicIpOnLaunch"), "subnet-arn": _get("SubnetArn"),
    "ipv6-cidr-block-association.ipv6-cidr-block": _get("Ipv6CidrBlockAssociationSet.Ipv6CidrBlock"),
    **tagging.FILTERS,
    "ipv6-cidr-block-association.association-id": _get("Ipv6CidrBlockAssociationSet.AssociationId"),
    "ipv6-cidr-block-association.state": _get("Ipv6CidrBlockAssociationSet.Ipv6CidrBlockState.State"),
    "ipv6-native": _get("Ipv6Native"),
    **dict.fromkeys(("availability-zone-id", "customer-owned-ipv4-pool", "enable-dns64", "enable-lni-at-device-index",
                     "map-customer-owned-ip-on-launch", "outpost-arn",
                     "private-dns-name-options-on-launch.enable-resource-name-dns-a-record",
                     "private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record",
                     "private-dns-name-options-on-launch.hostname-type"), filters.absent),
}
ENI_FILTERS = {
    "network-interface-id": _get("NetworkInterfaceId"), "subnet-id": _get("SubnetId"), "vpc-id": _get("VpcId"),
    "private-ip-address": _get("PrivateIpAddresses.PrivateIpAddress"), "mac-address": _get("MacAddress"),
    "status": _get("Status"), "owner-id": _get("OwnerId"), "availability-zone": _get("AvailabilityZone"),
    "attachment.instance-id": _get("Attachment.InstanceId"), "attachment.status": _get("Attachment.Status"),
    "attachment.device-index": _get("Attachment.DeviceIndex"), "group-id": _get("Groups.GroupId"),
    "group-name": _get("Groups.GroupName"), "description": _get("Description"),
    "association.public-ip": _get("Association.PublicIp"),
    "association.allocation-id": _get("Association.AllocationId"),
    "interface-type": _get("InterfaceType"), "source-dest-check": _get("SourceDestCheck"),
    **tagging.tag_filters("TagSet"),
    "addresses.association.owner-id": _get("PrivateIpAddresses.Association.IpOwnerId"),
    "addresses.association.public-ip": _get("PrivateIpAddresses.Association.PublicIp"),
    "addresses.primary": _get("PrivateIpAddresses.Primary"),
    "addresses.private-ip-address": _get("PrivateIpAddresses.PrivateIpAddress"),
    "association.association-id": _get("Association.AssociationId"),
    "association.ip-owner-id": _get("Association.IpOwnerId"),
    "association.public-dns-name": _get("Association.PublicDnsName"),
    "attachment.attach-time": filters.times("Attachment.AttachTime"),
    "attachment.attachment-id": _get("Attachment.AttachmentId"),
    "attachment.delete-on-termination": _get("Attachment.DeleteOnTermination"),
    "attachment.instance-owner-id": _get("Attachment.InstanceOwnerId"),
    "ipv6-addresses.ipv6-address": _get("Ipv6Addresses.Ipv6Address"), "private-dns-name": _get("PrivateDnsName"),
    "requester-managed": _get("RequesterManaged"),
    **dict.fromkeys(("availability-zone-id", "operator.managed", "operator.principal", "requester-id"),
                    filters.absent),
}


def owner(obj: dict) -> str:
    return obj.get("project_id") or obj.get("tenant_id") or ""


async def network_state(ctx: RequestContext, with_ports: bool = False, only_ports: bool = False) -> dict:
    """Networks, subnets (and ports, floating IPs, groups; ``only_ports``: ports alone) of the project, one
    listing each, and our rows of them, concurrently."""
    view = await ctx.cloud()
    neutron = neutron_of(view)
    calls: list[Any] = [neutron.list("network"), neutron.list("subnet"), _rows(ctx)]
    if with_ports:
        calls += [neutron.list("port", {"fields": ["id", "network_id", "fixed_ips", "project_id", "tenant_id",
                                                   "device_id", "device_owner"]}) if only_ports
                  else neutron.list("port"),
                  asyncio.sleep(0, []) if only_ports else neutron.list("floatingip"),
                  asyncio.sleep(0, []) if only_ports else neutron.list("security_group", {"fields": ["id", "name"]})]
    found: list[Any] = list(await asyncio.gather(*calls))
    networks = vpcs.usable(found[0], ctx.project_id)
    usable = {n["id"] for n in networks}
    rows, settings = found[2]
    state: dict[str, Any] = {
        "networks": networks, "subnets": [s for s in found[1] if s["network_id"] in usable],
        "default": vpcs.default_network(found[0], ctx.project_id, {k for k, r in rows.items() if not r.default_for}),
        "vpcs": rows, "settings": settings}
    if with_ports:
        state.update(ports=[p for p in found[3] if owner(p) == ctx.project_id and p["network_id"] in usable],
                     fips=found[4], groups={g["id"]: g["name"] for g in found[5]})
    return state


async def default_vpc_id(ctx: RequestContext, fresh: bool = False) -> str | None:
    """The project's default VPC (``_default_vpc_of``; ``fresh``: not from memory)."""
    async def made() -> set[str]:
        async with ctx.services.sessions() as session:
            return set((await session.scalars(select(Vpc.os_id).where(
                Vpc.project_id == ctx.project_id, Vpc.default_for.is_(None)))).all())

    return await _default_vpc_of(await ctx.cloud(), ctx.project_id, made, fresh)


async def vpc_state(ctx: RequestContext, vpc_id: str, with_ports: bool = False) -> dict:
    """``network_state`` narrowed to one VPC, found without listing the project's networks: its network by
    GET (its id from this process's memory or our rows; a network of the project's own never seen here is
    looked up in the listing once), its subnets (and ports, floating IPs) by filtered listings."""
    ids.check("vpc", vpc_id)
    os_id = ids.os_id_of(vpc_id)
    async with ctx.services.sessions() as session:
        if os_id is None:
            made = (await session.scalars(select(Vpc.os_id).where(Vpc.project_id == ctx.project_id))).all()
            os_id = next((m for m in made if ids.from_uuid("vpc", m) == vpc_id), None)
    if os_id is None:  # a network of the project's own this process has not seen yet
        return {**(state := await network_state(ctx, with_ports)),
                "networks": [find_network(state, vpc_id)]}
    return await _network_scope(ctx, os_id, vpc_id, with_ports)


async def subnet_state(ctx: RequestContext, subnet_id: str, with_ports: bool = False) -> tuple[dict, dict]:
    """(the subnet, ``vpc_state`` of its VPC), found as ``vpc_state`` finds a VPC."""
    ids.check("subnet", subnet_id)
    os_id = ids.os_id_of(subnet_id)
    neutron = neutron_of(await ctx.cloud())
    if os_id is None:
        async with ctx.services.sessions() as session:
            made = (await session.scalars(select(SubnetSetting.os_id).where(
                SubnetSetting.project_id == ctx.project_id))).all()
        os_id = next((m for m in made if ids.from_uuid("subnet", m) == subnet_id), None)
    if os_id is None:
        subnet = next((s for s in await neutron.list("subnet") if ids.from_uuid("subnet", s["id"]) == subnet_id),
                      None)
    else:
        subnet = await _shown(neutron, "subnet", os_id)
    if subnet is None:
        raise subnet_not_found(subnet_id)
    try:
        state = await _network_scope(ctx, subnet["network_id"], ids.from_uuid("vpc", subnet["network_id"]),
                                     with_ports)
    except errors.EC2Error:
        raise subnet_not_found(subnet_id) from None
    return subnet, state


async def _shown(neutron, kind: str, os_id: str) -> dict | None:
    try:
        return await neutron.show(kind, os_id)
    except BackendNotFound:
        return None


async def _network_scope(ctx: RequestContext, os_id: str, vpc_id: str, with_ports: bool) -> dict:
    neutron = neutron_of(await ctx.cloud())
    calls: list[Any] = [_shown(neutron, "network", os_id), neutron.list("subnet", {"network_id": os_id}),
                        _rows(ctx, os_id)]
    if with_ports:
        calls += [neutron.list("port", {"network_id": os_id}),
                  neutron.list("security_group", {"fields": ["id", "name"]})]
    found: list[Any] = list(await asyncio.gather(*calls))
    network = found[0]
    if network is None or not vpcs.usable([network], ctx.project_id):
        raise vpc_not_found(vpc_id)
    rows, settings = found[2]
    state: dict[str, Any] = {"networks": [network], "subnets": found[1], "default": None, "vpcs": rows,
                             "settings": settings}
    if with_ports:
        ports = [p for p in found[3] if owner(p) == ctx.project_id]
        fips = await neutron.list_where("floatingip", "port_id", [p["id"] for p in ports])
        state.update(ports=ports, fips=fips, groups={g["id"]: g["name"] for g in found[4]})
    return state


async def _rows(ctx: RequestContext,
                network_id: str | None = None) -> tuple[dict[str, Vpc], dict[str, SubnetSetting]]:
    """Our rows of the project's VPCs and subnets (of one network's only, with ``network_id``)."""
    vpc_query = select(Vpc).where(Vpc.project_id == ctx.project_id)
    if network_id is not None:
        vpc_query = vpc_query.where(Vpc.os_id == network_id)
    async with ctx.services.sessions() as session:
        rows = (await session.scalars(vpc_query)).all()
        settings = (await session.scalars(select(SubnetSetting).where(
            SubnetSetting.project_id == ctx.project_id))).all() if network_id is None or rows else []
    return {r.os_id: r for r in rows}, {s.os_id: s for s in settings}


async def subnet_zone(ctx: RequestContext, subnet_os_id: str) -> str:
    """The zone CreateSubnet put the subnet in ("" for the default zone, and for subnets made outside EC2)."""
    async with ctx.services.sessions() as session:
        setting = await session.get(SubnetSetting, subnet_os_id)
    return setting.availability_zone if setting is not None and setting.project_id == ctx.project_id else ""


def build_vpc(network: dict, subnets: list[dict], default: dict | None, row: Vpc | None) -> dict:
    """``subnets``: the network's own (``by_network``)."""
    v4 = [s for s in subnets if s.get("ip_version", 4) == 4]
    v6 = [s for s in subnets if s.get("ip_version") == 6]
    vpc_id = vpcs.vpc_id(network)
    if row is not None:  # made through EC2: its block, however many subnets it has
        blocks = [(ids.from_uuid("vpc-cidr-assoc", network["id"]), row.cidr)]
    else:
        blocks = [(ids.from_uuid("vpc-cidr-assoc", s["id"]), s["cidr"]) for s in v4]
    return {
        "VpcId": vpc_id, "CidrBlock": blocks[0][1] if blocks else "", "State": "available",
        # the set associated, "default" once asked for by that name, else the project's default set
        "DhcpOptionsId": (row.dhcp_options_id if row is not None else None) or vpcs.default_dhcp_options_id(
            owner(network)),
        "InstanceTenancy": "default", "OwnerId": owner(network),
        "IsDefault": default is not None and default["id"] == network["id"],
        "CidrBlockAssociationSet": [{"AssociationId": assoc, "CidrBlock": cidr,
                                     "CidrBlockState": {"State": "associated"}} for assoc, cidr in blocks],
        "Ipv6CidrBlockAssociationSet": [{"AssociationId": ids.from_uuid("vpc-cidr-assoc", s["id"]),
                                         "Ipv6CidrBlock": s["cidr"], "Ipv6CidrBlockState": {"State": "associated"}}
                                        for s in v6],
    }


def by_network(subnets: list[dict]) -> dict[str, list[dict]]:
    """Subnets grouped by their network, once for a whole answer."""
    out: dict[str, list[dict]] = {}
    for subnet in subnets:
        out.setdefault(subnet["network_id"], []).append(subnet)
    return out


def used_addresses(ports: list[dict]) -> dict[str, list[str]]:
    """The addresses ports hold in each subnet, gathered once for a whole answer."""
    out: dict[str, list[str]] = {}
    for port in ports:
        for fixed in port.get("fixed_ips") or []:
            out.setdefault(fixed.get("subnet_id") or "", []).append(fixed.get("ip_address") or "")
    return out


def free_addresses(subnet: dict, used: dict[str, list[str]]) -> int:
    """What Neutron can still hand out: its allocation pools less what ports hold in them (the router's
    interface holds the gateway address, which is outside the pools)."""
    pools = [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
             for p in subnet.get("allocation_pools") or [] if ":" not in p["start"]]
    held = sum(1 for address in used.get(subnet["id"], []) if ":" not in address and address and
               any(start <= int(ipaddress.ip_address(address)) <= end for start, end in pools))
    return max(sum(end - start + 1 for start, end in pools) - held, 0)


def build_subnet(subnet: dict, zone: str, default: dict | None, used: dict[str, list[str]],
                 setting: SubnetSetting | None) -> dict:
    v6 = subnet.get("ip_version") == 6
    subnet_id = ids.from_uuid("subnet", subnet["id"])
    return {
        "SubnetId": subnet_id, "VpcId": ids.from_uuid("vpc", subnet["network_id"]),
        "CidrBlock": "" if v6 else subnet["cidr"], "State": "available",
        "AvailabilityZone": (setting.availability_zone if setting else "") or zone,
        "AvailableIpAddressCount": free_addresses(subnet, used), "OwnerId": owner(subnet),
        "DefaultForAz": default is not None and default["id"] == subnet["network_id"],
        "MapPublicIpOnLaunch": bool(setting and setting.map_public_ip_on_launch),
        "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [{"AssociationId": ids.from_uuid("subnet-cidr-assoc", subnet["id"]),
                                         "Ipv6CidrBlock": subnet["cidr"],
                                         "Ipv6CidrBlockState": {"State": "associated"}}] if v6 else [],
        "Ipv6Native": v6, "SubnetArn": f"arn:aws:ec2::{owner(subnet)}:subnet/{subnet_id}",
    }


def build_interface(port: dict, fips: list[dict], groups: dict[str, str], zone: str, region: str) -> dict:
    by_ip = {f.get("fixed_ip_address"): f for f in fips if f.get("port_id") == port["id"]}
    fixed = port.get("fixed_ips") or []
    primary = vpcs.primary_fixed_ip(port) or (fixed[0] if fixed else None)
    project = owner(port)

    def association(ip: str) -> dict | None:
        fip = by_ip.get(ip)
        if fip is None:
            return None
        return {"PublicIp": fip["floating_ip_address"], "PublicDnsName": hostname(fip["floating_ip_address"], region),
                "IpOwnerId": project, "AllocationId": ids.from_uuid("eipalloc", fip["id"]),
                "AssociationId": association_id(fip)}

    attached = (port.get("device_owner") or "").startswith("compute:") and port.get("device_id")
    shape = {
        "NetworkInterfaceId": ids.from_uuid("eni", port["id"]),
        "SubnetId": ids.from_uuid("subnet", primary["subnet_id"]) if primary else None,
        "VpcId": ids.from_uuid("vpc", port["network_id"]), "AvailabilityZone": zone,
        "Description": port.get("description") or "", "OwnerId": project, "RequesterManaged": False,
        "Status": "in-use" if port.get("device_id") else "available", "MacAddress": port.get("mac_address"),
        "PrivateIpAddress": primary["ip_address"] if primary else None,
        "PrivateDnsName": hostname(primary["ip_address"], region) if primary else None,
        "SourceDestCheck": vpcs.source_dest_check(port), "InterfaceType": "interface",
        "Groups": [{"GroupId": ids.from_uuid("sg", g), "GroupName": vpcs.group_name(groups.get(g, ""))}
                   for g in port.get("security_groups") or []],
        "PrivateIpAddresses": [{"PrivateIpAddress": f["ip_address"], "Primary": f is primary,
                                "PrivateDnsName": hostname(f["ip_address"], region),
                                **({"Association": association(f["ip_address"])}
                                   if association(f["ip_address"]) else {})}
                               for f in vpcs.primary_first(fixed, vpcs.primary_fixed_ip(port))],
        "Ipv6Addresses": [{"Ipv6Address": f["ip_address"]} for f in fixed if ":" in f["ip_address"]],
    }
    if primary and association(primary["ip_address"]):
        shape["Association"] = association(primary["ip_address"])
    if attached:
        shape["Attachment"] = {"AttachmentId": ids.from_uuid("eni-attach", port["id"]), "DeviceIndex": 0,
                               "InstanceId": ids.from_uuid("i", port["device_id"]), "InstanceOwnerId": project,
                               "Status": "attached", "DeleteOnTermination": True}
    return shape


async def answer(ctx: RequestContext, params: dict, shapes: list[dict], member: str, prefix: str, spec: dict,
                 tags_member: str = "Tags") -> list[dict]:
    """A Describe's shapes with their tags: those named in ``<member>s`` (each must exist), filtered."""
    wanted = params.get(member + "s") or []
    for value in wanted:
        ids.check(prefix, value)
    shapes = filters.by_ids(await tag_reads.with_tags(ctx, shapes, member, tags_member), member, wanted,
                            lambda missing: errors.not_found(ids.KINDS[prefix], missing))
    return filters.apply(shapes, filters.compile_filters(params.get("Filters"), spec, ctx.action))


_PREFIXES = {"network": "vpc", "subnet": "subnet", "port": "eni"}


async def existing(ctx: RequestContext, kind: str, resource_ids: list[str]) -> set[str]:
    """Which of these VPC, subnet or interface ids exist for the caller (CreateTags asks): the project's own,
    and the networks (and their subnets) it may use. A few that this process has seen are asked by GET;
    otherwise the objects of the kind are listed."""
    prefix = _PREFIXES[kind]
    neutron = neutron_of(await ctx.cloud())
    known = [os_id for r in resource_ids if (os_id := ids.os_id_of(r)) is not None]
    listing = len(resource_ids) > 5 or len(known) < len(resource_ids)

    async def objects(of: str, os_ids) -> list[dict]:
        if listing:
            return await neutron.list(of)
        return [o for o in await asyncio.gather(*(_shown(neutron, of, os_id) for os_id in os_ids)) if o]

    found = await objects(kind, known)
    if kind == "network":
        found = vpcs.usable(found, ctx.project_id)
    elif kind == "subnet":
        networks = await objects("network", {s["network_id"] for s in found})
        usable = {n["id"] for n in vpcs.usable(networks, ctx.project_id)}
        found = [s for s in found if s["network_id"] in usable]
    else:
        found = [p for p in found if owner(p) == ctx.project_id]
    return {ids.from_uuid(prefix, o["id"]) for o in found} & set(resource_ids)


async def zone(ctx: RequestContext) -> str:
    zones = await ctx.services.availability_zones()
    return ctx.services.default_zone(zones)


def vpc_not_found(vpc_id: str) -> errors.EC2Error:
    return errors.not_found("VpcID", vpc_id)


def subnet_not_found(subnet_id: str) -> errors.EC2Error:
    return errors.not_found("SubnetID", subnet_id)


def find_network(state: dict, vpc_id: str) -> dict:
    """The project's network behind ``vpc_id`` in a ``network_state``."""
    ids.check("vpc", vpc_id)
    network = next((n for n in state["networks"] if vpcs.vpc_id(n) == vpc_id), None)
    if network is None:
        raise vpc_not_found(vpc_id)
    return network


def find_subnet(state: dict, subnet_id: str) -> dict:
    ids.check("subnet", subnet_id)
    subnet = next((s for s in state["subnets"] if ids.from_uuid("subnet", s["id"]) == subnet_id), None)
    if subnet is None:
        raise subnet_not_found(subnet_id)
    return subnet


async def gateways(ctx: RequestContext) -> list[InternetGateway]:
    async with ctx.services.sessions() as session:
        return list((await session.scalars(select(InternetGateway).where(
            InternetGateway.project_id == ctx.project_id).order_by(InternetGateway.created_at))).all())


async def vpc_default_group(ctx: RequestContext, network_id: str) -> str | None:
    """The default security group of a VPC made through EC2 (what an instance or an interface made there
    without groups is in, as on AWS); None for other networks, whose default is Neutron's."""
    async with ctx.services.sessions() as session:
        return (await session.scalars(select(VpcGroup.os_id).where(
            VpcGroup.project_id == ctx.project_id, VpcGroup.vpc_os_id == network_id,
            VpcGroup.is_default.is_(True)))).first()


async def vpc_groups(ctx: RequestContext, session: Any = None) -> dict[str, VpcGroup]:
    """The project's groups that belong to VPCs made through EC2, by Neutron id (the rest are the default
    VPC's); in ``session`` when the caller reads more in it."""
    if session is None:
        async with ctx.services.sessions() as own:
            return await vpc_groups(ctx, own)
    rows = (await session.scalars(select(VpcGroup).where(VpcGroup.project_id == ctx.project_id))).all()
    return {row.os_id: row for row in rows}


async def maps_public_ip(ctx: RequestContext, subnet_ids: list[str], default_vpc: str | None = None) -> bool:
    """Whether one of these subnets has MapPublicIpOnLaunch (``default_vpc``: counting only subnets of that
    network while it is the project's default VPC)."""
    query = select(SubnetSetting.os_id).where(SubnetSetting.os_id.in_(subnet_ids),
                                              SubnetSetting.map_public_ip_on_launch.is_(True))
    if default_vpc is not None:
        query = query.join(Vpc, Vpc.os_id == default_vpc).where(Vpc.default_for == ctx.project_id)
    async with ctx.services.sessions() as session:
        return (await session.scalars(query)).first() is not None


async def vpc_dependencies(ctx: RequestContext, network_id: str) -> bool:
    """Whether our rows hold what keeps a VPC from being deleted: an attached internet gateway, a route table
    besides the main one, a security group besides the default."""
    async with ctx.services.sessions() as session:
        attached = (await session.scalars(select(InternetGateway.gateway_id).where(
            InternetGateway.vpc_os_id == network_id))).first()
        tables = (await session.scalars(select(RouteTable.route_table_id).where(
            RouteTable.vpc_os_id == network_id, RouteTable.main.is_(False)))).first()
        groups = (await session.scalars(select(VpcGroup.os_id).where(
            VpcGroup.vpc_os_id == network_id, VpcGroup.is_default.is_(False)))).first()
    return attached is not None or tables is not None or groups is not None


# -- one network object by its EC2 id, the external network, the project's default VPC -------------------


def neutron_of(view: CloudView) -> Neutron:
    """The cloud's network service; a cloud without one cannot answer for networks, addresses or interfaces."""
    if view.neutron is None:
        raise errors.UnsupportedOperation("This cloud has no network service (Neutron).")
    return view.neutron


async def port_of(view: CloudView, project_id: str, eni: str,
                  ports: dict[str, dict] | None = None) -> tuple[dict, dict]:
    """The project's Neutron port behind ``eni-...`` (ids are hashes: one listing, which ``ports`` reuses when
    several interfaces are asked for), and the eni -> port table for the next question."""
    ids.check("eni", eni)
    if ports is None:
        ports = {ids.from_uuid("eni", p["id"]): p for p in await neutron_of(view).list("port")
                 if p.get("project_id", p.get("tenant_id")) == project_id}
    if eni not in ports:
        raise errors.not_found("NetworkInterfaceID", eni)
    return ports[eni], ports


async def _default_vpc_of(view: CloudView, project_id: str, made: Callable[[], Awaitable[Collection[str]]],
                          fresh: bool = False) -> str | None:
    """The project's default VPC, remembered for ``DEFAULT_VPC_TTL`` seconds: answers that name it in passing
    (a security group's VpcId) then cost no network listing, which on a one-worker Neutron queues behind the
    call that matters. A project's default network changes once in its life, if ever (``forget_default``).
    ``made``: the networks of the VPCs made through EC2 other than a default VPC, which are never the default."""
    if view.neutron is None:
        return None
    known = _DEFAULT_VPCS.get(project_id)
    if known is not None and known[0] > time.monotonic() and not fresh:
        return known[1]
    networks, ours = await asyncio.gather(
        view.neutron.list("network", {"router:external": "false", "fields": vpcs.NETWORK_FIELDS}), made())
    found = vpcs.vpc_id(vpcs.default_network(networks, project_id, ours))
    if len(_DEFAULT_VPCS) > 10000:
        _DEFAULT_VPCS.clear()
    _DEFAULT_VPCS[project_id] = (time.monotonic() + DEFAULT_VPC_TTL, found)
    return found


def forget_default(project_id: str) -> None:
    """The project's default VPC changed (one was made or deleted): ask Neutron next time."""
    _DEFAULT_VPCS.pop(project_id, None)


DEFAULT_VPC_TTL = 30.0
_DEFAULT_VPCS: dict[str, tuple[float, str | None]] = {}


async def external_network(config, view: CloudView) -> dict:
    """The Neutron external network elastic IPs and internet gateways use: ``[api] external_network``, else the
    only one there is."""
    wanted = str(config.api.external_network or "")
    externals = await neutron_of(view).list("network", {"router:external": "true"})
    if wanted:
        externals = [n for n in externals if wanted in (n["id"], n.get("name"))]
    if len(externals) != 1:
        raise errors.InternalError() if not externals else errors.UnsupportedOperation(
            "This cloud has several external networks; the operator must choose one ([api] external_network).")
    return externals[0]
