"""Glance v2: images (queued -> saving -> active, killed, deactivated), data, members, JSON-patch."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from ec2proxy.devcloud.common import STATE, TOKEN, HTTPError, auth, body_json, iso, new_id, now, reply

routes = web.RouteTableDef()
PREFIX = "/image/v2"
CORE = ("id", "name", "status", "visibility", "owner", "container_format", "disk_format", "size", "virtual_size",
        "checksum", "os_hash_algo", "os_hash_value", "min_disk", "min_ram", "protected", "os_hidden", "tags",
        "created_at", "updated_at")
READ_ONLY = {"id", "status", "owner", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
             "created_at", "updated_at", "file", "schema", "self", "direct_url", "locations"}


def new_image(owner: str, **fields: Any) -> dict:
    stamp = now()
    image: dict[str, Any] = {
        "id": fields.pop("id", None) or new_id(), "name": None, "status": "queued", "visibility": "shared",
        "owner": owner, "container_format": None, "disk_format": None, "size": None, "virtual_size": None,
        "checksum": None, "os_hash_algo": None, "os_hash_value": None, "min_disk": 0, "min_ram": 0,
        "protected": False, "os_hidden": False, "tags": [], "created_at": stamp, "updated_at": stamp,
        "properties": {}, "members": {}, "pending": None}
    for key, value in fields.items():
        if key in CORE:
            image[key] = value
        else:
            image["properties"][key] = value
    return image


def settle(store, image: dict) -> dict:
    """Apply due transitions; a transition may carry the next one (queued -> saving -> active)."""
    pending = image.get("pending")
    while pending and pending["at"] <= now():
        image = store.put("image", {**image, "pending": None, **pending["then"], "updated_at": pending["at"]})
        pending = image.get("pending")
    return image


def body(image: dict) -> dict:
    out = {key: image[key] for key in CORE}
    out["created_at"], out["updated_at"] = iso(image["created_at"]), iso(image["updated_at"])
    out.update(image["properties"])
    out.update({"self": f"/v2/images/{image['id']}", "file": f"/v2/images/{image['id']}/file",
                "schema": "/v2/schemas/image"})
    return out


def _visible(image: dict, token, listing: bool = False, member_status: str = "accepted") -> bool:
    """Listings show images shared with the project once it accepted them, or in ``member_status``."""
    if token.admin or image["owner"] == token.project_id or image["visibility"] == "public":
        return True
    if image["visibility"] == "community":
        return not listing
    if image["visibility"] == "shared":
        status = image["members"].get(token.project_id)
        return status is not None and (not listing or member_status in ("all", status))
    return False


def _get(request: web.Request) -> dict:
    token = auth(request)
    store = request.app[STATE].store
    image = store.get("image", request.match_info["image_id"])
    if image is None or not _visible(image, token):
        raise HTTPError(404, f"No image found with ID {request.match_info['image_id']}")
    return settle(store, image)


def _owned(request: web.Request):
    """The store and the image the request names, which its project must own."""
    image = _get(request)
    _own(request, image)
    return request.app[STATE].store, image


def _own(request: web.Request, image: dict) -> None:
    token = request[TOKEN]
    if not token.admin and image["owner"] != token.project_id:
        raise HTTPError(403, "You are not permitted to modify this image.")


def snapshot_of(cloud, server: dict, name: str, metadata: dict) -> dict:
    """What Nova's createImage makes: a snapshot image that becomes active later."""
    source = cloud.store.get("image", server["image_id"]) if server["image_id"] else None
    image = new_image(server["project_id"], name=name, visibility="private", container_format="bare",
                      disk_format=(source or {}).get("disk_format") or "raw", min_disk=0, min_ram=0,
                      image_type="snapshot", instance_uuid=server["id"], base_image_ref=server["image_id"],
                      user_id=server["user_id"], root_device_name=server["root_device_name"], **metadata)
    image["status"] = "queued"
    data = f"snapshot of {server['id']}".encode()
    if cloud.fail_snapshots > 0:
        cloud.fail_snapshots -= 1
        final: dict[str, Any] = {"status": "killed"}
    else:
        final = {"status": "active", "size": len(data), "virtual_size": len(data),
                 "checksum": hashlib.md5(data).hexdigest(), "os_hash_algo": "sha512",
                 "os_hash_value": hashlib.sha512(data).hexdigest()}
    image["pending"] = {"at": now() + cloud.delay, "then": {
        "status": "saving", "pending": {"at": now() + 2 * cloud.delay, "then": final}}}
    return cloud.store.put("image", image)


def volume_backed_snapshot_of(server: dict, name: str, metadata: dict, mappings: list[dict], min_disk: int) -> dict:
    """Nova's image of a volume-backed server: no data, active at once, mapping its volumes' snapshots."""
    data = b""
    image = new_image(server["project_id"], name=name, visibility="private", container_format="bare",
                      disk_format="raw", min_disk=min_disk, min_ram=0, base_image_ref="",
                      root_device_name=server["root_device_name"], bdm_v2="True",
                      block_device_mapping=json.dumps(mappings), **metadata)
    image.update(status="active", size=0, checksum=hashlib.md5(data).hexdigest(), os_hash_algo="sha512",
                 os_hash_value=hashlib.sha512(data).hexdigest())
    return image


def boot_mappings(image: dict) -> list[dict]:
    """The block_device_mapping an image carries (Nova boots it from new volumes of its snapshots)."""
    properties = image.get("properties") or {}
    if properties.get("bdm_v2") != "True":
        return []
    try:
        mappings = json.loads(properties.get("block_device_mapping") or "[]")
    except ValueError:
        return []
    return [{**m, "uuid": m.get("snapshot_id") or m.get("volume_id") or m.get("image_id")} for m in mappings
            if isinstance(m, dict)]


@routes.get("/image")
@routes.get("/image/")
@routes.get("/image/versions")
async def versions(request: web.Request) -> web.Response:
    return reply({"versions": [{"id": "v2.16", "status": "CURRENT",
                                "links": [{"rel": "self", "href": f"{request.scheme}://{request.host}/image/v2/"}]}]},
                 300 if request.path != "/image/versions" else 200)


FILTERS = ("name", "status", "visibility", "owner", "container_format", "disk_format", "id")


@routes.get(PREFIX + "/images")
async def list_images(request: web.Request) -> web.Response:
    token = auth(request)
    store = request.app[STATE].store
    query = request.query
    visibility = query.get("visibility")
    images = []
    for image in list(store.all("image").values()):
        image = settle(store, image)
        if visibility == "all" and token.admin:
            pass
        elif not _visible(image, token, listing=True, member_status=query.get("member_status", "accepted")):
            continue
        if any(key in query and key != "visibility" and str(image.get(key)) != query[key] for key in FILTERS):
            continue
        if visibility not in (None, "all") and image["visibility"] != visibility:
            continue
        tags = query.getall("tag", [])
        if tags and not set(tags) <= set(image["tags"]):
            continue
        images.append(image)
    images.sort(key=lambda i: (i["created_at"], i["id"]), reverse=True)
    marker = query.get("marker")
    start = 0
    if marker:
        index = next((i for i, img in enumerate(images) if img["id"] == marker), None)
        if index is None:
            raise HTTPError(400, f"marker [{marker}] not found")
        start = index + 1
    try:
        limit = min(int(query.get("limit", 25)), 1000)
    except ValueError:
        raise HTTPError(400, "limit param must be an integer") from None
    chunk = images[start:start + limit]
    out: dict[str, Any] = {"images": [body(i) for i in chunk], "first": "/v2/images", "schema": "/v2/schemas/images"}
    if start + limit < len(images) and chunk:
        rest = {k: v for k, v in query.items() if k != "marker"}
        out["next"] = f"/v2/images?{urlencode({**rest, 'marker': chunk[-1]['id']})}"
    return reply(out)


@routes.post(PREFIX + "/images")
async def create_image(request: web.Request) -> web.Response:
    token = auth(request)
    store = request.app[STATE].store
    spec = (await body_json(request)) or {}
    if not isinstance(spec, dict):
        raise HTTPError(400, "Image body must be an object")
    bad = set(spec) & (READ_ONLY - {"id"})
    if bad:
        raise HTTPError(403, f"Attribute '{sorted(bad)[0]}' is read-only.")
    if spec.get("visibility", "shared") not in ("public", "private", "shared", "community"):
        raise HTTPError(400, f"Invalid visibility value: {spec.get('visibility')}")
    if spec.get("visibility") == "public" and not token.admin:
        raise HTTPError(403, 'You are not authorized to complete publicize_image action.')
    if spec.get("id") and store.get("image", spec["id"]):
        raise HTTPError(409, f"Image with identifier {spec['id']} already exists!")
    image = store.put("image", new_image(token.project_id, **spec))
    return reply(body(image), 201)


@routes.get(PREFIX + "/images/{image_id}")
async def show_image(request: web.Request) -> web.Response:
    return reply(body(_get(request)))


@routes.patch(PREFIX + "/images/{image_id}")
async def update_image(request: web.Request) -> web.Response:
    store, image = _owned(request)
    if request.content_type != "application/openstack-images-v2.1-json-patch":
        raise HTTPError(415, f"Unsupported Content-Type {request.content_type}")
    patch = await body_json(request)
    changed = {**image, "properties": dict(image["properties"])}
    for op in patch if isinstance(patch, list) else []:
        path = str(op.get("path", "")).lstrip("/")
        if path in READ_ONLY:
            raise HTTPError(403, f"Attribute '{path}' is read-only.")
        if op.get("op") in ("add", "replace"):
            if path in CORE:
                changed[path] = op.get("value")
            else:
                changed["properties"][path] = op.get("value")
        elif op.get("op") == "remove":
            if path in CORE:
                raise HTTPError(403, f"Attribute '{path}' is reserved.")
            if changed["properties"].pop(path, None) is None:
                raise HTTPError(409, f"Property {path} does not exist.")
        else:
            raise HTTPError(400, f"Invalid operation: {op.get('op')}")
    if changed["visibility"] not in ("public", "private", "shared", "community"):
        raise HTTPError(400, "Invalid visibility value")
    if changed["visibility"] == "public" and image["visibility"] != "public" and not request[TOKEN].admin:
        raise HTTPError(403, "You are not authorized to complete publicize_image action.")
    changed["updated_at"] = now()
    return reply(body(store.put("image", changed)))


@routes.delete(PREFIX + "/images/{image_id}")
async def delete_image(request: web.Request) -> web.Response:
    store, image = _owned(request)
    if image["protected"]:
        raise HTTPError(403, f"Image {image['id']} is protected and cannot be deleted.")
    store.delete("image", image["id"])
    return reply(None, 204)


@routes.put(PREFIX + "/images/{image_id}/file")
async def upload(request: web.Request) -> web.Response:
    store, image = _owned(request)
    if image["status"] != "queued":
        raise HTTPError(409, f"Image status transition from {image['status']} to saving is not allowed")
    _store_data(store, image, await request.read())
    return reply(None, 204)


@routes.post(PREFIX + "/images/{image_id}/import")
async def import_image(request: web.Request) -> web.Response:
    """Interoperable import, ``web-download`` only: the data is fetched in the background, as Glance does."""
    store, image = _owned(request)
    method = ((await body_json(request)) or {}).get("method") or {}
    if method.get("name") != "web-download" or not str(method.get("uri", "")).startswith(("http://", "https://")):
        raise HTTPError(400, f"Import method {method.get('name')} is not supported; use web-download with a uri")
    if image["status"] != "queued" or not image["disk_format"] or not image["container_format"]:
        raise HTTPError(409, f"Image status {image['status']} is not valid for import")
    store.put("image", {**image, "status": "importing", "updated_at": now()})

    async def fetch() -> None:
        try:
            async with aiohttp.ClientSession() as session, session.get(method["uri"]) as response:
                response.raise_for_status()
                data = await response.read()
        except (aiohttp.ClientError, OSError):
            current = store.get("image", image["id"])
            if current is not None:
                store.put("image", {**current, "status": "queued", "updated_at": now()})
            return
        current = store.get("image", image["id"])
        if current is not None:
            _store_data(store, current, data)

    tasks = request.app[STATE].tasks
    task = asyncio.get_running_loop().create_task(fetch())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return reply(None, 202)


def _store_data(store, image: dict, data: bytes) -> None:
    store.put("image", {**image, "status": "active", "size": len(data), "virtual_size": len(data),
                        "checksum": hashlib.md5(data).hexdigest(), "os_hash_algo": "sha512",
                        "os_hash_value": hashlib.sha512(data).hexdigest(), "updated_at": now()})
    store.put("image_data", {"id": image["id"], "data": data.hex()})


@routes.get(PREFIX + "/images/{image_id}/file")
async def download(request: web.Request) -> web.Response:
    image = _get(request)
    data = request.app[STATE].store.get("image_data", image["id"])
    if image["status"] != "active" or data is None:
        return reply(None, 204)
    return web.Response(body=bytes.fromhex(data["data"]), content_type="application/octet-stream")


@routes.post(PREFIX + "/images/{image_id}/actions/{action}")
async def image_action(request: web.Request) -> web.Response:
    store, image = _owned(request)
    action = request.match_info["action"]
    if action == "deactivate" and image["status"] in ("active", "deactivated"):
        store.put("image", {**image, "status": "deactivated", "updated_at": now()})
    elif action == "reactivate" and image["status"] in ("active", "deactivated"):
        store.put("image", {**image, "status": "active", "updated_at": now()})
    else:
        raise HTTPError(400 if action not in ("deactivate", "reactivate") else 403,
                        f"Not allowed to {action} image in status '{image['status']}'")
    return reply(None, 204)


def _member_body(image: dict, member: str) -> dict:
    return {"image_id": image["id"], "member_id": member, "status": image["members"][member],
            "created_at": iso(image["created_at"]), "updated_at": iso(image["updated_at"]),
            "schema": "/v2/schemas/member"}


@routes.get(PREFIX + "/images/{image_id}/members")
async def list_members(request: web.Request) -> web.Response:
    image = _get(request)
    return reply({"members": [_member_body(image, m) for m in image["members"]], "schema": "/v2/schemas/members"})


@routes.post(PREFIX + "/images/{image_id}/members")
async def add_member(request: web.Request) -> web.Response:
    store, image = _owned(request)
    if image["visibility"] != "shared":
        raise HTTPError(403, "Only shared images have members.")
    member = str(((await body_json(request)) or {}).get("member", ""))
    if not member:
        raise HTTPError(400, "Member is required")
    if member in image["members"]:
        raise HTTPError(409, f"Member {member} already exists for image {image['id']}")
    image = store.put("image", {**image, "members": {**image["members"], member: "pending"}})
    return reply(_member_body(image, member))


@routes.put(PREFIX + "/images/{image_id}/members/{member}")
async def update_member(request: web.Request) -> web.Response:
    token = auth(request)
    store = request.app[STATE].store
    image = _get(request)
    member = request.match_info["member"]
    if member not in image["members"] or (member != token.project_id and not token.admin):
        raise HTTPError(404, f"Member {member} not found")
    status = str(((await body_json(request)) or {}).get("status", ""))
    if status not in ("accepted", "rejected", "pending"):
        raise HTTPError(400, f"Invalid status: {status}")
    image = store.put("image", {**image, "members": {**image["members"], member: status}})
    return reply(_member_body(image, member))


@routes.delete(PREFIX + "/images/{image_id}/members/{member}")
async def remove_member(request: web.Request) -> web.Response:
    store, image = _owned(request)
    member = request.match_info["member"]
    if member not in image["members"]:
        raise HTTPError(404, f"Member {member} not found")
    members = dict(image["members"])
    members.pop(member)
    store.put("image", {**image, "members": members})
    return reply(None, 204)
