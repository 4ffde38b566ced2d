"""Block devices: EC2 BlockDeviceMappings <-> Nova's block_device_mapping_v2, and the EC2 volume types.

An ``Ebs`` mapping on the image's root device boots from a volume made of
the image; other ``Ebs`` mappings are extra volumes (blank or from a
snapshot); ``ephemeralN`` is a local ephemeral disk of the flavor;
``NoDevice`` suppresses a device (nothing to suppress on images without
mappings). What was asked is recorded in the instance's row under the EC2
device names, matched to the Nova volumes in order of boot index.
"""

from __future__ import annotations

import json
import math
import re
from typing import TypedDict

from ec2proxy.ec2 import errors, ids

GIB = 1024 ** 3


class DeviceRecord(TypedDict, total=False):
    """One block device mapping as an instance's row keeps it (``instances.block_device_mappings``, JSON)."""

    DeviceName: str
    NoDevice: bool  # the image's mapping of this device suppressed
    VirtualName: str  # ephemeralN: an instance-store disk
    Ebs: bool  # a volume Nova makes at boot
    Root: bool
    VolumeType: str
    DeleteOnTermination: bool
    VolumeId: str  # vol- id of a volume attached through AttachVolume
    CinderVolumeId: str  # ... and its Cinder id, which names it among Nova's attachments
    AttachTime: str  # ISO 8601


EPHEMERAL = re.compile(r"ephemeral\d+")


def type_map(config) -> dict[str, str]:
    """``[api] volume_types``: EC2 volume type -> Cinder type."""
    pairs = [p.partition("=") for p in re.split(r"[\s,]+", str(config.api.volume_types)) if p]
    return {ec2: cinder for ec2, _, cinder in pairs if ec2 and cinder}


def cinder_type(types: dict[str, str], asked: str | None) -> tuple[str, str | None]:
    """(the EC2 type, the Cinder type to ask for; None: the cloud's default)."""
    asked = asked or next(iter(types), "standard")
    if asked not in types:
        raise errors.InvalidParameterValue(f"Volume type {asked[:32]} is not offered by this cloud; it offers "
                                           f"{', '.join(types)}.")
    mapped = types[asked]
    return asked, None if mapped == "__DEFAULT__" else mapped


def unsupported_ebs(spec: dict) -> None:
    """EBS options Cinder has no counterpart for are refused by name, never ignored."""
    if spec.get("Encrypted") or spec.get("KmsKeyId"):
        raise errors.UnsupportedOperation("Encrypted volumes are not offered by this cloud.")
    for member in ("Iops", "Throughput", "OutpostArn"):
        if spec.get(member):
            raise errors.UnsupportedOperation(f"{member} is not supported: Cinder volume types carry the "
                                              "performance of a volume.")
    if spec.get("MultiAttachEnabled"):
        raise errors.UnsupportedOperation("Multi-attach volumes are not offered by this cloud.")


def image_mappings(image: dict) -> list[dict]:
    """Nova's ``block_device_mapping`` image property (a JSON list): what an EBS image (Nova's image of a
    volume-backed server) boots from; empty for any other image."""
    raw = image.get("block_device_mapping")
    try:
        mappings = json.loads(raw) if isinstance(raw, str) else (raw or [])
    except ValueError:
        return []
    return [m for m in mappings if isinstance(m, dict)] if isinstance(mappings, list) else []


def image_root_snapshot(image: dict) -> dict | None:
    """The root mapping of an EBS image (a volume made of a snapshot at boot index 0), if it is one."""
    return next((m for m in image_mappings(image) if m.get("boot_index") in (0, "0")
                 and m.get("destination_type") == "volume" and m.get("snapshot_id")), None)


def root_device(image: dict) -> str:
    return image.get("root_device_name") or "/dev/sda1"


def image_size_gib(image: dict) -> int:
    return max(1, int(image.get("min_disk") or 0), math.ceil((image.get("size") or 0) / GIB))


async def snapshots(cinder, wanted) -> dict[str, dict]:
    """Cinder's snapshots under their snap- ids (one listing); an id not among them is InvalidSnapshot.NotFound."""
    wanted = list(wanted)
    if not wanted:
        return {}
    if cinder is None:
        raise errors.UnsupportedOperation("This cloud has no volume service (Cinder).")
    known = {ids.from_uuid("snap", s["id"]): s for s in await cinder.list_snapshots()}
    for snapshot_id in wanted:
        if snapshot_id not in known:
            raise errors.InvalidSnapshotNotFound(f"The snapshot '{snapshot_id}' does not exist.")
    return known


def snapshot_ids(mappings: list[dict]) -> list[str]:
    return [ids.check("snap", m["Ebs"]["SnapshotId"]) for m in mappings or []
            if (m.get("Ebs") or {}).get("SnapshotId")]


def _volume_source(device: str, root: str, ebs: dict, size: int | None, image: dict,
                   snapshots: dict[str, dict]) -> dict:
    """What Nova makes one EBS mapping's volume of: an EBS image's root snapshot, the image itself (a root),
    an EBS snapshot, or nothing (a blank volume)."""
    ebs_root = image_root_snapshot(image) if device == root else None
    if ebs_root is not None:  # an EBS image: the root volume is made of its snapshot, as Nova would
        if ebs.get("SnapshotId"):
            raise errors.InvalidParameterCombination("The root volume of an EBS image is made of the image's "
                                                     "own snapshot")
        needed = int(ebs_root.get("volume_size") or 1)
        if size is not None and size < needed:
            raise errors.InvalidParameterValue(f"Volume of {size} GiB is smaller than the image's snapshot "
                                               f"({needed} GiB)")
        return {"source_type": "snapshot", "uuid": ebs_root["snapshot_id"], "boot_index": 0,
                "volume_size": size or needed, "device_name": ebs_root.get("device_name") or device}
    if device == root:
        if ebs.get("SnapshotId"):
            raise errors.UnsupportedOperation("The root volume is made from the image; a root SnapshotId needs "
                                              "an image registered from that snapshot (RegisterImage).")
        needed = image_size_gib(image)
        if size is not None and size < needed:
            raise errors.InvalidParameterValue(f"Volume of {size} GiB is smaller than the image ({needed} GiB)")
        return {"source_type": "image", "uuid": image["id"], "boot_index": 0, "volume_size": size or needed}
    if ebs.get("SnapshotId"):
        snapshot = snapshots[ebs["SnapshotId"]]
        if size is not None and size < snapshot["size"]:
            raise errors.InvalidParameterValue(f"Volume of {size} GiB is smaller than snapshot {ebs['SnapshotId']}")
        return {"source_type": "snapshot", "uuid": snapshot["id"], "boot_index": -1,
                "volume_size": size or snapshot["size"]}
    if size is None:
        raise errors.MissingParameter(f"The mapping of {device} needs a VolumeSize or a SnapshotId")
    return {"source_type": "blank", "boot_index": -1, "volume_size": size}


def to_nova(mappings: list[dict], image: dict, types: dict[str, str],
            snapshots: dict[str, dict]) -> tuple[list[dict], list[DeviceRecord]]:
    """(Nova's block_device_mapping_v2, the mappings to record); ``snapshots`` maps snap- ids to Cinder's."""
    root = root_device(image)
    nova: list[dict] = []
    recorded: list[DeviceRecord] = []
    seen: set[str] = set()
    for mapping in mappings or []:
        device = mapping.get("DeviceName")
        if not device:
            raise errors.MissingParameter("Every block device mapping needs a DeviceName")
        if device in seen:
            raise errors.InvalidParameterValue(f"The device {device} is mapped more than once")
        seen.add(device)
        kinds = [k for k in ("Ebs", "VirtualName", "NoDevice") if mapping.get(k) is not None]
        if len(kinds) != 1:
            raise errors.InvalidParameterCombination(f"The mapping of {device} needs exactly one of Ebs, "
                                                     "VirtualName and NoDevice")
        if "NoDevice" in kinds:
            recorded.append({"DeviceName": device, "NoDevice": True})
            continue
        if "VirtualName" in kinds:
            if not EPHEMERAL.fullmatch(mapping["VirtualName"]) or device == root:
                raise errors.InvalidParameterValue(f"Invalid virtual name {mapping['VirtualName'][:32]} for "
                                                   f"{device}: use ephemeralN on a non-root device")
            nova.append({"source_type": "blank", "destination_type": "local", "boot_index": -1,
                         "delete_on_termination": True})
            recorded.append({"DeviceName": device, "VirtualName": mapping["VirtualName"]})
            continue
        ebs = mapping["Ebs"]
        unsupported_ebs(ebs)
        asked_type, volume_type = cinder_type(types, ebs.get("VolumeType"))
        delete = ebs.get("DeleteOnTermination", True)
        entry: dict = {"destination_type": "volume", "delete_on_termination": bool(delete)}
        size = ebs.get("VolumeSize")
        if size is not None and not 1 <= size <= 16384:
            raise errors.InvalidParameterValue(f"Volume size {size} for {device} must be between 1 and 16384 GiB")
        entry.update(_volume_source(device, root, ebs, size, image, snapshots))
        if volume_type:
            entry["volume_type"] = volume_type
        nova.append(entry)
        recorded.append({"DeviceName": device, "VolumeType": asked_type, "DeleteOnTermination": bool(delete),
                         "Ebs": True, "Root": device == root})
    for mapping in image_mappings(image):  # an EBS image's own volumes, where the request does not replace them
        device = mapping.get("device_name") or ""
        if mapping.get("destination_type") != "volume" or device in seen or \
                (mapping.get("boot_index") in (0, "0") and root in seen):
            continue
        is_root = mapping.get("boot_index") in (0, "0")
        recorded.append({"DeviceName": root if is_root else device, "VolumeType": cinder_type(types, None)[0],
                         "DeleteOnTermination": bool(mapping.get("delete_on_termination")), "Ebs": True,
                         "Root": is_root})
    nova.sort(key=lambda e: e["boot_index"] != 0)  # the boot volume first, as Nova numbers devices
    recorded.sort(key=lambda r: not r.get("Root"))
    return nova, recorded


def match(recorded: list[DeviceRecord], attached: list[str]) -> list[tuple[DeviceRecord, str]]:
    """(recorded mapping, Cinder volume id) pairs for the volumes attached to one instance, in ``attached``'s
    order (boot order): volumes we attached (AttachVolume) carry their Cinder id; the others, made by Nova at
    boot, are the Ebs mappings RunInstances asked for, in order."""
    known = {m["CinderVolumeId"] for m in recorded if m.get("CinderVolumeId")}
    booted = iter([v for v in attached if v not in known])
    present = set(attached)
    pairs = []
    for mapping in recorded:
        if "CinderVolumeId" in mapping:
            if mapping["CinderVolumeId"] in present:
                pairs.append((mapping, mapping["CinderVolumeId"]))
        elif mapping.get("Ebs"):
            volume_id = next(booted, None)
            if volume_id is not None:
                pairs.append((mapping, volume_id))
    return pairs


def from_nova(server: dict, recorded: list[DeviceRecord], attached_at) -> list[dict]:
    """The instance's BlockDeviceMappings: Nova's attached volumes under our recorded device names."""
    by_id = {v["id"]: v for v in server.get("os-extended-volumes:volumes_attached") or []}
    out = []
    for mapping, volume_id in match(recorded, list(by_id)):
        volume = by_id[volume_id]
        ebs = {"VolumeId": ids.from_uuid("vol", volume["id"]), "Status": "attached",
               "DeleteOnTermination": bool(volume.get("delete_on_termination",
                                                      mapping.get("DeleteOnTermination", False)))}
        stamp = attached_at(mapping)
        if stamp is not None:
            ebs["AttachTime"] = stamp
        out.append({"DeviceName": mapping["DeviceName"], "Ebs": ebs})
    return out
