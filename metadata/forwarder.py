"""``ec2proxy metadata-proxy``: Neutron's part, for the embedded default and for tests.

Neutron's metadata proxy knows which instance a request comes from (by the
network it listens on and the source address) and forwards it with
``X-Instance-ID``, ``X-Tenant-ID``, ``X-Forwarded-For`` and the HMAC of the
instance id. On loopback there is no network to tell instances apart, so this
one serves exactly one instance per listener: everything that reaches
``--listen`` is that instance's request.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from metadata import callers

HOP_HEADERS = ("Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length")
SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM_TIMEOUT = aiohttp.ClientTimeout(total=30)


def create_app(upstream: str, secret: bytes, os_id: str, tenant_id: str, fixed_ip: str) -> web.Application:
    app = web.Application(client_max_size=4096)
    signature = callers.sign(secret, os_id)

    async def session_context(app: web.Application):
        async with aiohttp.ClientSession(auto_decompress=False, timeout=UPSTREAM_TIMEOUT) as session:
            app[SESSION] = session
            yield

    async def forward(request: web.Request) -> web.Response:
        headers = {k: v for k, v in request.headers.items()
                   if k not in HOP_HEADERS and not k.lower().startswith("x-instance-id")
                   and k.lower() not in ("x-tenant-id", "x-forwarded-for")}
        # As haproxy's 'option forwardfor' does: the client's own X-Forwarded-For is kept, ours appended.
        client_forwarded = request.headers.getall("X-Forwarded-For", [])
        headers.update({"X-Instance-ID": os_id, "X-Tenant-ID": tenant_id, "X-Instance-ID-Signature": signature,
                        "X-Forwarded-For": ", ".join([*client_forwarded, fixed_ip])})
        body = await request.read()
        try:
            async with app[SESSION].request(request.method, upstream + request.rel_url.path_qs, headers=headers,
                                            data=body or None, allow_redirects=False) as response:
                payload = await response.read()
                passed = {k: v for k, v in response.headers.items() if k not in HOP_HEADERS}
                return web.Response(body=payload, status=response.status, headers=passed)
        except (aiohttp.ClientError, TimeoutError):  # as Neutron's proxy answers: the service is away, not us
            return web.Response(status=502, text="The metadata service cannot be reached.\n")

    app.cleanup_ctx.append(session_context)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app
