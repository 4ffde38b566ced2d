"""Elastic IPs from the live view (issue 29): DescribeAddresses naming allocation ids (a Terraform refresh of an
``aws_eip``) answered from the floating IPs, their ports and the external networks as the services'
notifications (or our last direct read) left them in ``view_objects``, asking nothing of Neutron.

As for instances, the view answers only for what it can vouch for: the feed connected and on time, every object
seen since it connected and none changed by our own writes since. Else the caller reads Neutron directly and
what it read refreshes the view (``remember``). A listing of the project's addresses, or one by public IP, is
always read directly: the view cannot tell that it holds every address of the project (a new one is in it only
once its notification came).
"""

from __future__ import annotations

import datetime

from sqlalchemy import select

from ec2proxy.cloud import notifications
from ec2proxy.context import RequestContext
from ec2proxy.db.models import ViewObject
from ec2proxy.ec2 import ids
from ec2proxy.readmodels.live_instances import Unanswered, current, marked, read_neutron, rows_of, swept, trusted


async def _os_ids(session, ctx: RequestContext, allocation_ids: list[str]) -> list[str]:
    """The floating IPs these allocation ids name: known to this process, or found among the project's in the
    view (an EC2 id is a digest of the OpenStack id)."""
    known = {a: ids.os_id_of(a) for a in allocation_ids}
    if any(os_id is None for os_id in known.values()):
        held = await session.scalars(select(ViewObject.os_id).where(
            ViewObject.kind == "floatingip", ViewObject.project_id == ctx.project_id, ViewObject.deleted.is_(False)))
        by_id = {ids.from_uuid("eipalloc", os_id): os_id for os_id in held}
        known = {a: os_id or by_id.get(a) for a, os_id in known.items()}
    if any(os_id is None for os_id in known.values()):
        raise Unanswered("unknown")  # not in the view (or none such: the direct read says which)
    return [os_id for os_id in known.values() if os_id is not None]


async def addresses(ctx: RequestContext, allocation_ids: list[str]) -> tuple[list[dict], dict[str, dict],
                                                                            dict[str, str]]:
    """The floating IPs of these allocation ids, their ports (by id) and the external networks' names (by id),
    as Neutron's API shows them, from the view; Unanswered when it cannot vouch for them."""
    live = ctx.services.live
    current(live)
    async with ctx.services.sessions() as session:
        await swept(session, ctx)
        os_ids = await _os_ids(session, ctx, list(dict.fromkeys(allocation_ids)))
        fips = trusted(ctx, await rows_of(session, ctx, "floatingip", ViewObject.os_id, os_ids))
        if len(fips) < len(set(os_ids)):
            raise Unanswered("unknown")  # deleted: the direct read says it is not there
        port_ids = sorted({f.data["port_id"] for f in fips if f.data.get("port_id")})
        ports = trusted(ctx, await rows_of(session, ctx, "port", ViewObject.os_id, port_ids))
        network_ids = sorted({f.data.get("floating_network_id") or "" for f in fips})
        networks = trusted(ctx, await rows_of(session, ctx, "network", ViewObject.os_id, network_ids, mine=False))
        if len(ports) < len(port_ids) or len(networks) < len(network_ids):
            raise Unanswered("unknown")
        if await marked(session, [(r.kind, r.os_id) for r in (*fips, *ports)]):
            raise Unanswered("written")
    return ([f.data for f in sorted(fips, key=lambda f: os_ids.index(f.os_id))], {p.os_id: p.data for p in ports},
            {n.os_id: n.data.get("name") or n.os_id for n in networks})


async def remember(ctx: RequestContext, fips: list[dict], ports: list[dict], networks: list[dict],
                   since: datetime.datetime) -> None:
    """What a direct read of the project's addresses (begun at ``since``) found, into the view: never over a
    newer change, and lifting the marks of our writes made before it."""
    seen = notifications.stamp_of(since)
    changes = [read_neutron(kind, {k: item[k] for k in notifications.KEPT[kind] if k in item}, ctx.project_id, seen)
               for kind, items in (("floatingip", fips), ("port", ports), ("network", networks)) for item in items]
    await ctx.services.live.observed(ctx.services.sessions, ctx.project_id, changes, since)
