"""Regions and availability zones."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, filters, servers
from ec2proxy.handlers import action

REGION_FILTERS = {
    "region-name": lambda region: region["RegionName"],
    "endpoint": lambda region: region["Endpoint"],
    "opt-in-status": lambda region: region["OptInStatus"],
}

ZONE_FILTERS = {
    "zone-name": lambda zone: zone["ZoneName"],
    "zone-id": lambda zone: zone["ZoneId"],
    "region-name": lambda zone: zone["RegionName"],
    "state": lambda zone: zone["State"],
    "zone-type": lambda zone: zone["ZoneType"],
    "group-name": lambda zone: zone["GroupName"],
    "network-border-group": lambda zone: zone["NetworkBorderGroup"],
    "opt-in-status": lambda zone: zone["OptInStatus"],
    "message": lambda zone: [m["Message"] for m in zone["Messages"]],
}


@action("DescribeRegions")
async def describe_regions(ctx: RequestContext, params: dict) -> dict:
    endpoint = ctx.extra.get("endpoint", "")
    regions = [
        {"RegionName": name, "Endpoint": endpoint, "OptInStatus": "opt-in-not-required"}
        for name in sorted(ctx.services.config.regions)
    ]
    wanted = params.get("RegionNames")
    if wanted:
        known = {region["RegionName"] for region in regions}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise errors.InvalidParameterValue(f"Invalid region: {unknown[0][:64]}")
        regions = [region for region in regions if region["RegionName"] in wanted]
    compiled = filters.compile_filters(params.get("Filters"), REGION_FILTERS, ctx.action)
    return {"Regions": filters.apply(regions, compiled)}


@action("DescribeAvailabilityZones")
async def describe_availability_zones(ctx: RequestContext, params: dict) -> dict:
    region = ctx.region
    zones = [
        {
            "ZoneName": name,
            "ZoneId": servers.zone_id(region, name),
            "State": "available",
            "RegionName": region,
            "ZoneType": "availability-zone",
            "GroupName": region,
            "NetworkBorderGroup": region,
            "OptInStatus": "opt-in-not-required",
            "Messages": [],
        }
        for name in sorted(await ctx.services.availability_zones())
    ]
    for key, field in (("ZoneNames", "ZoneName"), ("ZoneIds", "ZoneId")):
        wanted = params.get(key)
        if wanted:
            known = {zone[field] for zone in zones}
            unknown = [name for name in wanted if name not in known]
            if unknown:
                raise errors.InvalidParameterValue(
                    f"The availability zone '{unknown[0][:64]}' is not valid in region {region}"
                )
            zones = [zone for zone in zones if zone[field] in wanted]
    compiled = filters.compile_filters(params.get("Filters"), ZONE_FILTERS, ctx.action)
    return {"AvailabilityZones": filters.apply(zones, compiled)}
