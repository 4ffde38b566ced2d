"""A stopped instance's new type (ModifyInstanceAttribute instanceType), carried through Nova's resize.

EC2 changes a stopped instance's type at once; Nova resizes, waits in
VERIFY_RESIZE for a confirmation, and may fail on the way. A background job
(``ec2proxy.state.jobs``) follows the resize, confirms it, and when Nova
failed or reverted it, closes the operation failed with Nova's reason and
puts the type Nova kept back in our row: never a type shown that the server
does not have.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.db.models import Instance
from ec2proxy.ec2 import states
from ec2proxy.state import jobs

JOB = "ModifyInstanceAttribute.Resize"
WAIT = 120.0  # seconds one run follows the resize; then the job is taken up again after its lease


async def confirm(nova, os_id: str) -> None:
    """Confirm Nova's resize, from whichever of this job and StartInstances sees it waiting first: the other's
    confirmation then answers 400 ("Instance has not been resized", as the lab's Nova says once it is
    confirmed) or 409 (a task of its own is under way), which is no failure of the resize."""
    try:
        await nova.confirm_resize(os_id)
    except BackendError as exc:
        if exc.status not in (400, 409):
            raise


async def schedule(ctx, view, instance_id: str, os_id: str, flavor: dict, previous: str) -> None:
    await jobs.schedule(ctx, view, JOB, [instance_id], {"server": os_id, "flavor": flavor["name"],
                                                        "previous": previous})


@jobs.runner(JOB)
async def _follow(services, operation, view) -> None:
    details = operation.details or {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        try:
            server = await view.nova.get_server(details["server"])
        except BackendNotFound:
            return  # terminated meanwhile: nothing is left to confirm
        status, task = server.get("status"), server.get("OS-EXT-STS:task_state")
        if status == "DELETED" or task == "deleting":
            return
        if status == "VERIFY_RESIZE" and not task:
            await confirm(view.nova, details["server"])
        elif status == "ERROR" or (status in ("SHUTOFF", "ACTIVE") and task not in states.RESIZE_TASKS):
            kept = (server.get("flavor") or {}).get("original_name")
            if status != "ERROR" and kept == details["flavor"]:
                return  # resized and confirmed
            async with services.sessions() as session, session.begin():
                await session.execute(update(Instance).where(Instance.os_id == details["server"]).values(
                    instance_type=kept or details["previous"], generation=Instance.generation + 1))
            fault = (server.get("fault") or {}).get("message") or f"Nova kept {kept or details['previous']}"
            raise jobs.JobFailed(f"the resize to {details['flavor']} failed: {fault[:300]}")
        if loop.time() > deadline:
            raise BackendError("compute", 409, f"the resize is still {status}/{task}")
        await asyncio.sleep(0.5)
