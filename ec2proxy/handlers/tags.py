"""CreateTags, DeleteTags, DescribeTags: one table, every resource type."""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import and_, delete, or_, select

from ec2proxy import db
from ec2proxy.context import RequestContext
from ec2proxy.db.models import Instance, Tag
from ec2proxy.ec2 import errors, filters, ids, paging, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import tag_reads
from ec2proxy.state import tag_writes

FILTERS: dict[str, Callable[..., Any]] = {
    "key": filters.path("Key"), "value": filters.path("Value"), "resource-id": filters.path("ResourceId"),
    "resource-type": filters.path("ResourceType"), "tag-key": filters.path("Key"),
    "tag-value": filters.path("Value"), "tag:": lambda tag, key: tag["Value"] if tag["Key"] == key else None}
# filters the database answers itself when their values are exact (no wildcards)
COLUMNS = {"key": Tag.key, "value": Tag.value, "tag-key": Tag.key, "tag-value": Tag.value,
           "resource-id": Tag.resource_id, "resource-type": Tag.resource_type}


def _resource_ids(params: dict) -> list[str]:
    resources = params.get("Resources") or []
    if not resources:
        raise errors.MissingParameter("The request must contain the parameter ResourceId")
    if len(resources) > 1000:
        raise errors.InvalidParameterValue("At most 1000 resources can be tagged in one request")
    for resource_id in resources:
        prefix = tagging.prefix_of(resource_id)
        if prefix not in tagging.RESOURCE_TYPES:
            raise errors.InvalidID(f"The ID '{resource_id[:64]}' is not valid")
        ids.check(prefix, resource_id)
    return list(dict.fromkeys(resources))


@action("CreateTags", checks_dry_run=True)
async def create_tags(ctx: RequestContext, params: dict) -> dict:
    resources = _resource_ids(params)
    tags = dict(tagging.check_tag(t.get("Key"), t.get("Value")) for t in params.get("Tags") or [])
    if not tags:
        raise errors.MissingParameter("The request must contain the parameter Tag")
    found = await tag_reads.existing(ctx, resources)
    missing = [r for r in resources if r not in found]
    if missing:
        raise errors.not_found(ids.KINDS[tagging.prefix_of(missing[0])], missing[0])
    for instance_id in await _tags_in_metadata(ctx, [r for r in resources if r.startswith("i-")]):
        tagging.check_metadata_keys(instance_id, tags)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    async with ctx.services.sessions() as session, session.begin():
        keys: dict[str, set[str]] = {}
        for chunk in db.chunks(resources):
            query = select(Tag.resource_id, Tag.key).where(Tag.project_id == ctx.project_id,
                                                          Tag.resource_id.in_(chunk))
            for resource_id, key in (await session.execute(query)).all():
                keys.setdefault(resource_id, set()).add(key)
        for resource_id in resources:
            if len(keys.get(resource_id, set()) | set(tags)) > tagging.MAX_PER_RESOURCE:
                raise errors.TagLimitExceeded(f"The maximum number of tags ({tagging.MAX_PER_RESOURCE}) for resource "
                                              f"{resource_id} has been exceeded")
        for chunk in db.chunks(resources):
            await session.execute(delete(Tag).where(Tag.project_id == ctx.project_id, Tag.resource_id.in_(chunk),
                                                    Tag.key.in_(list(tags))))
        await tag_writes.write(session, ctx.project_id,
                            {r: [{"Key": k, "Value": v} for k, v in tags.items()] for r in resources})
    await _changed(ctx, resources)
    return {}


async def _tags_in_metadata(ctx: RequestContext, instance_ids: list[str]) -> list[str]:
    """Which of these instances show their tags in the metadata service (InstanceMetadataTags = enabled)."""
    if not instance_ids:
        return []
    out = []
    async with ctx.services.sessions() as session:
        for chunk in db.chunks(instance_ids):
            rows = await session.execute(select(Instance.ec2_id, Instance.metadata_options).where(
                Instance.project_id == ctx.project_id, Instance.ec2_id.in_(chunk)))
            out += [ec2_id for ec2_id, options in rows.all()
                    if (options or {}).get("InstanceMetadataTags") == "enabled"]
    return out


async def _changed(ctx: RequestContext, resources: list[str]) -> None:
    """Instance tags show in the metadata service: drop what it cached of those instances."""
    instance_ids = [r for r in resources if r.startswith("i-")]
    if not instance_ids or not ctx.services.change_listeners:
        return
    os_ids: list[str] = []
    async with ctx.services.sessions() as session:
        for chunk in db.chunks(instance_ids):
            os_ids += (await session.scalars(select(Instance.os_id).where(
                Instance.project_id == ctx.project_id, Instance.ec2_id.in_(chunk)))).all()
    for os_id in os_ids:
        ctx.services.instance_changed(os_id)


@action("DeleteTags", checks_dry_run=True)
async def delete_tags(ctx: RequestContext, params: dict) -> dict:
    """A Tag with no Value deletes the key whatever its value; with a Value (even empty), only that value."""
    resources = _resource_ids(params)
    conditions = []
    for tag in params.get("Tags") or []:
        key = tag.get("Key")
        if not key:
            raise errors.MissingParameter("The request must contain the parameter Tag.Key")
        if key.lower().startswith("aws:"):
            raise errors.InvalidParameterValue("Tags starting with 'aws:' are reserved for internal use")
        conditions.append(Tag.key == key if tag.get("Value") is None else and_(Tag.key == key,
                                                                              Tag.value == tag["Value"]))
    if ctx.dry_run:
        raise errors.DryRunOperation()
    async with ctx.services.sessions() as session, session.begin():
        for chunk in db.chunks(resources):
            statement = delete(Tag).where(Tag.project_id == ctx.project_id, Tag.resource_id.in_(chunk))
            await session.execute(statement.where(or_(*conditions)) if conditions else statement)
    await _changed(ctx, resources)
    return {}


@action("DescribeTags")
async def describe_tags(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=1000)
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    query = select(Tag).where(Tag.project_id == ctx.project_id)
    for item in params.get("Filters") or []:
        column, values = COLUMNS.get(item["Name"]), item.get("Values") or []
        if column is not None and not any(c in v for v in values for c in "*?\\"):
            query = query.where(column.in_(values))
    async with ctx.services.sessions() as session:
        rows = (await session.scalars(query.order_by(Tag.resource_id, Tag.key))).all()
    tags = [{"ResourceId": row.resource_id, "ResourceType": row.resource_type, "Key": row.key, "Value": row.value}
            for row in rows]
    return paging.answer(ctx, "Tags", filters.apply(tags, compiled), params)

