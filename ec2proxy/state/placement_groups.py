"""Placement groups on Nova server groups.

A ``spread`` group is a server group with the ``anti-affinity`` policy (its members on distinct hosts; Nova
knows hosts, not racks, so AWS's rack level becomes the host level), a ``cluster`` group one with ``affinity``
(one host); the soft policies instead when the operator sets ``[api] placement_soft_policies``. ``partition``
has no counterpart: Nova cannot place groups of servers on disjoint sets of hosts and tell each its partition.

AWS decides at once whether a launch fits its group; Nova decides while it schedules, after answering. So a
launch into a group waits for Nova's scheduler (``[api] placement_wait``): when it found no host the policy
allows, the launch's servers and the interfaces made for them are deleted and RunInstances answers
``InsufficientInstanceCapacity``, as AWS does.
"""

from __future__ import annotations

import asyncio
import functools
import time

from sqlalchemy.exc import IntegrityError

from ec2proxy.cloud import BackendError, CloudView, removed
from ec2proxy.context import RequestContext
from ec2proxy.db.models import PlacementGroup, utcnow
from ec2proxy.ec2 import errors, ids
from ec2proxy.readmodels import placement_groups
from ec2proxy.readmodels.networks import neutron_of
from ec2proxy.state import interface_removal, write
from ec2proxy.state import own_rows as row_changes

POLICIES = {"spread": "anti-affinity", "cluster": "affinity"}
SPREAD_LIMIT = 7  # running instances of a spread group per Availability Zone (EC2 User Guide)
POLL = 0.5


def policy(ctx: RequestContext, strategy: str) -> str:
    return ("soft-" if ctx.services.config.api.placement_soft_policies else "") + POLICIES[strategy]


async def create(ctx: RequestContext, name: str, strategy: str, spread_level: str | None,
                 tags: list[dict]) -> PlacementGroup:
    """The Nova server group, then our row and tags; the server group goes again if the row cannot be written
    (another request took the name meanwhile)."""
    view = await ctx.cloud()
    group_id = ids.new("pg")
    server_group = await view.nova.create_server_group(group_id, policy(ctx, strategy))
    row = PlacementGroup(group_id=group_id, project_id=ctx.project_id, name=name, strategy=strategy,
                         spread_level=spread_level, os_id=server_group["id"], created_at=utcnow())
    try:
        await write(ctx, row_changes.add, row, group_id, tags)
    except BaseException as exc:
        await removed(lambda: view.nova.delete_server_group(server_group["id"]))
        if isinstance(exc, IntegrityError):  # the name, taken by a request that ran alongside
            raise placement_groups.duplicate(name) from None
        raise
    return row


async def members(view: CloudView, row: PlacementGroup) -> list[str]:
    try:
        return list((await view.nova.server_group(row.os_id)).get("members") or [])
    except BackendError as exc:
        if exc.status == 404:  # deleted in Nova directly: nothing is in it
            return []
        raise


async def delete(ctx: RequestContext, row: PlacementGroup) -> None:
    """Refused while instances are in it (Nova would delete a group with members, leaving them in none)."""
    view = await ctx.cloud()
    if await members(view, row):
        raise errors.InvalidPlacementGroupInUse(f"The placement group '{row.name}' is in use and may not be "
                                                "deleted.")
    await removed(lambda: view.nova.delete_server_group(row.os_id))
    await write(ctx, row_changes.remove, PlacementGroup.group_id, ctx.project_id, row.group_id)


async def check_room(view: CloudView, row: PlacementGroup, count: int, instance_type: str, zone: str) -> None:
    """A spread group holds at most seven running instances per zone (Nova's groups are not per zone: its
    members anywhere count)."""
    if row.strategy != "spread":
        return
    held = len(await members(view, row))
    if held + count > SPREAD_LIMIT:
        raise errors.InsufficientInstanceCapacity(
            f"We currently do not have sufficient {instance_type} capacity in the Availability Zone you requested "
            f"({zone}): the spread placement group '{row.name}' holds {held} of its {SPREAD_LIMIT} instances per "
            f"Availability Zone, {count} more asked.")


async def scheduled(ctx: RequestContext, view: CloudView, row: PlacementGroup, servers: list[dict],
                    reservation_id: str, instance_type: str, zone: str) -> None:
    """Wait until Nova has placed the launch's servers; those it found no host for (the group's policy) fail
    the launch as AWS fails it, with nothing left behind."""
    waiting = {s["id"] for s in servers}
    deadline = time.monotonic() + ctx.services.config.api.placement_wait
    failed: list[str] = []
    while waiting and time.monotonic() < deadline:
        found = {s["id"]: s for s in await view.nova.list_servers({"name": f"^{reservation_id}(-[0-9]+)?$"})}
        for server_id in list(waiting):
            server = found.get(server_id)
            if server is None or server.get("status") == "ERROR":
                failed.append(server_id)
            if server is None or server.get("status") != "BUILD" or server.get("OS-EXT-STS:task_state") not in (
                    None, "scheduling"):
                waiting.discard(server_id)
        if waiting:
            await asyncio.sleep(POLL)
    if not failed:
        return
    await _undo(ctx, view, [s["id"] for s in servers], reservation_id)
    raise errors.InsufficientInstanceCapacity(
        f"We currently do not have sufficient {instance_type} capacity in the Availability Zone you requested "
        f"({zone}) for placement group '{row.name}': this cloud's hosts cannot hold its {row.strategy} "
        "strategy for these instances. Our system will be working on provisioning additional capacity.")


async def _undo(ctx: RequestContext, view: CloudView, server_ids: list[str], reservation_id: str) -> None:
    """The launch's servers, and the interfaces made for them before the boot (deleted once Nova lets go)."""
    await asyncio.gather(*(removed(functools.partial(view.nova.delete_server, s)) for s in server_ids))
    ports = [p["id"] for p in await neutron_of(view).list("port", {"name": reservation_id})]
    if ports:
        await interface_removal.schedule(ctx, view, [ids.from_uuid("i", s) for s in server_ids], ports)
