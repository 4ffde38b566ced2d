"""Network interfaces that go with their instance: ``DeleteOnTermination`` on an attached interface.

Nova deletes, with a server, the ports it made for it (an instance's own
interface, index 0) and keeps the ones it was given (interfaces attached
later). An attached interface whose attachment has DeleteOnTermination set
carries a tag on its Neutron port (``ec2proxy.ec2.vpcs.DELETE_ON_TERMINATION``);
TerminateInstances logs a background job (``ec2proxy.state.jobs``) that
deletes those ports once Nova has let go of them, as AWS deletes such an
interface with its instance.
"""

from __future__ import annotations

import asyncio

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.state import jobs, oplog

JOB = "TerminateInstances.DeleteInterfaces"
WAIT = 60.0


async def schedule(ctx, view, instance_ids: list[str], port_ids: list[str]) -> None:
    details = {"project": ctx.project_id, "ports": port_ids}
    async with ctx.services.sessions() as session, session.begin():
        operation_id = await oplog.record(session, ctx, instance_ids, details=details, action=JOB)
    jobs.kick(ctx.services, operation_id, view)


@jobs.runner(JOB)
async def _delete(services, operation, view=None) -> None:
    details = operation.details or {}
    view = view or await services.backend.reader_view(details["project"])
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    waiting = list(details.get("ports") or [])
    while waiting:
        for port_id in list(waiting):
            try:
                port = await view.neutron.show("port", port_id)
            except BackendNotFound:
                waiting.remove(port_id)
                continue
            if not port.get("device_id"):  # Nova let go of it: the instance is gone
                try:
                    await view.neutron.remove("port", port_id)
                except BackendNotFound:
                    pass
                waiting.remove(port_id)
        if waiting and loop.time() > deadline:
            raise BackendError("network", 409, "the instances still hold their interfaces")
        if waiting:
            await asyncio.sleep(1.0)
