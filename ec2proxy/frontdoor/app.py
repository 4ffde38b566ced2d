"""Application factories: the EC2 API app and the admin app, sharing one Services."""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import HttpVersion11, hdrs, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from ec2proxy import keys
from ec2proxy.config import Config
from ec2proxy.frontdoor import dispatch, listeners
from ec2proxy.frontdoor.services import FrontDoorServices as Services

SERVICES = web.AppKey("services", Services)  # the admin listener's Application


async def health(services: Services) -> web.Response:
    try:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001  health is a yes/no answer
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def healthz(request: web.Request) -> web.Response:
    return await health(request.app[SERVICES])


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[SERVICES].metrics.registry
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_api_server(config: Config, services: Services) -> web.Server:
    """The EC2 API listener, on aiohttp's low-level server.

    Every path but /healthz is the one EC2 endpoint, so an Application's
    router and per-request match info would only add cost (about a twelfth
    of a signed DescribeRegions, measured).
    """
    loop = asyncio.get_running_loop()
    limit = config.api.max_body_size

    async def serve(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            return await health(services)
        if request.version >= HttpVersion11 and request.headers.get(hdrs.EXPECT, "").lower() == "100-continue":
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # as aiohttp's router would
        return await dispatch.handle(request, services)

    def make_request(message, payload, protocol, writer, task) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, loop, client_max_size=limit)

    return web.Server(serve, request_factory=make_request, access_log=None,
                      **listeners.handler_options(config.api.header_timeout))


ADMIN_TOKEN = web.AppKey("admin_token", str)


async def list_operations(request: web.Request) -> web.Response:
    """``GET /operations?state=failed&resource_id=i-...&project_id=...&limit=N`` with
    ``Authorization: Bearer <[admin] token>``: every project's operations are there."""
    from ec2proxy.state import maintenance as operator

    scheme, _, given = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("utf-8", "replace"),
                                                              request.app[ADMIN_TOKEN].encode()):
        return web.json_response({"error": "a bearer token ([admin] token) is required"}, status=401,
                                 headers={hdrs.WWW_AUTHENTICATE: "Bearer"})
    query = request.query
    try:
        limit = min(int(query.get("limit", "100")), 1000)
    except ValueError:
        return web.json_response({"error": "limit must be an integer"}, status=400)
    if query.get("state") not in (None, "pending", "succeeded", "failed"):
        return web.json_response({"error": "state must be pending, succeeded or failed"}, status=400)
    records = await operator.operations(request.app[SERVICES], state=query.get("state"),
                                        resource_id=query.get("resource_id"), project_id=query.get("project_id"),
                                        limit=limit)
    return web.json_response({"operations": records})


def create_admin_app(services: Services) -> web.Application:
    app = web.Application()
    app[SERVICES] = services
    app[ADMIN_TOKEN] = keys.admin_token(services.config.admin.token, services.config.data_dir)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/operations", list_operations)
    return app
