"""Route tables: ours (route_tables, routes, route_table_associations), with the VPC's CIDR as the implicit
local route. A VPC has one Neutron router: a route to the internet gateway follows its attachment (the router's
external gateway), a route to an instance or a network interface is an extra route of the router, next hop the
port's address. One router cannot send a destination two ways, so a VPC's tables may not disagree on one."""

from __future__ import annotations

import asyncio
import ipaddress

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ec2proxy.context import RequestContext
from ec2proxy.db.models import InternetGateway, Route, RouteTable, RouteTableAssociation, Vpc, utcnow
from ec2proxy.ec2 import errors, filters, ids, paging, tagging, vpcs
from ec2proxy.handlers import action
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.networks import neutron_of, subnet_state, vpc_state
from ec2proxy.state import ledger, tag_writes

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


def _not_found(table_id: str) -> errors.EC2Error:
    return errors.not_found("RouteTableID", table_id)


async def _tables(ctx: RequestContext, table_ids: list[str] | None = None) -> tuple[list, list, list]:
    """The project's route tables (or those of ``table_ids``), their routes and associations."""
    tables_query = select(RouteTable).where(RouteTable.project_id == ctx.project_id)
    routes_query = select(Route).where(Route.project_id == ctx.project_id)
    links_query = select(RouteTableAssociation).where(RouteTableAssociation.project_id == ctx.project_id)
    if table_ids is not None:
        tables_query = tables_query.where(RouteTable.route_table_id.in_(table_ids))
        routes_query = routes_query.where(Route.route_table_id.in_(table_ids))
        links_query = links_query.where(RouteTableAssociation.route_table_id.in_(table_ids))
    async with ctx.services.sessions() as session:
        tables = (await session.scalars(tables_query.order_by(RouteTable.created_at))).all()
        routes = (await session.scalars(routes_query)).all()
        links = (await session.scalars(links_query)).all()
    return list(tables), list(routes), list(links)


def _shape(table: RouteTable, cidr: str, routes: list[Route], links: list[RouteTableAssociation]) -> dict:
    """One table with its own ``routes`` and ``links``."""
    shown = [{"DestinationCidrBlock": cidr, "GatewayId": "local", "State": "active", "Origin": "CreateRouteTable"}]
    shown += [{"DestinationCidrBlock": route.destination, route.target_kind: route.target_id, "State": "active",
               "Origin": "CreateRoute"} for route in routes]
    associations = []
    for link in links:
        entry = {"RouteTableAssociationId": link.association_id, "RouteTableId": table.route_table_id,
                 "Main": link.subnet_os_id is None, "AssociationState": {"State": "associated"}}
        if link.subnet_os_id:
            entry["SubnetId"] = ids.from_uuid("subnet", link.subnet_os_id)
        associations.append(entry)
    return {"RouteTableId": table.route_table_id, "VpcId": ids.from_uuid("vpc", table.vpc_os_id),
            "OwnerId": table.project_id, "Routes": shown, "Associations": associations, "PropagatingVgws": []}


async def _cidrs(ctx: RequestContext) -> dict[str, str]:
    """Each VPC's block, by network, from our rows (route tables exist only for VPCs made through EC2)."""
    async with ctx.services.sessions() as session:
        rows = (await session.execute(select(Vpc.os_id, Vpc.cidr).where(Vpc.project_id == ctx.project_id))).all()
    return {os_id: cidr for os_id, cidr in rows}


async def _shapes(ctx: RequestContext, table_ids: list[str] | None = None) -> list[dict]:
    (tables, routes, links), cidrs = await asyncio.gather(_tables(ctx, table_ids), _cidrs(ctx))
    routes_of: dict[str, list[Route]] = {}
    for route in routes:
        routes_of.setdefault(route.route_table_id, []).append(route)
    links_of: dict[str, list[RouteTableAssociation]] = {}
    for link in links:
        links_of.setdefault(link.route_table_id, []).append(link)
    shapes = [_shape(t, cidrs.get(t.vpc_os_id, ""), routes_of.get(t.route_table_id, []),
                     links_of.get(t.route_table_id, [])) for t in tables]
    return await tag_reads.with_tags(ctx, shapes, "RouteTableId")


@action("DescribeRouteTables")
async def describe_route_tables(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=100, ids_member="RouteTableIds")
    wanted = [ids.check("rtb", i) for i in params.get("RouteTableIds") or []]
    shapes = filters.by_ids(await _shapes(ctx, wanted or None), "RouteTableId", wanted, _not_found)
    shapes = filters.apply(shapes, filters.compile_filters(params.get("Filters"), FILTERS, ctx.action))
    return paging.answer(ctx, "RouteTables", shapes, params)


async def _table(ctx: RequestContext, table_id: str) -> RouteTable:
    ids.check("rtb", table_id)
    async with ctx.services.sessions() as session:
        table = await session.get(RouteTable, table_id)
    if table is None or table.project_id != ctx.project_id:
        raise _not_found(table_id)
    return table


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
        async with ctx.services.sessions() as session, session.begin():
            session.add(RouteTable(route_table_id=table_id, project_id=ctx.project_id, vpc_os_id=network["id"],
                                   main=False, created_at=utcnow()))
            await tag_writes.write(session, ctx.project_id, {table_id: tags})
            await create.done(session)
    shapes = await _shapes(ctx, [table_id])
    if not shapes:
        raise errors.IdempotentParameterMismatch("The route table created with this client token no longer exists.")
    shape = shapes[0]
    return {"RouteTable": shape, **({"ClientToken": params["ClientToken"]} if params.get("ClientToken") else {})}


@action("DeleteRouteTable", checks_dry_run=True)
async def delete_route_table(ctx: RequestContext, params: dict) -> dict:
    table = await _table(ctx, params["RouteTableId"])
    async with ctx.services.sessions() as session:
        linked = (await session.scalars(select(RouteTableAssociation.association_id).where(
            RouteTableAssociation.route_table_id == table.route_table_id))).first()
    if table.main or linked:
        raise errors.DependencyViolation(
            f"The routeTable '{table.route_table_id}' has dependencies and cannot be deleted.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    async with ctx.services.sessions() as session, session.begin():
        await session.execute(delete(Route).where(Route.route_table_id == table.route_table_id))
        await session.execute(delete(RouteTable).where(RouteTable.route_table_id == table.route_table_id))
        await tag_writes.forget(session, ctx.project_id, table.route_table_id)
    await _sync_router(ctx, table.vpc_os_id)
    return {}


@action("AssociateRouteTable", checks_dry_run=True)
async def associate_route_table(ctx: RequestContext, params: dict) -> dict:
    if params.get("GatewayId"):
        raise errors.UnsupportedOperation("Gateway route tables (edge associations) are not supported by this cloud.")
    if not params.get("SubnetId"):
        raise errors.MissingParameter("The request must contain the parameter SubnetId")
    table = await _table(ctx, params["RouteTableId"])
    subnet, _ = await subnet_state(ctx, params["SubnetId"])
    if subnet["network_id"] != table.vpc_os_id:
        raise errors.InvalidParameterValue(f"Route table {table.route_table_id} and subnet {params['SubnetId']} "
                                           "belong to different networks")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    association = ids.new("rtbassoc")
    try:
        async with ctx.services.sessions() as session, session.begin():
            session.add(RouteTableAssociation(association_id=association, project_id=ctx.project_id,
                                              route_table_id=table.route_table_id, subnet_os_id=subnet["id"]))
    except IntegrityError:
        raise errors.ResourceAlreadyAssociated(
            f"the specified association for route table {table.route_table_id} conflicts with "
            f"an existing association") from None
    await _sync_router(ctx, table.vpc_os_id)
    return {"AssociationId": association, "AssociationState": {"State": "associated"}}


async def _association(ctx: RequestContext, association_id: str) -> RouteTableAssociation:
    ids.check("rtbassoc", association_id)
    async with ctx.services.sessions() as session:
        link = await session.get(RouteTableAssociation, association_id)
    if link is None or link.project_id != ctx.project_id:
        raise errors.not_found("AssociationID", association_id)
    return link


@action("DisassociateRouteTable", checks_dry_run=True)
async def disassociate_route_table(ctx: RequestContext, params: dict) -> dict:
    link = await _association(ctx, params["AssociationId"])
    if link.subnet_os_id is None:
        raise errors.InvalidParameterValue("The main route table association cannot be removed; replace it "
                                           "(ReplaceRouteTableAssociation)")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    async with ctx.services.sessions() as session, session.begin():
        await session.execute(delete(RouteTableAssociation).where(
            RouteTableAssociation.association_id == link.association_id))
    return {}


@action("ReplaceRouteTableAssociation", checks_dry_run=True)
async def replace_route_table_association(ctx: RequestContext, params: dict) -> dict:
    link = await _association(ctx, params["AssociationId"])
    table = await _table(ctx, params["RouteTableId"])
    async with ctx.services.sessions() as session:
        current = await session.get(RouteTable, link.route_table_id)
    if current is None or current.vpc_os_id != table.vpc_os_id:
        raise errors.InvalidParameterValue("The route table belongs to another VPC")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    new_id = ids.new("rtbassoc")
    async with ctx.services.sessions() as session, session.begin():
        await session.execute(delete(RouteTableAssociation).where(
            RouteTableAssociation.association_id == link.association_id))
        session.add(RouteTableAssociation(association_id=new_id, project_id=ctx.project_id,
                                          route_table_id=table.route_table_id, subnet_os_id=link.subnet_os_id))
        if link.subnet_os_id is None:  # the main association moves: so does "main"
            await session.execute(update(RouteTable).where(RouteTable.vpc_os_id == table.vpc_os_id).values(
                main=RouteTable.route_table_id == table.route_table_id))
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
        ids.check("igw", target)
        async with ctx.services.sessions() as session:
            gateway = await session.get(InternetGateway, target)
        if gateway is None or gateway.project_id != ctx.project_id:
            raise errors.InvalidGatewayIDNotFound(f"The gateway ID '{target}' does not exist")
        if gateway.vpc_os_id != table.vpc_os_id:
            raise errors.InvalidParameterValue(f"route table {table.route_table_id} and network gateway {target} "
                                               "belong to different networks")
        return kind, target
    await _next_hop(ctx, table.vpc_os_id, kind, target)
    return kind, target


async def _next_hop(ctx: RequestContext, vpc_os_id: str, kind: str, target: str,
                    ports: list[dict] | None = None) -> str:
    """The address a route to an instance or an interface goes to: its port's primary one on the VPC
    (``ports``: the VPC's, listed once for several routes)."""
    prefix = "i" if kind == "InstanceId" else "eni"
    ids.check(prefix, target)
    if ports is None:
        ports = await neutron_of(await ctx.cloud()).list("port", {"network_id": vpc_os_id})
    addresses = [primary["ip_address"] for p in ports
                 if ids.from_uuid(prefix, p["device_id"] if prefix == "i" else p["id"]) == target
                 and (primary := vpcs.primary_fixed_ip(p)) is not None]
    if not addresses:
        raise errors.not_found(ids.KINDS[prefix], target)
    return addresses[0]


def _destination(text: str | None) -> str:
    try:
        return str(ipaddress.IPv4Network(str(text or ""), strict=False))
    except ValueError:
        raise errors.InvalidParameterValue(f"Value ({str(text)[:64]}) for parameter destinationCidrBlock is "
                                           "invalid. This is not a valid CIDR block.") from None


async def _write_route(ctx: RequestContext, params: dict, replace: bool) -> dict:
    table = await _table(ctx, params["RouteTableId"])
    destination = _destination(params.get("DestinationCidrBlock"))
    kind, target = await _target(ctx, table, params)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    async with ctx.services.sessions() as session, session.begin():
        await _not_local(session, table, destination)
        existing = await session.get(Route, (table.route_table_id, destination))
        if existing is None and replace:
            raise errors.InvalidRouteNotFound(f"There is no route defined for '{destination}' in the route table.")
        if existing is not None and not replace:
            raise errors.RouteAlreadyExists(f"The route identified by {destination} already exists.")
        if kind != "GatewayId":
            await _check_agreement(session, table, destination, target)
        if existing is not None:
            await session.execute(update(Route).where(Route.route_table_id == table.route_table_id,
                                                      Route.destination == destination).values(
                target_kind=kind, target_id=target))
        else:
            session.add(Route(route_table_id=table.route_table_id, destination=destination,
                              project_id=ctx.project_id, target_kind=kind, target_id=target))
    await _sync_router(ctx, table.vpc_os_id)
    return {"Return": True}


async def _check_agreement(session, table: RouteTable, destination: str, target: str) -> None:
    """One Neutron router carries every table of the VPC: another table may not send the destination elsewhere."""
    others = (await session.scalars(select(Route).join(RouteTable, RouteTable.route_table_id == Route.route_table_id)
                                    .where(RouteTable.vpc_os_id == table.vpc_os_id,
                                           Route.destination == destination,
                                           Route.route_table_id != table.route_table_id))).all()
    if any(r.target_id != target for r in others):
        raise errors.UnsupportedOperation(f"Another route table of this VPC sends {destination} elsewhere; this "
                                          "cloud routes a VPC with one router, whose tables must agree.")


@action("CreateRoute", checks_dry_run=True)
async def create_route(ctx: RequestContext, params: dict) -> dict:
    return await _write_route(ctx, params, replace=False)


@action("ReplaceRoute", checks_dry_run=True)
async def replace_route(ctx: RequestContext, params: dict) -> dict:
    await _write_route(ctx, params, replace=True)
    return {}


async def _not_local(session, table: RouteTable, destination: str) -> None:
    """The VPC's local route is Neutron's own: it is never created, replaced or deleted through EC2."""
    vpc = await session.get(Vpc, table.vpc_os_id)
    if vpc is not None and vpc.cidr == destination:
        raise errors.InvalidParameterValue(f"The destination CIDR block {destination} is the VPC's own: its local "
                                           "route cannot be created, replaced or deleted.")


@action("DeleteRoute", checks_dry_run=True)
async def delete_route(ctx: RequestContext, params: dict) -> dict:
    table = await _table(ctx, params["RouteTableId"])
    destination = _destination(params.get("DestinationCidrBlock"))
    async with ctx.services.sessions() as session, session.begin():
        await _not_local(session, table, destination)
        if ctx.dry_run:  # nothing written yet: the transaction ends empty
            raise errors.DryRunOperation()
        gone = await session.execute(delete(Route).where(Route.route_table_id == table.route_table_id,
                                                         Route.destination == destination))
    if gone.rowcount == 0:
        raise errors.InvalidRouteNotFound(f"There is no route defined for '{destination}' in the route table.")
    await _sync_router(ctx, table.vpc_os_id)
    return {}


async def _sync_router(ctx: RequestContext, vpc_os_id: str) -> None:
    """The VPC router's extra routes: every instance or interface route of its tables, next hop resolved."""
    async with ctx.services.sessions() as session:
        row = await session.get(Vpc, vpc_os_id)
    if row is None or row.project_id != ctx.project_id:
        return
    async with ctx.services.sessions() as session:
        routes = (await session.scalars(select(Route).join(
            RouteTable, RouteTable.route_table_id == Route.route_table_id).where(
            RouteTable.vpc_os_id == vpc_os_id, Route.target_kind != "GatewayId"))).all()
    neutron = neutron_of(await ctx.cloud())
    ports = await neutron.list("port", {"network_id": vpc_os_id}) if routes else []
    wanted = {}
    for route in routes:
        try:
            wanted[route.destination] = await _next_hop(ctx, vpc_os_id, route.target_kind, route.target_id, ports)
        except errors.EC2Error:
            continue  # the instance or interface is gone: AWS shows the route blackholed
    await neutron.update("router", row.router_id, {"routes": [
        {"destination": destination, "nexthop": hop} for destination, hop in sorted(wanted.items())]})


@tag_reads.exists("rtb")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    tables, _, _ = await _tables(ctx)
    return {t.route_table_id for t in tables} & set(resource_ids)
