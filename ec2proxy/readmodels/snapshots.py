"""The snapshot read model: Cinder volume snapshots as EBS snapshots, listed or found by their snap- id."""

from __future__ import annotations

from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, filters, ids, tagging, timestamps
from ec2proxy.ec2.records import Described
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.lookups import existing, shape_by_ec2_id
from ec2proxy.readmodels.volumes import cinder

STATES = {"creating": "pending", "available": "completed", "backing-up": "completed", "restoring": "completed",
          "unmanaging": "completed", "deleting": "completed", "error": "error", "error_deleting": "error"}

_get = filters.path
FILTERS = {
    "snapshot-id": _get("SnapshotId"), "volume-id": _get("VolumeId"), "status": _get("State"),
    "owner-id": _get("OwnerId"), "description": _get("Description"), "progress": _get("Progress"),
    "volume-size": _get("VolumeSize"), "encrypted": _get("Encrypted"),
    "start-time": filters.times("StartTime"), "owner-alias": lambda s: [],
    **tagging.FILTERS,
    "storage-tier": _get("StorageTier"), "transfer-type": filters.absent,
}


def build_snapshot(snapshot: dict, project_id: str) -> Described:
    started = timestamps.parse(snapshot.get("created_at"))
    progress = snapshot.get("os-extended-snapshot-attributes:progress") or \
        ("100%" if snapshot.get("status") == "available" else "0%")
    return Described({
        "SnapshotId": ids.from_uuid("snap", snapshot["id"]), "VolumeId": ids.from_uuid("vol", snapshot["volume_id"]),
        "State": STATES.get(str(snapshot.get("status")), "error"), "StartTime": started, "Progress": progress,
        "OwnerId": snapshot.get("os-extended-snapshot-attributes:project_id") or project_id,
        "Description": snapshot.get("description") or "", "VolumeSize": snapshot.get("size"), "Encrypted": False,
        "StorageTier": "standard",
    }, snapshot)


async def describe(ctx: RequestContext, snapshots: list[dict] | None = None) -> list[Described]:
    if snapshots is None:
        snapshots = await (await cinder(ctx)).list_snapshots()
    shapes: list[Described] = [build_snapshot(s, ctx.project_id) for s in snapshots if s.get("status") != "deleted"]
    return await tag_reads.tagged(ctx, shapes, "SnapshotId")


def snapshot_not_found(snapshot_id: str) -> errors.EC2Error:
    return errors.InvalidSnapshotNotFound(f"The snapshot '{snapshot_id}' does not exist.")


async def find(ctx: RequestContext, snapshot_id: str) -> Described:
    """One snapshot by its snap- id (see ``ec2proxy.readmodels.lookups``)."""
    ids.check("snap", snapshot_id)
    client = await cinder(ctx)
    return await shape_by_ec2_id(snapshot_id, "snap", client.get_snapshot, client.list_snapshots,
                                 lambda found: describe(ctx, found), snapshot_not_found)


@tag_reads.exists("snap")
async def _existing(ctx: RequestContext, snapshot_ids: list[str]) -> set[str]:
    client = await cinder(ctx)
    return await existing(snapshot_ids, lambda s: ids.from_uuid("snap", s["id"]), client.get_snapshot,
                          client.list_snapshots, lambda s: s.get("status") != "deleted")
