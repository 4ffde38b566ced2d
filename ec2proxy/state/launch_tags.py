"""Tags a RunInstances asked for the volumes and network interfaces it creates.

Nova makes a launch's volumes and ports while it builds the servers, after
RunInstances has answered, and their ids (vol-, eni-) come from theirs. So the
TagSpecifications of type ``volume`` and ``network-interface`` are kept as a
background job (``ec2proxy.state.jobs``): it waits for the servers to leave
BUILD, then tags what Nova attached and Neutron bound to them. A tag the caller
set meanwhile on one of those is left as it is.
"""

from __future__ import annotations

from sqlalchemy import select

from ec2proxy import db
from ec2proxy.db.models import Tag
from ec2proxy.ec2 import ids
from ec2proxy.state import jobs, tag_writes

JOB = "RunInstances.TagSpecifications"
KINDS = ("volume", "network-interface")
WAIT = 60.0  # seconds one run waits for the build; then the job is tried again after its lease


async def schedule(ctx, view, reservation_id: str, nova_reservation: str | None, server_ids: list[str],
                   tags: dict[str, list[dict]]) -> None:
    await jobs.schedule(ctx, view, JOB, [reservation_id], {
        "reservation": reservation_id, "nova_reservation": nova_reservation, "servers": server_ids, "tags": tags})


@jobs.runner(JOB)
async def _tag_launched(services, operation, view) -> None:
    details = operation.details or {}
    wanted = set(details.get("servers") or [])

    async def built() -> list[dict] | None:
        servers = [s for s in await view.nova.list_servers({"reservation_id": details["nova_reservation"]})
                   if s["id"] in wanted]
        return None if any(s.get("status") == "BUILD" for s in servers) else servers

    servers = await jobs.waited(built, WAIT, "compute", "the launch is still building")
    tags, resources = details.get("tags") or {}, []
    if tags.get("volume"):
        resources += [(ids.from_uuid("vol", v["id"]), tags["volume"]) for s in servers
                      for v in s.get("os-extended-volumes:volumes_attached") or []]
    if tags.get("network-interface") and view.neutron is not None and servers:
        ports = await view.neutron.list_where("port", "device_id", [s["id"] for s in servers], {"fields": ["id"]})
        resources += [(ids.from_uuid("eni", p["id"]), tags["network-interface"]) for p in ports]
    await _add_missing(services, details["project"], resources)


async def _add_missing(services, project_id: str, resources: list[tuple[str, list[dict]]]) -> None:
    """Write the tags whose keys the resources do not carry yet: a re-run, or the caller's own, wins."""
    async with services.sessions() as session, session.begin():
        have: set[tuple[str, str]] = set()
        for chunk in db.chunks([resource for resource, _ in resources]):
            have |= set((await session.execute(select(Tag.resource_id, Tag.key).where(
                Tag.project_id == project_id, Tag.resource_id.in_(chunk)))).tuples().all())
        await tag_writes.write(session, project_id, {
            resource: [t for t in tags if (resource, t["Key"]) not in have] for resource, tags in resources})
