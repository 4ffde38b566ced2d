"""DescribeAccountAttributes: what the account may do, from the cloud's quotas."""

from __future__ import annotations

import asyncio

from ec2proxy.cloud import BackendError, CloudView
from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors
from ec2proxy.handlers import action
from ec2proxy.readmodels.networks import default_vpc_id, neutron_of

NAMES = ("supported-platforms", "default-vpc", "max-instances", "vpc-max-security-groups-per-interface",
         "max-elastic-ips", "vpc-max-elastic-ips")


async def _network_quota(view: CloudView, project_id: str) -> dict:
    if view.neutron is None:
        return {}
    try:
        return await neutron_of(view).quota(project_id)
    except BackendError:
        return {}  # quotas are an optional Neutron extension


def _limit(value) -> str:
    return "unlimited" if value is None or value == -1 else str(value)


@action("DescribeAccountAttributes")
async def describe_account_attributes(ctx: RequestContext, params: dict) -> dict:
    """Neutron has no per-interface cap on groups: that figure is the project's security group quota."""
    wanted = params.get("AttributeNames") or list(NAMES)
    unknown = [name for name in wanted if name not in NAMES]
    if unknown:
        raise errors.InvalidParameterValue(f"Value ({unknown[0][:64]}) for parameter attributeName is invalid.")
    view = await ctx.cloud()
    limits, quota, vpc = await asyncio.gather(view.nova.limits(), _network_quota(view, ctx.project_id),
                                              default_vpc_id(ctx))
    values = {
        "supported-platforms": ["VPC"],
        "default-vpc": [vpc or "none"],
        "max-instances": [_limit(limits.get("absolute", {}).get("maxTotalInstances"))],
        "vpc-max-security-groups-per-interface": [_limit(quota.get("security_group"))],
        "max-elastic-ips": [_limit(quota.get("floatingip"))],
        "vpc-max-elastic-ips": [_limit(quota.get("floatingip"))],
    }
    return {"AccountAttributes": [
        {"AttributeName": name, "AttributeValues": [{"AttributeValue": v} for v in values[name]]}
        for name in dict.fromkeys(wanted)]}
