"""The volume read model: Cinder volumes as EC2 volumes, with the device names we recorded."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from ec2proxy import db
from ec2proxy.context import RequestContext
from ec2proxy.db.models import Instance
from ec2proxy.ec2 import devices, errors, filters, ids, tagging, timestamps
from ec2proxy.ec2.devices import DeviceRecord
from ec2proxy.ec2.records import Described
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.lookups import by_ec2_id, existing, few_with_tags, shape_by_ec2_id

_get = filters.path


STATES = {"creating": "creating", "downloading": "creating", "available": "available", "reserved": "in-use",
          "attaching": "in-use", "detaching": "in-use", "in-use": "in-use", "maintenance": "in-use",
          "deleting": "deleting", "error": "error", "error_deleting": "error", "error_extending": "error",
          "error_restoring": "error", "error_backing-up": "error", "error_managing": "error",
          "backing-up": "available", "restoring-backup": "creating", "awaiting-transfer": "available",
          "uploading": "in-use", "retyping": "available", "extending": "available"}


# Cinder metadata of a volume that went with its instance but stays for its snapshots (Cinder deletes no volume
# that has any), and of those snapshots: EC2 shows no such volume (``ec2proxy.state.volume_removal``).
GONE = "ec2_deleted_with"
SNAPSHOT_OF_GONE = "ec2_volume_deleted"


def shown(volume: dict) -> bool:
    """Whether EC2 shows this Cinder volume: one Cinder deleted, or kept only for its snapshots, it does not."""
    return volume.get("status") != "deleted" and GONE not in (volume.get("metadata") or {})


ATTACHMENT_STATES = {"reserved": "attaching", "attaching": "attaching", "detaching": "detaching"}


FILTERS = {
    "volume-id": _get("VolumeId"), "status": _get("State"), "size": _get("Size"),
    "volume-type": _get("VolumeType"), "availability-zone": _get("AvailabilityZone"),
    "snapshot-id": _get("SnapshotId"), "create-time": filters.times("CreateTime"), "encrypted": _get("Encrypted"),
    "attachment.instance-id": _get("Attachments.InstanceId"), "attachment.device": _get("Attachments.Device"),
    "attachment.status": _get("Attachments.State"),
    "attachment.delete-on-termination": _get("Attachments.DeleteOnTermination"),
    "attachment.attach-time": filters.times("Attachments.AttachTime"),
    "multi-attach-enabled": _get("MultiAttachEnabled"), "fast-restored": lambda v: False,
    **tagging.FILTERS,
    **dict.fromkeys(("availability-zone-id", "operator.managed", "operator.principal"), filters.absent),
}


def ec2_type(volume: dict, types: dict[str, str]) -> str:
    asked = (volume.get("metadata") or {}).get("ec2_volume_type")
    cinder = volume.get("volume_type") or "__DEFAULT__"
    if asked in types and types[asked] == cinder:
        return asked
    return next((ec2 for ec2, mapped in types.items() if mapped == cinder), cinder)


def build_volume(volume: dict, types: dict[str, str], devices: dict[tuple[str, str], DeviceRecord]) -> Described:
    """The EC2 Volume shape of one Cinder volume; ``devices`` is (server, volume) -> our recorded mapping."""
    state = STATES.get(volume.get("status") or "", "error")
    attachments = []
    for attachment in volume.get("attachments") or []:
        server = attachment.get("server_id") or attachment.get("instance_uuid")
        if not server:
            continue
        mapping = devices.get((server, volume["id"]), {})
        attached = timestamps.parse(attachment.get("attached_at"))
        entry = {"VolumeId": ids.from_uuid("vol", volume["id"]), "InstanceId": ids.from_uuid("i", server),
                 "Device": mapping.get("DeviceName") or attachment.get("device"),
                 "State": ATTACHMENT_STATES.get(volume.get("status") or "", "attached"),
                 "DeleteOnTermination": bool(mapping.get("DeleteOnTermination", False))}
        if attached:
            entry["AttachTime"] = attached
        attachments.append(entry)
    created = timestamps.parse(volume.get("created_at"))
    return Described({
        "VolumeId": ids.from_uuid("vol", volume["id"]), "Size": volume.get("size"),
        "SnapshotId": ids.from_uuid("snap", volume["snapshot_id"]) if volume.get("snapshot_id") else "",
        "AvailabilityZone": volume.get("availability_zone") or "", "State": state, "CreateTime": created,
        "Attachments": attachments, "VolumeType": ec2_type(volume, types), "Encrypted": bool(volume.get("encrypted")),
        "MultiAttachEnabled": bool(volume.get("multiattach")),
    }, volume)


async def _devices(ctx: RequestContext, volumes: list[dict]) -> dict[tuple[str, str], devices.DeviceRecord]:
    """Our recorded EC2 device names, from the rows of the instances the volumes are attached to: one query."""
    servers = {a.get("server_id") for v in volumes for a in v.get("attachments") or [] if a.get("server_id")}
    if not servers:
        return {}
    rows = []
    async with ctx.services.sessions() as session:
        for chunk in db.chunks(sorted(servers)):
            rows += (await session.execute(select(Instance.os_id, Instance.block_device_mappings).where(
                Instance.project_id == ctx.project_id, Instance.os_id.in_(chunk)))).all()
    attached: dict[str, list[tuple[str, str]]] = {}
    for volume in volumes:
        for attachment in volume.get("attachments") or []:
            if attachment.get("server_id"):
                attached.setdefault(attachment["server_id"], []).append((attachment.get("device") or "", volume["id"]))
    out = {}
    for row in rows:  # Cinder's device names give the boot order
        in_order = [volume_id for _, volume_id in sorted(attached.get(row.os_id, []))]
        for mapping, volume_id in devices.match(row.block_device_mappings or [], in_order):
            out[(row.os_id, volume_id)] = mapping
    return out


async def cinder(ctx: RequestContext):
    view = await ctx.cloud()
    if view.cinder is None:
        raise errors.UnsupportedOperation("This cloud has no volume service (Cinder).")
    return view.cinder


async def describe(ctx: RequestContext, os_volumes: list[dict] | None = None,
                   tags: dict[str, list[dict]] | None = None) -> list[Described]:
    """The project's volumes (or these Cinder volumes) as EC2 Volume shapes, with tags (``tags``: already read)."""
    if os_volumes is None:
        os_volumes = await (await cinder(ctx)).list_volumes()
    types, known = devices.type_map(ctx.services.config), await _devices(ctx, os_volumes)
    shapes = [build_volume(v, types, known) for v in os_volumes if shown(v)]
    return await tag_reads.tagged(ctx, shapes, "VolumeId", tags=tags)


async def by_ids(ctx: RequestContext, volume_ids: list[str]) -> list[Described] | None:
    """A few volumes by one Cinder GET each (``lookups.few_with_tags``); None: ask the listing."""
    client = await cinder(ctx)

    async def get(volume_id: str) -> dict | None:
        volume = await by_ec2_id(volume_id, lambda v: ids.from_uuid("vol", v["id"]), client.get_volume,
                                 client.list_volumes)
        return volume if volume is not None and shown(volume) else None

    few = await few_with_tags(ctx, volume_ids, get)
    return await describe(ctx, *few) if few is not None else None


def volume_not_found(volume_id: str) -> errors.EC2Error:
    return errors.InvalidVolumeNotFound(f"The volume '{volume_id}' does not exist.")


async def find(ctx: RequestContext, volume_id: str) -> Described:
    """One volume by its vol- id (see ``ec2proxy.readmodels.lookups``)."""
    ids.check("vol", volume_id)
    client = await cinder(ctx)
    return await shape_by_ec2_id(volume_id, "vol", client.get_volume, client.list_volumes,
                                 lambda found: describe(ctx, found), volume_not_found)


@tag_reads.exists("vol")
async def _existing(ctx: RequestContext, volume_ids: list[str]) -> set[str]:
    client = await cinder(ctx)
    return await existing(volume_ids, lambda v: ids.from_uuid("vol", v["id"]), client.get_volume,
                          client.list_volumes, shown)


SETTLED = ("available", "in-use")
SETTLING = ("attaching", "detaching", "reserved", "extending", "retyping")  # shown available or in-use already


async def settled(ctx: RequestContext, volume: Described, timeout: float = 30.0) -> Described:
    """The volume once Cinder will act on it (available or in-use).

    DescribeVolumes shows an attaching volume ``in-use`` (its attachment ``attaching``), as AWS does, and the
    ``volume_in_use`` waiter passes: what a caller does next must not fail on the moment Cinder still needs.
    """
    status = volume.os.get("status")
    if status in SETTLED:
        return volume
    if status not in SETTLING:
        raise errors.IncorrectState(f"{volume.shape['VolumeId']} is {status}; retry when it has settled")
    await wait_settled(await cinder(ctx), volume.os["id"], timeout)
    return await find(ctx, volume.shape["VolumeId"])


async def wait_settled(client, os_id: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (status := (await client.get_volume(os_id)).get("status")) not in SETTLED:
        if status not in SETTLING or loop.time() > deadline:
            raise errors.IncorrectState(f"The volume is {status}; retry when it has settled")
        await asyncio.sleep(0.25)
