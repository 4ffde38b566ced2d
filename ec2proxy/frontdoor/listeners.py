"""What every listener of the proxy guards against: connections that hold a place without asking anything.

A client that opens connections and never finishes its headers would keep
them forever; aiohttp closes a connection idle for ``keepalive_timeout``,
before its first request too, so that setting is the header timeout. The
per-address cap keeps one peer from taking every file descriptor.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

LOG = logging.getLogger("ec2proxy.listeners")


def handler_options(header_timeout: float) -> dict:
    """aiohttp server options: ``keepalive_timeout`` bounds the wait for a request's headers."""
    return {"keepalive_timeout": header_timeout}


def cap_connections(server: web.Server, per_address: int) -> None:
    """Close a peer's connections beyond ``per_address`` as they are accepted (0: no cap)."""
    if per_address <= 0:
        return
    open_by_peer: collections.Counter[str] = collections.Counter()
    peers: dict[RequestHandler, str] = {}
    made, lost = server.connection_made, server.connection_lost

    def connection_made(handler: RequestHandler, transport: asyncio.Transport) -> None:
        made(handler, transport)
        peer = transport.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) and peer else "-"
        if open_by_peer[address] >= per_address:
            LOG.warning("refusing a connection from %s: %d already open", address, open_by_peer[address])
            transport.abort()
            return
        open_by_peer[address] += 1
        peers[handler] = address

    def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
        address = peers.pop(handler, None)
        if address is not None:
            open_by_peer[address] -= 1
            if not open_by_peer[address]:
                del open_by_peer[address]
        lost(handler, exc)

    server.connection_made = connection_made  # type: ignore[method-assign]
    server.connection_lost = connection_lost  # type: ignore[method-assign]


async def close(runner: web.BaseRunner, services) -> None:
    """Stop accepting, let bodies already on their way arrive, then aiohttp's graceful shutdown.

    aiohttp ignores what a connection sends once shutdown has closed it, so a
    request whose body was still arriving would wait for it in vain: those
    are answered ``Unavailable`` at once (``Services.stop_reading``).
    """
    for site in list(runner.sites):
        await site.stop()
    await asyncio.sleep(0.1)
    services.stop_reading()
    await runner.cleanup()
