"""EBS volumes that go with their instance although they have snapshots.

AWS deletes a volume whose attachment has DeleteOnTermination with its
instance and keeps the volume's snapshots. Cinder refuses to delete a volume
that has snapshots, so Nova, deleting the server, leaves such a volume behind
(available, a warning in its log). TerminateInstances logs a job
(``ec2proxy.state.jobs``) that, once Nova is done with the servers, marks each
volume left behind (``readmodels.volumes.GONE``) and its snapshots
(``SNAPSHOT_OF_GONE``): EC2 no longer shows the volume, and DeleteSnapshot
of its last snapshot logs a job that deletes it in Cinder.
"""

from __future__ import annotations

import asyncio

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.ec2 import ids
from ec2proxy.readmodels.instance_shapes import InstanceRecord
from ec2proxy.readmodels.volumes import GONE, SNAPSHOT_OF_GONE
from ec2proxy.state import jobs, tag_writes

TERMINATED = "TerminateInstances.DeleteVolumes"
SNAPSHOT_DELETED = "DeleteSnapshot.DeleteVolume"
WAIT = 60.0


async def after_termination(ctx, view, instances: list[InstanceRecord]) -> None:
    """Log the job for the volumes set to go with these instances (EC2 Instance dicts with their Nova id)."""
    volumes = {os_id: instance.shape["InstanceId"] for instance in instances
               for mapping in instance.shape.get("BlockDeviceMappings") or []
               if (mapping.get("Ebs") or {}).get("DeleteOnTermination")
               and (os_id := ids.os_id_of(mapping["Ebs"]["VolumeId"])) is not None}
    if volumes:
        servers = sorted({instance.os_id for instance in instances if instance.shape["InstanceId"] in volumes.values()})
        await jobs.schedule(ctx, view, TERMINATED, sorted(set(volumes.values())),
                            {"servers": servers, "volumes": volumes})


async def after_snapshot_deleted(ctx, view, snapshot: dict) -> None:
    """Log the job that deletes the snapshot's volume once it was the last one (Cinder's snapshot dict)."""
    if (snapshot.get("metadata") or {}).get(SNAPSHOT_OF_GONE):
        await jobs.schedule(ctx, view, SNAPSHOT_DELETED, [], {"volume": snapshot["volume_id"]})


@jobs.runner(TERMINATED)
async def _left_behind(services, operation, view) -> None:
    details = operation.details or {}
    servers: list[str] = list(details.get("servers") or [])

    async def nova_done() -> bool | None:
        """Nova cleans up a server's volumes before the server is gone: True once all are gone."""
        async def present(server_id: str) -> bool:
            try:
                return (await view.nova.get_server(server_id)).get("status") != "DELETED"
            except BackendNotFound:
                return False

        still = await asyncio.gather(*map(present, servers))
        servers[:] = [server for server, there in zip(servers, still, strict=True) if there]
        return None if servers else True

    await jobs.waited(nova_done, WAIT, "compute", "Nova is still deleting the instances")
    volumes = details.get("volumes") or {}
    went = await asyncio.gather(*(_gone_with(view, volume_id, instance_id) for volume_id, instance_id in
                                  volumes.items()))
    gone = [volume_id for volume_id, going in zip(volumes, went, strict=True) if going]
    async with services.sessions() as session, session.begin():  # gone from EC2: their tags go too
        for volume_id in gone:
            await tag_writes.forget(session, details["project"], ids.from_uuid("vol", volume_id))


async def _gone_with(view, volume_id: str, instance_id: str) -> bool:
    """Whether the volume went with the instance: Nova deleted it, or it is deleted or marked now; False
    while something else still holds it (a multi-attached volume)."""
    try:
        volume = await view.cinder.get_volume(volume_id)
    except BackendNotFound:
        return True  # Nova deleted it
    if volume.get("attachments"):
        return False
    if volume.get("status") in ("deleting", "deleted"):
        return True
    snapshots = await view.cinder.list_snapshots({"volume_id": volume_id})
    if not snapshots:
        await _delete(view, volume_id)  # Nova failed to for another reason: EC2 said it goes
        return True
    await asyncio.gather(*(view.cinder.add_metadata("snapshots", s["id"], {SNAPSHOT_OF_GONE: "true"})
                           for s in snapshots))
    await view.cinder.add_metadata("volumes", volume_id, {GONE: instance_id})  # last: the snapshots say so first
    return True


@jobs.runner(SNAPSHOT_DELETED)
async def _last_snapshot(services, operation, view) -> None:
    volume_id = (operation.details or {})["volume"]

    async def settled() -> list[dict] | None:
        left = await view.cinder.list_snapshots({"volume_id": volume_id})
        return None if any(s.get("status") == "deleting" for s in left) else left

    if await jobs.waited(settled, WAIT, "volume", "the volume's snapshots are still being deleted"):
        return  # its other snapshots keep it; deleting the last of them deletes it
    volume = await view.cinder.get_volume(volume_id)  # gone already: the job closes
    if GONE in (volume.get("metadata") or {}):
        await _delete(view, volume_id)


async def _delete(view, volume_id: str) -> None:
    try:
        await view.cinder.delete_volume(volume_id)
    except BackendNotFound:
        pass
    except BackendError:
        if (await view.cinder.get_volume(volume_id)).get("status") not in ("deleting", "deleted"):
            raise  # the next round tries again
