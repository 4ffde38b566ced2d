"""A reservation as RunInstances answers it: at launch from what it just recorded, on a ClientToken replay
from what our database and Nova hold now."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from ec2proxy.context import RequestContext
from ec2proxy.db.models import Instance, Reservation
from ec2proxy.ec2 import errors, ids, tagging
from ec2proxy.readmodels.instance_shapes import InstanceRecord, InstanceRow, build_instance, group_reservations
from ec2proxy.readmodels.instances import deleted_server, describe, server_ports


@dataclasses.dataclass
class Launched:
    """What RunInstances booted and recorded: its answer reads none of it again."""

    reservation_id: str
    servers: list[dict]  # as Nova listed them once booted
    rows: dict[str, InstanceRow]  # by Nova id
    tags: dict[str, list[dict]]  # by instance id
    groups: dict[str, str]  # name -> sg- id of the groups the servers were booted with
    network_id: str | None  # where the instances' first interface goes (Nova makes the ports later)
    subnet_id: str | None  # its subnet, when the launch knows it


def _reservation(ctx: RequestContext, reservation_id: str, instances: list[InstanceRecord]) -> dict:
    instances.sort(key=lambda i: i.shape["AmiLaunchIndex"])
    grouped = group_reservations(instances, ctx.project_id)
    return grouped[0] if grouped else {"ReservationId": reservation_id, "OwnerId": ctx.project_id,
                                       "Groups": [], "Instances": []}


async def launched(ctx: RequestContext, launch: Launched) -> dict:
    """RunInstances' answer: the instances built from Nova's servers and the rows just written, placed where
    their interfaces will be, as AWS answers before the instances run."""
    ports = await server_ports(await ctx.cloud(), [s["id"] for s in launch.servers])
    instances = [build_instance(s, launch.rows.get(s["id"]), ctx.project_id, launch.groups, ctx.region,
                                ports.get(s["id"])) for s in launch.servers]
    tagging.attach([i.shape for i in instances], "InstanceId", launch.tags)
    for instance in instances:
        if not instance.shape.get("VpcId") and launch.network_id:
            instance.shape["VpcId"] = ids.from_uuid("vpc", launch.network_id)
            if launch.subnet_id:
                instance.shape["SubnetId"] = ids.from_uuid("subnet", launch.subnet_id)
    return _reservation(ctx, launch.reservation_id, instances)


async def replayed(ctx: RequestContext, reservation_id: str) -> dict:
    """The reservation a ClientToken made, as DescribeInstances shows it now (tags and state included).

    Servers Nova has forgotten are shown ``terminated``; with ``client_token_replay_terminated = error`` a
    reservation whose instances all terminated answers ``IdempotentInstanceTerminated`` instead.
    """
    async with ctx.services.sessions() as session:
        reservation = await session.get(Reservation, reservation_id)
        os_ids = (await session.scalars(select(Instance.os_id).where(
            Instance.reservation_id == reservation_id, Instance.project_id == ctx.project_id))).all()
    if reservation is None or reservation.project_id != ctx.project_id:
        raise errors.InternalError()
    view = await ctx.cloud()
    query = {"reservation_id": reservation.nova_reservation_id} if reservation.nova_reservation_id else \
        {"name": f"^{reservation_id}(-[0-9]+)?$"}
    # the plain listing has every live server of the reservation; the others were deleted
    servers = [s for s in await view.nova.list_servers(query) if s["id"] in set(os_ids)]
    seen = {s["id"] for s in servers}
    servers += [deleted_server(os_id) for os_id in os_ids if os_id not in seen]
    instances = await describe(ctx, servers=servers)
    if ctx.services.config.api.client_token_replay_terminated == "error" and instances and \
            all(i.shape["State"]["Name"] == "terminated" for i in instances):
        raise errors.IdempotentInstanceTerminated(
            "The client token you have provided is associated with a reservation whose "
            "instances have all terminated.")
    return _reservation(ctx, reservation_id, instances)
