"""Snapshots: Cinder volume snapshots as EBS snapshots.

Cinder keeps a snapshot inside its project: nobody else can create a volume
from it, so createVolumePermission can only be read (empty), never granted,
and CopySnapshot (which Cinder has no operation for) is refused by name.
"""

from __future__ import annotations

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, filters, ids, paging, tagging, timestamps
from ec2proxy.ec2.records import shape_of, shapes
from ec2proxy.handlers import action
from ec2proxy.readmodels.snapshots import FILTERS, build_snapshot, describe, find, snapshot_not_found
from ec2proxy.readmodels.volumes import cinder, settled
from ec2proxy.readmodels.volumes import find as find_volume
from ec2proxy.state import tag_writes, volume_removal, write


@action("DescribeSnapshots")
async def describe_snapshots(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=1000, ids_member="SnapshotIds")
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    wanted = [ids.check("snap", s) for s in params.get("SnapshotIds") or []]
    snapshots = filters.by_ids(await describe(ctx), "SnapshotId", wanted, snapshot_not_found, of=shape_of)
    mine = {"self", ctx.project_id}
    for member in ("OwnerIds", "RestorableByUserIds"):  # only the project itself can see or restore them
        if params.get(member) and not set(params[member]) & mine:
            snapshots = []
    snapshots.sort(key=lambda s: (timestamps.ec2_text(s.shape["StartTime"]), s.shape["SnapshotId"]))
    return paging.answer(ctx, "Snapshots", filters.apply(shapes(snapshots), compiled), params)


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
    await write(ctx, tag_writes.write, ctx.project_id, {shape.shape["SnapshotId"]: tags})
    return {**shape.shape, "Tags": tags}


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
                f"The snapshot {snapshot.shape['SnapshotId']} is in use: {exc.message[:200]}") from None
        raise
    await write(ctx, tag_writes.forget, ctx.project_id, snapshot.shape["SnapshotId"])
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
        return {"SnapshotId": snapshot.shape["SnapshotId"], "CreateVolumePermissions": []}
    if attribute == "productCodes":
        return {"SnapshotId": snapshot.shape["SnapshotId"], "ProductCodes": []}
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
