"""Tags as our database keeps them, read for the resources a request names or lists; and which ids of each
kind exist in the caller's project (a resource family registers how to tell, ``@exists("vol")``), which
CreateTags asks before writing, so a tag never lands on someone else's resource or on nothing."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from sqlalchemy import select

from ec2proxy import db
from ec2proxy.db.models import Tag
from ec2proxy.ec2 import errors
from ec2proxy.ec2.records import Described
from ec2proxy.ec2.tagging import Item, attach, prefix_of

Exists = Callable[..., Awaitable[set[str]]]
_EXISTS: dict[str, Exists] = {}


def exists(*prefixes: str) -> Callable[[Exists], Exists]:
    """Register ``async fn(ctx, ids) -> the ids among them that exist in the caller's project``."""
    def register(fn: Exists) -> Exists:
        for prefix in prefixes:
            _EXISTS[prefix] = fn
        return fn

    return register


async def existing(ctx, resource_ids: list[str]) -> set[str]:
    """Which of ``resource_ids`` exist and are the caller's; unknown kinds are ``InvalidID``."""
    by_prefix: dict[str, list[str]] = {}
    for resource_id in resource_ids:
        prefix = prefix_of(resource_id)
        if prefix not in _EXISTS:
            raise errors.InvalidID(f"The ID '{resource_id[:64]}' is not valid")
        by_prefix.setdefault(prefix, []).append(resource_id)
    found: set[str] = set()
    for prefix, wanted in by_prefix.items():
        found |= await _EXISTS[prefix](ctx, wanted)
    return found


async def load(ctx, resource_ids: list[str]) -> dict[str, list[dict]]:
    """Tags of ``resource_ids`` in the caller's project, as EC2 ``Tags`` lists."""
    async with ctx.services.sessions() as session:
        return await read(session, ctx.project_id, resource_ids)


async def read(session, project_id: str, resource_ids: list[str]) -> dict[str, list[dict]]:
    """``load`` in a session the caller holds (beside its own reads)."""
    out: dict[str, list[dict]] = {}
    for chunk in db.chunks(resource_ids):
        query = select(Tag.resource_id, Tag.key, Tag.value).where(Tag.project_id == project_id,
                                                                  Tag.resource_id.in_(chunk))
        for resource_id, key, value in (await session.execute(query)).all():
            out.setdefault(resource_id, []).append({"Key": key, "Value": value})
    return out


async def with_tags(ctx, items: list[Item], id_member: str, member: str = "Tags",
                    tags: dict[str, list[dict]] | None = None) -> list[Item]:
    """``items`` with their tags: ``tags`` if the caller read them already (beside a backend call), else read."""
    if tags is None:
        tags = await load(ctx, [item[id_member] for item in items])
    return attach(items, id_member, tags, member)


async def tagged(ctx, found: list[Described], id_member: str,
                 tags: dict[str, list[dict]] | None = None) -> list[Described]:
    """Records with their tags in their shapes."""
    await with_tags(ctx, [d.shape for d in found], id_member, tags=tags)
    return found


async def listed(ctx, exact: list[tuple[Any, list[str]]]) -> list[dict]:
    """The project's tags as DescribeTags shows them, narrowed by the database where a filter's values are
    exact (``exact``: (column, values) pairs)."""
    query = select(Tag).where(Tag.project_id == ctx.project_id)
    for column, values in exact:
        query = query.where(column.in_(values))
    async with ctx.services.sessions() as session:
        rows = (await session.scalars(query.order_by(Tag.resource_id, Tag.key))).all()
    return [{"ResourceId": row.resource_id, "ResourceType": row.resource_type, "Key": row.key, "Value": row.value}
            for row in rows]
