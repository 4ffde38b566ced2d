"""Placement groups as EC2 shows them: our rows (name, strategy, tags) over Nova's server groups."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.db.models import PlacementGroup
from ec2proxy.ec2 import errors, filters, ids, tagging
from ec2proxy.readmodels import own_rows, tag_reads

_get = filters.path
FILTERS = {"group-name": _get("GroupName"), "group-id": _get("GroupId"), "group-arn": _get("GroupArn"),
           "state": _get("State"), "strategy": _get("Strategy"), "spread-level": _get("SpreadLevel"),
           **tagging.FILTERS}


def unknown(name: str) -> errors.EC2Error:
    return errors.InvalidPlacementGroupUnknown(f"The Placement Group '{name[:255]}' is unknown.")


def duplicate(name: str) -> errors.EC2Error:
    return errors.InvalidPlacementGroupDuplicate(f"The Placement Group '{name[:255]}' already exists.")


def shape(row: PlacementGroup, region: str) -> dict:
    return {"GroupName": row.name, "GroupId": row.group_id, "State": "available", "Strategy": row.strategy,
            "GroupArn": f"arn:aws:ec2:{region}:{row.project_id}:placement-group/{row.name}",
            **({"SpreadLevel": row.spread_level} if row.spread_level else {})}


async def rows(ctx: RequestContext, group_ids: list[str] | None = None) -> list[PlacementGroup]:
    return await own_rows.rows(ctx, PlacementGroup, PlacementGroup.group_id, group_ids)


async def shapes(ctx: RequestContext, group_ids: list[str] | None = None) -> list[dict]:
    return await tag_reads.with_tags(ctx, [shape(r, ctx.region) for r in await rows(ctx, group_ids)], "GroupId")


async def named(ctx: RequestContext, name: str | None = None, group_id: str | None = None) -> PlacementGroup:
    """The project's group of that name or id (RunInstances' Placement, DeletePlacementGroup)."""
    wanted = [ids.check("pg", group_id)] if group_id else None
    found = [r for r in await rows(ctx, wanted) if name is None or r.name == name]
    if not found:
        raise unknown(name or group_id or "")
    return found[0]


@tag_reads.exists("pg")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    return await own_rows.existing(ctx, PlacementGroup.group_id, resource_ids)
