"""One way to call an OpenStack REST API: timeouts, safe retries, errors mapped.

Only idempotent reads are retried (GET/HEAD, on a connection failure,
timeout or 5xx), with exponential backoff; a POST that may have reached the
cloud is never sent twice. Every failure becomes a :class:`BackendError`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import random
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import quote, unquote

import aiohttp
import orjson
import yarl

from ec2proxy.cloud.failures import BackendError, BackendUnavailable, UnsafePath, from_status

LOG = logging.getLogger("ec2proxy.cloud")
_SAFE = frozenset({"GET", "HEAD"})


_DOT_SEGMENTS = frozenset({"", ".", ".."})


def segment(value: object) -> str:
    """One path segment for ``value``, percent-encoded whole (``/``, ``%``, ``?``, ``#`` included).

    Empty and dot segments are refused: an HTTP client resolves ``..`` (yarl
    does, even written ``%2e%2e``), which would move the call to another path.
    """
    text = str(value)
    if text in _DOT_SEGMENTS:
        raise UnsafePath(text)
    return quote(text, safe="")


def route(template: str, *values: object) -> str:
    """``route("servers/{}/action", server_id)``: the template is ours, each value exactly one segment."""
    return template.format(*map(segment, values))


def _checked(url: str) -> yarl.URL:
    """The URL exactly as written (never re-quoted or dot-resolved), with no dot or empty segment inside."""
    target = yarl.URL(url, encoded=True)
    parts = target.raw_path.split("/")[1:]
    if parts and not parts[-1]:  # one trailing "/" is the API's own (version documents)
        parts.pop()
    if any(unquote(part) in _DOT_SEGMENTS for part in parts):
        raise UnsafePath(target.raw_path)
    return target


@dataclasses.dataclass
class Response:
    status: int
    headers: Any
    body: Any  # parsed JSON, or bytes for non-JSON bodies, or None


@dataclasses.dataclass
class Transport:
    """The shared HTTP session and the call policy of every service client."""

    session: aiohttp.ClientSession
    timeout: float = 30.0
    retries: int = 2
    backoff: float = 0.2
    calls: int = 0  # backend calls made, for benchmarks and tests
    by_service: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # the same, by service

    async def request(
        self,
        service: str,
        method: str,
        url: str,
        token: str | None,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        send_headers = {"Accept": "application/json"}
        if token is not None:
            send_headers["X-Auth-Token"] = token
        if headers:
            send_headers.update(headers)
        payload = data
        if json_body is not None:
            payload = json.dumps(json_body).encode()
            send_headers.setdefault("Content-Type", "application/json")
        target = _checked(url)
        attempts = 1 + (self.retries if method in _SAFE else 0)
        client_timeout = aiohttp.ClientTimeout(total=timeout or self.timeout)
        for attempt in range(attempts):
            self.calls += 1
            self.by_service[service] += 1
            try:
                async with self.session.request(
                    method, target, data=payload, params=params, headers=send_headers, timeout=client_timeout
                ) as response:
                    raw = await response.read()
                    status = response.status
                    response_headers = response.headers
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
                failure = BackendUnavailable(service, 0, type(exc).__name__, method, _path(url))
                if attempt + 1 < attempts:
                    await self._sleep(attempt)
                    continue
                raise failure from None
            if status >= 500 and attempt + 1 < attempts:
                await self._sleep(attempt)
                continue
            body = _decode(raw, response_headers.get("Content-Type", ""))
            if status >= 400:
                raise from_status(service, status, _message(body), method, _path(url))
            return Response(status, response_headers, body)
        raise AssertionError("unreachable")

    async def _sleep(self, attempt: int) -> None:
        await asyncio.sleep(self.backoff * (2**attempt) * (0.5 + random.random()))


def _path(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[-1].split("?", 1)[0]


def _decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "json" in content_type:
        try:
            return orjson.loads(raw)  # a 1,000-server Nova page is megabytes: parsing it is a hot spot
        except orjson.JSONDecodeError:
            return raw
    return raw


def _message(body: Any) -> str:
    """The human message of an OpenStack error body, whatever the service's style."""
    if isinstance(body, dict):
        for value in body.values():
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])
        for key in ("message", "NeutronError", "error"):
            if key in body:
                inner = body[key]
                return str(inner.get("message", inner) if isinstance(inner, dict) else inner)
    if isinstance(body, bytes):
        return body[:200].decode("utf-8", "replace")
    return str(body)[:200]


class ServiceClient:
    """A service endpoint plus the token to call it with."""

    service = "service"

    def __init__(self, transport: Transport, endpoint: str, token: str, headers: dict[str, str] | None = None,
                 renew: Callable[[str], Awaitable[str]] | None = None):
        self.transport = transport
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.headers = headers or {}
        self.renew = renew  # the proxy's own tokens: a refused one (401) is renewed once and the call repeated
        # Told of every call that may have changed something (path, body), whatever its outcome: the live view
        # marks what our own writes changed (``ec2proxy.state.live_view.marking``).
        self.on_write: Callable[[str, Any], Awaitable[None]] | None = None

    async def _renewing(self, attempt: Callable[[], Awaitable[Any]]) -> Any:
        """A 401 means the service did nothing with the call, so it is safe to repeat with a new token."""
        try:
            return await attempt()
        except BackendError as exc:
            if exc.status != 401 or self.renew is None:
                raise
        self.token = await self.renew(self.token)
        return await attempt()

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.endpoint}/{path.lstrip('/')}"

    async def call(self, method: str, path: str, renewable: bool = True, **kwargs) -> Response:
        """``renewable=False``: a 401 is the answer itself (a bad signature at ec2tokens), not a stale token."""
        headers = {**self.headers, **(kwargs.pop("headers", None) or {})}

        def attempt() -> Awaitable[Response]:
            return self.transport.request(self.service, method, self.url(path), self.token, headers=headers, **kwargs)

        try:
            return await (self._renewing(attempt) if renewable else attempt())
        finally:
            if method != "GET" and self.on_write is not None:
                await self.on_write(path, kwargs.get("json_body"))

    async def stream_copy(self, source: str, target: str, timeout: float = 3600.0) -> None:
        """GET ``source`` and PUT its body to ``target`` chunk by chunk: large data never sits in memory."""
        await self._renewing(lambda: self._stream_copy(source, target, timeout))

    async def _stream_copy(self, source: str, target: str, timeout: float) -> None:
        headers = {**self.headers, "X-Auth-Token": self.token}
        limit = aiohttp.ClientTimeout(total=timeout, sock_read=self.transport.timeout)
        session = self.transport.session
        self.transport.calls += 2
        try:
            async with session.get(_checked(self.url(source)), headers=headers, timeout=limit) as down:
                if down.status >= 400:
                    raise from_status(self.service, down.status, (await down.text())[:300], "GET", _path(source))
                async with session.put(_checked(self.url(target)), data=down.content.iter_chunked(1 << 20),
                                       timeout=limit,
                                       headers={**headers, "Content-Type": "application/octet-stream"}) as up:
                    if up.status >= 400:
                        raise from_status(self.service, up.status, (await up.text())[:300], "PUT", _path(target))
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
            raise BackendUnavailable(self.service, 0, type(exc).__name__, "PUT", _path(target)) from None

    async def get(self, path: str, **kwargs) -> Any:
        return (await self.call("GET", path, **kwargs)).body

    async def post(self, path: str, body: Any = None, **kwargs) -> Any:
        return (await self.call("POST", path, json_body=body, **kwargs)).body

    async def put(self, path: str, body: Any = None, **kwargs) -> Any:
        return (await self.call("PUT", path, json_body=body, **kwargs)).body

    async def delete(self, path: str, **kwargs) -> None:
        await self.call("DELETE", path, **kwargs)

    async def pages(self, path: str, key: str, params: dict | None = None, limit: int | None = None
                    ) -> AsyncIterator[list[dict]]:
        """Non-empty pages of a marker-paged collection (Nova, Neutron, Cinder: ``<key>_links``).

        Real Nova's paging is unstable while servers move from build requests
        into a cell: a later page can repeat items. Each id is yielded once.
        """
        query = dict(params or {})
        if limit:
            query["limit"] = limit
        seen: set[str] = set()
        while True:
            body = await self.get(path, params=query)
            items = body.get(key, [])
            fresh = [item for item in items if item["id"] not in seen]
            seen.update(item["id"] for item in fresh)
            if fresh:
                yield fresh
            next_link = next((link["href"] for link in body.get(f"{key}_links", []) if link.get("rel") == "next"), None)
            if not fresh or next_link is None:
                return
            query["marker"] = items[-1]["id"]

    async def list_all(self, path: str, key: str, params: dict | None = None, limit: int | None = None) -> list[dict]:
        out: list[dict] = []
        async for page in self.pages(path, key, params, limit):
            out.extend(page)
        return out
