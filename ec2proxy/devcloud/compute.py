"""Nova v2.1 (microversions 2.1..2.100): servers, actions, flavors, keypairs, zones, quotas.

Lifecycles are lazy: a change that takes time stores its end state and the
moment it is reached; every read settles what is due. Nothing waits on a
timer, and a restart resumes where it was.
"""

from __future__ import annotations

import base64
import binascii
import random
import re
import string

from aiohttp import web

from ec2proxy.devcloud import image as images
from ec2proxy.devcloud import ports as neutron_ports
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
    new_id,
    now,
    paged_reply,
    reply,
)
from ec2proxy.devcloud.server_views import PREFIX, flavor_by_id, render

routes = web.RouteTableDef()
MIN_VERSION, MAX_VERSION = (2, 1), (2, 100)
GROUP_HOSTS = 1  # the hosts an anti-affinity group may spread over: one, as on the lab
NO_HOST = "No valid host was found. There are not enough hosts available."
DELETED_VISIBLE = 3600.0  # deleted servers stay listable with changes-since this long


# (status, vm_state, power_state) of each settled state
STATES = {
    "ACTIVE": ("active", 1), "SHUTOFF": ("stopped", 4), "ERROR": ("error", 0), "BUILD": ("building", 0),
    "REBOOT": ("active", 1), "RESIZE": ("active", 1), "VERIFY_RESIZE": ("resized", 1), "DELETED": ("deleted", 0),
}


def microversion(request: web.Request) -> tuple[int, int]:
    raw = request.headers.get("OpenStack-API-Version", "")
    value = raw.split(" ", 1)[1].strip() if raw.startswith("compute ") else request.headers.get(
        "X-OpenStack-Nova-API-Version", "")
    if not value:
        return MIN_VERSION
    if value == "latest":
        return MAX_VERSION
    try:
        major, minor = (int(part) for part in value.split("."))
    except ValueError:
        raise HTTPError(400, f"Invalid microversion {value}") from None
    if not MIN_VERSION <= (major, minor) <= MAX_VERSION:
        raise HTTPError(406, f"Version {value} is not supported by the API. Minimum is 2.1 and maximum is 2.100.")
    return major, minor


@web.middleware
async def version_headers(request: web.Request, handler):
    response = await handler(request)
    if request.path.startswith("/compute") and VERSION in request:
        major, minor = request[VERSION]
        response.headers["OpenStack-API-Version"] = f"compute {major}.{minor}"
        response.headers["X-OpenStack-Nova-API-Version"] = f"{major}.{minor}"
        response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
    return response


def _version_doc(request: web.Request) -> dict:
    return {"id": "v2.1", "status": "CURRENT", "version": "2.100", "min_version": "2.1",
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base_url(request)}{PREFIX}/"}]}


@routes.get("/compute")
@routes.get("/compute/")
async def versions(request: web.Request) -> web.Response:
    return reply({"versions": [_version_doc(request)]})


@routes.get(PREFIX)
@routes.get(PREFIX + "/")
async def version(request: web.Request) -> web.Response:
    return reply({"version": _version_doc(request)})


# -- servers --------------------------------------------------------------------


def settle(cloud, server: dict) -> dict:
    """Apply a pending transition whose time has come."""
    pending = server.get("pending")
    if pending and pending["at"] <= now():
        server = {**server, **pending["then"], "pending": None, "updated": pending["at"]}
        if server["status"] == "DELETED":
            volume.release_server(cloud.store, server)
            neutron_ports.release_ports(cloud.store, server["id"])
        cloud.store.put("server", server)
    return server


def guest_shutdown(cloud, server_id: str) -> dict:
    server = cloud.store.get("server", server_id)
    if server is None:
        raise HTTPError(404, f"Instance {server_id} could not be found.")
    server = settle(cloud, server)
    if server["status"] != "ACTIVE" or server["task_state"] is not None:
        raise HTTPError(409, f"Instance {server_id} is not running")
    return cloud.store.put("server", {**server, **_state("SHUTOFF"), "updated": now()})


def _later(cloud, server: dict, task_state: str | None, then: dict) -> dict:
    server = {**server, "task_state": task_state, "updated": now(),
              "pending": {"at": now() + cloud.delay, "then": {"task_state": None, **then}}}
    return cloud.store.put("server", server)


def _state(status: str) -> dict:
    vm_state, power = STATES[status]
    return {"status": status, "vm_state": vm_state, "power_state": power}


def _check_min_disk(store, image: dict, bdms: list[dict]) -> None:
    """Nova refuses a root volume smaller than the image's min_disk (checked on the lab: 400, sizes in bytes)."""
    root = next(b for b in bdms if b.get("boot_index") in (0, "0") and b.get("destination_type") == "volume")
    size = root.get("volume_size") or (store.get("snapshot", root.get("snapshot_id") or "") or {}).get("size")
    if size and int(image.get("min_disk") or 0) > int(size):
        raise HTTPError(400, "Volume is smaller than the minimum size specified in image metadata. Volume size is "
                             f"{int(size) * 1024 ** 3} bytes, minimum size is {int(image['min_disk']) * 1024 ** 3} "
                             "bytes.")


def get_server(request: web.Request, server_id: str) -> dict:
    cloud = request.app[STATE]
    token = auth(request)
    server = cloud.store.get("server", server_id)
    if server is None or (not token.admin and server["project_id"] != token.project_id):
        raise HTTPError(404, f"Instance {server_id} could not be found.")
    server = settle(cloud, server)
    if server["status"] == "DELETED" and server["updated"] + cloud.delay < now():
        raise HTTPError(404, f"Instance {server_id} could not be found.")
    return server


def _reservation_id() -> str:
    return "r-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=8))


def _hostname(name: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    return cleaned[:63] or "server"


def quota_of(store, project_id: str) -> dict:
    return store.get("quota", project_id) or {"id": project_id, "instances": -1, "cores": -1, "ram": -1,
                                              "key_pairs": 100}


def _boot_source(store, token, spec: dict) -> tuple[str, list[dict], bool]:
    """(the image id, the block devices with the image's own mappings the request does not replace, whether
    the server boots from a volume), as Nova checks them."""
    bdms = spec.get("block_device_mapping_v2") or []
    image_id = str(spec.get("imageRef") or "").rsplit("/", 1)[-1]
    image = None
    if image_id:
        image = store.get("image", image_id)
        if image is None or not _image_visible(image, token):
            raise HTTPError(400, f"Image {image_id} could not be found.")
        if image["status"] != "active":
            raise HTTPError(400, f"Image {image_id} is not active.")
        asked = {b.get("device_name") for b in bdms}  # the request's mappings win over the image's
        bdms = [m for m in images.boot_mappings(image) if m.get("device_name") not in asked] + bdms
    boot_volume = any(b.get("boot_index") in (0, "0") and b.get("destination_type") == "volume" for b in bdms)
    if not image_id and not boot_volume:
        raise HTTPError(400, "Missing imageRef attribute")
    if image is not None and boot_volume:
        _check_min_disk(store, image, bdms)
    return image_id, bdms, boot_volume


def _counts(store, token, spec: dict) -> tuple[int, int, int]:
    """(min_count, max_count, how many the project's instance quota allows), as Nova checks them."""
    try:
        min_count = int(spec.get("min_count", 1))
        max_count = int(spec.get("max_count", min_count))
    except (TypeError, ValueError):
        raise HTTPError(400, "min_count and max_count must be integers") from None
    if not 1 <= min_count <= max_count:
        raise HTTPError(400, "min_count must be <= max_count")
    quota = quota_of(store, token.project_id)
    allowed = max_count
    if quota["instances"] >= 0:
        used = sum(1 for s in store.all("server").values()
                   if s["project_id"] == token.project_id and s["status"] != "DELETED")
        allowed = min(max_count, quota["instances"] - used)
        if allowed < min_count:
            raise HTTPError(403, f"Quota exceeded for instances: Requested {min_count}, but already used "
                                 f"{used} of {quota['instances']} instances")
    return min_count, max_count, allowed


def scheduled(store, token, hints: object, count: int) -> tuple[str | None, bool]:
    """(the group the ``os:scheduler_hints`` of a create names, whether its ``count`` servers fit the group's
    policy); an unknown group is refused as Nova refuses it."""
    group_id = hints.get("group") if isinstance(hints, dict) else None
    if not group_id:
        return None, True
    group = store.get("server_group", str(group_id))
    if group is None or group["project_id"] != token.project_id:
        raise HTTPError(400, f"Instance group {group_id} could not be found.")
    if group["policy"] != "anti-affinity":
        return group["id"], True
    placed = [s for s in store.all("server").values() if s.get("server_group") == group["id"]
              and s["status"] not in ("DELETED", "ERROR") and s.get("task_state") != "deleting"]
    return group["id"], len(placed) + count <= GROUP_HOSTS


@routes.post(PREFIX + "/servers")
async def create_servers(request: web.Request) -> web.Response:
    cloud = request.app[STATE]
    store = cloud.store
    token = auth(request)
    request[VERSION] = microversion(request)
    body = await body_json(request)
    spec = (body or {}).get("server")
    if not isinstance(spec, dict) or not spec.get("name"):
        raise HTTPError(400, "Invalid input for field/attribute server.")
    flavor = flavor_by_id(str(spec.get("flavorRef", "")).rsplit("/", 1)[-1])
    if flavor is None:
        raise HTTPError(400, f"Flavor {spec.get('flavorRef')} could not be found.")
    image_id, bdms, boot_volume = _boot_source(store, token, spec)
    key_name = spec.get("key_name")
    if key_name and store.get("keypair", f"{token.user_id}/{key_name}") is None:
        raise HTTPError(400, "Invalid key_name provided.")
    zone = spec.get("availability_zone") or ZONES[0]
    if zone.split(":")[0] not in ZONES:
        raise HTTPError(400, "The requested availability zone is not available")
    groups = [g.get("name") for g in spec.get("security_groups") or [{"name": "default"}]]
    group_ids = neutron_ports.resolve_security_groups(store, token.project_id, groups)
    groups = [(store.get("security_group", gid) or {}).get("name", gid) for gid in group_ids]  # Nova shows names
    user_data = spec.get("user_data")
    if user_data is not None:
        try:
            base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPError(400, "User data needs to be valid base 64.") from None
        if len(user_data) > 65535:
            raise HTTPError(400, "User data too large.")
    min_count, max_count, allowed = _counts(store, token, spec)
    if request[VERSION] >= (2, 37) and "networks" not in spec:
        raise HTTPError(400, f"Invalid input for field/attribute server. Value: {spec}. "
                             "'networks' is a required property")
    networks = neutron_ports.choose_networks(store, token.project_id, spec.get("networks"))
    if max_count > 1 and any(port_id for _, _, port_id in networks):
        raise HTTPError(400, "Unable to launch multiple instances with a single configured port ID. Please launch "
                             "your instance one by one with different ports.")
    group, fits = scheduled(store, token, body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints"),
                            allowed)
    reservation = _reservation_id()
    fail = cloud.fail_builds > 0 or not fits
    if cloud.fail_builds > 0:
        cloud.fail_builds -= 1
    created = []
    stamp = now()
    seq = len(store.all("server"))
    with store.batch():
        for index in range(allowed):
            name = spec["name"] if allowed == 1 else f"{spec['name']}-{index + 1}"
            server_id = new_id()
            ports = [neutron_ports.bind_port(store, port_id, server_id, zone) if port_id else
                     neutron_ports.allocate_port(store, token.project_id, net_id, fixed_ip, group_ids, server_id, zone)
                     for net_id, fixed_ip, port_id in networks]
            volumes = volume.boot_volumes(store, token.project_id, server_id, bdms, zone, image_id)
            end = _state("ERROR") if fail else _state("ACTIVE")
            then = {**end, "launched_at": None if fail else stamp + cloud.delay}
            if fail:
                then["fault"] = {"code": 500, "created": iso(stamp + cloud.delay), "message": NO_HOST if not fits
                                 else "Build of instance failed (injected by the dev cloud)"}
            server = {
                "id": server_id, "seq": seq + index + 1, "name": name, "project_id": token.project_id,
                "user_id": token.user_id, **_state("BUILD"), "task_state": "scheduling",
                "flavor_id": flavor["id"], "image_id": image_id, "volume_backed": boot_volume, "key_name": key_name,
                "user_data": user_data, "metadata": spec.get("metadata") or {}, "security_groups": groups,
                "availability_zone": zone.split(":")[0], "zone_requested": bool(spec.get("availability_zone")),
                "reservation_id": reservation, "launch_index": index,
                "hostname": _hostname(name), "created": stamp, "updated": stamp, "launched_at": None,
                "terminated_at": None, "ports": [p["id"] for p in ports], "volumes": volumes,
                "root_device_name": "/dev/vda" if boot_volume else "/dev/sda", "kernel_id": "", "ramdisk_id": "",
                "description": spec.get("description"), "fault": None, "server_group": group,
                "pending": {"at": stamp + cloud.delay, "then": {**then, "task_state": None}},
            }
            created.append(store.put("server", server))
    if spec.get("return_reservation_id") or body.get("return_reservation_id"):
        return reply({"reservation_id": reservation}, 202)
    first = created[0]
    return reply({"server": {"id": first["id"], "OS-DCF:diskConfig": "MANUAL", "adminPass": "devcloudpass",
                             "security_groups": [{"name": g} for g in groups],
                             "links": render(request, cloud, first)["links"]}}, 202)


def _image_visible(image: dict, token) -> bool:
    return (token.admin or image["visibility"] in ("public", "community") or image["owner"] == token.project_id
            or token.project_id in image.get("members", {}))


LIST_FILTERS = ("name", "status", "image", "flavor", "reservation_id", "ip", "availability_zone", "key_name")


@routes.get(PREFIX + "/servers")
@routes.get(PREFIX + "/servers/detail")
async def list_servers(request: web.Request) -> web.Response:
    cloud = request.app[STATE]
    token = auth(request)
    request[VERSION] = microversion(request)
    query = request.query
    all_projects = token.admin and query.get("all_tenants") not in (None, "0", "false", "False")
    project = query.get("project_id") or query.get("tenant_id") if token.admin else None
    since = query.get("changes-since")
    since_ts = _parse_time(since) if since else None
    checks: list = []  # what a lifecycle step cannot change is checked before settling
    settled_checks: list = []
    for key in LIST_FILTERS:
        wanted = query.get(key)
        if wanted is None:
            continue
        (settled_checks if key in ("status", "ip") else checks).append(_server_filter(cloud.store, key, wanted))
    if token.admin and query.get("uuid"):
        wanted_uuid = query["uuid"]
        checks.append(lambda s: s["id"] == wanted_uuid)
    servers = []
    for server in reversed(list(cloud.store.all("server").values())):
        if project is not None and server["project_id"] != project:
            continue
        if not all_projects and project is None and server["project_id"] != token.project_id:
            continue
        if not all(check(server) for check in checks):
            continue
        server = settle(cloud, server)
        if server["status"] == "DELETED":
            if since_ts is None or server["updated"] + DELETED_VISIBLE < now():
                continue
        if since_ts is not None and server["updated"] < since_ts:
            continue
        if since_ts is not None and server["status"] == "BUILD" and server.get("task_state") == "scheduling":
            continue  # as Nova: a server still a build request (in no cell yet) is missing from changes-since
        if all(check(server) for check in settled_checks):
            servers.append(server)
    if request.path.endswith("/detail"):
        floating = neutron_ports.floating_by_port(cloud.store)
        return paged_reply(request, servers, "servers", lambda s: render(request, cloud, s, floating))
    return paged_reply(request, servers, "servers",
                       lambda s: {"id": s["id"], "name": s["name"], "links": render(request, cloud, s)["links"]})


def _server_filter(store, key: str, wanted: str):
    try:
        pattern = re.compile(wanted if key in ("name", "ip") else "")
    except re.error:
        raise HTTPError(400, f"Invalid regular expression for {key}: {wanted}") from None
    if key == "name":
        return lambda s: pattern.search(s["name"]) is not None
    if key == "ip":  # as the lab's Nova: the text finds ports by substring in Neutron, then must match there
        return lambda s: any(wanted in f["ip_address"] and pattern.match(f["ip_address"])
                             for p in neutron_ports.ports_of(store, s) for f in p["fixed_ips"])
    field = {"image": "image_id", "flavor": "flavor_id"}.get(key, key)
    if key == "status":
        return lambda s: s["status"] == wanted.upper()
    return lambda s: str(s.get(field)) == wanted


def _parse_time(text: str) -> float:
    import datetime

    try:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPError(400, f"Invalid changes-since value: {text}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


@routes.get(PREFIX + "/servers/{server_id}")
async def show_server(request: web.Request) -> web.Response:
    request[VERSION] = microversion(request)
    server = get_server(request, request.match_info["server_id"])
    cloud = request.app[STATE]
    body = render(request, cloud, server, neutron_ports.floating_by_port(cloud.store))
    if request[VERSION] >= (2, 71):  # in the show only, not in listings
        group = server.get("server_group")
        body["server_groups"] = [group] if group and cloud.store.get("server_group", group) else []
    return reply({"server": body})


@routes.post(PREFIX + "/servers/{server_id}/os-interface")
async def attach_interface(request: web.Request) -> web.Response:
    """A port of the project bound to the server (Nova's 409 when the port is bound already)."""
    cloud = request.app[STATE]
    server = get_server(request, request.match_info["server_id"])
    spec = ((await body_json(request)) or {}).get("interfaceAttachment") or {}
    port = cloud.store.get("port", str(spec.get("port_id", "")))
    if port is None or port["project_id"] != server["project_id"]:
        raise HTTPError(404, f"Port {spec.get('port_id')} could not be found.")
    if port["device_id"]:
        raise HTTPError(409, f"Port {port['id']} is still in use.")
    if server["status"] not in ("ACTIVE", "SHUTOFF"):
        raise conflict(server, "attach_interface")
    port = cloud.store.put("port", {**port, "device_id": server["id"], "_preserve": True,
                                    "device_owner": f"compute:{server['availability_zone']}"})
    cloud.store.put("server", {**server, "ports": server["ports"] + [port["id"]]})
    return reply({"interfaceAttachment": {"net_id": port["network_id"], "port_id": port["id"],
                                          "mac_addr": port["mac_address"], "port_state": "ACTIVE",
                                          "fixed_ips": port["fixed_ips"], "tag": None}})


@routes.delete(PREFIX + "/servers/{server_id}/os-interface/{port_id}")
async def detach_interface(request: web.Request) -> web.Response:
    """The port unbound, kept (Nova deletes only the ports it made itself, when the server goes)."""
    cloud = request.app[STATE]
    server = get_server(request, request.match_info["server_id"])
    port = cloud.store.get("port", request.match_info["port_id"])
    if port is None or port["device_id"] != server["id"]:
        raise HTTPError(404, f"Port {request.match_info['port_id']} is not attached")
    cloud.store.put("port", {**port, "device_id": "", "device_owner": "", "_preserve": False})
    cloud.store.put("server", {**server, "ports": [p for p in server["ports"] if p != port["id"]]})
    return reply(None, 202)


@routes.get(PREFIX + "/servers/{server_id}/os-server-password")
async def server_password(request: web.Request) -> web.Response:
    """What a Windows guest posted to Nova's metadata service, encrypted with its key pair ("" until then)."""
    server = get_server(request, request.match_info["server_id"])
    return reply({"password": server.get("password") or ""})


@routes.delete(PREFIX + "/servers/{server_id}")
async def delete_server(request: web.Request) -> web.Response:
    request[VERSION] = microversion(request)
    cloud = request.app[STATE]
    server = get_server(request, request.match_info["server_id"])
    if server["status"] == "DELETED" or server["task_state"] == "deleting":
        return reply(None, 204)
    _later(cloud, server, "deleting", {**_state("DELETED"), "terminated_at": now() + cloud.delay})
    return reply(None, 204)


def conflict(server: dict, action: str) -> HTTPError:
    return HTTPError(409, f"Cannot '{action}' instance {server['id']} while it is in vm_state {server['vm_state']}")


def _change_group(cloud, server: dict, wanted, adding: bool) -> None:
    """addSecurityGroup / removeSecurityGroup: on every port of the server, as Nova does."""
    if not isinstance(wanted, str) or not wanted:
        raise HTTPError(400, "Security group name must be a non-empty string")
    group_id, = neutron_ports.resolve_security_groups(cloud.store, server["project_id"], [wanted])
    ports = neutron_ports.ports_of(cloud.store, server)
    if not ports:
        raise HTTPError(400, f"Instance {server['id']} has no network port for security groups")
    if adding == all(group_id in p["security_groups"] for p in ports):
        raise HTTPError(400, f"Security group {wanted} is {'already' if adding else 'not'} associated "
                             f"with the instance {server['id']}")
    for port in ports:
        chosen = [g for g in port["security_groups"] if g != group_id] + ([group_id] if adding else [])
        cloud.store.put("port", {**port, "security_groups": chosen})
    names = sorted({cloud.store.get("security_group", g)["name"]
                    for p in neutron_ports.ports_of(cloud.store, server) for g in p["security_groups"]})
    cloud.store.put("server", {**server, "security_groups": names})


def _resize(cloud, server: dict, flavor_ref: str, busy: bool) -> None:
    """resize: to VERIFY_RESIZE after the delay (or back, with a fault, when a failure was injected)."""
    flavor = flavor_by_id(flavor_ref)
    if flavor is None:
        raise HTTPError(400, "Unable to find flavor")
    if server["status"] not in ("ACTIVE", "SHUTOFF") or busy:
        raise conflict(server, "resize")
    if flavor["id"] == server["flavor_id"]:
        raise HTTPError(400, "When resizing, instances must change flavor!")
    stopped = server["status"] == "SHUTOFF"
    cloud.store.put("server", {**server, "status": "RESIZE"})
    if cloud.fail_resizes > 0:
        cloud.fail_resizes -= 1
        outcome = {**_state(server["status"]), "fault": {
            "code": 500, "message": "No valid host was found. (injected by the dev cloud)",
            "created": iso(now() + cloud.delay)}}
    else:
        outcome = {**_state("VERIFY_RESIZE"), "flavor_id": flavor["id"], "resized_from_stopped": stopped}
    _later(cloud, {**server, "status": "RESIZE"}, "resize_prep", outcome)


@routes.post(PREFIX + "/servers/{server_id}/action")
async def server_action(request: web.Request) -> web.Response:
    request[VERSION] = microversion(request)
    cloud = request.app[STATE]
    server = get_server(request, request.match_info["server_id"])
    body = await body_json(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise HTTPError(400, "Malformed request body")
    (action, value), = body.items()
    busy = server["task_state"] is not None
    if action == "os-stop":
        if server["status"] != "ACTIVE" or busy:
            raise conflict(server, "stop")
        _later(cloud, server, "powering-off", _state("SHUTOFF"))
    elif action == "os-start":
        if server["status"] != "SHUTOFF" or busy:
            raise conflict(server, "start")
        _later(cloud, server, "powering-on", _state("ACTIVE"))
    elif action == "reboot":
        if server["status"] not in ("ACTIVE", "SHUTOFF", "ERROR") or busy:
            raise conflict(server, "reboot")
        kind = ((value or {}).get("type") or "SOFT").upper()
        cloud.store.put("server", {**server, "status": "HARD_REBOOT" if kind == "HARD" else "REBOOT"})
        _later(cloud, {**server, "status": "REBOOT"}, "reboot_started", _state("ACTIVE"))
    elif action == "createImage":
        if server["status"] not in ("ACTIVE", "SHUTOFF") or busy:
            raise conflict(server, "createImage")
        name, metadata = (value or {}).get("name") or "snapshot", (value or {}).get("metadata") or {}
        if server.get("volume_backed", not server["image_id"]):  # Cinder snapshots its volumes; the image maps them
            # Nova writes the flavor's root disk as min_disk, though the root is a volume of its own size
            disk = (flavor_by_id(server["flavor_id"]) or {}).get("disk") or 1
            snapshot = cloud.store.put("image", images.volume_backed_snapshot_of(
                server, name, metadata, volume.image_mappings(cloud, server, name), disk))
        else:
            snapshot = images.snapshot_of(cloud, server, name, metadata)
        return reply({"image_id": snapshot["id"]}, 202)
    elif action == "os-getConsoleOutput":
        if server["status"] not in ("ACTIVE", "SHUTOFF"):
            raise conflict(server, "get_console_output")
        lines = [f"[    0.000000] Linux version 6.1.0 (devcloud) booting {server['name']}",
                 f"cloud-init: instance {server['id']} reached the network", "login: "]
        length = (value or {}).get("length")
        if length is not None:
            lines = lines[-int(length):]
        return reply({"output": "\n".join(lines) + "\n"})
    elif action in ("addSecurityGroup", "removeSecurityGroup"):
        _change_group(cloud, server, (value or {}).get("name"), adding=action == "addSecurityGroup")
    elif action == "resize":
        _resize(cloud, server, str((value or {}).get("flavorRef", "")), busy)
    elif action == "confirmResize":
        if busy or server["status"] == "RESIZE":
            raise conflict(server, "confirmResize")
        if server["status"] != "VERIFY_RESIZE":  # real Nova's answer once confirmed, or never resized (the lab's)
            raise HTTPError(400, "Instance has not been resized.")
        final = _state("SHUTOFF" if server.get("resized_from_stopped") else "ACTIVE")
        cloud.store.put("server", {**server, **final, "updated": now()})
        return reply(None, 204)
    else:
        raise HTTPError(400, f"There is no such action: {action}")
    return reply(None, 202)
