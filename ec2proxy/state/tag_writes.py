"""Tags written and dropped with the resources they belong to, in the caller's transaction."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from sqlalchemy import and_, delete, insert, or_, select

from ec2proxy import db
from ec2proxy.db.models import Tag
from ec2proxy.ec2 import errors
from ec2proxy.ec2.tagging import MAX_PER_RESOURCE, rows


async def write(session, project_id: str, tagged: dict[str, list[dict]]) -> None:
    """Insert the tags of freshly created resources (in the caller's transaction)."""
    values = [row for resource_id, tags in tagged.items() for row in rows(resource_id, tags, project_id)]
    if values:
        await session.execute(insert(Tag), values)


async def forget(session, project_id: str, resource_id: str) -> None:
    """Drop a resource's tags (it is gone, or its tags are being written anew), in the caller's transaction."""
    await session.execute(delete(Tag).where(Tag.project_id == project_id, Tag.resource_id == resource_id))


async def replace(session, project_id: str, resource_id: str, tags: list[dict]) -> None:
    """The resource's tags are ``tags`` and nothing else (a create that adopts what an earlier attempt made)."""
    await forget(session, project_id, resource_id)
    await write(session, project_id, {resource_id: tags})


async def put(session, project_id: str, resources: list[str], tags: dict[str, str]) -> None:
    """CreateTags: each key set on every resource (a key it has takes the new value), within AWS's limit of
    tags per resource."""
    keys: dict[str, set[str]] = {}
    for chunk in db.chunks(resources):
        query = select(Tag.resource_id, Tag.key).where(Tag.project_id == project_id, Tag.resource_id.in_(chunk))
        for resource_id, key in (await session.execute(query)).all():
            keys.setdefault(resource_id, set()).add(key)
    for resource_id in resources:
        if len(keys.get(resource_id, set()) | set(tags)) > MAX_PER_RESOURCE:
            raise errors.TagLimitExceeded(f"The maximum number of tags ({MAX_PER_RESOURCE}) for resource "
                                          f"{resource_id} has been exceeded")
    for chunk in db.chunks(resources):
        await session.execute(delete(Tag).where(Tag.project_id == project_id, Tag.resource_id.in_(chunk),
                                                Tag.key.in_(list(tags))))
    await write(session, project_id, {r: [{"Key": k, "Value": v} for k, v in tags.items()] for r in resources})


async def drop(session, project_id: str, resources: list[str], keys: list[tuple[str, str | None]]) -> None:
    """DeleteTags: these (key, value) pairs of every resource, a key with no value whatever its value; no
    pairs: every tag of the resources."""
    conditions = [Tag.key == key if value is None else and_(Tag.key == key, Tag.value == value)
                  for key, value in keys]
    for chunk in db.chunks(resources):
        statement = delete(Tag).where(Tag.project_id == project_id, Tag.resource_id.in_(chunk))
        await session.execute(statement.where(or_(*conditions)) if conditions else statement)


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
