"""The embedded dev cloud: a small OpenStack stand-in speaking the real REST APIs.

Keystone v3, Nova v2.1, Glance v2, Neutron v2.0 and Cinder v3 on one port
under path prefixes (``/identity/v3``, ``/compute/v2.1``, ``/image``,
``/network``, ``/volume/v3/<project>``), state persisted in SQLite, and an
admin-only fault-injection API under ``/_devcloud`` for tests. The proxy
reaches it only over HTTP, through the same clients it uses for a real cloud.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pathlib
import re
import secrets
from typing import Any

from aiohttp import web

from ec2proxy.devcloud import (
    compute,
    compute_catalog,
    identity,
    image,
    network,
    notifier,
    ports,
    server_groups,
    subnets,
    volume,
)
from ec2proxy.devcloud.common import STATE, TOKEN, DevCloud, HTTPError, fail, new_id, now, reply
from ec2proxy.devcloud.store import Store

LOG = logging.getLogger("ec2proxy.devcloud")
SERVICES = {"identity": "keystone", "compute": "nova", "image": "glance", "network": "neutron", "volume": "cinder"}
CIRROS = b"\x00devcloud cirros image\x00" * 40


def _style(path: str) -> str:
    service = SERVICES.get(path.strip("/").split("/", 1)[0], "nova")
    return {"keystone": "keystone", "neutron": "neutron", "glance": "glance"}.get(service, "nova")


@web.middleware
async def errors_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except HTTPError as exc:
        return fail(exc.status, exc.message, _style(request.path))
    except web.HTTPException:
        raise
    except Exception:  # noqa: BLE001  a stand-in cloud answers 500 like a real one
        LOG.exception("dev cloud error on %s %s", request.method, request.path)
        return fail(500, "Unexpected API Error.", _style(request.path))


@web.middleware
async def log_middleware(request: web.Request, handler):
    """Record each call as it arrived: the raw path, before anything decoded or resolved it."""
    if not request.path.startswith("/_devcloud"):
        resource = request.match_info.route.resource
        request.app[STATE].requests.append(
            {"method": request.method, "raw_path": request.raw_path.split("?", 1)[0],
             "route": resource.canonical if resource is not None else None,
             "match": dict(request.match_info)})
    return await handler(request)


@web.middleware
async def faults_middleware(request: web.Request, handler):
    cloud = request.app[STATE]
    if cloud.faults and not request.path.startswith("/_devcloud"):
        service = request.path.strip("/").split("/", 1)[0]
        for rule in cloud.faults:
            if rule["remaining"] <= 0:
                continue
            if rule.get("service") not in (None, service) or rule.get("method") not in (None, request.method):
                continue
            if rule.get("path") and not re.search(rule["path"], request.path):
                continue
            rule["remaining"] -= 1
            cloud.faults_fired += 1
            kind = rule["kind"]
            if kind in ("hang", "slow"):
                await asyncio.sleep(float(rule.get("seconds", 5)))
                break
            if kind == "late":  # do the work, then answer late: the caller may be gone by then
                response = await handler(request)
                await asyncio.sleep(float(rule.get("seconds", 5)))
                return response
            if kind == "drop":
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError()
            return fail(int(rule.get("status", 500)), "Injected fault", _style(request.path))
        cloud.faults[:] = [r for r in cloud.faults if r["remaining"] > 0]
    return await handler(request)


@web.middleware
async def auth_middleware(request: web.Request, handler):
    token_id = request.headers.get("X-Auth-Token")
    if token_id:
        token = request.app[STATE].token(token_id)
        if token is None and not request.path.endswith("/auth/tokens"):
            return fail(401, "The request you have made requires authentication.", _style(request.path))
        request[TOKEN] = token
    return await handler(request)


admin_routes = web.RouteTableDef()


def _admin(request: web.Request) -> None:
    token = request.get(TOKEN)
    if token is None or not token.admin:
        raise HTTPError(403, "The fault-injection API is for admins only.")


@admin_routes.post("/_devcloud/faults")
async def add_fault(request: web.Request) -> web.Response:
    """Make the next ``count`` matching calls fail: ``{"service", "method", "path", "count", "kind",
    "status", "seconds"}`` with kind ``status`` (answer ``status``), ``hang`` (wait ``seconds`` first),
    ``late`` (do the work, then wait ``seconds`` before answering) or ``drop`` (close the connection)."""
    _admin(request)
    spec = await request.json()
    kind = spec.get("kind", "status")
    if kind not in ("status", "hang", "slow", "drop", "late"):
        raise HTTPError(400, f"unknown fault kind {kind}")
    rule = {"service": spec.get("service"), "method": spec.get("method"), "path": spec.get("path"),
            "remaining": int(spec.get("count", 1)), "kind": kind, "status": int(spec.get("status", 500)),
            "seconds": float(spec.get("seconds", 5))}
    request.app[STATE].faults.append(rule)
    return reply({"fault": rule}, 201)


@admin_routes.get("/_devcloud/faults")
async def list_faults(request: web.Request) -> web.Response:
    _admin(request)
    state = request.app[STATE]
    return reply({"faults": state.faults, "fired": state.faults_fired})


@admin_routes.delete("/_devcloud/faults")
async def clear_faults(request: web.Request) -> web.Response:
    _admin(request)
    request.app[STATE].faults.clear()
    request.app[STATE].fail_builds = request.app[STATE].fail_snapshots = request.app[STATE].fail_resizes = 0
    return reply(None, 204)


@admin_routes.post("/_devcloud/fail-builds")
async def fail_builds(request: web.Request) -> web.Response:
    """The next ``count`` server creates end in ERROR instead of ACTIVE."""
    _admin(request)
    request.app[STATE].fail_builds = int((await request.json()).get("count", 1))
    return reply({"fail_builds": request.app[STATE].fail_builds})


@admin_routes.post("/_devcloud/fail-resizes")
async def fail_resizes(request: web.Request) -> web.Response:
    """The next ``count`` resizes fail as Nova's do when no host takes the new flavor: the server goes back
    to its state and flavor, with an instance fault saying why."""
    _admin(request)
    request.app[STATE].fail_resizes = int((await request.json()).get("count", 1))
    return reply({"fail_resizes": request.app[STATE].fail_resizes})


@admin_routes.post("/_devcloud/fail-snapshots")
async def fail_snapshots(request: web.Request) -> web.Response:
    """The next ``count`` server snapshots (createImage) end ``killed`` instead of ``active``."""
    _admin(request)
    request.app[STATE].fail_snapshots = int((await request.json()).get("count", 1))
    return reply({"fail_snapshots": request.app[STATE].fail_snapshots})


@admin_routes.post("/_devcloud/guest-shutdown")
async def guest_shutdown(request: web.Request) -> web.Response:
    """The guest of ``{"server_id"}`` powers itself off (``shutdown -h now`` inside it): Nova's power-state
    sync stops the server, SHUTOFF, though nobody called its API."""
    _admin(request)
    server = compute.guest_shutdown(request.app[STATE], str((await request.json()).get("server_id")))
    return reply({"status": server["status"]})


@admin_routes.get("/_devcloud/requests")
async def list_requests(request: web.Request) -> web.Response:
    """The calls that reached the dev cloud, oldest first: ``{"method", "raw_path", "route", "match"}``."""
    _admin(request)
    return reply({"requests": list(request.app[STATE].requests)})


@admin_routes.delete("/_devcloud/requests")
async def clear_requests(request: web.Request) -> web.Response:
    _admin(request)
    request.app[STATE].requests.clear()
    return reply(None, 204)


@admin_routes.get("/_devcloud/counts")
async def counts(request: web.Request) -> web.Response:
    """How many objects of each kind exist (for consistency checks in tests)."""
    _admin(request)
    store = request.app[STATE].store
    return reply({kind: len(items) for kind, items in store.data.items()})


def seed(store: Store) -> dict[str, Any]:
    """First start: projects, users and roles, an image, networks; answers the accounts made."""
    accounts: dict[str, Any] = {}
    with store.batch():
        projects = {name: store.put("project", {"id": new_id().replace("-", ""), "name": name,
                                                "description": f"dev cloud {name} project"})
                    for name in ("admin", "demo", "alt", "service")}
        grants = {
            "admin": [("admin", "admin"), ("demo", "admin"), ("alt", "admin"), ("service", "admin")],
            "demo": [("demo", "member"), ("demo", "reader")],
            "alt": [("alt", "member"), ("alt", "reader")],
            "auditor": [("demo", "reader")],  # Keystone's read-only persona: may look, may change nothing
            # The proxy's own user: 'service' for ec2tokens, and 'member' (never admin: an admin
            # reaches every project's servers by id) in the projects it serves with local keys.
            "ec2proxy": [("service", "service"), ("service", "member"), ("demo", "member"), ("alt", "member")],
        }
        defaults = {"admin": "admin", "demo": "demo", "alt": "alt", "auditor": "demo", "ec2proxy": "service"}
        for name, roles in grants.items():
            password = secrets.token_urlsafe(12)
            user = store.put("user", {"id": new_id().replace("-", ""), "name": name, "password": password,
                                      "domain": "Default", "default_project_id": projects[defaults[name]]["id"]})
            for project, role in roles:
                store.put("grant", {"id": f"{user['id']}:{projects[project]['id']}:{role}", "user_id": user["id"],
                                    "project_id": projects[project]["id"], "role": role})
            accounts[name] = {"user_id": user["id"], "username": name, "password": password,
                              "project_id": projects[defaults[name]]["id"], "project_name": defaults[name]}
            if name in ("demo", "alt", "auditor"):  # an EC2 credential in Keystone, for that credential source
                access = secrets.token_hex(16)
                store.put("ec2_credential", {"id": access, "access": access, "secret": secrets.token_hex(16),
                                             "user_id": user["id"], "project_id": projects[defaults[name]]["id"]})
                accounts[name]["ec2_access"] = access
        cirros = image.new_image(projects["admin"]["id"], name="cirros-0.6.2-x86_64-disk", visibility="public",
                                 container_format="bare", disk_format="qcow2", min_disk=1, min_ram=0,
                                 status="active", size=len(CIRROS), virtual_size=len(CIRROS),
                                 architecture="x86_64", hw_disk_bus="virtio")
        store.put("image", cirros)
        store.put("image_data", {"id": cirros["id"], "data": CIRROS.hex()})
        admin_token = type("T", (), {"admin": True, "project_id": projects["admin"]["id"]})()
        public = store.put("network", network._create_network(store, {"name": "public", "router:external": True},
                                                               admin_token))
        public_subnet = store.put("subnet", subnets.create_subnet(store, {
            "network_id": public["id"], "cidr": "198.51.100.0/24", "name": "public-subnet"}, admin_token))
        for name, cidr in (("demo", "10.0.0.0/16"), ("alt", "10.1.0.0/16")):
            owner = type("T", (), {"admin": False, "project_id": projects[name]["id"]})()
            private = store.put("network", network._create_network(store, {"name": "private"}, owner))
            subnet = store.put("subnet", subnets.create_subnet(store, {
                "network_id": private["id"], "cidr": cidr, "name": "private-subnet",
                "dns_nameservers": ["8.8.8.8"]}, owner))
            router = store.put("router", network._create_router(store, {
                "name": "router1", "external_gateway_info": {
                    "network_id": public["id"], "enable_snat": True,
                    "external_fixed_ips": [{"subnet_id": public_subnet["id"]}]}}, owner))
            network.attach_interface(store, router, subnet)  # as the lab's: the private subnet routed out
            ports.ensure_default_group(store, projects[name]["id"])
            accounts[f"{name}_network"] = {"network_id": private["id"], "subnet_id": subnet["id"]}
        accounts["image_id"] = cirros["id"]
        accounts["public_network_id"] = public["id"]
        store.put("meta", {"id": "accounts", "accounts": accounts, "created": now()})
    return accounts


def accounts(store: Store) -> dict[str, Any]:
    meta = store.get("meta", "accounts")
    return meta["accounts"] if meta else seed(store)


def create_app(data_dir: pathlib.Path, delay: float = 0.5, region: str = "RegionOne",
               notify: notifier.Notifier | None = None) -> web.Application:
    """The dev cloud application; its state lives in ``data_dir/devcloud.sqlite``; with ``notify``, every change
    is a notification on its broker."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / "devcloud.sqlite")
    state = DevCloud(store=store, region=region, delay=delay)
    accounts(store)
    app = web.Application(middlewares=[log_middleware, errors_middleware, faults_middleware, auth_middleware,
                                       compute.version_headers], client_max_size=64 * 1024 * 1024)
    app[STATE] = state
    for table in (identity.routes, compute.routes, compute_catalog.routes, server_groups.routes, image.routes,
                  network.routes, volume.routes, admin_routes):
        app.router.add_routes(table)

    async def close(app: web.Application) -> None:
        store.close()

    if notify is not None:
        store.listener = notify.written

        async def notifying(app: web.Application):
            tasks = [asyncio.create_task(notify.run()), asyncio.create_task(notifier.settle_due(state))]
            yield
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        app.cleanup_ctx.append(notifying)
    app.on_cleanup.append(close)
    return app


def write_clouds_yaml(data_dir: pathlib.Path, auth_url: str, store: Store, region: str = "RegionOne") -> pathlib.Path:
    """``clouds.yaml`` with one cloud per seeded account (``devcloud-demo``, ``devcloud-admin``...)."""
    import yaml

    clouds = {}
    for name, account in accounts(store).items():
        if not isinstance(account, dict) or "password" not in account:
            continue
        clouds[f"devcloud-{name}"] = {
            "auth": {"auth_url": auth_url, "username": account["username"], "password": account["password"],
                     "project_name": account["project_name"], "user_domain_name": "Default",
                     "project_domain_name": "Default"},
            "region_name": region, "identity_api_version": 3, "interface": "public",
        }
    path = data_dir / "clouds.yaml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"clouds": clouds}, handle, sort_keys=True)
    (data_dir / "accounts.json").write_text(json.dumps(accounts(store), indent=2))
    os.chmod(data_dir / "accounts.json", 0o600)
    return path
