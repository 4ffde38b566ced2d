"""Tags written and dropped with the resources they belong to, in the caller's transaction."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from sqlalchemy import delete, insert

from ec2proxy.db.models import Tag
from ec2proxy.ec2 import errors
from ec2proxy.ec2.tagging import rows


async def write(session, project_id: str, tagged: dict[str, list[dict]]) -> None:
    """Insert the tags of freshly created resources (in the caller's transaction)."""
    values = [row for resource_id, tags in tagged.items() for row in rows(resource_id, tags, project_id)]
    if values:
        await session.execute(insert(Tag), values)


async def forget(session, project_id: str, resource_id: str) -> None:
    """Drop a resource's tags (it is gone, or its tags are being written anew), in the caller's transaction."""
    await session.execute(delete(Tag).where(Tag.project_id == project_id, Tag.resource_id == resource_id))


@contextlib.asynccontextmanager
async def forgotten_if_gone(ctx, resource_id: str) -> AsyncIterator[None]:
    """Around a delete's lookup: a resource already gone (an earlier delete whose answer was lost on the
    way) takes its tags with it when the caller retries, so our tags and the cloud agree again."""
    try:
        yield
    except errors.EC2Error as exc:
        if exc.code.endswith(".NotFound") and isinstance(resource_id, str):
            async with ctx.services.sessions() as session, session.begin():
                await forget(session, ctx.project_id, resource_id)
        raise
