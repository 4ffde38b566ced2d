"""Changes to route tables (ours: route_tables, routes, route_table_associations) and to the one Neutron router
of their VPC, which carries every table's routes to instances and interfaces as its extra routes."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ec2proxy.context import RequestContext
from ec2proxy.db.models import Route, RouteTable, RouteTableAssociation, Vpc, utcnow
from ec2proxy.ec2 import errors
from ec2proxy.readmodels import route_tables
from ec2proxy.readmodels.networks import neutron_of
from ec2proxy.state import tag_writes


async def add(session, project_id: str, table_id: str, vpc_os_id: str, tags: list[dict]) -> None:
    session.add(RouteTable(route_table_id=table_id, project_id=project_id, vpc_os_id=vpc_os_id, main=False,
                           created_at=utcnow()))
    await tag_writes.write(session, project_id, {table_id: tags})


async def remove(session, table: RouteTable) -> None:
    await session.execute(delete(Route).where(Route.route_table_id == table.route_table_id))
    await session.execute(delete(RouteTable).where(RouteTable.route_table_id == table.route_table_id))
    await tag_writes.forget(session, table.project_id, table.route_table_id)


async def associate(session, table: RouteTable, association_id: str, subnet_os_id: str) -> None:
    """A subnet's association; one the subnet already has is ``Resource.AlreadyAssociated``."""
    session.add(RouteTableAssociation(association_id=association_id, project_id=table.project_id,
                                      route_table_id=table.route_table_id, subnet_os_id=subnet_os_id))
    try:
        await session.flush()
    except IntegrityError:
        raise errors.ResourceAlreadyAssociated(
            f"the specified association for route table {table.route_table_id} conflicts with "
            f"an existing association") from None


async def disassociate(session, association_id: str) -> None:
    await session.execute(delete(RouteTableAssociation).where(
        RouteTableAssociation.association_id == association_id))


async def replace_association(session, link: RouteTableAssociation, table: RouteTable, new_id: str) -> None:
    """``link`` now points at ``table`` under ``new_id``; the main association moving moves "main" too."""
    await disassociate(session, link.association_id)
    session.add(RouteTableAssociation(association_id=new_id, project_id=table.project_id,
                                      route_table_id=table.route_table_id, subnet_os_id=link.subnet_os_id))
    if link.subnet_os_id is None:
        await session.execute(update(RouteTable).where(RouteTable.vpc_os_id == table.vpc_os_id).values(
            main=RouteTable.route_table_id == table.route_table_id))


async def _not_local(session, table: RouteTable, destination: str) -> None:
    """The VPC's local route is Neutron's own: it is never created, replaced or deleted through EC2."""
    vpc = await session.get(Vpc, table.vpc_os_id)
    if vpc is not None and vpc.cidr == destination:
        raise errors.InvalidParameterValue(f"The destination CIDR block {destination} is the VPC's own: its local "
                                           "route cannot be created, replaced or deleted.")


async def _check_agreement(session, table: RouteTable, destination: str, target: str) -> None:
    """One Neutron router carries every table of the VPC: another table may not send the destination elsewhere."""
    others = (await session.scalars(select(Route).join(RouteTable, RouteTable.route_table_id == Route.route_table_id)
                                    .where(RouteTable.vpc_os_id == table.vpc_os_id,
                                           Route.destination == destination,
                                           Route.route_table_id != table.route_table_id))).all()
    if any(r.target_id != target for r in others):
        raise errors.UnsupportedOperation(f"Another route table of this VPC sends {destination} elsewhere; this "
                                          "cloud routes a VPC with one router, whose tables must agree.")


async def put_route(session, table: RouteTable, destination: str, kind: str, target: str, replace: bool) -> None:
    """CreateRoute (``replace`` false: the destination must be new) or ReplaceRoute (it must exist)."""
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
                          project_id=table.project_id, target_kind=kind, target_id=target))


async def delete_route(session, table: RouteTable, destination: str, dry_run: bool) -> None:
    await _not_local(session, table, destination)
    if dry_run:  # nothing written yet: the transaction ends empty
        raise errors.DryRunOperation()
    gone = await session.execute(delete(Route).where(Route.route_table_id == table.route_table_id,
                                                     Route.destination == destination))
    if gone.rowcount == 0:
        raise errors.InvalidRouteNotFound(f"There is no route defined for '{destination}' in the route table.")


async def sync_router(ctx: RequestContext, vpc_os_id: str) -> None:
    """The VPC router's extra routes: every instance or interface route of its tables, next hop resolved."""
    row, routes = await route_tables.hop_routes(ctx, vpc_os_id)
    if row is None:
        return
    neutron = neutron_of(await ctx.cloud())
    ports = await neutron.list("port", {"network_id": vpc_os_id}) if routes else []
    wanted = {}
    for route in routes:
        try:
            wanted[route.destination] = await route_tables.next_hop(ctx, vpc_os_id, route.target_kind,
                                                                    route.target_id, ports)
        except errors.EC2Error:
            continue  # the instance or interface is gone: AWS shows the route blackholed
    await neutron.update("router", row.router_id, {"routes": [
        {"destination": destination, "nexthop": hop} for destination, hop in sorted(wanted.items())]})
