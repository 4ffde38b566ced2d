"""Instance state changes: Terminate/Stop/Start/RebootInstances."""

from __future__ import annotations

import asyncio

from ec2proxy.cloud import BackendError
from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, states
from ec2proxy.handlers import action
from ec2proxy.readmodels.instance_shapes import InstanceRecord
from ec2proxy.readmodels.instances import lookup
from ec2proxy.state import resizes
from ec2proxy.state.instance_changes import change_state, terminate


async def _targets(ctx: RequestContext, instance_ids: list[str]) -> list[InstanceRecord]:
    """The named instances (each must exist in this project), as EC2 dicts with their Nova id."""
    if not instance_ids:
        raise errors.MissingParameter("The request must contain the parameter InstanceId")
    return await lookup(ctx, instance_ids)


@action("TerminateInstances", checks_dry_run=True)
async def terminate_instances(ctx: RequestContext, params: dict) -> dict:
    instances = await _targets(ctx, params["InstanceIds"])
    protected = [i.shape["InstanceId"] for i in instances if i.row is not None and i.row.disable_api_termination]
    if protected:
        raise errors.OperationNotPermitted(f"The instance '{protected[0]}' may not be terminated. Modify its "
                                           "'disableApiTermination' instance attribute and try again.")
    changes = await terminate(ctx, instances)
    return {"TerminatingInstances": changes}


@action("StopInstances", checks_dry_run=True)
async def stop_instances(ctx: RequestContext, params: dict) -> dict:
    if params.get("Hibernate"):  # RunInstances refuses HibernationOptions: no instance here is set up for it
        raise errors.UnsupportedOperation("Hibernation is not supported by this cloud: no instance here was "
                                          "launched with HibernationOptions.")
    changes = await change_state(ctx, await _targets(ctx, params["InstanceIds"]),
                                 lambda nova, i: nova.stop(i.os_id), {"running"},
                                 states.STOPPING, idle={"stopping", "stopped"})
    return {"StoppingInstances": changes}


async def _start(nova, instance: InstanceRecord) -> None:
    """Start; a server resized while stopped (ModifyInstanceAttribute) has its resize confirmed first.

    EC2 shows such an instance ``stopped`` throughout and lets it start at
    once; Nova needs the resize finished and confirmed, which it does within
    moments, so this follows it for a bounded time.
    """
    status = instance.nova_status
    for _ in range(40):
        if status == "VERIFY_RESIZE":
            await resizes.confirm(nova, instance.os_id)
        elif status == "SHUTOFF":
            try:
                await nova.start(instance.os_id)
                return
            except BackendError as exc:
                if exc.status != 409:
                    raise
        elif status != "RESIZE":
            break
        await asyncio.sleep(0.25)
        server = await nova.get_server(instance.os_id)
        status = "RESIZE" if server.get("OS-EXT-STS:task_state") else server.get("status")
    await nova.start(instance.os_id)


@action("StartInstances", checks_dry_run=True)
async def start_instances(ctx: RequestContext, params: dict) -> dict:
    changes = await change_state(ctx, await _targets(ctx, params["InstanceIds"]),
                                 _start, {"stopped"},
                                 states.PENDING, idle={"pending", "running"})
    return {"StartingInstances": changes}


@action("RebootInstances", checks_dry_run=True)
async def reboot_instances(ctx: RequestContext, params: dict) -> dict:
    await change_state(ctx, await _targets(ctx, params["InstanceIds"]),
                       lambda nova, i: nova.reboot(i.os_id), {"running"}, states.RUNNING)
    return {}


