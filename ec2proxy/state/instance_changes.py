"""Instance state changes through Nova (Stop, Start, Reboot, Terminate), shared by their handlers and by what
the proxy does of itself (``ec2proxy.state.shutdown_behavior`` terminates an instance its guest shut down)."""

from __future__ import annotations

import asyncio
from typing import Collection, Sequence

from sqlalchemy import update

from ec2proxy import db
from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.db.models import Instance, utcnow
from ec2proxy.ec2 import errors, states
from ec2proxy.readmodels.instance_shapes import InstanceRecord
from ec2proxy.state import interface_removal, jobs, oplog, public_addresses, volume_removal


async def change_state(ctx, instances: Sequence[InstanceRecord], call, allowed: set[str],
                       current: tuple[int, str], idle: Collection[str] = frozenset()) -> list[dict]:
    for instance in instances:
        name = instance.shape["State"]["Name"]
        if name not in allowed and name not in idle:
            raise errors.IncorrectInstanceState(f"The instance '{instance.shape['InstanceId']}' is not in a state "
                                                f"from which {ctx.action} can act (it is {name}).")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    operation_id = await oplog.logged(ctx, [i.shape["InstanceId"] for i in instances])
    view = await ctx.cloud()
    acting = [i for i in instances if i.shape["State"]["Name"] in allowed]
    semaphore = asyncio.Semaphore(16)

    async def act(instance: InstanceRecord) -> None:
        async with semaphore:
            try:
                await call(view.nova, instance)
            except BackendNotFound:
                pass  # already gone: the state change has happened

    try:
        await asyncio.gather(*(act(i) for i in acting))
    except BackendError as exc:
        await oplog.closed(ctx.services.sessions, operation_id, str(exc))
        raise
    await oplog.closed(ctx.services.sessions, operation_id)
    changes = []
    for instance in instances:
        previous = instance.shape["State"]
        now_state = {"Code": current[0], "Name": current[1]} if instance in acting else previous
        changes.append({"InstanceId": instance.shape["InstanceId"], "PreviousState": previous,
                        "CurrentState": now_state})
    return changes


DELETE_JOB = "TerminateInstances.Delete"
DELETE_WAIT = 120.0  # seconds one run of the job asks; then it is taken up again after its lease


def _retryable(exc: BackendError) -> bool:
    """A delete Nova may take later: its 5xx, a throttle, no answer, or a task of its own under way (409)."""
    return exc.status >= 500 or exc.status in (0, 409, 429)


async def terminate(ctx, instances: list[InstanceRecord]) -> list[dict]:
    """Terminate these instances (each in a state that allows it, or already ending): Nova deletes the
    servers; what Nova keeps that EC2 deletes with an instance goes by background jobs. A termination accepted
    is carried out: a delete Nova failed for now is asked again by a job until the server is gone (the instance
    shows shutting-down meanwhile), never answered as the backend's 500."""
    ending = [i for i in instances if i.shape["State"]["Name"] not in ("terminated", "shutting-down")]
    await public_addresses.release(await ctx.cloud(), [i.os_id for i in ending])
    again: list[str] = []

    async def delete(nova, instance: InstanceRecord) -> None:
        try:
            await nova.delete_server(instance.os_id)
        except BackendNotFound:
            raise
        except BackendError as exc:
            if not _retryable(exc):
                raise
            again.append(instance.os_id)

    changes = await change_state(ctx, instances, delete, {"pending", "running", "stopping", "stopped"},
                                 states.SHUTTING_DOWN, idle={"shutting-down", "terminated"})
    if again:
        await jobs.schedule(ctx, await ctx.cloud(), DELETE_JOB, [i.shape["InstanceId"] for i in instances
                                                                 if i.os_id in again], {"servers": again})
    async with ctx.services.sessions() as session, session.begin():
        for chunk in db.chunks([i.shape["InstanceId"] for i in instances]):
            await session.execute(update(Instance).where(
                Instance.project_id == ctx.project_id, Instance.terminated_at.is_(None),
                Instance.ec2_id.in_(chunk)).values(terminated_at=utcnow(), generation=Instance.generation + 1))
    going = [port_id for i in instances for port_id in i.leaving_ports]
    if going:  # interfaces set to go with the instance that Nova keeps (not its own): the proxy deletes them
        await interface_removal.schedule(ctx, await ctx.cloud(), [i.shape["InstanceId"] for i in instances], going)
    # volumes set to go with the instances: Nova deletes them, but not one that has snapshots (Cinder refuses)
    await volume_removal.after_termination(ctx, await ctx.cloud(), ending)
    return changes


@jobs.runner(DELETE_JOB)
async def _delete_until_gone(services, operation, view) -> None:
    """Ask Nova again to delete each server until it is gone; a delete it refuses for good fails the job."""
    remaining = list((operation.details or {}).get("servers") or [])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DELETE_WAIT
    while remaining:
        for os_id in list(remaining):
            try:
                server = await view.nova.get_server(os_id)
                if server.get("status") != "DELETED" and server.get("OS-EXT-STS:task_state") != "deleting":
                    await view.nova.delete_server(os_id)
                    continue
            except BackendNotFound:
                remaining.remove(os_id)
                continue
            except BackendError as exc:
                if not _retryable(exc):
                    raise jobs.JobFailed(f"Nova refuses to delete {os_id}: {exc.message[:300]}") from None
        if remaining and loop.time() > deadline:
            raise BackendError("compute", 409, f"servers still not deleted: {', '.join(remaining)}")
        if remaining:
            await asyncio.sleep(1.0)
