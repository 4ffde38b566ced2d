"""Application factories: the EC2 API app and the admin app, sharing one Services."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from ec2proxy import db, dispatch, protocol
from ec2proxy.accesslog import AccessLog
from ec2proxy.auth.credentials import KeystoneCredentialStore, LocalCredentialStore
from ec2proxy.cloud import Cloud
from ec2proxy.cloud.auth import Authenticator
from ec2proxy.config import Config
from ec2proxy.metrics import Metrics
from ec2proxy.ratelimit import RateLimiter
from ec2proxy.services import Services


@contextlib.asynccontextmanager
async def open_services(config: Config) -> AsyncIterator[Services]:
    protocol.service_model()  # load the EC2 model before the first request, not during it
    engine = db.create_engine(config.database.url)
    sessions = db.sessionmaker(engine)
    try:
        async with contextlib.AsyncExitStack() as stack:
            cloud = None
            if not config.embedded:
                session = await stack.enter_async_context(
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, limit_per_host=50))
                )
                authenticator = Authenticator(config.auth_options(), region=config.openstack.region_name
                                              or config.api.region, interface=config.openstack.interface,
                                              timeout=float(config.openstack.timeout))
                cloud = Cloud(session, authenticator, config.openstack.timeout, config.openstack.retries)
            source = config.auth.credential_source
            if source == "local":
                credentials = LocalCredentialStore(sessions, config.auth.cache_ttl)
            elif source == "keystone" and cloud is not None:
                credentials = KeystoneCredentialStore(cloud, config.auth.cache_ttl)
            else:
                raise ValueError(f"[auth] credential_source {source!r} needs a configured cloud"
                                 if source == "keystone" else f"unknown [auth] credential_source {source!r}")
            access_log = None
            if config.api.access_log:
                access_log = await stack.enter_async_context(AccessLog().running())
            yield Services(
                config=config,
                engine=engine,
                sessions=sessions,
                credentials=credentials,
                limiter=RateLimiter(config.api.rate_limit, config.api.rate_burst),
                metrics=Metrics.create(cloud),
                access_log=access_log,
                cloud=cloud,
            )
    finally:
        await engine.dispose()


async def healthz(request: web.Request) -> web.Response:
    services = request.app[dispatch.SERVICES]
    try:
        async with services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001  health is a yes/no answer
        return web.json_response({"status": "database unavailable"}, status=503)
    return web.json_response({"status": "ok"})


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[dispatch.SERVICES].metrics.registry
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(config: Config, services: Services | None = None) -> web.Application:
    """The EC2 API application; opens its own Services unless given them."""
    app = web.Application(client_max_size=config.api.max_body_size)
    if services is not None:
        app[dispatch.SERVICES] = services
    else:

        async def lifetime(app: web.Application) -> AsyncIterator[None]:
            async with open_services(config) as opened:
                app[dispatch.SERVICES] = opened
                yield

        app.cleanup_ctx.append(lifetime)
    app.router.add_get("/healthz", healthz)
    app.router.add_route("*", "/{tail:.*}", dispatch.handle)
    return app


async def list_operations(request: web.Request) -> web.Response:
    """``GET /operations?state=failed&resource_id=i-...&project_id=...&limit=N`` (admin listener only)."""
    from ec2proxy import operator

    query = request.query
    try:
        limit = min(int(query.get("limit", "100")), 1000)
    except ValueError:
        return web.json_response({"error": "limit must be an integer"}, status=400)
    if query.get("state") not in (None, "pending", "succeeded", "failed"):
        return web.json_response({"error": "state must be pending, succeeded or failed"}, status=400)
    records = await operator.operations(request.app[dispatch.SERVICES], state=query.get("state"),
                                        resource_id=query.get("resource_id"), project_id=query.get("project_id"),
                                        limit=limit)
    return web.json_response({"operations": records})


def create_admin_app(services: Services) -> web.Application:
    app = web.Application()
    app[dispatch.SERVICES] = services
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/operations", list_operations)
    return app
