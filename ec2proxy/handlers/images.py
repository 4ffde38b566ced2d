"""Images: Glance images as AMIs (kernels and ramdisks as AKIs and ARIs).

Glance holds everything an image is, so nothing about an image waits in a
request or in our memory: CreateImage asks Nova for a snapshot and answers
with the new id at once; the state follows Glance's status (``STATES``).
An image stuck in queued/saving longer than ``[api] image_stuck_after``
shows ``failed`` with a stateReason; ``ec2proxy images stuck --delete``
removes such images. Glance's ``deactivated`` also shows ``failed``: the
image cannot be launched until an operator reactivates it.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

from ec2proxy.cloud import BackendError, BackendNotFound, CloudView
from ec2proxy.context import RequestContext
from ec2proxy.db.models import utcnow
from ec2proxy.ec2 import devices, errors, filters, ids, paging, tagging, timestamps
from ec2proxy.ec2.records import Described, shape_of, shapes
from ec2proxy.handlers import action
from ec2proxy.readmodels import image_locations
from ec2proxy.readmodels.images import (
    FILTERS,
    OWNER_ALIASES,
    block_devices,
    check_image_id,
    deregistered,
    describe,
    find,
    glance_image,
    glance_of,
    image_id,
    image_not_found,
    image_unavailable,
    present,
)
from ec2proxy.readmodels.instances import lookup
from ec2proxy.readmodels.lookups import few_with_tags
from ec2proxy.state import image_records, jobs, ledger, oplog, tag_writes, write

NAME = re.compile(r"[A-Za-z0-9()\[\] ./\-'@_]{3,128}")



async def _executable_by(ctx: RequestContext, images: list[Described], users: list[str]) -> list[Described]:
    """Images the named accounts may launch: ``all`` means public; the caller's own id or ``self``
    everything it sees; another account the public images and the caller's images shared with it."""
    view = await ctx.cloud()
    others = [u for u in users if u not in ("all", "self", ctx.project_id)]
    members: dict[str, set[str]] = {}
    if others:
        shared = [i for i in images if i.shape["OwnerId"] == ctx.project_id and i.os.get("visibility") == "shared"]
        listed = await asyncio.gather(*(glance_of(view).members(i.os["id"]) for i in shared))
        members = {i.shape["ImageId"]: {m["member_id"] for m in found} for i, found in zip(shared, listed, strict=True)}
    out = []
    for image in images:
        if ("all" in users and image.shape["Public"]) or any(u in ("self", ctx.project_id) for u in users) or \
                (others and (image.shape["Public"] or members.get(image.shape["ImageId"], set()) & set(others))):
            out.append(image)
    return out


async def _by_id(ctx: RequestContext, wanted: list[str]) -> list[Described] | None:
    """A few images by one Glance GET each (``lookups.few_with_tags``); None: ask the listing."""
    view = await ctx.cloud()
    few = await few_with_tags(ctx, wanted, lambda image: glance_image(view, image))
    return await describe(ctx, *few) if few is not None else None


@action("DescribeImages")
async def describe_images(ctx: RequestContext, params: dict) -> dict:
    paging.check_max_results(params, ids_member="ImageIds")
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    wanted = [check_image_id(i) for i in params.get("ImageIds") or []]
    images = await _by_id(ctx, wanted)
    if images is None:  # all of them, or an id not found by GET: the listing says which
        images = await describe(ctx)
    assert images is not None
    gone = await deregistered(ctx, set(wanted) - {i.shape["ImageId"] for i in images})
    images = filters.by_ids(images, "ImageId", wanted, lambda missing: image_unavailable(missing)
                            if missing in gone else image_not_found(missing), of=shape_of)
    owners = params.get("Owners") or []
    if owners:
        images = [i for i in images if ("self" in owners and i.shape["OwnerId"] == ctx.project_id) or
                  i.shape["OwnerId"] in owners or
                  (set(owners) & OWNER_ALIASES and i.shape["Public"] and i.shape["OwnerId"] != ctx.project_id)]
    if params.get("ExecutableUsers"):
        images = await _executable_by(ctx, images, params["ExecutableUsers"])
    images.sort(key=lambda i: (i.shape["CreationDate"] or "", i.shape["ImageId"]))
    return paging.answer(ctx, "Images", filters.apply(shapes(images), compiled), params)


def _check_name(name: str | None, description: str | None) -> str:
    if not name or not NAME.fullmatch(name):
        raise errors.InvalidParameterValue(f"AMI names must be between 3 and 128 characters long, and may contain "
                                           f"letters, numbers, '(', ')', '.', '-', '/', '_', ' ', '[', ']', '@' and "
                                           f"\"'\": {str(name)[:128]}")
    if description is not None and len(description) > 255:
        raise errors.InvalidParameterValue("AMI descriptions are at most 255 characters long")
    return name


async def _check_unique_name(ctx: RequestContext, name: str) -> None:
    view = await ctx.cloud()
    same = await glance_of(view).list_images({"name": name, "owner": ctx.project_id})
    if any(present(i) for i in same):
        raise errors.InvalidAMINameDuplicate(f"AMI name {name} is already in use by AMI "
                                             f"{image_id(same[0])}")


def _image_tags(params: dict) -> list[dict]:
    tagged = tagging.from_specs(params, ("image", "snapshot"))
    if tagged.get("snapshot"):
        raise errors.UnsupportedOperation("Tagging snapshots is for CreateImage, which makes them; tag these with "
                                          "CreateTags.")
    return tagged.get("image", [])


async def _tag_new(ctx: RequestContext, operation_id: int, ami: str, tags: list[dict],
                   snapshot_tags: dict[str, list[dict]] | None = None) -> None:
    """The new image's tags, and those of the snapshots it maps (CreateImage of a volume-backed instance)."""
    await write(ctx, image_records.tagged, ctx.project_id, operation_id, {ami: tags, **(snapshot_tags or {})})


@action("CreateImage", checks_dry_run=True)
async def create_image(ctx: RequestContext, params: dict) -> dict:
    """An EBS-backed AMI of an EBS-backed instance (the EC2 API reference's CreateImage), through Nova's
    createImage, answered at once in ``pending``: Nova snapshots the root volume (and the others) in Cinder and
    maps the snapshots in the image.

    An instance-store instance (its root on the host's disk) is refused as AWS refuses it, though Nova could
    snapshot it into a Glance image: EC2 has no CreateImage for such an instance (AWS bundles them), and the
    retired ec2-api refused it too. Nova snapshots a running server without rebooting it (quiescing the guest
    where it can), so NoReboot changes nothing here.
    """
    name, description = params.get("Name"), params.get("Description")
    name = _check_name(name, description)
    if params.get("BlockDeviceMappings"):
        raise errors.UnsupportedOperation("CreateImage with BlockDeviceMappings is not supported: the image maps "
                                          "the instance's devices as they are.")
    specs = tagging.from_specs(params, ("image", "snapshot"))
    tags = specs.get("image", [])
    (instance,) = await lookup(ctx, [params["InstanceId"]])
    if instance.shape["State"]["Name"] not in ("running", "stopped"):
        raise errors.IncorrectInstanceState(f"Instance '{instance.shape['InstanceId']}' is not in a state to be imaged "
                                            f"({instance.shape['State']['Name']})")
    if instance.shape["RootDeviceType"] != "ebs":
        raise errors.InvalidParameterValue(f"Instance '{instance.shape['InstanceId']}' is an instance store-backed "
                                           "instance: CreateImage makes EBS-backed AMIs of EBS-backed instances "
                                           "only (launch it with an EBS root volume to image it).")
    await _check_unique_name(ctx, name)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    operation_id = await oplog.logged(ctx, [instance.shape["InstanceId"]])
    view = await ctx.cloud()
    metadata = {"description": description} if description else {}
    try:
        os_image = await view.nova.create_image(instance.os_id, name, metadata)
    except BackendError as exc:
        await oplog.closed(ctx.services.sessions, operation_id, str(exc))
        if exc.status == 409:
            raise errors.IncorrectInstanceState(
                f"Instance '{instance.shape['InstanceId']}' cannot be imaged now: {exc.message[:200]}") from None
        if exc.status == 403 and "quota" in exc.message.lower():
            raise errors.ResourceLimitExceeded("The maximum number of images has been reached") \
                from None
        raise
    ami = ids.from_uuid("ami", os_image)
    image = await glance_of(view).get_image(os_image)  # Nova mapped the snapshots it asked Cinder for, already there
    await _root_size_as_min_disk(view, image)
    snapshot_tags = {m["Ebs"]["SnapshotId"]: specs["snapshot"] for m in block_devices(image)
                     if m.get("Ebs", {}).get("SnapshotId")} if specs.get("snapshot") else {}
    await _tag_new(ctx, operation_id, ami, tags, snapshot_tags)
    return {"ImageId": ami}


async def _root_size_as_min_disk(view, image: dict) -> None:
    """Nova writes the flavor's root disk (8 GB for t2.micro) as min_disk of a volume-backed server's image,
    whatever the size of its root volume: Nova then refuses to boot the image on a volume of its snapshot's
    size. An EBS AMI boots on a root of its snapshot's size, as on AWS: min_disk becomes that size."""
    root = next((m for m in devices.image_mappings(image) if m.get("boot_index") == 0 and m.get("volume_size")),
                None)
    if root is not None and int(image.get("min_disk") or 0) > int(root["volume_size"]):
        await glance_of(view).update_image(image["id"], [{"op": "replace", "path": "/min_disk",
                                                      "value": int(root["volume_size"])}])


def _snapshot_root(params: dict) -> tuple[dict, str]:
    """Glance properties of an image booting from a volume made of an EBS snapshot (as Nova's own
    snapshots of volume-backed servers are)."""
    root = params.get("RootDeviceName") or "/dev/sda1"
    mappings = []
    for mapping in params.get("BlockDeviceMappings") or []:
        device = mapping.get("DeviceName")
        if not device:
            raise errors.MissingParameter("Every block device mapping needs a DeviceName")
        if "NoDevice" in mapping:
            mappings.append({"device_name": device, "no_device": True, "source_type": "blank",
                             "destination_type": "local"})
        elif mapping.get("Ebs"):
            ebs = mapping["Ebs"]
            if ebs.get("Encrypted") or ebs.get("KmsKeyId") or ebs.get("Iops"):
                raise errors.UnsupportedOperation("Encrypted volumes and provisioned IOPS are not supported")
            entry = {"device_name": device, "destination_type": "volume",
                     "delete_on_termination": ebs.get("DeleteOnTermination", True),
                     "boot_index": 0 if device == root else -1}
            if ebs.get("SnapshotId"):
                entry.update(source_type="snapshot", snapshot_id=ids.check("snap", ebs["SnapshotId"]))
            else:
                entry.update(source_type="blank")
            if ebs.get("VolumeSize"):
                entry["volume_size"] = ebs["VolumeSize"]
            mappings.append(entry)
        elif mapping.get("VirtualName"):
            mappings.append({"device_name": device, "source_type": "blank", "destination_type": "local",
                             "boot_index": -1})
    if not any(m.get("boot_index") == 0 and m.get("snapshot_id") for m in mappings):
        raise errors.InvalidParameterValue(f"The root device {root} needs an Ebs SnapshotId in BlockDeviceMappings "
                                           "(or give ImageLocation)")
    return {"root_device_name": root, "bdm_v2": "True"}, json.dumps(mappings)


async def _snapshot_uuids(ctx: RequestContext, bdm_json: str) -> str:
    """The snap- ids in the mappings as Cinder snapshot UUIDs; an unknown one is InvalidSnapshot.NotFound."""
    mappings = json.loads(bdm_json)
    view = await ctx.cloud()
    known = await devices.snapshots(view.cinder, {m["snapshot_id"] for m in mappings if m.get("snapshot_id")})
    for mapping in mappings:
        if mapping.get("snapshot_id"):
            mapping["snapshot_id"] = known[mapping["snapshot_id"]]["id"]
    return json.dumps(mappings)


@action("RegisterImage", checks_dry_run=True)
async def register_image(ctx: RequestContext, params: dict) -> dict:
    """From an image file at ``ImageLocation`` (an http(s) URL Glance imports with web-download), or with
    a root device made from an EBS snapshot (BlockDeviceMappings)."""
    name, description = params.get("Name"), params.get("Description")
    name = _check_name(name, description)
    tags = _image_tags(params)
    location = params.get("ImageLocation")
    fields: dict = {"name": name, "visibility": "private", "container_format": "bare"}
    if description:
        fields["description"] = description
    arch = params.get("Architecture")
    if arch:
        if arch not in ("x86_64", "i386", "arm64"):
            raise errors.InvalidParameterValue(f"Invalid Architecture: {arch[:32]}")
        fields["architecture"] = {"arm64": "aarch64", "i386": "i686"}.get(arch, arch)
    for member, prop in (("KernelId", "kernel_id"), ("RamdiskId", "ramdisk_id")):
        if params.get(member):
            fields[prop] = (await find(ctx, params[member])).os["id"]
    bdm_json = None
    if location:
        if not re.match(r"https?://", location) or params.get("BlockDeviceMappings"):
            raise errors.InvalidParameterValue("ImageLocation must be an http(s) URL of an image file (Glance "
                                               "imports it with web-download), without BlockDeviceMappings")
        await image_locations.check(location, ctx.services.config)
        fields["disk_format"] = "qcow2" if location.endswith(".qcow2") else "raw"
    else:
        properties, bdm_json = _snapshot_root(params)
        fields.update(properties, disk_format="raw")
        bdm_json = await _snapshot_uuids(ctx, bdm_json)
        fields["block_device_mapping"] = bdm_json
    await _check_unique_name(ctx, name)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    operation_id = await oplog.logged(ctx, [])
    image = None
    try:
        image = await glance_of(view).create_image(**fields)
        if location:
            await glance_of(view).import_image(image["id"], "web-download", uri=location)
        else:
            await glance_of(view).upload(image["id"], b"")  # no data: the root is the snapshot; active at once
    except BackendError as exc:
        await oplog.closed(ctx.services.sessions, operation_id, str(exc))
        if image is not None:  # never leave a queued image behind a refused import
            await glance_of(view).delete_image(image["id"])
        if location and exc.status in (400, 404, 409, 415):
            raise errors.UnsupportedOperation(f"This cloud's image service did not take the image from "
                                              f"{location[:200]}: {exc.message[:200]}") from None
        raise
    ami = ids.from_uuid("ami", image["id"])
    await _tag_new(ctx, operation_id, ami, tags)
    return {"ImageId": ami}


@action("DeregisterImage", checks_dry_run=True)
async def deregister_image(ctx: RequestContext, params: dict) -> dict:
    async with tag_writes.forgotten_if_gone(ctx, params["ImageId"]):
        image = await find(ctx, params["ImageId"], own=True)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    try:
        await glance_of(view).delete_image(image.os["id"])
    except BackendNotFound:
        pass
    except BackendError as exc:
        if exc.status == 403:
            raise errors.OperationNotPermitted(f"The image {image.shape['ImageId']} is protected in this cloud and "
                                               "cannot be deregistered") from None
        raise
    await write(ctx, image_records.deregistered, ctx, image.shape["ImageId"])
    return {"Return": True}


# -- attributes ----------------------------------------------------------------------------------


async def _launch_permissions(ctx: RequestContext, image: Described) -> list[dict]:
    os_image = image.os
    if os_image.get("visibility") == "public":
        return [{"Group": "all"}]
    if os_image.get("visibility") != "shared" or image.shape["OwnerId"] != ctx.project_id:
        return []
    view = await ctx.cloud()
    return [{"UserId": m["member_id"]} for m in await glance_of(view).members(os_image["id"])]


def _attribute(name: str | None) -> str | None:
    """An image attribute as EC2 spells it; clients (Ansible's ec2_ami) also send ``Description``."""
    return name[:1].lower() + name[1:] if name else name


# The attributes DescribeImageAttribute names (EC2 API reference); the ones this cloud keeps are answered, the
# others refused as UnsupportedOperation. A name outside the list is an invalid request, as AWS answers it.
IMAGE_ATTRIBUTES = ("description", "kernel", "ramdisk", "launchPermission", "productCodes", "blockDeviceMapping",
                    "sriovNetSupport", "bootMode", "tpmSupport", "uefiData", "lastLaunchedTime", "imdsSupport",
                    "deregistrationProtection")
UNKEPT_ATTRIBUTES = ("sriovNetSupport", "bootMode", "tpmSupport", "uefiData", "lastLaunchedTime",
                     "deregistrationProtection")


def _known_attribute(name: str | None) -> str:
    attribute = _attribute(name) or ""
    if attribute not in IMAGE_ATTRIBUTES:
        raise errors.InvalidRequest(f"Value ({attribute[:64]}) for parameter attribute is invalid. Unknown "
                                    "attribute.")
    return attribute


@action("DescribeImageAttribute")
async def describe_image_attribute(ctx: RequestContext, params: dict) -> dict:
    """An attribute of an image the caller owns; another's image, public or shared, is AuthFailure (AWS)."""
    attribute = _known_attribute(params["Attribute"])
    if attribute in UNKEPT_ATTRIBUTES:
        raise errors.UnsupportedOperation(f"The image attribute {attribute} is not kept by this cloud.")
    image = await find(ctx, params["ImageId"], own=True)
    out: dict = {"ImageId": image.shape["ImageId"]}
    if attribute == "description":
        out["Description"] = {"Value": image.shape["Description"]} if image.shape["Description"] else {}
    elif attribute in ("kernel", "ramdisk"):  # an image with none has no such member (as DescribeImages)
        member = "KernelId" if attribute == "kernel" else "RamdiskId"
        out.update({member: {"Value": image.shape[member]}} if image.shape.get(member) else {})
    elif attribute == "launchPermission":
        out["LaunchPermissions"] = await _launch_permissions(ctx, image)
    elif attribute == "blockDeviceMapping":
        out["BlockDeviceMappings"] = image.shape["BlockDeviceMappings"]
    elif attribute == "productCodes":
        out["ProductCodes"] = []
    else:  # imdsSupport
        out["ImdsSupport"] = {}
    return out


def _permission_changes(params: dict) -> tuple[list[dict], list[dict]]:
    launch = params.get("LaunchPermission") or {}
    adds, removes = list(launch.get("Add") or []), list(launch.get("Remove") or [])
    operation = params.get("OperationType")
    flat = [{"UserId": u} for u in params.get("UserIds") or []] + [{"Group": g} for g in params.get("UserGroups") or []]
    if flat:
        if operation not in ("add", "remove"):
            raise errors.MissingParameter("OperationType (add or remove) is required with UserId/UserGroup")
        (adds if operation == "add" else removes).extend(flat)
    for permission in adds + removes:
        if permission.get("OrganizationArn") or permission.get("OrganizationalUnitArn"):
            raise errors.UnsupportedOperation("Organizations do not exist in this cloud")
        if permission.get("Group") not in (None, "all"):
            raise errors.InvalidParameterValue(f"Invalid launch permission group: {permission['Group'][:64]}")
        if permission.get("UserId") is not None:
            ids.account(permission["UserId"])
    return adds, removes


async def _set_visibility(view: CloudView, os_image: dict, visibility: str) -> None:
    if os_image.get("visibility") == visibility:
        return
    try:
        await glance_of(view).update_image(os_image["id"], [{"op": "replace", "path": "/visibility",
                                                         "value": visibility}])
    except BackendError as exc:
        if exc.status == 403:
            raise errors.UnauthorizedOperation("This cloud lets only its administrators make images public.") \
                from None
        raise
    os_image["visibility"] = visibility


@action("ModifyImageAttribute", checks_dry_run=True)
async def modify_image_attribute(ctx: RequestContext, params: dict) -> dict:
    """Description, and launch permission as Glance visibility (``all`` -> public) and image members.

    The request is checked before the image, in AWS's order and with its codes: an unknown attribute or nothing
    to change is InvalidParameterCombination, an attribute that cannot be modified InvalidParameter, a named
    attribute without its value MissingParameter; then an image the caller does not own is AuthFailure.
    """
    attribute = _attribute(params.get("Attribute"))
    description = (params.get("Description") or {}).get("Value")
    if attribute == "description" and description is None:
        description = params.get("Value")
    adds, removes = _permission_changes(params)
    if attribute == "imdsSupport" or params.get("ProductCodes") or params.get("ImdsSupport"):
        raise errors.UnsupportedOperation("Product codes and IMDS support flags are not kept by this cloud.")
    if attribute is not None and attribute not in IMAGE_ATTRIBUTES:
        raise errors.InvalidParameterCombination(f"Unknown image attribute {attribute[:64]}")
    if attribute not in (None, "description", "launchPermission"):
        raise errors.InvalidParameter(f"The image attribute {attribute} cannot be modified: only description "
                                      "and launchPermission can.")
    if attribute == "description" and description is None:
        raise errors.MissingParameter("The request must contain the parameter Value or Description.Value")
    if description is None and not adds and not removes:
        raise errors.InvalidParameterCombination("Nothing to modify: give Description or LaunchPermission")
    if description is not None and len(description) > 255:
        raise errors.InvalidParameterValue("AMI descriptions are at most 255 characters long")
    image = await find(ctx, params["ImageId"], own=True)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    os_image = image.os
    if description is not None:
        await glance_of(view).update_image(os_image["id"], [{"op": "add", "path": "/description",
                                                         "value": description}])
    if any(p.get("Group") == "all" for p in adds):
        await _set_visibility(view, os_image, "public")
    users_added = [p["UserId"] for p in adds if p.get("UserId")]
    if users_added and os_image.get("visibility") != "public":
        await _set_visibility(view, os_image, "shared")
    for user in users_added:
        try:
            await glance_of(view).add_member(os_image["id"], user)
        except BackendError as exc:
            if exc.status != 409:  # already a member
                raise
    for user in [p["UserId"] for p in removes if p.get("UserId")]:
        try:
            await glance_of(view).remove_member(os_image["id"], user)
        except BackendNotFound:
            pass
    if any(p.get("Group") == "all" for p in removes) and os_image.get("visibility") == "public":
        await _set_visibility(view, os_image, "shared")
    return {}


@action("ResetImageAttribute", checks_dry_run=True)
async def reset_image_attribute(ctx: RequestContext, params: dict) -> dict:
    """launchPermission back to private: no longer public, no members."""
    if _known_attribute(params["Attribute"]) != "launchPermission":
        raise errors.InvalidParameterValue("Only launchPermission can be reset")
    image = await find(ctx, params["ImageId"], own=True)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    os_image = image.os
    if os_image.get("visibility") == "shared":
        for member in await glance_of(view).members(os_image["id"]):
            await glance_of(view).remove_member(os_image["id"], member["member_id"])
    await _set_visibility(view, os_image, "private")
    return {}


# -- CopyImage ---------------------------------------------------------------------------------------

COPIED_PROPERTIES = ("architecture", "os_type", "os_distro", "kernel_id", "ramdisk_id", "root_device_name",
                     "block_device_mapping", "bdm_v2", "hw_disk_bus", "hw_scsi_model", "hw_firmware_type",
                     "min_disk", "min_ram", "container_format", "disk_format")


@action("CopyImage", checks_dry_run=True)
async def copy_image(ctx: RequestContext, params: dict) -> dict:
    """A new image in this cloud with the source's data and properties, answered at once in ``pending``.

    The new Glance id is chosen before anything is created (Glance takes it),
    so a ClientToken retry after a crash finds the image instead of making a
    second; the data is streamed by a background job (``ec2proxy.state.jobs``)
    that any worker finishes if this one stops.
    """
    if params["SourceRegion"] != ctx.region:
        raise errors.UnsupportedOperation(f"Images are copied within this cloud's region {ctx.region} only.")
    if params.get("Encrypted") or params.get("KmsKeyId") or params.get("DestinationOutpostArn"):
        raise errors.UnsupportedOperation("Encrypted copies and outposts are not offered by this cloud.")
    name, description = params.get("Name"), params.get("Description")
    name = _check_name(name, description)
    tags = _image_tags(params)
    source = await find(ctx, params["SourceImageId"])
    if source.shape["State"] != "available":
        raise errors.InvalidAMIIDUnavailable(f"Image {source.shape['ImageId']} is not available")
    if params.get("CopyImageTags"):
        tags = list({t["Key"]: t for t in source.shape["Tags"] + tags}.values())
    if ctx.dry_run:
        raise errors.DryRunOperation()
    # the new image's id is chosen here: Glance creates it under that id, which a retry finds it by
    create = await ledger.Create.begin(ctx, params, str(uuid.uuid4()))
    target = create.marker
    if not create.owner:  # a replay answers before the name is checked: the name is its own copy's
        return {"ImageId": ids.from_uuid(source.shape["ImageId"].partition("-")[0], target)}
    try:
        if not create.adopting:
            await _check_unique_name(ctx, name)
    except errors.EC2Error as failure:
        await create.failed(failure)
        raise
    os_source = source.os
    fields = {k: os_source[k] for k in COPIED_PROPERTIES if os_source.get(k) not in (None, "")}
    fields.update(id=target, name=name, visibility="private")
    if description or os_source.get("description"):
        fields["description"] = description or os_source["description"]
    view = await ctx.cloud()
    new_id = ids.from_uuid(source.shape["ImageId"].partition("-")[0], target)
    try:
        try:
            await glance_of(view).create_image(**fields)
        except BackendError as exc:
            if not (exc.status == 409 and create.adopting):  # adopting: made before a crash
                raise
        has_data = bool(os_source.get("size"))
        details = {"source": os_source["id"], "target": target, "project": ctx.project_id}
        # the data is copied by a job, logged until it is in
        await create.record(image_records.copying, create, source.shape["ImageId"], new_id, details, tags, job=has_data)
        if not has_data:  # a snapshot-backed image: its properties are all there is
            await glance_of(view).upload(target, b"")
    except BackendError as exc:
        await create.failed(exc.ec2(), str(exc))
        raise
    if has_data and create.operation_id is not None:
        jobs.kick(ctx.services, create.operation_id, view)
    return {"ImageId": new_id}


@jobs.runner("CopyImage")
async def _copy_data(services, operation, view) -> None:
    """Stream the source's data into the new image, unless an earlier run got it there already."""
    details = operation.details or {}
    target = await glance_of(view).get_image(details["target"])
    if target.get("status") == "active":
        return
    if target.get("status") != "queued":  # another worker's upload is under way: look again after the lease
        age = (utcnow() - timestamps.aware(operation.created_at)).total_seconds()
        if age > float(services.config.api.image_stuck_after):  # an upload cut off inside Glance: give up
            raise jobs.JobFailed(f"the copy stayed {target.get('status')} in Glance for more than "
                                 f"{int(services.config.api.image_stuck_after)} s")
        raise BackendError("image", 409, f"image {details['target']} is {target.get('status')}")
    await glance_of(view).copy_data(details["source"], details["target"])
