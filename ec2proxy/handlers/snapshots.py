"""Snapshots: Cinder volume snapshots as EBS snapshots.

Cinder keeps a snapshot inside its project: nobody else can create a volume
from it, so createVolumePermission can only be read (empty), never granted,
and CopySnapshot (which Cinder has no operation for) is refused by name.
"""

from __future__ import annotations

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, filters, ids, paging, tagging, timestamps
from ec2proxy.ec2.records import Described
from ec2proxy.handlers import action
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.lookups import existing, shape_by_ec2_id
from ec2proxy.readmodels.volumes import cinder, settled
from ec2proxy.readmodels.volumes import find as find_volume
from ec2proxy.state import tag_writes, volume_removal

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
        "State": STATES.get(snapshot.get("status"), "error"), "StartTime": started, "Progress": progress,
        "OwnerId": snapshot.get("os-extended-snapshot-attributes:project_id") or project_id,
        "Description": snapshot.get("description") or "", "VolumeSize": snapshot.get("size"), "Encrypted": False,
        "StorageTier": "standard",
    }, snapshot)


async def describe(ctx: RequestContext, snapshots: list[dict] | None = None) -> list[dict]:
    if snapshots is None:
        snapshots = await (await cinder(ctx)).list_snapshots()
    shapes = [build_snapshot(s, ctx.project_id) for s in snapshots if s.get("status") != "deleted"]
    return await tag_reads.with_tags(ctx, shapes, "SnapshotId")


def snapshot_not_found(snapshot_id: str) -> errors.EC2Error:
    return errors.InvalidSnapshotNotFound(f"The snapshot '{snapshot_id}' does not exist.")


async def find(ctx: RequestContext, snapshot_id: str) -> dict:
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


@action("DescribeSnapshots")
async def describe_snapshots(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=1000, ids_member="SnapshotIds")
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    wanted = [ids.check("snap", s) for s in params.get("SnapshotIds") or []]
    snapshots = filters.by_ids(await describe(ctx), "SnapshotId", wanted, snapshot_not_found)
    mine = {"self", ctx.project_id}
    for member in ("OwnerIds", "RestorableByUserIds"):  # only the project itself can see or restore them
        if params.get(member) and not set(params[member]) & mine:
            snapshots = []
    snapshots.sort(key=lambda s: (timestamps.ec2_text(s["StartTime"]), s["SnapshotId"]))
    return paging.answer(ctx, "Snapshots", filters.apply(snapshots, compiled), params)


@action("CreateSnapshot", checks_dry_run=True)
async def create_snapshot(ctx: RequestContext, params: dict) -> dict:
    description = params.get("Description") or ""
    if len(description) > 255:
        raise errors.InvalidParameterValue("Snapshot descriptions are at most 255 characters")
    if params.get("OutpostArn") or params.get("Location"):
        raise errors.UnsupportedOperation("Outposts do not exist in this cloud")
    tags = tagging.from_specs(params, ("snapshot",)).get("snapshot", [])
    volume = await settled(ctx, await find_volume(ctx, params["VolumeId"]))
    if ctx.dry_run:
        raise errors.DryRunOperation()
    client = await cinder(ctx)
    try:  # force: a snapshot of an attached volume, as EC2 takes them (Cinder before 3.66 wants it said)
        snapshot = await client.create_snapshot(volume.os["id"], description=description, force=True)
    except BackendError as exc:
        if exc.status == 413 or "quota" in exc.message.lower():
            raise errors.SnapshotLimitExceeded(f"Snapshot limit exceeded: {exc.message[:200]}") from None
        raise
    shape = build_snapshot(snapshot, ctx.project_id)
    async with ctx.services.sessions() as session, session.begin():
        await tag_writes.write(session, ctx.project_id, {shape["SnapshotId"]: tags})
    return {**shape, "Tags": tags}


@action("DeleteSnapshot", checks_dry_run=True)
async def delete_snapshot(ctx: RequestContext, params: dict) -> dict:
    async with tag_writes.forgotten_if_gone(ctx, params["SnapshotId"]):
        snapshot = await find(ctx, params["SnapshotId"])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    try:
        await (await cinder(ctx)).delete_snapshot(snapshot.os["id"])
    except BackendNotFound:
        pass
    except BackendError as exc:
        if exc.status in (400, 409):
            raise errors.InvalidSnapshotInUse(
                f"The snapshot {snapshot['SnapshotId']} is in use: {exc.message[:200]}") from None
        raise
    async with ctx.services.sessions() as session, session.begin():
        await tag_writes.forget(session, ctx.project_id, snapshot["SnapshotId"])
    await volume_removal.after_snapshot_deleted(ctx, await ctx.cloud(), snapshot.os)
    return {}


@action("CopySnapshot")
async def copy_snapshot(ctx: RequestContext, params: dict) -> dict:
    raise errors.UnsupportedOperation("Cinder cannot copy a snapshot; create a volume from it "
                                      "(CreateVolume with SnapshotId) and snapshot that volume.")


@action("DescribeSnapshotAttribute")
async def describe_snapshot_attribute(ctx: RequestContext, params: dict) -> dict:
    snapshot = await find(ctx, params["SnapshotId"])
    attribute = params["Attribute"]
    if attribute == "createVolumePermission":
        return {"SnapshotId": snapshot["SnapshotId"], "CreateVolumePermissions": []}
    if attribute == "productCodes":
        return {"SnapshotId": snapshot["SnapshotId"], "ProductCodes": []}
    raise errors.InvalidParameterValue(f"Value ({attribute[:64]}) for parameter attribute is invalid.")


@action("ModifySnapshotAttribute")
async def modify_snapshot_attribute(ctx: RequestContext, params: dict) -> dict:
    await find(ctx, params["SnapshotId"])
    raise errors.UnsupportedOperation("Cinder snapshots stay inside their project: createVolumePermission cannot "
                                      "be granted in this cloud.")


@action("ResetSnapshotAttribute")
async def reset_snapshot_attribute(ctx: RequestContext, params: dict) -> dict:
    await find(ctx, params["SnapshotId"])
    if params["Attribute"] != "createVolumePermission":
        raise errors.InvalidParameterValue("Only createVolumePermission can be reset")
    return {}  # there is never a permission to take back
