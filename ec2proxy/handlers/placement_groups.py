"""Placement groups: Create/Describe/DeletePlacementGroup, on Nova server groups (``ec2proxy.state
.placement_groups`` says how each strategy maps, and what has no counterpart)."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, filters, ids, tagging
from ec2proxy.handlers import action
from ec2proxy.readmodels import placement_groups
from ec2proxy.state import placement_groups as changes

NAME_LIMIT = 255


def _strategy(params: dict) -> tuple[str, str | None]:
    """(strategy, spread level) as asked, each checked; what Nova cannot do is refused saying why."""
    strategy = params.get("Strategy")
    if strategy == "partition":
        raise errors.UnsupportedOperation("Partition placement groups are not supported: Nova's server groups "
                                          "cannot keep groups of instances on disjoint sets of hosts, nor tell "
                                          "each instance its partition. Use spread or cluster.")
    if strategy not in changes.POLICIES:
        raise errors.InvalidParameterValue(f"Value ({str(strategy)[:32]}) for parameter strategy is invalid. "
                                           "Valid values: cluster, spread")
    if params.get("PartitionCount") not in (None, 0):
        raise errors.InvalidParameterValue("PartitionCount is valid only with the partition strategy")
    level = params.get("SpreadLevel")
    if strategy == "cluster" and level:
        raise errors.InvalidParameterValue("SpreadLevel is valid only with the spread strategy")
    if level == "host":
        raise errors.InvalidParameterValue("SpreadLevel host is only for placement groups on AWS Outposts; "
                                           "a spread group here places its instances on distinct hosts (rack)")
    if level not in (None, "", "rack"):
        raise errors.InvalidParameterValue(f"Value ({str(level)[:32]}) for parameter SpreadLevel is invalid")
    return strategy, "rack" if strategy == "spread" else None


@action("CreatePlacementGroup", checks_dry_run=True)
async def create_placement_group(ctx: RequestContext, params: dict) -> dict:
    for member in ("LinkedGroupId", "ParentGroupId", "Operator"):
        if params.get(member):
            raise errors.UnsupportedOperation(f"CreatePlacementGroup with {member} is not supported by this cloud.")
    name = params.get("GroupName")
    if not name:
        raise errors.MissingParameter("The request must contain the parameter groupName")
    if len(name) > NAME_LIMIT or not name.isascii():
        raise errors.InvalidParameterValue(f"The placement group name is up to {NAME_LIMIT} ASCII characters")
    strategy, level = _strategy(params)
    tags = tagging.from_specs(params, ("placement-group",)).get("placement-group", [])
    if any(row.name == name for row in await placement_groups.rows(ctx)):
        raise placement_groups.duplicate(name)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    row = await changes.create(ctx, name, strategy, level, tags)
    return {"PlacementGroup": {**placement_groups.shape(row, ctx.region), "Tags": tags}}


@action("DescribePlacementGroups")
async def describe_placement_groups(ctx: RequestContext, params: dict) -> dict:
    wanted_ids = [ids.check("pg", i) for i in params.get("GroupIds") or []]
    names = params.get("GroupNames") or []
    shapes = await placement_groups.shapes(ctx, wanted_ids or None)
    shapes = filters.by_ids(shapes, "GroupId", wanted_ids, placement_groups.unknown)
    shapes = filters.by_ids(shapes, "GroupName", names, placement_groups.unknown)
    shapes = filters.apply(shapes, filters.compile_filters(params.get("Filters"), placement_groups.FILTERS,
                                                           ctx.action))
    return {"PlacementGroups": shapes}


@action("DeletePlacementGroup", checks_dry_run=True)
async def delete_placement_group(ctx: RequestContext, params: dict) -> dict:
    if not params.get("GroupName"):
        raise errors.MissingParameter("The request must contain the parameter groupName")
    row = await placement_groups.named(ctx, params["GroupName"])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await changes.delete(ctx, row)
    return {}

