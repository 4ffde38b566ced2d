"""A launch recorded: the reservation, one row per instance Nova made, their tags, and the ClientToken claim
done, in one transaction (one executemany per table, whatever MaxCount was)."""

from __future__ import annotations

import re
from typing import cast

from sqlalchemy import Table, insert

from ec2proxy.context import RequestContext
from ec2proxy.db.models import Instance, Reservation, utcnow
from ec2proxy.ec2 import ids
from ec2proxy.state import ledger, tag_writes

INSTANCES = cast(Table, Instance.__table__)
_INDEX = re.compile(r"-(\d+)$")  # Nova names the servers of a multiple create name-1, name-2, ...


async def record(ctx: RequestContext, create: ledger.Create, reservation_id: str, nova_reservation: str | None,
                 servers: list[dict], groups: list[dict], common: dict, tags: list[dict]) -> tuple[list[dict],
                                                                                                   dict]:
    """(the instance rows written, the tags of each instance); ``common``: the columns every instance of the
    launch shares."""
    launched = utcnow()
    rows, tagged = [], {}
    for server in servers:
        match = _INDEX.search(server["name"])
        ec2_id = ids.from_uuid("i", server["id"])
        rows.append(dict(ec2_id=ec2_id, os_id=server["id"], project_id=ctx.project_id,
                         reservation_id=reservation_id,
                         launch_index=int(match.group(1)) - 1 if match and len(servers) > 1 else 0,
                         **common, launched_at=launched, terminated_at=None, generation=1))
        tagged[ec2_id] = tags
    async with ctx.services.sessions() as session, session.begin():
        session.add(Reservation(reservation_id=reservation_id, project_id=ctx.project_id, user_id=ctx.user_id,
                                groups=groups, created_at=launched, nova_reservation_id=nova_reservation))
        await session.flush()
        if rows:
            await session.execute(insert(INSTANCES), rows)  # Core: no ORM bookkeeping per row
        await tag_writes.write(session, ctx.project_id, tagged)
        await create.done(session)
    return rows, tagged
