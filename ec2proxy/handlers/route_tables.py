"""Route tables: ours (route_tables, routes, route_table_associations), with the VPC's CIDR as the implicit
local route. A VPC has one Neutron router: a route to the internet gateway follows its attachment (the router's
external gateway), a route to an instance or a network interface is an extra route of the router, next hop the
port's address. One router cannot send a destination two ways, so a VPC's tables may not disagree on one."""

from __future__ import annotations

import ipaddress

from ec2proxy.context import RequestContext
from ec2proxy.db.models import RouteTable
from ec2proxy.ec2 import errors, filters, ids, paging, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import route_tables
from ec2proxy.readmodels.networks import subnet_state, vpc_state
from ec2proxy.state import ledger, write
from ec2proxy.state import route_tables as changes

_get = filters.path
FILTERS = {
    "route-table-id": _get("RouteTableId"), "vpc-id": _get("VpcId"), "owner-id": _get("OwnerId"),
    "association.main": _get("Associations.Main"), "association.subnet-id": _get("Associations.SubnetId"),
    "association.route-table-id": _get("Associations.RouteTableId"),
    "association.route-table-association-id": _get("Associations.RouteTableAssociationId"),
    "association.gateway-id": _get("Associations.GatewayId"),
    "route.destination-cidr-block": _get("Routes.DestinationCidrBlock"), "route.gateway-id": _get("Routes.GatewayId"),
    "route.instance-id": _get("Routes.InstanceId"), "route.state": _get("Routes.State"),
    "route.origin": _get("Routes.Origin"), "route.network-interface-id": _get("Routes.NetworkInterfaceId"),
    **tagging.FILTERS,
    **dict.fromkeys(("route.destination-ipv6-cidr-block", "route.destination-prefix-list-id",
                     "route.egress-only-internet-gateway-id", "route.nat-gateway-id", "route.transit-gateway-id",
                     "route.vpc-peering-connection-id"), filters.absent),
}
TARGETS = ("GatewayId", "InstanceId", "NetworkInterfaceId")


@action("DescribeRouteTables")
async def describe_route_tables(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=100, ids_member="RouteTableIds")
    wanted = [ids.check("rtb", i) for i in params.get("RouteTableIds") or []]
    shapes = filters.by_ids(await route_tables.shapes(ctx, wanted or None), "RouteTableId", wanted,
                            route_tables.not_found)
    shapes = filters.apply(shapes, filters.compile_filters(params.get("Filters"), FILTERS, ctx.action))
    return paging.answer(ctx, "RouteTables", shapes, params)


@action("CreateRouteTable", checks_dry_run=True)
async def create_route_table(ctx: RequestContext, params: dict) -> dict:
    state = await vpc_state(ctx, params["VpcId"])
    network = state["networks"][0]
    if network["id"] not in state["vpcs"]:
        raise errors.UnsupportedOperation(f"{params['VpcId']} is one of the project's own networks: its routing "
                                          "is OpenStack's.")
    tags = tagging.from_specs(params, ("route-table",)).get("route-table", [])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    create = await ledger.Create.begin(ctx, params, ids.new("rtb"))
    table_id = create.marker
    if create.owner:  # only our database changes: the table and the token's outcome in one transaction
        await create.record(changes.add, ctx.project_id, table_id, network["id"], tags)
    shapes = await route_tables.shapes(ctx, [table_id])
    if not shapes:
        raise errors.IdempotentParameterMismatch("The route table created with this client token no longer exists.")
    return {"RouteTable": shapes[0], **({"ClientToken": params["ClientToken"]} if params.get("ClientToken") else {})}


@action("DeleteRouteTable", checks_dry_run=True)
async def delete_route_table(ctx: RequestContext, params: dict) -> dict:
    table = await route_tables.table(ctx, params["RouteTableId"])
    if table.main or await route_tables.linked(ctx, table.route_table_id):
        raise errors.DependencyViolation(
            f"The routeTable '{table.route_table_id}' has dependencies and cannot be deleted.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, changes.remove, table)
    await changes.sync_router(ctx, table.vpc_os_id)
    return {}


@action("AssociateRouteTable", checks_dry_run=True)
async def associate_route_table(ctx: RequestContext, params: dict) -> dict:
    if params.get("GatewayId"):
        raise errors.UnsupportedOperation("Gateway route tables (edge associations) are not supported by this cloud.")
    if not params.get("SubnetId"):
        raise errors.MissingParameter("The request must contain the parameter SubnetId")
    table = await route_tables.table(ctx, params["RouteTableId"])
    subnet, _ = await subnet_state(ctx, params["SubnetId"])
    if subnet["network_id"] != table.vpc_os_id:
        raise errors.InvalidParameterValue(f"Route table {table.route_table_id} and subnet {params['SubnetId']} "
                                           "belong to different networks")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    association = ids.new("rtbassoc")
    await write(ctx, changes.associate, table, association, subnet["id"])
    await changes.sync_router(ctx, table.vpc_os_id)
    return {"AssociationId": association, "AssociationState": {"State": "associated"}}


@action("DisassociateRouteTable", checks_dry_run=True)
async def disassociate_route_table(ctx: RequestContext, params: dict) -> dict:
    link = await route_tables.association(ctx, params["AssociationId"])
    if link.subnet_os_id is None:
        raise errors.InvalidParameterValue("The main route table association cannot be removed; replace it "
                                           "(ReplaceRouteTableAssociation)")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, changes.disassociate, link.association_id)
    return {}


@action("ReplaceRouteTableAssociation", checks_dry_run=True)
async def replace_route_table_association(ctx: RequestContext, params: dict) -> dict:
    link = await route_tables.association(ctx, params["AssociationId"])
    table = await route_tables.table(ctx, params["RouteTableId"])
    current = await route_tables.table(ctx, link.route_table_id)
    if current.vpc_os_id != table.vpc_os_id:
        raise errors.InvalidParameterValue("The route table belongs to another VPC")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    new_id = ids.new("rtbassoc")
    await write(ctx, changes.replace_association, link, table, new_id)
    return {"NewAssociationId": new_id, "AssociationState": {"State": "associated"}}


async def _target(ctx: RequestContext, table: RouteTable, params: dict) -> tuple[str, str]:
    """(the target member, its id) of a CreateRoute/ReplaceRoute: an internet gateway attached to the table's
    VPC, or an instance or network interface in it."""
    given = [k for k in TARGETS if params.get(k)]
    unsupported = [k for k in ("NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId", "LocalGatewayId",
                               "CarrierGatewayId", "EgressOnlyInternetGatewayId", "VpcEndpointId",
                               "CoreNetworkArn", "DestinationPrefixListId", "DestinationIpv6CidrBlock",
                               "OdbNetworkArn") if params.get(k)]
    if unsupported:
        raise errors.UnsupportedOperation(f"Routes with {unsupported[0]} are not supported by this cloud.")
    if len(given) != 1:
        raise errors.InvalidParameterCombination("A route needs exactly one target: GatewayId, InstanceId or "
                                                 "NetworkInterfaceId")
    kind, target = given[0], params[given[0]]
    if kind == "GatewayId":
        gateway = await route_tables.gateway(ctx, target)
        if gateway.vpc_os_id != table.vpc_os_id:
            raise errors.InvalidParameterValue(f"route table {table.route_table_id} and network gateway {target} "
                                               "belong to different networks")
        return kind, target
    await route_tables.next_hop(ctx, table.vpc_os_id, kind, target)
    return kind, target


def _destination(text: str | None) -> str:
    try:
        return str(ipaddress.IPv4Network(str(text or ""), strict=False))
    except ValueError:
        raise errors.InvalidParameterValue(f"Value ({str(text)[:64]}) for parameter destinationCidrBlock is "
                                           "invalid. This is not a valid CIDR block.") from None


async def _write_route(ctx: RequestContext, params: dict, replace: bool) -> dict:
    table = await route_tables.table(ctx, params["RouteTableId"])
    destination = _destination(params.get("DestinationCidrBlock"))
    kind, target = await _target(ctx, table, params)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, changes.put_route, table, destination, kind, target, replace)
    await changes.sync_router(ctx, table.vpc_os_id)
    return {"Return": True}


@action("CreateRoute", checks_dry_run=True)
async def create_route(ctx: RequestContext, params: dict) -> dict:
    return await _write_route(ctx, params, replace=False)


@action("ReplaceRoute", checks_dry_run=True)
async def replace_route(ctx: RequestContext, params: dict) -> dict:
    await _write_route(ctx, params, replace=True)
    return {}


@action("DeleteRoute", checks_dry_run=True)
async def delete_route(ctx: RequestContext, params: dict) -> dict:
    table = await route_tables.table(ctx, params["RouteTableId"])
    destination = _destination(params.get("DestinationCidrBlock"))
    await write(ctx, changes.delete_route, table, destination, ctx.dry_run)
    await changes.sync_router(ctx, table.vpc_os_id)
    return {}
