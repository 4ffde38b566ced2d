"""Route tables as our rows hold them (route_tables, routes, route_table_associations), with the VPC's CIDR
as the implicit local route."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from ec2proxy.context import RequestContext
from ec2proxy.db.models import InternetGateway, Route, RouteTable, RouteTableAssociation, Vpc
from ec2proxy.ec2 import errors, ids, vpcs
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.networks import neutron_of


def not_found(table_id: str) -> errors.EC2Error:
    return errors.not_found("RouteTableID", table_id)


async def _rows(ctx: RequestContext, table_ids: list[str] | None = None) -> tuple[list, list, list]:
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


async def shapes(ctx: RequestContext, table_ids: list[str] | None = None) -> list[dict]:
    """The EC2 shape of the project's tables (or of ``table_ids``), tags included."""
    (tables, routes, links), cidrs = await asyncio.gather(_rows(ctx, table_ids), _cidrs(ctx))
    routes_of: dict[str, list[Route]] = {}
    for route in routes:
        routes_of.setdefault(route.route_table_id, []).append(route)
    links_of: dict[str, list[RouteTableAssociation]] = {}
    for link in links:
        links_of.setdefault(link.route_table_id, []).append(link)
    found = [_shape(t, cidrs.get(t.vpc_os_id, ""), routes_of.get(t.route_table_id, []),
                    links_of.get(t.route_table_id, [])) for t in tables]
    return await tag_reads.with_tags(ctx, found, "RouteTableId")


async def table(ctx: RequestContext, table_id: str) -> RouteTable:
    ids.check("rtb", table_id)
    async with ctx.services.sessions() as session:
        row = await session.get(RouteTable, table_id)
    if row is None or row.project_id != ctx.project_id:
        raise not_found(table_id)
    return row


async def linked(ctx: RequestContext, table_id: str) -> bool:
    """Whether a subnet is associated with the table."""
    async with ctx.services.sessions() as session:
        return (await session.scalars(select(RouteTableAssociation.association_id).where(
            RouteTableAssociation.route_table_id == table_id))).first() is not None


async def association(ctx: RequestContext, association_id: str) -> RouteTableAssociation:
    ids.check("rtbassoc", association_id)
    async with ctx.services.sessions() as session:
        link = await session.get(RouteTableAssociation, association_id)
    if link is None or link.project_id != ctx.project_id:
        raise errors.not_found("AssociationID", association_id)
    return link


async def gateway(ctx: RequestContext, gateway_id: str) -> InternetGateway:
    ids.check("igw", gateway_id)
    async with ctx.services.sessions() as session:
        row = await session.get(InternetGateway, gateway_id)
    if row is None or row.project_id != ctx.project_id:
        raise errors.InvalidGatewayIDNotFound(f"The gateway ID '{gateway_id}' does not exist")
    return row


async def next_hop(ctx: RequestContext, vpc_os_id: str, kind: str, target: str,
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


async def hop_routes(ctx: RequestContext, vpc_os_id: str) -> tuple[Vpc | None, list[Route]]:
    """The VPC's row (None: not ours) and every route of its tables to an instance or an interface."""
    async with ctx.services.sessions() as session:
        row = await session.get(Vpc, vpc_os_id)
        if row is None or row.project_id != ctx.project_id:
            return None, []
        routes = (await session.scalars(select(Route).join(
            RouteTable, RouteTable.route_table_id == Route.route_table_id).where(
            RouteTable.vpc_os_id == vpc_os_id, Route.target_kind != "GatewayId"))).all()
    return row, list(routes)


@tag_reads.exists("rtb")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    tables, _, _ = await _rows(ctx, resource_ids)
    return {t.route_table_id for t in tables}
