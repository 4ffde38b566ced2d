"""The image read model: Glance images as EC2 images (ami-, aki-, ari-), found by id or described."""

from __future__ import annotations

import asyncio
import datetime

from sqlalchemy import select

from ec2proxy.cloud import CloudView
from ec2proxy.cloud.clients import Glance
from ec2proxy.context import RequestContext
from ec2proxy.db.models import Operation
from ec2proxy.ec2 import devices, errors, filters, ids, tagging, timestamps
from ec2proxy.ec2.records import Described
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.lookups import by_ec2_id, existing

_get = filters.path


STATES = {"queued": "pending", "saving": "pending", "uploading": "pending", "importing": "pending",
          "active": "available", "killed": "failed", "deactivated": "failed"}


GONE = {"deleted", "pending_delete"}


PREFIXES = {"aki": "aki", "ari": "ari"}  # container/disk format -> id prefix; anything else is an ami


TYPES = {"ami": "machine", "aki": "kernel", "ari": "ramdisk"}


ARCHITECTURES = {"x86_64": "x86_64", "amd64": "x86_64", "i686": "i386", "i386": "i386", "aarch64": "arm64",
                 "arm64": "arm64"}


OWNER_ALIASES = {"amazon", "aws-marketplace", "aws-backup-vault"}  # the cloud's public images


FILTERS = {
    "image-id": _get("ImageId"), "name": _get("Name"), "state": _get("State"), "image-type": _get("ImageType"),
    "is-public": _get("Public"), "owner-id": _get("OwnerId"), "owner-alias": _get("ImageOwnerAlias"),
    "architecture": _get("Architecture"), "root-device-type": _get("RootDeviceType"),
    "root-device-name": _get("RootDeviceName"), "description": _get("Description"),
    "kernel-id": _get("KernelId"), "ramdisk-id": _get("RamdiskId"), "platform": _get("Platform"),
    "virtualization-type": _get("VirtualizationType"), "hypervisor": _get("Hypervisor"),
    "creation-date": _get("CreationDate"), "manifest-location": _get("ImageLocation"),
    "block-device-mapping.device-name": _get("BlockDeviceMappings.DeviceName"),
    "block-device-mapping.snapshot-id": _get("BlockDeviceMappings.Ebs.SnapshotId"),
    "block-device-mapping.volume-size": _get("BlockDeviceMappings.Ebs.VolumeSize"),
    "block-device-mapping.volume-type": _get("BlockDeviceMappings.Ebs.VolumeType"),
    "block-device-mapping.delete-on-termination": _get("BlockDeviceMappings.Ebs.DeleteOnTermination"),
    **tagging.FILTERS,
    "block-device-mapping.encrypted": _get("BlockDeviceMappings.Ebs.Encrypted"), "ena-support": _get("EnaSupport"),
    "free-tier-eligible": filters.constant(False), "image-allowed": filters.constant(True),
    "product-code": _get("ProductCodes.ProductCodeId"), "product-code.type": _get("ProductCodes.ProductCodeType"),
    "state-reason-code": _get("StateReason.Code"), "state-reason-message": _get("StateReason.Message"),
    **dict.fromkeys(("source-image-id", "source-image-region", "source-instance-id", "sriov-net-support"),
                    filters.absent),
}


def image_id(image: dict) -> str:
    kind = PREFIXES.get(image.get("container_format") or "") or PREFIXES.get(image.get("disk_format") or "") or "ami"
    return ids.from_uuid(kind, image["id"])


def block_devices(image: dict) -> list[dict]:
    """Nova's ``block_device_mapping`` image property (what a volume-backed snapshot carries) as EC2 mappings."""
    out = []
    for bdm in devices.image_mappings(image):
        device = bdm.get("device_name") or (image.get("root_device_name") if bdm.get("boot_index") == 0 else None)
        if bdm.get("no_device"):
            out.append({"DeviceName": device, "NoDevice": ""})
        elif bdm.get("destination_type") == "volume":
            ebs: dict = {"DeleteOnTermination": bool(bdm.get("delete_on_termination")), "VolumeType": "standard",
                         "Encrypted": False}
            if bdm.get("snapshot_id"):
                ebs["SnapshotId"] = ids.from_uuid("snap", bdm["snapshot_id"])
            if bdm.get("volume_size"):
                ebs["VolumeSize"] = int(bdm["volume_size"])
            out.append({"DeviceName": device, "Ebs": ebs})
        elif bdm.get("source_type") == "blank" and bdm.get("guest_format") != "swap":
            out.append({"DeviceName": device, "VirtualName": f"ephemeral{len([m for m in out if 'VirtualName' in m])}"})
    return out


def build_image(image: dict, project_id: str, stuck_after: float, now: datetime.datetime,
                copying: frozenset[str] = frozenset()) -> Described:
    """The EC2 Image shape of one Glance image (``copying``: images a CopyImage job is still filling)."""
    ami = image_id(image)
    state = STATES.get(image.get("status") or "", "failed")
    reason = None
    updated = timestamps.parse(image.get("updated_at")) or timestamps.parse(image.get("created_at"))
    if state == "pending" and updated and (now - updated).total_seconds() > stuck_after and ami not in copying:
        state = "failed"
        reason = {"Code": "Server.InternalError",
                  "Message": f"The image stayed {image['status']} in Glance for more than {int(stuck_after)} s"}
    elif state == "failed":
        reason = {"Code": "Server.InternalError", "Message": f"Glance status: {image.get('status')}"}
    mappings = block_devices(image)
    root = image.get("root_device_name") or "/dev/sda1"
    ebs_root = any(m.get("DeviceName") == root and "Ebs" in m for m in mappings)
    created = timestamps.parse(image.get("created_at"))
    kind = ami.partition("-")[0]
    shape = {
        "ImageId": ami, "ImageLocation": f"{image.get('owner')}/{image.get('name') or image['id']}",
        "State": state, "OwnerId": image.get("owner") or "", "Public": image.get("visibility") == "public",
        "Architecture": ARCHITECTURES.get(str(image.get("architecture") or "x86_64").lower(), "x86_64"),
        "ImageType": TYPES[kind], "Name": image.get("name") or "", "Description": image.get("description"),
        "RootDeviceType": "ebs" if ebs_root else "instance-store", "RootDeviceName": root,
        "BlockDeviceMappings": mappings, "VirtualizationType": "hvm", "Hypervisor": "xen",
        "CreationDate": timestamps.ec2_text(created) or None,
        "PlatformDetails": "Windows" if image.get("os_type") == "windows" else "Linux/UNIX",
        "UsageOperation": "RunInstances:0002" if image.get("os_type") == "windows" else "RunInstances",
        "EnaSupport": True, "ProductCodes": [],
    }
    if image.get("os_type") == "windows":
        shape["Platform"] = "windows"
    if kind == "ami":
        for member, prefix, prop in (("KernelId", "aki", "kernel_id"), ("RamdiskId", "ari", "ramdisk_id")):
            if image.get(prop):
                shape[member] = ids.from_uuid(prefix, image[prop])
    if reason:
        shape["StateReason"] = reason
    return Described(shape, image)


def glance_of(view: CloudView) -> Glance:
    if view.glance is None:
        raise errors.Unavailable("This cloud has no image service.")
    return view.glance


def present(image: dict) -> bool:
    return image.get("status") not in GONE


async def _visible_images(glance) -> list[dict]:
    """Every image the project can see, including those shared with it and not yet accepted: one listing."""
    return await glance.list_images({"member_status": "all"})


async def _glance_images(ctx: RequestContext) -> list[dict]:
    return [i for i in await _visible_images(glance_of(await ctx.cloud())) if present(i)]


async def _copying(ctx: RequestContext) -> frozenset[str]:
    """Images a pending CopyImage job is filling: a long copy is not stuck."""
    async with ctx.services.sessions() as session:
        jobs_left = (await session.scalars(select(Operation.resource_ids).where(
            Operation.project_id == ctx.project_id, Operation.action == "CopyImage",
            Operation.state == "pending"))).all()
    return frozenset(ids_[-1] for ids_ in jobs_left if ids_)


async def describe(ctx: RequestContext, images: list[dict] | None = None,
                   tags: dict[str, list[dict]] | None = None) -> list[Described]:
    """The project's images (or these Glance images) as EC2 Image shapes, with tags (``tags``: already read)."""
    stuck_after = float(ctx.services.config.api.image_stuck_after)
    now = datetime.datetime.now(datetime.timezone.utc)
    if images is None:
        images, copying = await asyncio.gather(_glance_images(ctx), _copying(ctx))
    elif any(STATES.get(i.get("status") or "") == "pending" for i in images):  # a copy is pending, not stuck
        copying = await _copying(ctx)
    else:
        copying = frozenset()
    shapes = [build_image(i, ctx.project_id, stuck_after, now, copying) for i in images]
    return await tag_reads.tagged(ctx, shapes, "ImageId", tags=tags)


@tag_reads.exists("ami", "aki", "ari")
async def _existing(ctx: RequestContext, image_ids: list[str]) -> set[str]:
    glance = glance_of(await ctx.cloud())
    return await existing(image_ids, image_id, glance.get_image, lambda: _visible_images(glance), present)


def check_image_id(value: str) -> str:
    prefix = value.partition("-")[0] if isinstance(value, str) else ""
    return ids.check(prefix if prefix in TYPES else "ami", value)


def image_not_found(image: str) -> errors.EC2Error:
    return errors.InvalidAMIIDNotFound(f"The image id '[{image}]' does not exist")


def image_unavailable(image: str) -> errors.EC2Error:
    return errors.InvalidAMIIDUnavailable(f"The image id '[{image}]' has been deregistered and is no longer available")


async def deregistered(ctx: RequestContext, image_ids: set[str]) -> set[str]:
    """Which of ``image_ids`` (not in Glance) this project deregistered recently: AWS tells those apart
    (``InvalidAMIID.Unavailable``), and tools take them as gone rather than as a mistake. The operations log
    keeps them until ``ec2proxy db purge`` (``[api] client_token_retention``); only a missing id costs this
    query."""
    if not image_ids:
        return set()
    async with ctx.services.sessions() as session:
        logged = (await session.scalars(select(Operation.resource_ids).where(
            Operation.project_id == ctx.project_id, Operation.action == "DeregisterImage",
            Operation.naming(sorted(image_ids)[:50])))).all()
    return {image for ids_ in logged for image in ids_ or [] if image in image_ids}


async def glance_image(view: CloudView, wanted: str) -> dict | None:
    """The Glance image behind an ami-/aki-/ari- id, as this project sees it (None: none).

    See ``ec2proxy.readmodels.lookups``."""
    glance = glance_of(view)
    image = await by_ec2_id(wanted, image_id, glance.get_image, lambda: _visible_images(glance))
    return image if image is not None and present(image) else None


async def find(ctx: RequestContext, wanted: str, own: bool = False) -> Described:
    """One image by its ami-/aki-/ari- id (``own``: the caller must own it; another's image it sees, public or
    shared with it, answers AuthFailure as AWS does)."""
    check_image_id(wanted)
    image = await glance_image(await ctx.cloud(), wanted)
    if image is None:
        raise image_not_found(wanted)
    shapes = await describe(ctx, [image])
    if own and shapes[0].shape["OwnerId"] != ctx.project_id:
        raise errors.not_authorized_for("image", wanted)
    return shapes[0]
