"""``InstanceInitiatedShutdownBehavior`` ``terminate``: an instance whose guest shuts itself down is terminated.

Nova sees a guest power off (its power-state sync stops the server: SHUTOFF)
but has no such setting. Every worker looks now and then at the instances set
so: one query of our rows, and for each project that has any, one Nova
listing of its SHUTOFF servers. A server that EC2's StopInstances stopped
(the last of StopInstances and StartInstances in our operations log) stays
stopped, as on AWS; any other stop counts as the guest's own, a stop through
Nova's API too, which EC2 cannot tell apart.
"""

from __future__ import annotations

from sqlalchemy import select

from ec2proxy import db
from ec2proxy.auth.credentials import Identity
from ec2proxy.context import RequestContext
from ec2proxy.db.models import Instance, Operation
from ec2proxy.ec2 import errors
from ec2proxy.readmodels.instances import lookup
from ec2proxy.state import instance_changes, jobs

EVERY = 10.0  # seconds between two looks of one worker


def checked(value: object, member: str) -> str:
    """A behaviour RunInstances or ModifyInstanceAttribute may set."""
    if value not in ("stop", "terminate"):
        raise errors.InvalidParameterValue(f"{member} must be stop or terminate")
    return str(value)


@jobs.periodic("InstanceInitiatedShutdownBehavior", EVERY)
async def terminate_shut_down(services) -> None:
    async with services.sessions() as session:
        rows = (await session.execute(select(Instance.project_id, Instance.ec2_id, Instance.os_id).where(
            Instance.shutdown_behavior == "terminate", Instance.terminated_at.is_(None)))).all()
    by_project: dict[str, dict[str, str]] = {}
    for row in rows:
        by_project.setdefault(row.project_id, {})[row.os_id] = row.ec2_id
    for project_id, wanted in by_project.items():
        view = await services.backend.reader_view(project_id)
        query = {"status": "SHUTOFF"} if view.project_id == project_id else \
            {"status": "SHUTOFF", "all_tenants": "1", "project_id": project_id}  # the proxy's admin view
        shut = [wanted[s["id"]] for s in await view.nova.list_server_ids(query) if s["id"] in wanted]
        if not shut:
            continue
        stopped = await _stopped_through_ec2(services, project_id, shut)
        going = [i for i in shut if i not in stopped]
        if going:
            ctx = RequestContext(request_id=services.request_ids.next(), action="TerminateInstances",
                                 identity=Identity("", project_id, "", ""), region=services.config.api.region,
                                 services=services, _cloud=view)
            ending = [i for i in await lookup(ctx, going) if i.shape["State"]["Name"] == "stopped"]
            if ending:
                await instance_changes.terminate(ctx, ending)


async def _stopped_through_ec2(services, project_id: str, instance_ids: list[str]) -> set[str]:
    """Those of ``instance_ids`` whose last StopInstances or StartInstances was a stop."""
    last: dict[str, str] = {}
    async with services.sessions() as session:
        for chunk in db.chunks(instance_ids, 50):
            logged = await session.execute(select(Operation.action, Operation.resource_ids).where(
                Operation.project_id == project_id, Operation.action.in_(("StopInstances", "StartInstances")),
                Operation.naming(chunk)).order_by(Operation.id.desc()))
            for action, named in logged:
                for instance_id in set(named or []) & set(chunk):
                    last.setdefault(instance_id, action)
    return {i for i, action in last.items() if action == "StopInstances"}
