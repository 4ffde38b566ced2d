"""Tags: kept in our database for every resource type, checked the way EC2 checks them.

A resource family registers how to tell which of its ids exist in the
caller's project (``@exists("vol")``); CreateTags asks it before writing, so a
tag never lands on someone else's resource or on nothing.
"""

from __future__ import annotations

import contextlib
from typing import AsyncIterator, Awaitable, Callable, Iterable, TypeVar

from sqlalchemy import delete, insert, select

from ec2proxy import db
from ec2proxy.db.models import Tag
from ec2proxy.ec2 import errors, filters

MAX_PER_RESOURCE = 50
Item = TypeVar("Item", bound=dict)

# id prefix -> the EC2 resource type (as DescribeTags and TagSpecifications name it)
RESOURCE_TYPES = {
    "i": "instance", "ami": "image", "aki": "image", "ari": "image", "vol": "volume", "snap": "snapshot",
    "sg": "security-group", "key": "key-pair", "eipalloc": "elastic-ip", "vpc": "vpc", "subnet": "subnet",
    "eni": "network-interface", "sgr": "security-group-rule", "igw": "internet-gateway", "rtb": "route-table",
    "dopt": "dhcp-options", "cgw": "customer-gateway",
}

Exists = Callable[..., Awaitable[set[str]]]
_EXISTS: dict[str, Exists] = {}


def exists(*prefixes: str) -> Callable[[Exists], Exists]:
    """Register ``async fn(ctx, ids) -> the ids among them that exist in the caller's project``."""
    def register(fn: Exists) -> Exists:
        for prefix in prefixes:
            _EXISTS[prefix] = fn
        return fn

    return register


def prefix_of(resource_id: str) -> str:
    return resource_id.partition("-")[0]


async def existing(ctx, resource_ids: list[str]) -> set[str]:
    """Which of ``resource_ids`` exist and are the caller's; unknown kinds are ``InvalidID``."""
    by_prefix: dict[str, list[str]] = {}
    for resource_id in resource_ids:
        prefix = prefix_of(resource_id)
        if prefix not in _EXISTS:
            raise errors.EC2Error(f"The ID '{resource_id[:64]}' is not valid", code="InvalidID")
        by_prefix.setdefault(prefix, []).append(resource_id)
    found: set[str] = set()
    for prefix, wanted in by_prefix.items():
        found |= await _EXISTS[prefix](ctx, wanted)
    return found


def check_tag(key: object, value: object, *, value_required: bool = True) -> tuple[str, str]:
    if not isinstance(key, str) or not key or len(key) > 128:
        raise errors.InvalidParameterValue("Tag keys must be 1 to 128 characters long")
    if key.lower().startswith("aws:"):
        raise errors.InvalidParameterValue(f"Tag keys starting with 'aws:' are reserved for internal use: {key}")
    value = "" if value is None else value
    if not isinstance(value, str) or len(value) > 256:
        raise errors.InvalidParameterValue(f"Tag value for key '{key}' must be at most 256 characters long")
    return key, value


def from_specs(params: dict, allowed: Iterable[str]) -> dict[str, list[dict]]:
    """TagSpecifications by resource type; a type the action cannot tag is refused, not ignored."""
    allowed = tuple(allowed)
    out: dict[str, list[dict]] = {}
    for spec in params.get("TagSpecifications") or []:
        kind = spec.get("ResourceType")
        if kind not in allowed:
            raise errors.InvalidParameterValue(f"'{str(kind)[:32]}' is not a valid taggable resource type for this "
                                               "operation.")
        tags = out.setdefault(kind, [])
        for tag in spec.get("Tags") or []:
            key, value = check_tag(tag.get("Key"), tag.get("Value"))
            tags.append({"Key": key, "Value": value})
    for tags in out.values():
        if len({t["Key"] for t in tags}) > MAX_PER_RESOURCE:
            raise errors.EC2Error(f"A resource can have at most {MAX_PER_RESOURCE} tags", code="TagLimitExceeded")
    return out


def rows(resource_id: str, tags: list[dict], project_id: str) -> list[dict]:
    kind = RESOURCE_TYPES.get(prefix_of(resource_id), "")
    latest = {t["Key"]: t["Value"] for t in tags}
    return [dict(resource_id=resource_id, key=key, value=value, project_id=project_id, resource_type=kind)
            for key, value in latest.items()]


async def write(session, project_id: str, tagged: dict[str, list[dict]]) -> None:
    """Insert the tags of freshly created resources (in the caller's transaction)."""
    values = [row for resource_id, tags in tagged.items() for row in rows(resource_id, tags, project_id)]
    if values:
        await session.execute(insert(Tag), values)


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


def attach(items: list[Item], id_member: str, tags: dict[str, list[dict]], member: str = "Tags") -> list[Item]:
    """Put each item's tags in place (as ``member``: ``Tags``, or ``TagSet`` for a NetworkInterface)."""
    for item in items:
        item[member] = tags.get(item[id_member], [])
    return items


async def with_tags(ctx, items: list[Item], id_member: str, member: str = "Tags",
                    tags: dict[str, list[dict]] | None = None) -> list[Item]:
    """``items`` with their tags: ``tags`` if the caller read them already (beside a backend call), else read."""
    if tags is None:
        tags = await load(ctx, [item[id_member] for item in items])
    return attach(items, id_member, tags, member)


def tag_filters(member: str = "Tags") -> dict[str, Callable]:
    """The tag filters every Describe* of a taggable resource takes, reading the tags under ``member``."""
    def tag_values(item: dict, key: str) -> list[str]:  # what tag:<key> compares: the values of tags named key
        return [tag["Value"] for tag in item.get(member) or () if tag["Key"] == key]

    return {"tag-key": filters.path(f"{member}.Key"), "tag-value": filters.path(f"{member}.Value"),
            "tag:": tag_values}


FILTERS = tag_filters()


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
