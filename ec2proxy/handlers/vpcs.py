"""VPCs: CreateVpc, DeleteVpc, DescribeVpcs, Describe/ModifyVpcAttribute (ec2proxy.readmodels.networks says
how a VPC maps onto Neutron)."""

from __future__ import annotations

import ipaddress

from ec2proxy.cloud import BackendError
from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, ids, tagging, vpcs
from ec2proxy.handlers import action
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.networks import (
    VPC_FILTERS,
    answer,
    build_vpc,
    by_network,
    existing,
    forget_default,
    network_state,
    neutron_of,
    vpc_dependencies,
    vpc_groups,
    vpc_state,
)
from ec2proxy.state import default_vpc, vpc_making, write
from ec2proxy.state.vpc_making import Making


@action("DescribeVpcs")
async def describe_vpcs(ctx: RequestContext, params: dict) -> dict:
    state = await network_state(ctx)
    subnets = by_network(state["subnets"])
    shapes = [build_vpc(n, subnets.get(n["id"], []), state["default"], state["vpcs"].get(n["id"]))
              for n in state["networks"]]
    return {"Vpcs": await answer(ctx, params, shapes, "VpcId", "vpc", VPC_FILTERS)}


def _block(text: str | None) -> ipaddress.IPv4Network:
    """A VPC's IPv4 block: /16 to /28, as AWS allows."""
    try:
        block = ipaddress.IPv4Network(str(text or ""), strict=False)
    except ValueError:
        raise errors.InvalidParameterValue(f"Value ({str(text)[:64]}) for parameter cidrBlock is invalid. This is "
                                           "not a valid CIDR block.") from None
    if not 16 <= block.prefixlen <= 28:
        raise errors.InvalidVpcRange(f"The CIDR '{block}' is invalid.")
    return block


@action("CreateVpc", checks_dry_run=True)
async def create_vpc(ctx: RequestContext, params: dict) -> dict:
    """All or nothing (``ec2proxy.state.vpc_making``)."""
    for member in ("Ipv6Pool", "Ipv6CidrBlock", "Ipv4IpamPoolId", "Ipv6IpamPoolId", "Ipv4NetmaskLength",
                   "AmazonProvidedIpv6CidrBlock"):
        if params.get(member):
            raise errors.UnsupportedOperation(f"CreateVpc with {member} is not supported by this cloud.")
    if params.get("InstanceTenancy") not in (None, "default"):
        raise errors.UnsupportedOperation("Only default tenancy exists in this cloud.")
    block = _block(params.get("CidrBlock"))
    tags = tagging.from_specs(params, ("vpc",)).get("vpc", [])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    async with Making(neutron_of(await ctx.cloud()), ctx.project_id, ctx.services.sessions) as making:
        network, row = await making.vpc(block, tags)
    return {"Vpc": {**build_vpc(network, [], None, row), "State": "pending", "Tags": tags}}


@action("CreateDefaultVpc", checks_dry_run=True)
async def create_default_vpc(ctx: RequestContext, params: dict) -> dict:
    """A default VPC for a project that has none (``ec2proxy.state.default_vpc``)."""
    if ctx.dry_run:
        raise errors.DryRunOperation()
    network_id, made = await default_vpc.ensure(ctx)
    if not made:
        raise errors.DefaultVpcAlreadyExists("A Default VPC already exists for this account in this region.")
    state = await vpc_state(ctx, ids.from_uuid("vpc", network_id))
    network = state["networks"][0]
    return {"Vpc": build_vpc(network, state["subnets"], network, state["vpcs"].get(network_id))}


@action("DeleteVpc", checks_dry_run=True)
async def delete_vpc(ctx: RequestContext, params: dict) -> dict:
    state = await vpc_state(ctx, params["VpcId"], with_ports=True)
    network = state["networks"][0]
    vpc_id = ids.from_uuid("vpc", network["id"])
    row = state["vpcs"].get(network["id"])
    if row is None:
        raise errors.UnsupportedOperation(f"{vpc_id} is one of the project's own networks, not made through EC2; "
                                          "remove it in OpenStack.")
    if any(s["network_id"] == network["id"] for s in state["subnets"]) or \
            await vpc_dependencies(ctx, network["id"]):
        raise errors.DependencyViolation(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.")
    groups = [g.os_id for g in (await vpc_groups(ctx)).values() if g.vpc_os_id == network["id"]]
    if ctx.dry_run:
        raise errors.DryRunOperation()
    neutron = neutron_of(await ctx.cloud())
    try:
        await vpc_making.remove(neutron, [("router", row.router_id), ("network", network["id"])]
                                + [("security_group", os_id) for os_id in groups])
    except BackendError as exc:
        if exc.status == 409:
            raise errors.DependencyViolation(
                f"The vpc '{vpc_id}' has dependencies and cannot be deleted: {exc.message[:200]}") from None
        raise
    await write(ctx, vpc_making.forget_vpc, ctx.project_id, vpc_id, network["id"])
    forget_default(ctx.project_id)  # it may have been the default VPC
    return {}


# Neutron's DHCP agents answer DNS on every network; the proxy shows the private DNS names (hostnames).
ATTRIBUTES = {"enableDnsSupport": ("EnableDnsSupport", "enable_dns_support", True),
              "enableDnsHostnames": ("EnableDnsHostnames", "enable_dns_hostnames", True),
              "enableNetworkAddressUsageMetrics": ("EnableNetworkAddressUsageMetrics", None, False)}


@action("DescribeVpcAttribute")
async def describe_vpc_attribute(ctx: RequestContext, params: dict) -> dict:
    member, column, default = ATTRIBUTES.get(params["Attribute"], (None, None, None))
    if member is None:
        raise errors.InvalidParameterValue(f"Value ({params['Attribute'][:64]}) for parameter attribute is invalid.")
    state = await vpc_state(ctx, params["VpcId"])
    network = state["networks"][0]
    row = state["vpcs"].get(network["id"])
    value = getattr(row, column) if row is not None and column else default
    return {"VpcId": vpcs.vpc_id(network), member: {"Value": bool(value)}}


@action("ModifyVpcAttribute", checks_dry_run=True)
async def modify_vpc_attribute(ctx: RequestContext, params: dict) -> dict:
    given = [(name, params[member]["Value"]) for name, (member, _, _) in ATTRIBUTES.items()
             if (params.get(member) or {}).get("Value") is not None]
    if len(given) != 1:
        raise errors.InvalidParameterCombination("Exactly one attribute must be modified per request")
    name, value = given[0]
    column = ATTRIBUTES[name][1]
    if column is None:
        raise errors.UnsupportedOperation(f"{name} is not offered by this cloud.")
    if name == "enableDnsSupport" and not value:
        raise errors.UnsupportedOperation("Neutron's DHCP agents answer DNS on every network: it cannot be "
                                          "turned off for one VPC.")
    state = await vpc_state(ctx, params["VpcId"])
    network = state["networks"][0]
    if network["id"] not in state["vpcs"]:
        raise errors.UnsupportedOperation(f"{vpcs.vpc_id(network)} is not a VPC made through EC2: its attributes are "
                                          "OpenStack's.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, vpc_making.set_attribute, network["id"], column, bool(value))
    return {}


@tag_reads.exists("vpc")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    return await existing(ctx, "network", resource_ids)
