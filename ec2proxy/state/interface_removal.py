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

from ec2proxy.cloud import removed
from ec2proxy.state import jobs

JOB = "TerminateInstances.DeleteInterfaces"
WAIT = 60.0


async def schedule(ctx, view, instance_ids: list[str], port_ids: list[str]) -> None:
    await jobs.schedule(ctx, view, JOB, instance_ids, {"ports": port_ids})


@jobs.runner(JOB)
async def _delete(services, operation, view) -> None:
    waiting = list((operation.details or {}).get("ports") or [])

    async def let_go() -> bool | None:
        """Delete each port Nova let go of (the instance is gone); None while some are still held."""
        held = await view.neutron.list_where("port", "id", waiting, {"fields": ["id", "device_id"]})
        await removed(*(lambda port_id=p["id"]: view.neutron.remove("port", port_id)
                             for p in held if not p.get("device_id")))
        waiting[:] = [p["id"] for p in held if p.get("device_id")]
        return None if waiting else True

    await jobs.waited(let_go, WAIT, "network", "the instances still hold their interfaces")
