"""Elastic IPs from the live view (issue 29): DescribeAddresses naming allocation ids or public IPs (a Terraform refresh
of an ``aws_eip``) answered from the floating IPs, their ports and the external networks as the services'
notifications (or our last direct read) left them in ``view_objects``, asking nothing of Neutron.

As for instances, the view answers only for what it can vouch for: the feed connected and on time, every object
seen since it connected and none changed by our own writes since. Else the caller reads Neutron directly and
what it read refreshes the view (``remember``). A listing of the project's addresses is always read directly: the
view cannot tell that it holds every address of the project (a new one is in it only once its notification
came); a public IP the view holds no address of is read directly for the same reason.
"""

from __future__ import annotations

import datetime
from typing import Sequence

from sqlalchemy import select

from ec2proxy.context import RequestContext
from ec2proxy.db.models import ViewObject
from ec2proxy.ec2 import ids
from ec2proxy.readmodels.live_instances import (
    Unanswered,
    by_ec2_ids,
    current,
    marked,
    remember_neutron,
    rows_of,
    swept,
    trusted,
)


async def _allocations(session, ctx: RequestContext, public_ips: list[str]) -> list[str]:
    """The allocation ids of the project's addresses of these public IPs that the view holds, one each."""
    if not public_ips:
        return []
    held: dict[str, list[str]] = {}
    for os_id, data in (await session.execute(select(ViewObject.os_id, ViewObject.data).where(
            ViewObject.kind == "floatingip", ViewObject.project_id == ctx.project_id,
            ViewObject.deleted.is_(False)))).all():
        held.setdefault((data or {}).get("floating_ip_address") or "", []).append(os_id)
    if any(len(held.get(ip, ())) != 1 for ip in public_ips):
        raise Unanswered("unknown")  # none held (or one of two external networks'): the direct read says
    return [ids.from_uuid("eipalloc", held[ip][0]) for ip in public_ips]


async def addresses(ctx: RequestContext, allocation_ids: list[str],
                    public_ips: Sequence[str] = ()) -> tuple[list[dict], dict[str, dict], dict[str, str]]:
    """The floating IPs of these allocation ids and public IPs, their ports (by id) and the external networks'
    names (by id), as Neutron's API shows them, from the view; Unanswered when it cannot vouch for them."""
    live = ctx.services.live
    current(live)
    async with ctx.services.sessions() as session:
        await swept(session, ctx)
        named = [*allocation_ids, *await _allocations(session, ctx, list(public_ips))]
        _, fips = await by_ec2_ids(session, ctx, "floatingip", "eipalloc", named)
        port_ids = sorted({f.data["port_id"] for f in fips if f.data.get("port_id")})
        ports = trusted(ctx, await rows_of(session, ctx, "port", ViewObject.os_id, port_ids))
        network_ids = sorted({f.data.get("floating_network_id") or "" for f in fips})
        networks = trusted(ctx, await rows_of(session, ctx, "network", ViewObject.os_id, network_ids, mine=False))
        if len(ports) < len(port_ids) or len(networks) < len(network_ids):
            raise Unanswered("unknown")
        if await marked(session, [(r.kind, r.os_id) for r in (*fips, *ports)]):
            raise Unanswered("written")
    return [f.data for f in fips], {p.os_id: p.data for p in ports}, {
        n.os_id: n.data.get("name") or n.os_id for n in networks}


async def remember(ctx: RequestContext, fips: list[dict], ports: list[dict], networks: list[dict],
                   since: datetime.datetime) -> None:
    """What a direct read of the project's addresses (begun at ``since``) found, into the view."""
    await remember_neutron(ctx, [("floatingip", fips), ("port", ports), ("network", networks)], since)
