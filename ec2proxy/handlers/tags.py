"""CreateTags, DeleteTags, DescribeTags: one table, every resource type."""

from __future__ import annotations

from typing import Any, Callable

from ec2proxy.context import RequestContext
from ec2proxy.db.models import Tag
from ec2proxy.ec2 import errors, filters, ids, paging, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.instances import server_ids, with_metadata_tags
from ec2proxy.state import tag_writes, write

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
    for instance_id in await with_metadata_tags(ctx, [r for r in resources if r.startswith("i-")]):
        tagging.check_metadata_keys(instance_id, tags)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, tag_writes.put, ctx.project_id, resources, tags)
    await _changed(ctx, resources)
    return {}


async def _changed(ctx: RequestContext, resources: list[str]) -> None:
    """Instance tags show in the metadata service: drop what it cached of those instances."""
    instance_ids = [r for r in resources if r.startswith("i-")]
    if not instance_ids or not ctx.services.change_listeners:
        return
    for os_id in await server_ids(ctx, instance_ids):
        ctx.services.instance_changed(os_id)


@action("DeleteTags", checks_dry_run=True)
async def delete_tags(ctx: RequestContext, params: dict) -> dict:
    """A Tag with no Value deletes the key whatever its value; with a Value (even empty), only that value."""
    resources = _resource_ids(params)
    keys: list[tuple[str, str | None]] = []
    for tag in params.get("Tags") or []:
        key = tag.get("Key")
        if not key:
            raise errors.MissingParameter("The request must contain the parameter Tag.Key")
        if key.lower().startswith("aws:"):
            raise errors.InvalidParameterValue("Tags starting with 'aws:' are reserved for internal use")
        keys.append((key, tag.get("Value")))
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await write(ctx, tag_writes.drop, ctx.project_id, resources, keys)
    await _changed(ctx, resources)
    return {}


def _wildcard(values: list[str]) -> bool:
    return any(c in v for v in values for c in "*?\\")


@action("DescribeTags")
async def describe_tags(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=1000)
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    exact = [(COLUMNS[item["Name"]], item.get("Values") or []) for item in params.get("Filters") or []
             if item["Name"] in COLUMNS and not _wildcard(item.get("Values") or [])]
    tags = await tag_reads.listed(ctx, exact)
    return paging.answer(ctx, "Tags", filters.apply(tags, compiled), params)

