"""The metadata HTTP service (aiohttp): identify, authorize (IMDSv2, options), answer from the cache."""

from __future__ import annotations

import asyncio
import functools
import logging
import time

from aiohttp import web
from sqlalchemy import select

from ec2proxy import db, keys
from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.context import Services
from ec2proxy.db.models import Instance, Tag
from metadata import callers, signing, tokens, tree

LOG = logging.getLogger(__name__)
STATE: web.AppKey["MetadataState"] = web.AppKey("state")
TEXT = "text/plain"


class Unknown(Exception):
    """The instance is not there, or not in the tenant the proxy named."""


class MetadataState:
    def __init__(self, services: Services):
        config = services.config
        self.services = services
        self.region = config.api.region
        self.secret = services.secret
        # Never the secret itself: a token's MAC must not be a valid X-Instance-ID-Signature.
        self.token_key = (config.metadata.token_key.encode() if config.metadata.token_key
                          else keys.derive(self.secret, "IMDSv2 session token"))
        self.signer = signing.load(config.metadata.identity_key, config.metadata.identity_certificate,
                                   config.data_dir, self.region)
        self.ttl = config.metadata.cache_ttl
        self.ip_lookup = config.metadata.ip_lookup
        self.cache: dict[str, tuple[float, dict]] = {}
        self.filling: dict[str, asyncio.Future] = {}
        services.change_listeners.append(self.forget)

    def forget(self, os_id: str) -> None:
        """Our write changed the instance: drop what is cached and what is being read right now."""
        self.cache.pop(os_id, None)
        self.filling.pop(os_id, None)

    async def instance(self, caller: callers.Caller) -> dict:
        """The instance's tree, from the cache or one concurrent round of backend reads (one per instance)."""
        hit = self.cache.get(caller.instance_id)
        if hit is not None and hit[0] > time.monotonic():
            data = hit[1]
        else:
            pending = self.filling.get(caller.instance_id)
            if pending is None:
                pending = asyncio.ensure_future(self._read(caller.instance_id, caller.tenant_id))
                self.filling[caller.instance_id] = pending
                pending.add_done_callback(functools.partial(self._filled, caller.instance_id))
            data = await asyncio.shield(pending)
        if data["tenant_id"] != caller.tenant_id:
            raise Unknown()
        return data

    def _filled(self, instance_id: str, done: asyncio.Future) -> None:
        if self.filling.get(instance_id) is done:
            del self.filling[instance_id]

    async def _read(self, os_id: str, tenant_id: str) -> dict:
        view = await self.services.backend.reader_view(tenant_id)

        async def server() -> dict:
            try:
                return await view.nova.get_server(os_id)
            except BackendNotFound:
                raise Unknown() from None

        async def ports() -> list[dict]:
            return await view.neutron.list("port", {"device_id": os_id}) if view.neutron else []

        async def subnets() -> dict[str, dict]:
            if view.neutron is None:
                return {}
            found = await view.neutron.list("subnet", {"fields": ["id", "cidr", "network_id"]})
            return {s["id"]: s for s in found}

        async def ours():
            async with self.services.sessions() as session:
                row = (await session.scalars(select(Instance).where(Instance.os_id == os_id))).first()
                tags = []
                if row is not None:
                    tags = [(t.key, t.value) for t in (await session.scalars(select(Tag).where(
                        Tag.resource_id == row.ec2_id, Tag.project_id == row.project_id))).all()]
                return row, tags

        found, port_list, subnet_map, (row, tags) = await asyncio.gather(server(), ports(), subnets(), ours())
        if row is not None and row.project_id != found.get("tenant_id", row.project_id):
            row, tags = None, []  # a row for another project's server never leaks into this one
        data = tree.build(found, row, tags, port_list, subnet_map, self.region)
        if found.get("tenant_id") is None:
            data["tenant_id"] = tenant_id  # Nova shows tenant_id at every microversion we use; belt and braces
        if self.filling.get(os_id) is asyncio.current_task():  # not forgotten while it was being read
            self.cache[os_id] = (time.monotonic() + self.ttl, data)
        if len(self.cache) > 50000:
            now = time.monotonic()
            self.cache = {k: v for k, v in self.cache.items() if v[0] > now}
        return data

    async def caller_by_ip(self, ip: str) -> callers.Caller:
        """The IP fallback: the port that has ``ip`` names the instance and its project."""
        view = await self.services.backend.view()
        ports = await view.neutron.list("port", {"fixed_ips": [f"ip_address={ip}"]}) if view.neutron else []
        ports = [p for p in ports if (p.get("device_owner") or "").startswith("compute:")]  # compute:<zone>
        if len(ports) != 1:
            raise callers.CallerError(404, "No instance has this address.")
        return callers.Caller(ports[0]["device_id"], ports[0].get("project_id") or ports[0]["tenant_id"])


def _text(body: str | bytes, status: int = 200, content_type: str = TEXT, headers=None) -> web.Response:
    return web.Response(body=body if isinstance(body, bytes) else body.encode(), status=status,
                        content_type=content_type, headers=headers)


def _error(status: int, reason: str) -> web.Response:
    return _text(f"{status} {reason}", status)


async def _caller(state: MetadataState, request: web.Request) -> callers.Caller:
    caller = callers.from_headers(request.headers, state.secret)
    if caller is not None:
        return caller
    if state.ip_lookup and request.remote:
        return await state.caller_by_ip(request.remote)
    raise callers.CallerError(400, "Missing metadata proxy headers.")


async def handle(request: web.Request) -> web.Response:
    state = request.app[STATE]
    path = request.path
    is_token = path.rstrip("/") == "/latest/api/token"
    if request.method == "PUT" and not is_token or request.method not in ("GET", "HEAD", "PUT"):
        return _error(405, "Method Not Allowed")
    if is_token and request.method != "PUT":
        return _error(405, "Method Not Allowed")
    if not path.strip("/"):  # "/", "//"...: the version list, which needs no identity
        return _text(tree.versions_listing())
    try:
        caller = await _caller(state, request)
        data = await state.instance(caller)
    except callers.CallerError as exc:
        return _error(exc.status, exc.message)
    except Unknown:
        return _error(404, "Not Found")
    except BackendError as exc:
        LOG.warning("metadata: backend failure for %s: %s", request.headers.get("X-Instance-ID", "?"), exc)
        return _error(503 if exc.status in (0, 429) or exc.status >= 500 else 404,
                      "Service Unavailable" if exc.status in (0, 429) or exc.status >= 500 else "Not Found")
    except Exception as exc:
        if not db.unavailable(exc):
            raise
        LOG.warning("metadata: database unavailable: %s", type(exc).__name__)
        return _error(503, "Service Unavailable")
    options = data["options"]
    if options.get("HttpEndpoint") == "disabled":
        return _error(403, "Forbidden")
    key = state.token_key
    if is_token:
        # Behind Neutron the proxy appends the one client address; more means the client sent its own
        # X-Forwarded-For, which EC2 refuses for token requests (an SSRF through a proxy, not the instance).
        hops = callers.forwarded(request.headers)
        if len(hops) > 1 or (len(hops) == 1 and "X-Instance-ID" not in request.headers):
            return _error(403, "Forbidden")
        ttl = tokens.parse_ttl(request.headers.get("X-aws-ec2-metadata-token-ttl-seconds"))
        if ttl is None:
            return _error(400, "Bad Request")
        return _text(tokens.mint(key, caller.instance_id, ttl),
                     headers={"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})
    token = request.headers.get("X-aws-ec2-metadata-token")
    if token is not None:
        if not tokens.valid(key, caller.instance_id, token):
            return _error(401, "Unauthorized")
    elif options.get("HttpTokens") == "required":
        return _error(401, "Unauthorized")
    return answer(state, data, path)


def answer(state: MetadataState, data: dict, path: str) -> web.Response:
    parts = [p for p in path.split("/") if p]
    version, rest = parts[0], parts[1:]
    if not tree.known_version(version):
        return _error(404, "Not Found")
    if not rest:
        entries = ["dynamic", "meta-data"] + (["user-data"] if data["user_data"] is not None else [])
        return _text("\n".join(entries))
    section, rest = rest[0], rest[1:]
    if section == "user-data" and not rest:
        if data["user_data"] is None:
            return _error(404, "Not Found")
        return _text(data["user_data"], content_type="application/octet-stream")
    if section == "meta-data":
        node = tree.lookup(data["meta"], rest)
    elif section == "dynamic":
        node = tree.lookup(_dynamic(state, data), rest)
    else:
        node = None
    if node is None:
        return _error(404, "Not Found")
    if isinstance(node, dict):
        return _text(tree.listing(node))
    return _text(node)


def _dynamic(state: MetadataState, data: dict) -> dict:
    signed = data.get("signed")
    if signed is None:  # one RSA signature per cache fill, made when first asked for
        document = data["document"].encode()
        signed = data["signed"] = {"document": data["document"], "pkcs7": state.signer.pkcs7(document),
                                   "signature": state.signer.signature(document)}
    return {"instance-identity": signed}


def create_app(services: Services) -> web.Application:
    app = web.Application(client_max_size=4096)
    app[STATE] = MetadataState(services)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app
