"""Nova v2.1 beside the servers: flavors, keypairs, availability zones, limits, quotas, and volume
attachments (``ec2proxy.devcloud.compute`` keeps the servers and their actions)."""

from __future__ import annotations

import base64
import binascii
import hashlib

from aiohttp import web

from ec2proxy.devcloud import volume
from ec2proxy.devcloud.common import (
    STATE,
    VERSION,
    ZONES,
    HTTPError,
    auth,
    base_url,
    body_json,
    iso,
    now,
    paged_reply,
    reply,
)
from ec2proxy.devcloud.compute import conflict, get_server, microversion, quota_of
from ec2proxy.devcloud.server_views import FLAVORS, PREFIX, flavor_by_id

routes = web.RouteTableDef()


# -- flavors, keypairs, zones, limits, quotas ---------------------------------------


def _flavor_body(request: web.Request, flavor: dict) -> dict:
    link = f"{base_url(request)}{PREFIX}/flavors/{flavor['id']}"
    return {"id": flavor["id"], "name": flavor["name"], "vcpus": flavor["vcpus"], "ram": flavor["ram"],
            "disk": flavor["disk"], "OS-FLV-EXT-DATA:ephemeral": 0, "OS-FLV-DISABLED:disabled": False,
            "swap": 0, "rxtx_factor": 1.0, "os-flavor-access:is_public": True, "description": None,
            "extra_specs": {}, "links": [{"href": link, "rel": "self"}]}


@routes.get(PREFIX + "/flavors")
@routes.get(PREFIX + "/flavors/detail")
async def list_flavors(request: web.Request) -> web.Response:
    auth(request)
    request[VERSION] = microversion(request)
    return paged_reply(request, [flavor for fid, *_ in FLAVORS if (flavor := flavor_by_id(fid)) is not None], "flavors",
                       lambda flavor: _flavor_body(request, flavor))


@routes.get(PREFIX + "/flavors/{flavor_id}")
async def show_flavor(request: web.Request) -> web.Response:
    auth(request)
    request[VERSION] = microversion(request)
    flavor = flavor_by_id(request.match_info["flavor_id"])
    if flavor is None:
        raise HTTPError(404, f"Flavor {request.match_info['flavor_id']} could not be found.")
    return reply({"flavor": _flavor_body(request, flavor)})


def fingerprint(public_key: str) -> str:
    """MD5 of the key blob, colon-separated: what Nova reports. Nova parses the key; so do we."""
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    parts = public_key.split()
    try:
        load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError, IndexError, TypeError):
        raise HTTPError(400, "Keypair data is invalid: failed to generate fingerprint") from None
    except Exception:  # noqa: BLE001  cryptography's UnsupportedAlgorithm and friends
        raise HTTPError(400, "Keypair data is invalid: failed to generate fingerprint") from None
    digest = hashlib.md5(blob).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def _keypair_body(keypair: dict, full: bool = True) -> dict:
    body = {"name": keypair["name"], "public_key": keypair["public_key"], "fingerprint": keypair["fingerprint"],
            "type": keypair["type"]}
    if full:
        body.update({"user_id": keypair["user_id"], "created_at": iso(keypair["created"], micro=True),
                     "deleted": False, "deleted_at": None, "updated_at": None, "id": keypair["seq"]})
    return body


@routes.get(PREFIX + "/os-keypairs")
async def list_keypairs(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    store = request.app[STATE].store
    items = [k for k in store.all("keypair").values() if k["user_id"] == token.user_id]
    return reply({"keypairs": [{"keypair": _keypair_body(k, full=False)} for k in items]})


@routes.post(PREFIX + "/os-keypairs")
async def create_keypair(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    store = request.app[STATE].store
    spec = ((await body_json(request)) or {}).get("keypair") or {}
    name = spec.get("name")
    if not name or not isinstance(name, str) or len(name) > 255:
        raise HTTPError(400, "Keypair name must be string and between 1 and 255 characters long")
    if not spec.get("public_key"):
        raise HTTPError(400, "Invalid input for field/attribute keypair. 'public_key' is a required property")
    key_id = f"{token.user_id}/{name}"
    if store.get("keypair", key_id) is not None:
        raise HTTPError(409, f"Key pair '{name}' already exists.")
    keypair = store.put("keypair", {"id": key_id, "seq": len(store.all("keypair")) + 1, "name": name,
                                    "user_id": token.user_id, "public_key": spec["public_key"].strip(),
                                    "fingerprint": fingerprint(spec["public_key"]),
                                    "type": spec.get("type", "ssh"), "created": now()})
    return reply({"keypair": _keypair_body(keypair)}, 201 if request[VERSION] >= (2, 2) else 200)


@routes.get(PREFIX + "/os-keypairs/{name}")
async def show_keypair(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    keypair = request.app[STATE].store.get("keypair", f"{token.user_id}/{request.match_info['name']}")
    if keypair is None:
        raise HTTPError(404, f"Keypair {request.match_info['name']} not found for user {token.user_id}")
    return reply({"keypair": _keypair_body(keypair)})


@routes.delete(PREFIX + "/os-keypairs/{name}")
async def delete_keypair(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    store = request.app[STATE].store
    key_id = f"{token.user_id}/{request.match_info['name']}"
    if store.get("keypair", key_id) is None:
        raise HTTPError(404, f"Keypair {request.match_info['name']} not found for user {token.user_id}")
    store.delete("keypair", key_id)
    return reply(None, 202 if request[VERSION] < (2, 2) else 204)


@routes.get(PREFIX + "/os-availability-zone")
async def availability_zones(request: web.Request) -> web.Response:
    auth(request)
    request[VERSION] = microversion(request)
    return reply({"availabilityZoneInfo": [{"zoneName": z, "zoneState": {"available": True}, "hosts": None}
                                           for z in ZONES]})


@routes.get(PREFIX + "/limits")
async def limits(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    store = request.app[STATE].store
    quota = quota_of(store, token.project_id)
    mine = [s for s in store.all("server").values() if s["project_id"] == token.project_id and s["status"] != "DELETED"]
    flavors = [flavor_by_id(s["flavor_id"]) or {"vcpus": 0, "ram": 0} for s in mine]
    return reply({"limits": {"rate": [], "absolute": {
        "maxTotalInstances": quota["instances"], "maxTotalCores": quota["cores"], "maxTotalRAMSize": quota["ram"],
        "maxTotalKeypairs": quota["key_pairs"], "maxServerMeta": 128, "maxImageMeta": 128,
        "maxPersonality": 5, "maxPersonalitySize": 10240, "maxServerGroups": 10, "maxServerGroupMembers": 10,
        "totalInstancesUsed": len(mine), "totalCoresUsed": sum(f["vcpus"] for f in flavors),
        "totalRAMUsed": sum(f["ram"] for f in flavors), "totalServerGroupsUsed": 0}}})


@routes.get(PREFIX + "/os-quota-sets/{project_id}")
async def show_quota(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    project_id = request.match_info["project_id"]
    if not token.admin and project_id != token.project_id:
        raise HTTPError(403, "Policy doesn't allow os_compute_api:os-quota-sets:show to be performed.")
    return reply({"quota_set": quota_of(request.app[STATE].store, project_id)})


@routes.put(PREFIX + "/os-quota-sets/{project_id}")
async def update_quota(request: web.Request) -> web.Response:
    token = auth(request)
    request[VERSION] = microversion(request)
    if not token.admin:
        raise HTTPError(403, "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.")
    store = request.app[STATE].store
    project_id = request.match_info["project_id"]
    changes = ((await body_json(request)) or {}).get("quota_set") or {}
    quota = {**quota_of(store, project_id), **{k: int(v) for k, v in changes.items() if k != "force"}}
    return reply({"quota_set": store.put("quota", quota)})


# -- volume attachments -----------------------------------------------------------


@routes.get(PREFIX + "/servers/{server_id}/os-volume_attachments")
async def list_attachments(request: web.Request) -> web.Response:
    request[VERSION] = microversion(request)
    server = get_server(request, request.match_info["server_id"])
    store = request.app[STATE].store
    return reply({"volumeAttachments": [volume.attachment_body(store, server["id"], vol_id)
                                        for vol_id, _ in server.get("volumes", [])]})


@routes.post(PREFIX + "/servers/{server_id}/os-volume_attachments")
async def attach_volume(request: web.Request) -> web.Response:
    request[VERSION] = microversion(request)
    cloud = request.app[STATE]
    server = get_server(request, request.match_info["server_id"])
    spec = ((await body_json(request)) or {}).get("volumeAttachment") or {}
    if server["status"] not in ("ACTIVE", "SHUTOFF"):
        raise conflict(server, "attach_volume")
    attachment = volume.attach(cloud, server, str(spec.get("volumeId", "")), spec.get("device"))
    return reply({"volumeAttachment": attachment})


@routes.put(PREFIX + "/servers/{server_id}/os-volume_attachments/{volume_id}")
async def update_attachment(request: web.Request) -> web.Response:
    """Nova's update of an attachment: since 2.85 its delete_on_termination; another volumeId is a swap, which
    only an admin may do (not modelled here)."""
    request[VERSION] = microversion(request)
    cloud = request.app[STATE]
    server = get_server(request, request.match_info["server_id"])
    volume_id = request.match_info["volume_id"]
    spec = ((await body_json(request)) or {}).get("volumeAttachment")
    if not isinstance(spec, dict) or "volumeId" not in spec:
        raise HTTPError(400, "Invalid input for field/attribute volumeAttachment.")
    extra = set(spec) - {"volumeId", *(("delete_on_termination",) if request[VERSION] >= (2, 85) else ())}
    if extra:
        raise HTTPError(400, f"Invalid input for field/attribute volumeAttachment. Additional properties are not "
                             f"allowed ({sorted(extra)[0]!r} was unexpected)")
    if spec["volumeId"] != volume_id:
        raise HTTPError(403, "Policy doesn't allow os_compute_api:os-volumes-attachments:swap to be performed.")
    if volume_id not in [v for v, _ in server.get("volumes", [])]:
        raise HTTPError(404, f"No volume Block Device Mapping with id {volume_id}.")
    if "delete_on_termination" in spec:
        if not isinstance(spec["delete_on_termination"], bool):
            raise HTTPError(400, "Invalid input for field/attribute delete_on_termination.")
        cloud.store.put("server", {**server, "volumes": [
            (v, spec["delete_on_termination"] if v == volume_id else dot) for v, dot in server["volumes"]]})
    return reply(None, 202)


@routes.delete(PREFIX + "/servers/{server_id}/os-volume_attachments/{volume_id}")
async def detach_volume(request: web.Request) -> web.Response:
    request[VERSION] = microversion(request)
    cloud = request.app[STATE]
    server = get_server(request, request.match_info["server_id"])
    volume.detach(cloud, server, request.match_info["volume_id"])
    return reply(None, 202)
