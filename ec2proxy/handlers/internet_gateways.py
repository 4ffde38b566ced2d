"""Internet gateways: ours, realised as the VPC router's external gateway in Neutron while attached."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.db.models import InternetGateway, utcnow
from ec2proxy.ec2 import errors, filters, ids, paging, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import own_rows, tag_reads
from ec2proxy.readmodels.networks import external_network, gateways, neutron_of, vpc_state
from ec2proxy.state import internet_gateways, write
from ec2proxy.state import own_rows as row_changes

_get = filters.path
FILTERS = {"internet-gateway-id": _get("InternetGatewayId"), "attachment.vpc-id": _get("Attachments.VpcId"),
           "attachment.state": _get("Attachments.State"), "owner-id": _get("OwnerId"), **tagging.FILTERS}


def _shape(gateway: InternetGateway) -> dict:
    attachments = [{"VpcId": ids.from_uuid("vpc", gateway.vpc_os_id), "State": "available"}] \
        if gateway.vpc_os_id else []
    return {"InternetGatewayId": gateway.gateway_id, "OwnerId": gateway.project_id, "Attachments": attachments}


def _not_found(gateway_id: str) -> errors.EC2Error:
    return errors.not_found("InternetGatewayID", gateway_id)


async def _find(ctx: RequestContext, gateway_id: str) -> InternetGateway:
    ids.check("igw", gateway_id)
    found = next((g for g in await gateways(ctx) if g.gateway_id == gateway_id), None)
    if found is None:
        raise _not_found(gateway_id)
    return found


@action("CreateInternetGateway", checks_dry_run=True)
async def create_internet_gateway(ctx: RequestContext, params: dict) -> dict:
    tags = tagging.from_specs(params, ("internet-gateway",)).get("internet-gateway", [])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    gateway = InternetGateway(gateway_id=ids.new("igw"), project_id=ctx.project_id, vpc_os_id=None,
                              created_at=utcnow())
    await write(ctx, row_changes.add, gateway, gateway.gateway_id, tags)
    return {"InternetGateway": {**_shape(gateway), "Tags": tags}}


@action("DescribeInternetGateways")
async def describe_internet_gateways(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=1000, ids_member="InternetGatewayIds")
    wanted = [ids.check("igw", i) for i in params.get("InternetGatewayIds") or []]
    shapes = await tag_reads.with_tags(ctx, [_shape(g) for g in await gateways(ctx)], "InternetGatewayId")
    shapes = filters.by_ids(shapes, "InternetGatewayId", wanted, _not_found)
    shapes = filters.apply(shapes, filters.compile_filters(params.get("Filters"), FILTERS, ctx.action))
    return paging.answer(ctx, "InternetGateways", shapes, params)


@action("AttachInternetGateway", checks_dry_run=True)
async def attach_internet_gateway(ctx: RequestContext, params: dict) -> dict:
    gateway = await _find(ctx, params["InternetGatewayId"])
    state = await vpc_state(ctx, params["VpcId"])
    network = state["networks"][0]
    row = state["vpcs"].get(network["id"])
    if row is None:
        raise errors.UnsupportedOperation(f"{params['VpcId']} is one of the project's own networks: route it to "
                                          "the internet in OpenStack.")
    if gateway.vpc_os_id is not None:
        raise errors.ResourceAlreadyAssociated(f"resource {gateway.gateway_id} is already attached to network "
                                               f"{ids.from_uuid('vpc', gateway.vpc_os_id)}")
    view = await ctx.cloud()
    external = await external_network(ctx.services.config, view)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await internet_gateways.attach(ctx, gateway, params["VpcId"], network["id"],
                                   lambda: neutron_of(view).update("router", row.router_id, {
                                       "external_gateway_info": {"network_id": external["id"]}}))
    return {}


@action("DetachInternetGateway", checks_dry_run=True)
async def detach_internet_gateway(ctx: RequestContext, params: dict) -> dict:
    gateway = await _find(ctx, params["InternetGatewayId"])
    state = await vpc_state(ctx, params["VpcId"], with_ports=True)
    network = state["networks"][0]
    if gateway.vpc_os_id != network["id"]:
        raise errors.GatewayNotAttached(f"resource {gateway.gateway_id} is not attached to network {params['VpcId']}")
    on_vpc = {p["id"] for p in state["ports"] if p["network_id"] == network["id"]}
    if any(f.get("port_id") in on_vpc for f in state["fips"]):
        raise errors.DependencyViolation(
            f"Network {params['VpcId']} has some mapped public address(es). Please unmap those "
            "public address(es) before detaching the gateway.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    row = state["vpcs"][network["id"]]
    await neutron_of(await ctx.cloud()).update("router", row.router_id, {"external_gateway_info": {}})
    await write(ctx, internet_gateways.detach, gateway.gateway_id)
    return {}


@action("DeleteInternetGateway", checks_dry_run=True)
async def delete_internet_gateway(ctx: RequestContext, params: dict) -> dict:
    gateway = await _find(ctx, params["InternetGatewayId"])
    if gateway.vpc_os_id is not None:
        raise errors.DependencyViolation(
            f"The internetGateway '{gateway.gateway_id}' has dependencies and cannot be deleted.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, row_changes.remove, InternetGateway.gateway_id, ctx.project_id, gateway.gateway_id,
                InternetGateway.vpc_os_id.is_(None))
    return {}


@tag_reads.exists("igw")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    return await own_rows.existing(ctx, InternetGateway.gateway_id, resource_ids)
