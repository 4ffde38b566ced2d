"""Cinder v3: volumes, snapshots, attachments and the volume side of Nova's attach/boot."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ec2proxy.devcloud.common import (
    STATE,
    TOKEN,
    ZONES,
    HTTPError,
    auth,
    base_url,
    body_json,
    field_filters,
    iso,
    new_id,
    now,
    paged_reply,
    reply,
)

routes = web.RouteTableDef()
PREFIX = "/volume/v3/{project_id}"
DEVICES = [f"/dev/vd{c}" for c in "bcdefghijklmnopqrstuvwxyz"]


def settle(store, kind: str, obj: dict) -> dict | None:
    pending = obj.get("pending")
    if pending and pending["at"] <= now():
        if pending["then"].get("status") == "deleted":
            store.delete(kind, obj["id"])
            return None
        obj = store.put(kind, {**obj, **pending["then"], "pending": None, "updated_at": pending["at"]})
    return obj


TYPES = ("__DEFAULT__", "standard", "ssd")  # the cloud's volume types (real Cinder: lvmdriver-1, __DEFAULT__)


def _later(store, kind: str, obj: dict, status: str, then: dict, delay: float) -> dict:
    return store.put(kind, {**obj, "status": status, "updated_at": now(),
                            "pending": {"at": now() + delay, "then": then}})


def _new_volume(project_id: str, user_id: str, size: int, zone: str, **fields: Any) -> dict:
    stamp = now()
    return {"id": new_id(), "name": fields.get("name"), "description": fields.get("description"), "size": size,
            "status": "creating", "project_id": project_id, "user_id": user_id, "availability_zone": zone,
            "volume_type": fields.get("volume_type") or "__DEFAULT__", "snapshot_id": fields.get("snapshot_id"),
            "source_volid": None, "image_id": fields.get("image_id"), "bootable": bool(fields.get("image_id")),
            "metadata": fields.get("metadata") or {}, "attachments": [], "created_at": stamp, "updated_at": stamp,
            "pending": None}


def volume_body(request: web.Request, volume: dict) -> dict:
    token = request[TOKEN]
    base = f"{base_url(request)}/volume/v3/{volume['project_id']}/volumes/{volume['id']}"
    body = {
        "id": volume["id"], "name": volume["name"], "description": volume["description"], "size": volume["size"],
        "status": volume["status"], "availability_zone": volume["availability_zone"],
        "bootable": "true" if volume["bootable"] else "false", "encrypted": False, "multiattach": False,
        "created_at": iso(volume["created_at"], micro=True), "updated_at": iso(volume["updated_at"], micro=True),
        "volume_type": volume["volume_type"], "snapshot_id": volume["snapshot_id"], "source_volid": None,
        "metadata": volume["metadata"], "user_id": volume["user_id"], "replication_status": None,
        "consistencygroup_id": None, "migration_status": None, "group_id": None, "provider_id": None,
        "service_uuid": None, "shared_targets": True, "cluster_name": None, "consumes_quota": True,
        "attachments": [{**a, "attached_at": iso(a["attached_at"], micro=True)} for a in volume["attachments"]],
        "links": [{"href": base, "rel": "self"}],
    }
    if token.admin:
        body["os-vol-tenant-attr:tenant_id"] = volume["project_id"]
        body["os-vol-host-attr:host"] = "lab-volume@lab#lab"
    return body


def snapshot_body(snapshot: dict) -> dict:
    return {"id": snapshot["id"], "name": snapshot["name"], "description": snapshot["description"],
            "volume_id": snapshot["volume_id"], "size": snapshot["size"], "status": snapshot["status"],
            "created_at": iso(snapshot["created_at"], micro=True),
            "updated_at": iso(snapshot["updated_at"], micro=True),
            "metadata": snapshot["metadata"], "os-extended-snapshot-attributes:project_id": snapshot["project_id"],
            "os-extended-snapshot-attributes:progress": "100%" if snapshot["status"] == "available" else "0%",
            "user_id": snapshot["user_id"], "group_snapshot_id": None, "consumes_quota": True}


def _scope(request: web.Request):
    token = auth(request)
    if not token.admin and request.match_info["project_id"] != token.project_id:
        raise HTTPError(403, "Policy doesn't allow this operation to be performed.")
    return token


def _get(request: web.Request, kind: str, ident: str) -> dict:
    token = _scope(request)
    store = request.app[STATE].store
    obj = store.get(kind, ident)
    if obj is not None:
        obj = settle(store, kind, obj)
    if obj is None or (not token.admin and obj["project_id"] != token.project_id):
        label = "Volume" if kind == "volume" else "Snapshot"
        raise HTTPError(404, f"{label} {ident} could not be found.")
    return obj


@routes.get("/volume")
@routes.get("/volume/")
async def versions(request: web.Request) -> web.Response:
    return reply({"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.70", "min_version": "3.0",
                                "links": [{"href": f"{base_url(request)}/volume/v3/", "rel": "self"}]}]})


def _list(request: web.Request, kind: str, fields: tuple[str, ...]) -> list[dict]:
    token = _scope(request)
    store = request.app[STATE].store
    project = request.match_info["project_id"]
    all_projects = token.admin and request.query.get("all_tenants") in ("1", "true", "True")
    matchers = field_filters(request, fields)
    out = []
    for stored in list(store.all(kind).values()):
        if not all_projects and stored["project_id"] != project:
            continue
        obj = settle(store, kind, stored)
        if obj is not None and all(m(obj) for m in matchers):
            out.append(obj)
    return out


@routes.get(PREFIX + "/volumes")
@routes.get(PREFIX + "/volumes/detail")
async def list_volumes(request: web.Request) -> web.Response:
    volumes = _list(request, "volume", ("status", "name", "availability_zone", "volume_type"))
    return paged_reply(request, volumes, "volumes", lambda volume: volume_body(request, volume))


@routes.post(PREFIX + "/volumes")
async def create_volume(request: web.Request) -> web.Response:
    token = _scope(request)
    cloud = request.app[STATE]
    store = cloud.store
    spec = ((await body_json(request)) or {}).get("volume") or {}
    size = spec.get("size")
    snapshot = None
    if spec.get("snapshot_id"):
        snapshot = _get(request, "snapshot", spec["snapshot_id"])
        if snapshot["status"] != "available":
            raise HTTPError(400, "Invalid snapshot: Originating snapshot status must be one of 'available' values")
        size = size or snapshot["size"]
    try:
        if size is None:
            raise TypeError("no size")
        size = int(size)
    except (TypeError, ValueError):
        raise HTTPError(400, "Invalid input received: 'size' must be an integer") from None
    if size < 1 or (snapshot is not None and size < snapshot["size"]):
        raise HTTPError(400, "Invalid input received: volume size must be at least the snapshot size and >= 1")
    zone = spec.get("availability_zone") or ZONES[0]
    if zone not in ZONES:
        raise HTTPError(400, f"Availability zone '{zone}' is invalid.")
    if spec.get("volume_type") not in (None, *TYPES):
        raise HTTPError(404, f"Volume type with name {spec['volume_type']} could not be found.")
    volume = _new_volume(token.project_id, token.user_id, size, zone, name=spec.get("name"),
                         description=spec.get("description"), volume_type=spec.get("volume_type"),
                         snapshot_id=spec.get("snapshot_id"), image_id=spec.get("imageRef"),
                         metadata=spec.get("metadata"))
    volume = _later(store, "volume", volume, "creating", {"status": "available"}, cloud.delay)
    return reply({"volume": volume_body(request, volume)}, 202)


@routes.get(PREFIX + "/volumes/{volume_id}")
async def show_volume(request: web.Request) -> web.Response:
    return reply({"volume": volume_body(request, _get(request, "volume", request.match_info["volume_id"]))})


@routes.put(PREFIX + "/volumes/{volume_id}")
async def update_volume(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    volume = _get(request, "volume", request.match_info["volume_id"])
    spec = ((await body_json(request)) or {}).get("volume") or {}
    changed = {**volume, **{k: v for k, v in spec.items() if k in ("name", "description", "metadata")},
               "updated_at": now()}
    return reply({"volume": volume_body(request, store.put("volume", changed))})


@routes.delete(PREFIX + "/volumes/{volume_id}")
async def delete_volume(request: web.Request) -> web.Response:
    cloud = request.app[STATE]
    volume = _get(request, "volume", request.match_info["volume_id"])
    if volume["status"] not in ("available", "error") or volume["attachments"]:
        raise HTTPError(400, "Invalid volume: Volume status must be available or error or error_restoring or "
                             "error_extending or error_managing and must not be migrating, attached, belong to a "
                             "group, have snapshots or be disassociated from snapshots after volume transfer.")
    if has_snapshots(cloud.store, volume["id"]):
        raise HTTPError(400, "Invalid volume: Volume cannot be deleted while it has snapshots.")
    _later(cloud.store, "volume", volume, "deleting", {"status": "deleted"}, cloud.delay)
    return reply(None, 202)


@routes.post(PREFIX + "/volumes/{volume_id}/action")
async def volume_action(request: web.Request) -> web.Response:
    cloud = request.app[STATE]
    volume = _get(request, "volume", request.match_info["volume_id"])
    body = (await body_json(request)) or {}
    if "os-extend" in body:
        try:
            new_size = int(body["os-extend"]["new_size"])
        except (KeyError, TypeError, ValueError):
            raise HTTPError(400, "Invalid input for field/attribute new_size.") from None
        if volume["status"] not in ("available", "in-use"):
            raise HTTPError(400, "Invalid volume: Volume status must be 'available' or 'in-use' to extend.")
        if new_size <= volume["size"]:
            raise HTTPError(400, "Invalid input received: New size for extend must be greater than current size.")
        _later(cloud.store, "volume", volume, "extending", {"status": volume["status"], "size": new_size},
               cloud.delay)
        return reply(None, 202)
    if "os-retype" in body:
        new_type = (body["os-retype"] or {}).get("new_type")
        if new_type not in TYPES:
            raise HTTPError(404, f"Volume type with name {new_type} could not be found.")
        if volume["status"] not in ("available", "in-use"):
            raise HTTPError(400, "Invalid volume: Volume status must be available or in-use.")
        if new_type == volume["volume_type"]:
            raise HTTPError(400, "Invalid volume: Retype needs volume to be in available or in-use state, not be part "
                                 "of an active migration or a consistency group, requested type has to be different "
                                 "that the one from the volume, and for in-use volumes front-end qos specs cannot "
                                 "change.")
        _later(cloud.store, "volume", volume, "retyping", {"status": volume["status"], "volume_type": new_type},
               cloud.delay)
        return reply(None, 202)
    raise HTTPError(400, f"There is no such action: {next(iter(body), '')}")


@routes.post(PREFIX + "/volumes/{object_id}/metadata")
@routes.post(PREFIX + "/snapshots/{object_id}/metadata")
async def add_metadata(request: web.Request) -> web.Response:
    """Cinder's create-or-update of some metadata keys, the others kept."""
    kind = "volume" if request.path.split("/")[-3] == "volumes" else "snapshot"
    item = _get(request, kind, request.match_info["object_id"])
    metadata = ((await body_json(request)) or {}).get("metadata")
    if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 255
                                                 and len(v) <= 255 for k, v in metadata.items()):
        raise HTTPError(400, "Invalid input for field/attribute metadata.")
    item = request.app[STATE].store.put(kind, {**item, "metadata": {**item["metadata"], **metadata},
                                               "updated_at": now()})
    return reply({"metadata": item["metadata"]})


@routes.get(PREFIX + "/snapshots")
@routes.get(PREFIX + "/snapshots/detail")
async def list_snapshots(request: web.Request) -> web.Response:
    snapshots = _list(request, "snapshot", ("status", "name", "volume_id"))
    return paged_reply(request, snapshots, "snapshots", snapshot_body)


@routes.post(PREFIX + "/snapshots")
async def create_snapshot(request: web.Request) -> web.Response:
    token = _scope(request)
    cloud = request.app[STATE]
    spec = ((await body_json(request)) or {}).get("snapshot") or {}
    volume = _get(request, "volume", str(spec.get("volume_id", "")))
    if volume["status"] not in ("available", "in-use"):  # in-use needs no force since 3.66
        raise HTTPError(400, f"Invalid volume: Volume {volume['id']} status must be available or in-use.")
    snapshot = _new_snapshot(cloud, volume, token.project_id, token.user_id, spec.get("name"),
                             spec.get("description"), spec.get("metadata") or {})
    return reply({"snapshot": snapshot_body(snapshot)}, 202)


def _new_snapshot(cloud, volume: dict, project_id: str, user_id: str, name: str | None, description: str | None,
                  metadata: dict) -> dict:
    stamp = now()
    snapshot = {"id": new_id(), "name": name, "description": description, "volume_id": volume["id"],
                "size": volume["size"], "status": "creating", "project_id": project_id, "user_id": user_id,
                "metadata": metadata, "created_at": stamp, "updated_at": stamp, "pending": None}
    return _later(cloud.store, "snapshot", snapshot, "creating", {"status": "available"}, cloud.delay)


def image_mappings(cloud, server: dict, image_name: str) -> list[dict]:
    """What Nova's createImage of a volume-backed server does in Cinder: a snapshot of each of its volumes
    ("snapshot for <image>"), mapped as the image's block_device_mapping (as the lab's Nova writes it)."""
    out = []
    for volume_id, delete_on_termination in server.get("volumes", []):
        volume = cloud.store.get("volume", volume_id)
        if volume is None:
            continue
        device = next((a["device"] for a in volume["attachments"] if a["server_id"] == server["id"]), None)
        snapshot = _new_snapshot(cloud, volume, server["project_id"], server["user_id"],
                                 f"snapshot for {image_name}", None, {})
        out.append({"source_type": "snapshot", "destination_type": "volume", "snapshot_id": snapshot["id"],
                    "volume_id": None, "image_id": None, "volume_size": volume["size"], "device_name": device,
                    "boot_index": 0 if device == server["root_device_name"] else None, "device_type": None,
                    "disk_bus": None, "guest_format": None, "volume_type": None, "no_device": None, "tag": None,
                    "encrypted": None, "encryption_format": None, "encryption_secret_uuid": None,
                    "encryption_options": None, "delete_on_termination": delete_on_termination})
    return out


@routes.get(PREFIX + "/snapshots/{snapshot_id}")
async def show_snapshot(request: web.Request) -> web.Response:
    return reply({"snapshot": snapshot_body(_get(request, "snapshot", request.match_info["snapshot_id"]))})


@routes.delete(PREFIX + "/snapshots/{snapshot_id}")
async def delete_snapshot(request: web.Request) -> web.Response:
    cloud = request.app[STATE]
    snapshot = _get(request, "snapshot", request.match_info["snapshot_id"])
    if snapshot["status"] not in ("available", "error"):
        raise HTTPError(400, "Invalid snapshot: Snapshot status must be available or error.")
    _later(cloud.store, "snapshot", snapshot, "deleting", {"status": "deleted"}, cloud.delay)
    return reply(None, 202)


@routes.get(PREFIX + "/attachments")
async def list_attachments(request: web.Request) -> web.Response:
    volumes = _list(request, "volume", ())
    wanted = request.query.get("instance_id")
    return reply({"attachments": [
        {"id": a["attachment_id"], "status": "attached", "instance": a["server_id"], "volume_id": v["id"],
         "attach_mode": "rw", "attached_at": iso(a["attached_at"], micro=True), "detached_at": None}
        for v in volumes for a in v["attachments"] if wanted in (None, a["server_id"])]})


@routes.get(PREFIX + "/types")
async def list_types(request: web.Request) -> web.Response:
    _scope(request)
    return reply({"volume_types": [
        {"id": name, "name": name, "description": None, "is_public": True, "extra_specs": {}}
        for name in TYPES]})


# -- the volume side of Nova ------------------------------------------------------------


def _attachment(server_id: str, volume_id: str, device: str) -> dict:
    return {"id": volume_id, "attachment_id": new_id(), "volume_id": volume_id, "server_id": server_id,
            "host_name": "lab-compute", "device": device, "attached_at": now()}


def _next_device(store, server: dict) -> str:
    used: set[str] = set()
    for vol_id, _ in server.get("volumes", []):
        vol = store.get("volume", vol_id)
        used.update(a["device"] for a in (vol or {}).get("attachments", []))
    return next(d for d in DEVICES if d not in used)


def boot_volumes(store, project_id: str, server_id: str, bdms: list[dict], zone: str,
                 image_id: str) -> list[tuple[str, bool]]:
    """Volumes a server boots with (block_device_mapping_v2 entries with destination volume)."""
    out = []
    devices = iter(["/dev/vda"] + DEVICES)
    for bdm in bdms:
        if bdm.get("destination_type") != "volume":
            continue
        source = bdm.get("source_type")
        device = bdm.get("device_name") or next(devices)
        if source == "volume":
            volume = store.get("volume", bdm.get("uuid", ""))
            if volume is None or volume["project_id"] != project_id:
                raise HTTPError(400, f"Block Device Mapping is Invalid: failed to get volume {bdm.get('uuid')}.")
            if volume["status"] != "available":
                raise HTTPError(400, f"Block Device Mapping is Invalid: volume {volume['id']} is not available.")
        else:
            size = bdm.get("volume_size")
            snapshot = store.get("snapshot", bdm.get("uuid", "")) if source == "snapshot" else None
            if source == "snapshot" and snapshot is None:
                raise HTTPError(400, f"Block Device Mapping is Invalid: failed to get snapshot {bdm.get('uuid')}.")
            if size is None:
                size = snapshot["size"] if snapshot else 1
            volume = _new_volume(project_id, "", int(size), zone, snapshot_id=bdm.get("uuid") if snapshot else None,
                                 image_id=bdm.get("uuid") if source == "image" else None,
                                 volume_type=bdm.get("volume_type"))
        volume = {**volume, "status": "in-use", "pending": None,
                  "attachments": [_attachment(server_id, volume["id"], device)]}
        store.put("volume", volume)
        out.append((volume["id"], bool(bdm.get("delete_on_termination", source != "volume"))))
    return out


def has_snapshots(store, volume_id: str) -> bool:
    snapshots = [settle(store, "snapshot", s) for s in list(store.all("snapshot").values())]
    return any(s is not None and s["volume_id"] == volume_id for s in snapshots)  # a deleted one is gone on time


def release_server(store, server: dict) -> None:
    """On server deletion: delete-on-termination volumes go, the others come back available. Like Nova, which
    Cinder refuses, it keeps a delete-on-termination volume that has snapshots (available)."""
    for volume_id, delete_on_termination in server.get("volumes", []):
        volume = store.get("volume", volume_id)
        if volume is None:
            continue
        if delete_on_termination and not has_snapshots(store, volume_id):
            store.delete("volume", volume_id)
        else:
            store.put("volume", {**volume, "status": "available", "attachments": [], "updated_at": now()})


def attachment_body(store, server_id: str, volume_id: str) -> dict:
    volume = store.get("volume", volume_id) or {"attachments": []}
    attachment = next((a for a in volume["attachments"] if a["server_id"] == server_id), None)
    return {"id": volume_id, "volumeId": volume_id, "serverId": server_id,
            "device": attachment["device"] if attachment else None, "tag": None,
            "delete_on_termination": False, "attachment_id": attachment["attachment_id"] if attachment else None}


def attach(cloud, server: dict, volume_id: str, device: str | None) -> dict:
    store = cloud.store
    volume = store.get("volume", volume_id)
    if volume is not None:
        volume = settle(store, "volume", volume)
    if volume is None or volume["project_id"] != server["project_id"]:
        raise HTTPError(404, f"Volume {volume_id} could not be found.")
    if volume["status"] != "available":
        raise HTTPError(400, f"Invalid volume: volume {volume_id} status must be 'available'. Currently in "
                             f"'{volume['status']}'")
    device = device or _next_device(store, server)
    volume = {**volume, "attachments": [_attachment(server["id"], volume_id, device)]}
    _later(store, "volume", volume, "attaching", {"status": "in-use"}, cloud.delay)
    store.put("server", {**server, "volumes": server.get("volumes", []) + [(volume_id, False)]})
    return attachment_body(store, server["id"], volume_id)


def detach(cloud, server: dict, volume_id: str) -> None:
    store = cloud.store
    if volume_id not in [v for v, _ in server.get("volumes", [])]:
        raise HTTPError(404, f"Volume {volume_id} is not attached to server {server['id']}.")
    if server.get("volumes") and server["volumes"][0][0] == volume_id and \
            server.get("volume_backed", not server["image_id"]):
        raise HTTPError(400, "Cannot detach a root device volume")
    volume = store.get("volume", volume_id)
    store.put("server", {**server, "volumes": [v for v in server["volumes"] if v[0] != volume_id]})
    if volume is not None:
        _later(store, "volume", volume, "detaching", {"status": "available", "attachments": []}, cloud.delay)
