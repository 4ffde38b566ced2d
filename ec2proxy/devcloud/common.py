"""What every dev cloud service shares: tokens, errors, time, paging."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import functools
import json
import time
import uuid
from typing import Any, Callable, Iterable

from aiohttp import web

from ec2proxy.devcloud.store import Store

ZONES = ("nova", "az-2")  # the availability zones of Nova and Cinder alike
STATE: web.AppKey["DevCloud"] = web.AppKey("devcloud")


def _request_key(name: str, kind: Any) -> Any:
    """A typed key of a request's storage (aiohttp's RequestKey where it has one; before 3.12, the name)."""
    maker = getattr(web, "RequestKey", None)
    return maker(name, kind) if maker is not None else name


TOKEN = _request_key("token", object)  # the caller's token, as auth() read it
VERSION = _request_key("version", tuple)  # the Nova microversion the request asked for


@dataclasses.dataclass
class Token:
    id: str
    user_id: str
    project_id: str
    roles: tuple[str, ...]
    expires: float
    methods: tuple[str, ...] = ("password",)

    @property
    def admin(self) -> bool:
        return "admin" in self.roles


@dataclasses.dataclass
class DevCloud:
    """The state of one dev cloud: its store, live tokens, timings and injected faults."""

    store: Store
    region: str = "RegionOne"
    delay: float = 0.5  # seconds an asynchronous transition takes
    tokens: dict[str, Token] = dataclasses.field(default_factory=dict)
    faults: list[dict] = dataclasses.field(default_factory=list)
    faults_fired: int = 0  # calls an injected fault has hit, for tests that check their fault happened
    fail_builds: int = 0
    fail_resizes: int = 0
    fail_snapshots: int = 0
    token_ttl: float = 3600.0
    tasks: set = dataclasses.field(default_factory=set)  # background work (image imports), kept referenced
    # Every call as it arrived (method, raw path, the route it matched), for tests that check what reached
    # the cloud; bounded.
    requests: collections.deque = dataclasses.field(default_factory=lambda: collections.deque(maxlen=20000))

    def issue(self, user_id: str, project_id: str, roles: Iterable[str], methods=("password",)) -> Token:
        token = Token(uuid.uuid4().hex, user_id, project_id, tuple(roles), time.time() + self.token_ttl,
                      tuple(methods))
        self.tokens[token.id] = token
        return token

    def token(self, token_id: str | None) -> Token | None:
        token = self.tokens.get(token_id or "")
        if token is None or token.expires < time.time():
            return None
        return token


def new_id() -> str:
    return str(uuid.uuid4())


def now() -> float:
    return time.time()


@functools.lru_cache(maxsize=65536)
def iso(stamp: float | None, micro: bool = False) -> str | None:
    """OpenStack's timestamps: ``2026-11-23T09:30:34Z`` (or with microseconds, no zone).

    Memoized: listing thousands of servers made together formats the same stamps.
    """
    if stamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def reply(body: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(body=json.dumps(body), status=status, headers=headers, content_type="application/json")


def fail(status: int, message: str, style: str = "nova") -> web.Response:
    """An error body in the service's own style."""
    titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
              406: "Not Acceptable", 409: "Conflict", 413: "Request Entity Too Large", 500: "Internal Server Error"}
    title = titles.get(status, "Error")
    if style == "keystone":
        body = {"error": {"code": status, "message": message, "title": title}}
    elif style == "neutron":
        kinds = {400: "BadRequest", 404: "NotFound", 409: "Conflict", 403: "Forbidden"}
        body = {"NeutronError": {"type": kinds.get(status, "NeutronError"), "message": message, "detail": ""}}
    elif style == "glance":
        return web.Response(status=status, text=f"{status} {title}\n\n{message}\n", content_type="text/plain")
    else:  # nova and cinder
        key = {400: "badRequest", 403: "forbidden", 404: "itemNotFound", 409: "conflictingRequest",
               413: "overLimit", 406: "notAcceptable"}.get(status, "computeFault")
        body = {key: {"code": status, "message": message}}
    return reply(body, status)


class HTTPError(Exception):
    """Raised inside a dev cloud handler; the middleware answers it in the service's style."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def auth(request: web.Request) -> Token:
    token = request.get(TOKEN)
    if token is None:
        raise HTTPError(401, "The request you have made requires authentication.")
    return token


async def body_json(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        raise HTTPError(400, "Malformed request body") from None


def visible(token: Token, obj: dict, key: str = "project_id", all_projects: bool = False) -> bool:
    return (token.admin and all_projects) or obj.get(key) == token.project_id


def page(items: list[dict], request: web.Request, links_key: str, base_url: str,
         max_limit: int = 1000) -> tuple[list[dict], list[dict]]:
    """Marker/limit paging: the page and its ``*_links`` (a ``next`` link when more remain)."""
    marker = request.query.get("marker")
    start = 0
    if marker:
        for index, item in enumerate(items):
            if item["id"] == marker:
                start = index + 1
                break
        else:
            raise HTTPError(400, f"marker [{marker}] not found")
    try:
        limit = min(int(request.query.get("limit", max_limit)), max_limit)
    except ValueError:
        raise HTTPError(400, "limit must be an integer") from None
    if limit < 0:
        raise HTTPError(400, "limit must be >= 0")
    chunk = items[start:start + limit]
    links = []
    if start + limit < len(items) and chunk:
        query = {k: v for k, v in request.query.items() if k != "marker"}
        query.update({"limit": str(limit), "marker": chunk[-1]["id"]})
        from urllib.parse import urlencode
        links.append({"href": f"{base_url}?{urlencode(query)}", "rel": "next"})
    return chunk, links


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def paged_reply(request: web.Request, items: list[dict], key: str, render: Callable[[dict], dict]) -> web.Response:
    """One page of a marker-paged collection, with its ``<key>_links`` when more remain."""
    chunk, links = page(items, request, key, f"{base_url(request)}{request.path}")
    body: dict[str, Any] = {key: [render(item) for item in chunk]}
    if links:
        body[f"{key}_links"] = links
    return reply(body)


Matcher = Callable[[dict], bool]


def field_filters(request: web.Request, fields: Iterable[str]) -> list[Matcher]:
    """Equality filters on plain fields from the query string (any listed value matches); on a list field
    (a port's ``security_groups``, as Neutron's port-security-groups-filtering) a member matches."""
    matchers: list[Matcher] = []
    for field in fields:
        values = request.query.getall(field, [])
        if values:
            matchers.append(_field_matcher(field, set(values)))
    return matchers


def _field_matcher(field: str, wanted: set[str]) -> Matcher:
    return lambda obj: _matches(obj.get(field), wanted)


def _matches(value: Any, wanted: set[str]) -> bool:
    if isinstance(value, list):
        return any(_text(member) in wanted for member in value)
    if isinstance(value, bool):
        return _text(value).lower() in {w.lower() for w in wanted}
    return _text(value) in wanted


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)
