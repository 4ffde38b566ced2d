"""The default-VPC view: DescribeVpcs, DescribeSubnets, DescribeNetworkInterfaces over Neutron.

Networks the project may use are VPCs (the one Nova gives an instance by
default is the default VPC), their IPv4/IPv6 subnets are subnets, ports are
network interfaces. Creating or changing VPCs and subnets through EC2 is not
offered: those actions answer UnsupportedOperation.
"""

from __future__ import annotations

import asyncio
import ipaddress

from ec2proxy.ec2 import errors, filters, ids, tagging, vpcs
from ec2proxy.ec2.servers import hostname
from ec2proxy.ec2.vpcs import association_id
from ec2proxy.frontdoor.context import RequestContext
from ec2proxy.handlers import action

_get = filters.path
VPC_FILTERS = {
    "vpc-id": _get("VpcId"), "cidr": _get("CidrBlock"), "cidr-block": _get("CidrBlock"),
    "cidr-block-association.cidr-block":
    _get("CidrBlockAssociationSet.CidrBlock"), "is-default": _get("IsDefault"), "owner-id": _get("OwnerId"),
    "state": _get("State"), "dhcp-options-id": _get("DhcpOptionsId"),
    "ipv6-cidr-block-association.ipv6-cidr-block": _get("Ipv6CidrBlockAssociationSet.Ipv6CidrBlock"),
    **tagging.FILTERS,
}
SUBNET_FILTERS = {
    "subnet-id": _get("SubnetId"), "vpc-id": _get("VpcId"), "cidr-block": _get("CidrBlock"),
    "cidr": _get("CidrBlock"), "availability-zone": _get("AvailabilityZone"),
    "default-for-az": _get("DefaultForAz"), "state": _get("State"), "owner-id": _get("OwnerId"),
    "available-ip-address-count": _get("AvailableIpAddressCount"),
    "ipv6-cidr-block-association.ipv6-cidr-block": _get("Ipv6CidrBlockAssociationSet.Ipv6CidrBlock"),
    **tagging.FILTERS,
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
    "interface-type": _get("InterfaceType"), **tagging.tag_filters("TagSet"),
}


def _owner(obj: dict) -> str:
    return obj.get("project_id") or obj.get("tenant_id") or ""


async def _network_state(ctx: RequestContext, with_ports: bool = False) -> dict:
    """Networks, subnets (and ports, floating IPs, groups) of the project: one listing each, concurrently."""
    view = await ctx.cloud()
    if view.neutron is None:
        raise errors.UnsupportedOperation("This cloud has no network service (Neutron).")
    calls = [view.neutron.list("network"), view.neutron.list("subnet")]
    if with_ports:
        calls += [view.neutron.list("port"), view.neutron.list("floatingip"),
                  view.neutron.list("security_group", {"fields": ["id", "name"]})]
    found = await asyncio.gather(*calls)
    networks = vpcs.usable(found[0], ctx.project_id)
    usable = {n["id"] for n in networks}
    state = {"networks": networks, "subnets": [s for s in found[1] if s["network_id"] in usable],
             "default": vpcs.default_network(found[0], ctx.project_id)}
    if with_ports:
        state.update(ports=[p for p in found[2] if _owner(p) == ctx.project_id and p["network_id"] in usable],
                     fips=found[3], groups={g["id"]: g["name"] for g in found[4]})
    return state


def build_vpc(network: dict, subnets: list[dict], default: dict | None) -> dict:
    v4 = [s for s in subnets if s["network_id"] == network["id"] and s.get("ip_version", 4) == 4]
    v6 = [s for s in subnets if s["network_id"] == network["id"] and s.get("ip_version") == 6]
    vpc_id = vpcs.vpc_id(network)
    return {
        "VpcId": vpc_id, "CidrBlock": v4[0]["cidr"] if v4 else "", "State": "available",
        "DhcpOptionsId": "default", "InstanceTenancy": "default", "OwnerId": _owner(network),
        "IsDefault": default is not None and default["id"] == network["id"],
        "CidrBlockAssociationSet": [{"AssociationId": ids.from_uuid("vpc-cidr-assoc", s["id"]), "CidrBlock": s["cidr"],
                                     "CidrBlockState": {"State": "associated"}} for s in v4],
        "Ipv6CidrBlockAssociationSet": [{"AssociationId": ids.from_uuid("vpc-cidr-assoc", s["id"]),
                                         "Ipv6CidrBlock": s["cidr"], "Ipv6CidrBlockState": {"State": "associated"}}
                                        for s in v6],
    }


def _free_addresses(subnet: dict, ports: list[dict] | None) -> int:
    total = sum(int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1
                for p in subnet.get("allocation_pools") or [])
    used = sum(1 for port in ports or [] for f in port.get("fixed_ips") or [] if f.get("subnet_id") == subnet["id"])
    return max(total - used, 0)


def build_subnet(subnet: dict, zone: str, default: dict | None, ports: list[dict] | None) -> dict:
    v6 = subnet.get("ip_version") == 6
    return {
        "SubnetId": ids.from_uuid("subnet", subnet["id"]), "VpcId": ids.from_uuid("vpc", subnet["network_id"]),
        "CidrBlock": "" if v6 else subnet["cidr"], "State": "available", "AvailabilityZone": zone,
        "AvailableIpAddressCount": _free_addresses(subnet, ports), "OwnerId": _owner(subnet),
        "DefaultForAz": default is not None and default["id"] == subnet["network_id"],
        "MapPublicIpOnLaunch": False, "AssignIpv6AddressOnCreation": False,
        "Ipv6CidrBlockAssociationSet": [{"AssociationId": ids.from_uuid("subnet-cidr-assoc", subnet["id"]),
                                         "Ipv6CidrBlock": subnet["cidr"],
                                         "Ipv6CidrBlockState": {"State": "associated"}}] if v6 else [],
        "Ipv6Native": v6,
    }


def build_interface(port: dict, fips: list[dict], groups: dict[str, str], zone: str, region: str) -> dict:
    by_ip = {f.get("fixed_ip_address"): f for f in fips if f.get("port_id") == port["id"]}
    fixed = port.get("fixed_ips") or []
    primary = next((f for f in fixed if ":" not in f["ip_address"]), fixed[0] if fixed else None)
    owner = _owner(port)

    def association(ip: str) -> dict | None:
        fip = by_ip.get(ip)
        if fip is None:
            return None
        return {"PublicIp": fip["floating_ip_address"], "PublicDnsName": hostname(fip["floating_ip_address"], region),
                "IpOwnerId": owner, "AllocationId": ids.from_uuid("eipalloc", fip["id"]),
                "AssociationId": association_id(fip)}

    attached = (port.get("device_owner") or "").startswith("compute:") and port.get("device_id")
    shape = {
        "NetworkInterfaceId": ids.from_uuid("eni", port["id"]),
        "SubnetId": ids.from_uuid("subnet", primary["subnet_id"]) if primary else None,
        "VpcId": ids.from_uuid("vpc", port["network_id"]), "AvailabilityZone": zone,
        "Description": port.get("description") or "", "OwnerId": owner, "RequesterManaged": False,
        "Status": "in-use" if port.get("device_id") else "available", "MacAddress": port.get("mac_address"),
        "PrivateIpAddress": primary["ip_address"] if primary else None,
        "PrivateDnsName": hostname(primary["ip_address"], region) if primary else None,
        "SourceDestCheck": vpcs.source_dest_check(port), "InterfaceType": "interface",
        "Groups": [{"GroupId": ids.from_uuid("sg", g), "GroupName": groups.get(g, "")}
                   for g in port.get("security_groups") or []],
        "PrivateIpAddresses": [{"PrivateIpAddress": f["ip_address"], "Primary": f is primary,
                                "PrivateDnsName": hostname(f["ip_address"], region),
                                **({"Association": association(f["ip_address"])}
                                   if association(f["ip_address"]) else {})}
                               for f in fixed if ":" not in f["ip_address"]],
        "Ipv6Addresses": [{"Ipv6Address": f["ip_address"]} for f in fixed if ":" in f["ip_address"]],
    }
    if primary and association(primary["ip_address"]):
        shape["Association"] = association(primary["ip_address"])
    if attached:
        shape["Attachment"] = {"AttachmentId": ids.from_uuid("eni-attach", port["id"]), "DeviceIndex": 0,
                               "InstanceId": ids.from_uuid("i", port["device_id"]), "InstanceOwnerId": owner,
                               "Status": "attached", "DeleteOnTermination": True}
    return shape


async def _answer(ctx: RequestContext, params: dict, shapes: list[dict], member: str, prefix: str, code: str,
                  spec: dict, tags_member: str = "Tags") -> list[dict]:
    """A Describe's shapes with their tags: those named in ``<member>s`` (each must exist), filtered."""
    wanted = params.get(member + "s") or []
    for value in wanted:
        ids.check(prefix, value)
    shapes = filters.by_ids(await tagging.with_tags(ctx, shapes, member, tags_member), member, wanted,
                            lambda missing: errors.EC2Error(f"The {member[:-2]} ID '{missing}' does not exist",
                                                            code=code))
    return filters.apply(shapes, filters.compile_filters(params.get("Filters"), spec))


async def _zone(ctx: RequestContext) -> str:
    zones = await ctx.services.availability_zones()
    return zones[0] if zones else ""


@action("DescribeVpcs")
async def describe_vpcs(ctx: RequestContext, params: dict) -> dict:
    state = await _network_state(ctx)
    shapes = [build_vpc(n, state["subnets"], state["default"]) for n in state["networks"]]
    return {"Vpcs": await _answer(ctx, params, shapes, "VpcId", "vpc", "InvalidVpcID.NotFound", VPC_FILTERS)}


@action("DescribeSubnets")
async def describe_subnets(ctx: RequestContext, params: dict) -> dict:
    state, zone = await asyncio.gather(_network_state(ctx, with_ports=True), _zone(ctx))
    shapes = [build_subnet(s, zone, state["default"], state["ports"]) for s in state["subnets"]]
    return {"Subnets": await _answer(ctx, params, shapes, "SubnetId", "subnet", "InvalidSubnetID.NotFound",
                                     SUBNET_FILTERS)}


@action("DescribeNetworkInterfaces")
async def describe_network_interfaces(ctx: RequestContext, params: dict) -> dict:
    state, zone = await asyncio.gather(_network_state(ctx, with_ports=True), _zone(ctx))
    shapes = [build_interface(p, state["fips"], state["groups"], zone, ctx.region) for p in state["ports"]
              if not (p.get("device_owner") or "").startswith(("network:", "neutron:"))]
    return {"NetworkInterfaces": await _answer(ctx, params, shapes, "NetworkInterfaceId", "eni",
                                               "InvalidNetworkInterfaceID.NotFound", ENI_FILTERS, "TagSet")}


@tagging.exists("vpc", "subnet", "eni")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    state = await _network_state(ctx, with_ports=any(r.startswith("eni-") for r in resource_ids))
    known = {vpcs.vpc_id(n) for n in state["networks"]} | {ids.from_uuid("subnet", s["id"]) for s in state["subnets"]}
    known |= {ids.from_uuid("eni", p["id"]) for p in state.get("ports", [])}
    return known & set(resource_ids)


# Neutron's DHCP agents answer DNS on every network, and instances get the private DNS names EC2 shows.
VPC_ATTRIBUTES = {"enableDnsSupport": ("EnableDnsSupport", True), "enableDnsHostnames": ("EnableDnsHostnames", True),
                  "enableNetworkAddressUsageMetrics": ("EnableNetworkAddressUsageMetrics", False)}


@action("DescribeVpcAttribute")
async def describe_vpc_attribute(ctx: RequestContext, params: dict) -> dict:
    vpc_id = ids.check("vpc", params["VpcId"])
    member, value = VPC_ATTRIBUTES.get(params["Attribute"], (None, None))
    if member is None:
        raise errors.InvalidParameterValue(f"Value ({params['Attribute'][:64]}) for parameter attribute is invalid.")
    state = await _network_state(ctx)
    if vpc_id not in {vpcs.vpc_id(n) for n in state["networks"]}:
        raise errors.EC2Error(f"The vpc ID '{vpc_id}' does not exist", code="InvalidVpcID.NotFound")
    return {"VpcId": vpc_id, member: {"Value": value}}
