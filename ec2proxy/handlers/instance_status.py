"""DescribeInstanceStatus: the status checks EC2 reports, from the state Nova reports.

OpenStack has no separate system/instance reachability checks; a running
server counts as passing both, anything else as not applicable. No scheduled
events are known, so ``Events`` is always empty.
"""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.ec2 import filters, ids, paging
from ec2proxy.handlers import action
from ec2proxy.readmodels.instance_shapes import InstanceRecord
from ec2proxy.readmodels.instances import describe, lookup


def _summary(ok: bool) -> dict:
    return {"Status": "ok" if ok else "not-applicable",
            "Details": [{"Name": "reachability", "Status": "passed" if ok else "not-applicable"}]}


def status_of(instance: InstanceRecord) -> dict:
    running = instance.shape["State"]["Name"] == "running"
    return {"InstanceId": instance.shape["InstanceId"],
            "AvailabilityZone": instance.shape["Placement"]["AvailabilityZone"],
            "InstanceState": instance.shape["State"], "InstanceStatus": _summary(running),
            "SystemStatus": _summary(running), "Events": []}


_get = filters.path
FILTERS = {
    "availability-zone": _get("AvailabilityZone"), "instance-state-name": _get("InstanceState.Name"),
    "instance-state-code": _get("InstanceState.Code"), "instance-status.status": _get("InstanceStatus.Status"),
    "instance-status.reachability": _get("InstanceStatus.Details.Status"),
    "system-status.status": _get("SystemStatus.Status"),
    "system-status.reachability": _get("SystemStatus.Details.Status"),
    "event.code": _get("Events.Code"), "event.description": _get("Events.Description"),
    "event.instance-event-id": _get("Events.InstanceEventId"), "event.not-after": _get("Events.NotAfter"),
    "event.not-before": _get("Events.NotBefore"), "event.not-before-deadline": _get("Events.NotBeforeDeadline"),
}


@action("DescribeInstanceStatus")
async def describe_instance_status(ctx: RequestContext, params: dict) -> dict:
    wanted = [ids.check("i", i) for i in params.get("InstanceIds") or []]
    paging.check_max_results(params, ids_member="InstanceIds")
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    instances = await lookup(ctx, wanted) if wanted else await describe(ctx)
    if not params.get("IncludeAllInstances"):
        instances = [i for i in instances if i.shape["State"]["Name"] == "running"]
    return paging.answer(ctx, "InstanceStatuses", filters.apply([status_of(i) for i in instances], compiled), params)
