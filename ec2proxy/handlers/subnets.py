"""Subnets: CreateSubnet, DeleteSubnet, DescribeSubnets, ModifySubnetAttribute (a Neutron subnet of the VPC's
network, with the VPC router's interface on it: the local route)."""

from __future__ import annotations

import asyncio
import ipaddress

from ec2proxy.cloud import BackendError
from ec2proxy.context import RequestContext
from ec2proxy.db.models import SubnetSetting
from ec2proxy.ec2 import errors, tagging, vpcs
from ec2proxy.handlers import action
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.networks import (
    SUBNET_FILTERS,
    answer,
    build_subnet,
    existing,
    network_state,
    neutron_of,
    subnet_state,
    used_addresses,
    vpc_state,
    zone,
)
from ec2proxy.state import dhcp_options, vpc_making, write
from ec2proxy.state.vpc_making import Making


@action("DescribeSubnets")
async def describe_subnets(ctx: RequestContext, params: dict) -> dict:
    state, default_zone = await asyncio.gather(network_state(ctx, with_ports=True, only_ports=True), zone(ctx))
    used = used_addresses(state["ports"])
    shapes = [build_subnet(s, default_zone, state["default"], used, state["settings"].get(s["id"]))
              for s in state["subnets"]]
    return {"Subnets": await answer(ctx, params, shapes, "SubnetId", "subnet", SUBNET_FILTERS)}


def _conflict(block: ipaddress.IPv4Network) -> errors.EC2Error:
    return errors.InvalidSubnetConflict(f"The CIDR '{block}' conflicts with another subnet")


@action("CreateSubnet", checks_dry_run=True)
async def create_subnet(ctx: RequestContext, params: dict) -> dict:
    for member in ("Ipv6CidrBlock", "Ipv4IpamPoolId", "Ipv6IpamPoolId", "Ipv4NetmaskLength", "OutpostArn",
                   "AvailabilityZoneId"):
        if params.get(member):
            raise errors.UnsupportedOperation(f"CreateSubnet with {member} is not supported by this cloud.")
    if params.get("Ipv6Native"):
        raise errors.UnsupportedOperation("IPv6-only subnets are not supported by this cloud.")
    state, offered = await asyncio.gather(vpc_state(ctx, params["VpcId"]), ctx.services.availability_zones())
    network = state["networks"][0]
    row = state["vpcs"].get(network["id"])
    if row is None:
        raise errors.UnsupportedOperation(f"{params['VpcId']} is one of the project's own networks: add subnets to "
                                          "it in OpenStack, or make a VPC with CreateVpc.")
    try:
        block = ipaddress.IPv4Network(str(params.get("CidrBlock") or ""), strict=False)
    except ValueError:
        raise errors.InvalidParameterValue(f"Value ({str(params.get('CidrBlock'))[:64]}) for parameter cidrBlock "
                                           "is invalid. This is not a valid CIDR block.") from None
    if not block.subnet_of(ipaddress.IPv4Network(row.cidr)) or not 16 <= block.prefixlen <= 28:
        raise errors.InvalidSubnetRange(f"The CIDR '{block}' is invalid.")
    for subnet in state["subnets"]:
        if subnet["network_id"] == network["id"] and block.overlaps(ipaddress.ip_network(subnet["cidr"])):
            raise _conflict(block)
    asked_zone = params.get("AvailabilityZone") or ""
    if asked_zone and asked_zone not in offered:
        raise errors.InvalidParameterValue(f"Value ({asked_zone[:64]}) for parameter availabilityZone is invalid.")
    tags = tagging.from_specs(params, ("subnet",)).get("subnet", [])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    options = await dhcp_options.of_networks(ctx.services.sessions, ctx.project_id, [network["id"]])
    try:
        async with Making(neutron_of(await ctx.cloud()), ctx.project_id, ctx.services.sessions) as making:
            subnet = await making.subnet(row, block, asked_zone, tags,
                                         dhcp_options.name_servers(options.get(network["id"])))
    except BackendError as exc:
        if exc.status == 400 and "overlaps" in exc.message:
            raise _conflict(block) from None
        raise
    setting = SubnetSetting(os_id=subnet["id"], availability_zone=asked_zone, map_public_ip_on_launch=False)
    return {"Subnet": {**build_subnet(subnet, ctx.services.default_zone(offered), None, {}, setting),
                       "State": "pending", "Tags": tags}}


@action("DeleteSubnet", checks_dry_run=True)
async def delete_subnet(ctx: RequestContext, params: dict) -> dict:
    subnet, state = await subnet_state(ctx, params["SubnetId"], with_ports=True)
    row = state["vpcs"].get(subnet["network_id"])
    if row is None:
        raise errors.UnsupportedOperation(f"{params['SubnetId']} belongs to one of the project's own networks: "
                                          "remove it in OpenStack.")
    held = [p for p in state["ports"] if p.get("device_owner") != "network:router_interface"
            and any(f.get("subnet_id") == subnet["id"] for f in p.get("fixed_ips") or [])]
    if any(not vpcs.condemned(p) for p in held):
        raise errors.DependencyViolation(f"The subnet '{params['SubnetId']}' has dependencies and cannot be deleted.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    try:
        await vpc_making.remove(neutron_of(await ctx.cloud()), [
            *(("port", p["id"]) for p in held), ("router_interface", (row.router_id, subnet["id"])),
            ("subnet", subnet["id"])])
    except BackendError as exc:
        if exc.status == 409:
            raise errors.DependencyViolation(
                f"The subnet '{params['SubnetId']}' has dependencies and cannot be deleted.") from None
        raise
    await write(ctx, vpc_making.forget_subnet, ctx.project_id, params["SubnetId"], subnet["id"])
    return {}


@action("ModifySubnetAttribute", checks_dry_run=True)
async def modify_subnet_attribute(ctx: RequestContext, params: dict) -> dict:
    """MapPublicIpOnLaunch: instances launched into the subnet get an elastic IP of their own."""
    asked = [k for k in ("AssignIpv6AddressOnCreation", "MapPublicIpOnLaunch", "MapCustomerOwnedIpOnLaunch",
                         "EnableDns64", "PrivateDnsHostnameTypeOnLaunch", "EnableResourceNameDnsARecordOnLaunch",
                         "EnableResourceNameDnsAAAARecordOnLaunch", "EnableLniAtDeviceIndex",
                         "DisableLniAtDeviceIndex", "CustomerOwnedIpv4Pool") if params.get(k) is not None]
    if asked != ["MapPublicIpOnLaunch"]:
        if not asked:
            raise errors.MissingParameter("The request must name the attribute to change")
        raise errors.UnsupportedOperation(f"ModifySubnetAttribute {asked[0]} is not supported by this cloud.")
    value = bool(params["MapPublicIpOnLaunch"].get("Value"))
    subnet, _ = await subnet_state(ctx, params["SubnetId"])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, vpc_making.map_public_ip_on_launch, ctx.project_id, subnet["id"], value)
    return {}


@tag_reads.exists("subnet")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    return await existing(ctx, "subnet", resource_ids)
