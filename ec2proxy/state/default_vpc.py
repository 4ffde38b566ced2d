"""The default VPC a project gets when it first needs one, as every AWS account has one.

A project with no network of its own or shared (``ec2proxy.ec2.vpcs.default_network``)
gets one at its first launch without a subnet, or at CreateDefaultVpc:
Neutron's auto-allocated topology where the cloud offers it (a network, subnet
and router to the default external network, the project's own network from
then on), else one made by the proxy as AWS makes it: 172.31.0.0/16, one
subnet 172.31.0.0/20 that maps public IPs on launch, and an internet gateway
with the main route table's 0.0.0.0/0 route to it when the cloud has an
external network. ``vpcs.default_for`` is unique, so workers that make one at
once keep exactly one: the others remove theirs and use the winner's.
"""

from __future__ import annotations

import asyncio
import ipaddress

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ec2proxy.cloud import BackendError
from ec2proxy.db.models import InternetGateway, Route, Vpc, utcnow
from ec2proxy.ec2 import errors, ids
from ec2proxy.readmodels.networks import default_vpc_id, external_network, forget_default, neutron_of
from ec2proxy.state.vpc_making import Making

BLOCK = ipaddress.IPv4Network("172.31.0.0/16")
SUBNET = ipaddress.IPv4Network("172.31.0.0/20")
WAIT = 30.0


async def ensure(ctx) -> tuple[str, bool]:
    """(the project's default VPC's network, whether this call made it)."""
    existing = await default_vpc_id(ctx, fresh=True)
    if existing is not None:
        return ids.os_id_of(existing) or "", False
    view = await ctx.cloud()
    neutron = neutron_of(view)
    try:
        topology = await neutron.auto_allocated_topology(ctx.project_id)
    except BackendError as exc:
        if exc.status not in (400, 404, 409):  # 404: the extension is off; 409, 400: no default external network
            raise
    else:
        forget_default(ctx.project_id)
        return topology["id"], True
    try:
        external = await external_network(ctx.services.config, view)
    except errors.EC2Error:
        external = None  # no (single) external network: a default VPC without an internet gateway
    try:
        async with Making(neutron, ctx.project_id, ctx.services.sessions) as making:
            network, row = await making.vpc(BLOCK, [], default_for=ctx.project_id)
            await making.subnet(row, SUBNET, "", [], [], map_public_ip_on_launch=external is not None)
            if external is not None:
                await neutron.update("router", row.router_id, {"external_gateway_info": {"network_id": external["id"]}})
                gateway = ids.new("igw")
                making.rows += [
                    InternetGateway(gateway_id=gateway, project_id=ctx.project_id, vpc_os_id=network["id"],
                                    created_at=utcnow()),
                    Route(route_table_id=making.main_table, destination="0.0.0.0/0", project_id=ctx.project_id,
                          target_kind="GatewayId", target_id=gateway)]
    except IntegrityError:  # another worker's default VPC was written first: ours is gone, theirs is used
        return await _theirs(ctx, neutron), False
    forget_default(ctx.project_id)
    return network["id"], True


async def _theirs(ctx, neutron) -> str:
    """The default VPC another request made meanwhile, once its subnet is there to launch into."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        async with ctx.services.sessions() as session:
            network_id = (await session.scalars(select(Vpc.os_id).where(Vpc.default_for == ctx.project_id))).first()
        if network_id is not None and await neutron.list("subnet", {"network_id": network_id, "fields": ["id"]}):
            forget_default(ctx.project_id)
            return network_id
        if loop.time() > deadline:
            raise errors.InternalError()
        await asyncio.sleep(0.5)
