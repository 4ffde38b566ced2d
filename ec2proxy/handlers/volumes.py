"""Volumes: Cinder volumes as EBS volumes, attached through Nova.

EC2 device names (``/dev/sdf``) are what the caller asked for; Nova picks
its own (``/dev/vdb``), so the requested name is kept in the instance's row
(``block_device_mappings``) and shown; a volume attached outside the proxy
shows Nova's name. The EC2 volume type a volume was created with is kept in
its Cinder metadata (``ec2_volume_type``); ``[api] volume_types`` maps each
EC2 type to a Cinder type.
"""

from __future__ import annotations

import asyncio
import datetime
import re

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.context import RequestContext
from ec2proxy.ec2 import devices, errors, filters, ids, paging, tagging, timestamps
from ec2proxy.ec2.records import Described, shape_of, shapes
from ec2proxy.handlers import action
from ec2proxy.readmodels.instances import lookup
from ec2proxy.readmodels.volumes import FILTERS, by_ids, cinder, describe, find, settled, volume_not_found, wait_settled
from ec2proxy.state import ledger, oplog, tag_writes, write
from ec2proxy.state.instance_rows import update_row

# Cinder status -> EC2 volume state; the attachment state comes from the status too
DEVICE = re.compile(r"/dev/(sd|xvd|vd|hd)[a-z]{1,2}[0-9]?|xvd[a-z]{1,2}")
MAX_SIZE = 16384

_get = filters.path


@action("DescribeVolumes")
async def describe_volumes(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=500, ids_member="VolumeIds")
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    wanted = [ids.check("vol", v) for v in params.get("VolumeIds") or []]
    volumes = filters.by_ids(await by_ids(ctx, wanted) or await describe(ctx), "VolumeId", wanted, volume_not_found,
                             of=shape_of)
    volumes.sort(key=lambda v: (timestamps.ec2_text(v.shape["CreateTime"]), v.shape["VolumeId"]))
    return paging.answer(ctx, "Volumes", filters.apply(shapes(volumes), compiled), params)


def _cinder_failure(exc: BackendError) -> errors.EC2Error:
    message = exc.message.lower()
    if exc.status == 413 or (exc.status in (400, 403) and "quota" in message):
        return errors.VolumeLimitExceeded(f"Volume limit exceeded: {exc.message[:200]}")
    if exc.status == 400 and "availability zone" in message:
        return errors.InvalidParameterValue(f"Invalid availability zone: {exc.message[:200]}")
    return exc.ec2()


@action("CreateVolume", checks_dry_run=True)
async def create_volume(ctx: RequestContext, params: dict) -> dict:
    devices.unsupported_ebs(params)
    size, snapshot_id = params.get("Size"), params.get("SnapshotId")
    if size is None and not snapshot_id:
        raise errors.MissingParameter("The request must contain the parameter size or snapshotId")
    if size is not None and not 1 <= size <= MAX_SIZE:
        raise errors.InvalidParameterValue(f"Volume size must be between 1 and {MAX_SIZE} GiB")
    zone = params.get("AvailabilityZone") or ""
    if not zone and not params.get("AvailabilityZoneId"):
        raise errors.MissingParameter("The request must contain the parameter AvailabilityZone")
    if params.get("AvailabilityZoneId"):
        raise errors.UnsupportedOperation("Give AvailabilityZone by name")
    asked_type, cinder_type = devices.cinder_type(devices.type_map(ctx.services.config), params.get("VolumeType"))
    tags = tagging.from_specs(params, ("volume",)).get("volume", [])
    snapshot = (await devices.snapshots(await cinder(ctx), [ids.check("snap", snapshot_id)]))[snapshot_id] \
        if snapshot_id else None
    if snapshot is not None and size is not None and size < snapshot["size"]:
        raise errors.InvalidParameterValue(f"Volume of {size} GiB is smaller than snapshot {snapshot_id}, "
                                           f"{snapshot['size']} GiB")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    client = await cinder(ctx)
    create = await ledger.Create.begin(ctx, params, f"ec2-{ids.new('r')[2:]}")
    marker = create.marker  # the volume's name with a ClientToken: what a retry after a crash finds it by
    if not create.owner:
        return await _by_marker(ctx, marker)
    await create.log([marker])
    fields: dict = {"availability_zone": zone, "metadata": {"ec2_volume_type": asked_type, "ec2_marker": marker},
                    "name": marker if params.get("ClientToken") else None}
    if size is not None:
        fields["size"] = size
    if snapshot is not None:
        fields.update(snapshot_id=snapshot["id"], size=size or snapshot["size"])
    if cinder_type:
        fields["volume_type"] = cinder_type
    try:
        adopted = await client.list_volumes({"name": marker}) if create.adopting else []
        volume = adopted[0] if adopted else await client.create_volume(**fields)
    except BackendError as exc:
        failure = _cinder_failure(exc)
        await create.failed(failure, f"{failure.code}: {exc}")
        raise failure from None
    volume_id = ids.from_uuid("vol", volume["id"])
    await create.record(tag_writes.replace, ctx.project_id, volume_id, tags)
    return _volume_answer((await describe(ctx, [volume]))[0])


def _volume_answer(volume: Described) -> dict:
    return dict(volume.shape)


async def _by_marker(ctx: RequestContext, marker: str) -> dict:
    """A ClientToken replay: the volume the first request created, as it is now."""
    found = await (await cinder(ctx)).list_volumes({"name": marker})
    if not found:
        raise errors.IdempotentParameterMismatch("The volume created with this client token no longer exists.")
    return _volume_answer((await describe(ctx, found))[0])


@action("DeleteVolume", checks_dry_run=True)
async def delete_volume(ctx: RequestContext, params: dict) -> dict:
    async with tag_writes.forgotten_if_gone(ctx, params["VolumeId"]):
        volume = await find(ctx, params["VolumeId"])
    if volume.shape["Attachments"] or volume.shape["State"] == "in-use":
        holder = volume.shape["Attachments"][0]["InstanceId"] if volume.shape["Attachments"] else "an instance"
        raise errors.VolumeInUse(f"Volume {volume.shape['VolumeId']} is currently attached to {holder}")
    if volume.os.get("status") not in ("available", "error"):  # Cinder's refusal would not say which it is
        raise errors.IncorrectState(f"Volume {volume.shape['VolumeId']} is {volume.os.get('status')}; it can be "
                                    "deleted once it is available")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    try:
        await (await cinder(ctx)).delete_volume(volume.os["id"])
    except BackendNotFound:
        pass
    except BackendError as exc:
        if exc.status == 400 and "while it has snapshots" in exc.message.lower():
            raise errors.VolumeInUse(f"Volume {volume.shape['VolumeId']} has snapshots; this cloud deletes a volume "
                                     "only after its snapshots.") from None
        if exc.status == 400:
            raise errors.IncorrectState(
                f"Volume {volume.shape['VolumeId']} is {volume.shape['State']}: {exc.message[:200]}") from None
        raise
    await write(ctx, tag_writes.forget, ctx.project_id, volume.shape["VolumeId"])
    return {}


def _check_device(device: str) -> str:
    if not device or not DEVICE.fullmatch(device):
        raise errors.InvalidParameterValue(f"Value ({str(device)[:64]}) for parameter device is invalid. "
                                           "It is not a valid device name (e.g. /dev/sdf).")
    return device


@action("AttachVolume", checks_dry_run=True)
async def attach_volume(ctx: RequestContext, params: dict) -> dict:
    device = _check_device(params["Device"])
    volume, (instance,) = await asyncio.gather(find(ctx, params["VolumeId"]), lookup(ctx, [params["InstanceId"]]))
    if volume.shape["State"] != "available":
        raise errors.IncorrectState(f"{volume.shape['VolumeId']} is {volume.shape['State']}")
    if instance.shape["State"]["Name"] not in ("running", "stopped"):
        raise errors.IncorrectInstanceState(f"Instance '{instance.shape['InstanceId']}' is not 'running' or 'stopped'.")
    if volume.shape["AvailabilityZone"] != instance.shape["Placement"]["AvailabilityZone"]:
        raise errors.InvalidVolumeZoneMismatch(
            f"The volume '{volume.shape['VolumeId']}' is not in the same availability zone as instance "
            f"'{instance.shape['InstanceId']}'")
    row = instance.row
    mappings = list(row.block_device_mappings or []) if row is not None else []
    if device == instance.shape["RootDeviceName"] or any(m.get("DeviceName") == device for m in mappings):
        raise errors.InvalidParameterValue(f"Invalid value '{device}' for unixDevice. Attachment point {device} is "
                                           "already in use")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    operation_id = await oplog.logged(ctx, [volume.shape["VolumeId"], instance.shape["InstanceId"]])
    try:
        await view.nova.attach_volume(instance.os_id, volume.os["id"])
    except BackendError as exc:
        await oplog.closed(ctx.services.sessions, operation_id, str(exc))
        if exc.status in (400, 409):
            raise errors.IncorrectState(
                f"{volume.shape['VolumeId']} cannot be attached now: {exc.message[:200]}") from None
        raise
    attached_at = datetime.datetime.now(datetime.timezone.utc)
    mappings.append({"DeviceName": device, "VolumeId": volume.shape["VolumeId"], "CinderVolumeId": volume.os["id"],
                     "DeleteOnTermination": False, "AttachTime": attached_at.isoformat()})
    await update_row(ctx, instance, block_device_mappings=mappings)
    await oplog.closed(ctx.services.sessions, operation_id)
    return {"AttachTime": attached_at, "Device": device,
            "InstanceId": instance.shape["InstanceId"], "State": "attaching", "VolumeId": volume.shape["VolumeId"],
            "DeleteOnTermination": False}


@action("DetachVolume", checks_dry_run=True)
async def detach_volume(ctx: RequestContext, params: dict) -> dict:
    """Force detaches like a plain detach: Nova has no forced detach for a project's users."""
    volume = await find(ctx, params["VolumeId"])
    attachments = volume.shape["Attachments"]
    if params.get("InstanceId"):
        attachments = [a for a in attachments if a["InstanceId"] == params["InstanceId"]]
    if params.get("Device"):
        attachments = [a for a in attachments if a["Device"] == params["Device"]]
    if not attachments:
        raise errors.IncorrectState(
            f"Volume '{volume.shape['VolumeId']}' is in the '{volume.shape['State']}' state and not attached as asked.")
    attachment = attachments[0]
    (instance,) = await lookup(ctx, [attachment["InstanceId"]])
    if attachment["Device"] == instance.shape["RootDeviceName"]:
        raise errors.OperationNotPermitted(f"Unable to detach root volume '{volume.shape['VolumeId']}' from instance "
                                           f"'{instance.shape['InstanceId']}'")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    try:
        await view.nova.detach_volume(instance.os_id, volume.os["id"])
    except BackendNotFound:
        pass
    except BackendError as exc:
        if exc.status == 400 and "root" in exc.message.lower():
            raise errors.OperationNotPermitted(f"Unable to detach root volume '{volume.shape['VolumeId']}'") from None
        if exc.status in (400, 409):
            raise errors.IncorrectState(
                f"{volume.shape['VolumeId']} cannot be detached now: {exc.message[:200]}") from None
        raise
    row = instance.row
    if row is not None:
        kept = [m for m in row.block_device_mappings or [] if m.get("VolumeId") != volume.shape["VolumeId"]]
        await update_row(ctx, instance, block_device_mappings=kept)
    return {**attachment, "State": "detaching"}


@action("DescribeVolumeStatus")
async def describe_volume_status(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, low=5, high=1000, ids_member="VolumeIds")
    wanted = [ids.check("vol", v) for v in params.get("VolumeIds") or []]
    volumes = filters.by_ids(await by_ids(ctx, wanted) or await describe(ctx), "VolumeId", wanted, volume_not_found,
                             of=shape_of)
    statuses = []
    for volume in volumes:
        ok = volume.shape["State"] != "error"
        statuses.append({
            "VolumeId": volume.shape["VolumeId"], "AvailabilityZone": volume.shape["AvailabilityZone"], "Actions": [],
            "Events": [], "VolumeStatus": {"Status": "ok" if ok else "impaired", "Details": [
                {"Name": "io-enabled", "Status": "passed" if ok else "failed"},
                {"Name": "io-performance", "Status": "not-applicable"}]}})
    status_filters = {"volume-status.status": _get("VolumeStatus.Status"),
                      "availability-zone": _get("AvailabilityZone"),
                      "volume-status.details-name": _get("VolumeStatus.Details.Name"),
                      "volume-status.details-status": _get("VolumeStatus.Details.Status")}
    statuses = filters.apply(statuses, filters.compile_filters(params.get("Filters"), status_filters, ctx.action))
    return paging.answer(ctx, "VolumeStatuses", statuses, params)


@action("DescribeVolumeAttribute")
async def describe_volume_attribute(ctx: RequestContext, params: dict) -> dict:
    """I/O is never suspended on a Cinder volume; autoEnableIO reports what was set."""
    volume = await find(ctx, params["VolumeId"])
    attribute = params["Attribute"]
    out: dict = {"VolumeId": volume.shape["VolumeId"]}
    if attribute == "autoEnableIO":
        out["AutoEnableIO"] = {"Value": (volume.os.get("metadata") or {}).get("ec2_auto_enable_io") == "true"}
    elif attribute == "productCodes":
        out["ProductCodes"] = []
    else:
        raise errors.InvalidParameterValue(f"Value ({attribute[:64]}) for parameter attribute is invalid.")
    return out


@action("ModifyVolumeAttribute", checks_dry_run=True)
async def modify_volume_attribute(ctx: RequestContext, params: dict) -> dict:
    volume = await find(ctx, params["VolumeId"])
    value = (params.get("AutoEnableIO") or {}).get("Value")
    if value is None:
        raise errors.MissingParameter("The request must contain the parameter AutoEnableIO")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    client = await cinder(ctx)
    metadata = {**(volume.os.get("metadata") or {}), "ec2_auto_enable_io": "true" if value else "false"}
    await client.update_volume(volume.os["id"], metadata=metadata)
    return {}


@action("ModifyVolume", checks_dry_run=True)
async def modify_volume(ctx: RequestContext, params: dict) -> dict:
    """A bigger Size is Cinder's extend (in-use volumes too, microversion 3.42); a VolumeType is Cinder's retype
    to the type ``[api] volume_types`` maps it to (only recorded when both map to the same Cinder type)."""
    devices.unsupported_ebs(params)
    volume = await find(ctx, params["VolumeId"])
    size, asked = params.get("Size"), params.get("VolumeType")
    if size is None and asked is None:
        raise errors.MissingParameter("The request must contain the parameter Size or VolumeType")
    if size is not None and (size <= volume.shape["Size"] or size > MAX_SIZE):
        raise errors.InvalidParameterValue(f"New size {size} must be larger than the current "
                                           f"{volume.shape['Size']} GiB and at most {MAX_SIZE}")
    types = devices.type_map(ctx.services.config)
    target = volume.shape["VolumeType"]
    if asked is not None:
        target, _ = devices.cinder_type(types, asked)
    retype = types.get(target, target) != (volume.os.get("volume_type") or "__DEFAULT__")
    volume = await settled(ctx, volume)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    client = await cinder(ctx)
    try:
        if size is not None:
            await client.extend_volume(volume.os["id"], size)
            if retype:  # Cinder acts on one change at a time
                await wait_settled(client, volume.os["id"], 60.0)
        if asked is not None:
            await client.update_volume(volume.os["id"], metadata={**(volume.os.get("metadata") or {}),
                                                                  "ec2_volume_type": target})
        if retype:
            await client.retype_volume(volume.os["id"], types[target])
    except BackendError as exc:
        raise _cinder_failure(exc) from None
    return {"VolumeModification": {
        "VolumeId": volume.shape["VolumeId"], "ModificationState": "modifying",
        "TargetSize": size or volume.shape["Size"],
        "OriginalSize": volume.shape["Size"], "TargetVolumeType": target,
        "OriginalVolumeType": volume.shape["VolumeType"], "Progress": 0,
        "StartTime": datetime.datetime.now(datetime.timezone.utc)}}

