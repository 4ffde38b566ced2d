"""Instances from the live view (issue 29): Nova's servers, their ports, floating IPs and groups as the services'
notifications (or our last direct read) left them in ``view_objects``, so describing an instance asks nothing
of OpenStack.

The view answers only for what it can vouch for: the feed connected, every object the instance is made of seen
since it connected, none changed by our own writes since (``view_marks``), the server's ports all known. Else
the caller reads OpenStack directly, and what it read refreshes the view (``remember``).
"""

from __future__ import annotations

import datetime
from typing import Awaitable, NamedTuple, Sequence, TypeVar

from sqlalchemy import select

from ec2proxy import db
from ec2proxy.cloud import notifications
from ec2proxy.cloud.notifications import Change
from ec2proxy.context import RequestContext
from ec2proxy.db.models import ViewMark, ViewObject, ViewProject, utcnow
from ec2proxy.ec2 import ids, timestamps
from ec2proxy.readmodels.instance_shapes import InstanceRow, Port

INSTANCE_KINDS = ("server", "port", "floatingip", "security_group")
FINAL = "9999-12-31T23:59:59Z"  # a deleted server's order: after every change of it


T = TypeVar("T")


class Unanswered(Exception):
    """The view cannot answer this (the reason is a ``ec2proxy.state.live_view.READS`` outcome)."""


# A view row as read: columns, not ORM objects (a project's listing reads thousands)
ROWS = select(ViewObject.kind, ViewObject.os_id, ViewObject.link, ViewObject.deleted, ViewObject.applied_at,
              ViewObject.data, ViewObject.order_key)


async def rows_of(session, ctx: RequestContext, kind: str, column, values: list[str], mine: bool = True) -> list:
    """The view's rows of ``kind`` whose ``column`` is one of ``values``: the project's (``mine``), or any
    project's (an object every project sees)."""
    out: list = []
    for chunk in db.chunks(values):
        query = ROWS.where(ViewObject.kind == kind, column.in_(chunk))
        out += (await session.execute(query.where(ViewObject.project_id == ctx.project_id) if mine else query)).all()
    return out


async def marked(session, objects: list[tuple[str, str]]) -> bool:
    """Whether our own writes changed any of these (kind, id) since a direct read saw them."""
    for kind in {kind for kind, _ in objects}:
        for chunk in db.chunks([os_id for k, os_id in objects if k == kind]):
            if (await session.scalar(select(ViewMark.os_id).where(
                    ViewMark.kind == kind, ViewMark.os_id.in_(chunk)).limit(1))) is not None:
                return True
    return False


def current(live) -> None:
    """Unanswered unless the feed is connected and on time."""
    if not live.connected:
        raise Unanswered("down")
    if live.late:
        raise Unanswered("late")


async def swept(session, ctx: RequestContext) -> None:
    """Unanswered while a sweep lately found a change of the project that the feed had missed (its services'
    notifications are not all arriving): until a sweep finds its changes brought by the feed again, for at most
    the reconcile time."""
    live = ctx.services.live
    if live.sweep:
        missed = await session.scalar(select(ViewProject.missed_at).where(ViewProject.project_id == ctx.project_id))
        if missed is not None and timestamps.aware(missed) > utcnow() - datetime.timedelta(seconds=live.max_age):
            raise Unanswered("missed")


class Held(NamedTuple):
    kind: str
    os_id: str
    link: str | None
    data: dict
    order: str  # the order of the change that wrote ``data`` (its stamp: when it was sent, or read)


async def by_ec2_ids(session, ctx: RequestContext, kind: str, prefix: str,
                     ec2_ids: list[str]) -> tuple[list[str], list[Held]]:
    """The OpenStack ids of these EC2 ids' objects of ``kind`` (known to this process, or found among the
    project's in the view: an EC2 id is a digest of the OpenStack id), and the view's rows of them, each vouched
    for; Unanswered unless the view holds every one alive."""
    known = {ec2_id: ids.os_id_of(ec2_id) for ec2_id in dict.fromkeys(ec2_ids)}
    if any(os_id is None for os_id in known.values()):
        held = await session.scalars(select(ViewObject.os_id).where(
            ViewObject.kind == kind, ViewObject.project_id == ctx.project_id, ViewObject.deleted.is_(False)))
        found = {ids.from_uuid(prefix, os_id): os_id for os_id in held}
        known = {ec2_id: os_id or found.get(ec2_id) for ec2_id, os_id in known.items()}
    os_ids = [os_id for os_id in known.values() if os_id is not None]
    if len(os_ids) < len(known):
        raise Unanswered("unknown")  # not in the view (or none such: the direct read says which)
    rows = trusted(ctx, await rows_of(session, ctx, kind, ViewObject.os_id, os_ids))
    if len(rows) < len(set(os_ids)):
        raise Unanswered("unknown")  # deleted: the direct read says it is not there
    return os_ids, sorted(rows, key=lambda row: os_ids.index(row.os_id))


def trusted(ctx: RequestContext, rows: list) -> list[Held]:
    """The live objects of these rows, each written since the feed connected (a delete is final: ids are never
    used again)."""
    since = ctx.services.live.trusted()
    live = [row for row in rows if not row.deleted]
    if since is None or any(timestamps.aware(row.applied_at) < since for row in live):
        raise Unanswered("unknown")
    return [Held(row.kind, row.os_id, row.link, row.data, row.order_key) for row in live if row.data is not None]


async def servers(ctx: RequestContext, os_ids: list[str]) -> tuple[list[dict], dict[str, list[Port]], dict]:
    """The servers (as Nova's API shows them), their ports and group names -> ids, from the view; Unanswered
    when it cannot vouch for them."""
    live = ctx.services.live
    current(live)
    async with ctx.services.sessions() as session:
        await swept(session, ctx)
        found = trusted(ctx, await rows_of(session, ctx, "server", ViewObject.os_id, os_ids))  # (a deleted one
        # is read from Nova's listing, which tells how long ago)
        if len(found) < len(set(os_ids)):
            raise Unanswered("unknown")  # not in the view, or deleted (its instance is read from a listing)
        ports = trusted(ctx, await rows_of(session, ctx, "port", ViewObject.link, os_ids))
        fips = trusted(ctx, await rows_of(session, ctx, "floatingip", ViewObject.link, [p.os_id for p in ports]))
        held = sorted({g for p in ports for g in p.data.get("security_groups") or []})
        groups = trusted(ctx, await rows_of(session, ctx, "security_group", ViewObject.os_id, held))
        if len(groups) < len(held):
            raise Unanswered("unknown")
        if await marked(session, [(r.kind, r.os_id) for r in (*found, *ports, *fips, *groups)]):
            raise Unanswered("written")
    names = {g.os_id: g.data.get("name") or "" for g in groups}
    floating = {f.link: f.data for f in fips}
    by_server: dict[str, list[Port]] = {}
    for port in ports:
        by_server.setdefault(port.link or "", []).append(Port(port.data, floating.get(port.os_id)))
    shown = []
    for row in sorted(found, key=lambda r: os_ids.index(r.os_id)):
        server = dict(row.data)
        own = by_server.get(row.os_id, [])
        known = {p.neutron["id"] for p in own}
        if any(a.get("port_id") and a["port_id"] not in known
               for entries in server["addresses"].values() for a in entries):
            raise Unanswered("unknown")  # a port Nova names that the view lacks
        shown.append(_with_groups(server, own, names))
    return shown, by_server, {names[g]: ids.from_uuid("sg", g) for g in names}


async def answered(ctx: RequestContext, read: Awaitable[T]) -> T | None:
    """What the view answers (``read``), or None when it cannot vouch for it; counted either way. The project's
    sweep, when due, follows in the background."""
    live = ctx.services.live
    live.swept_when_due(ctx)
    try:
        found = await read
    except Unanswered as exc:
        live.reads[str(exc)] += 1
        return None
    live.reads["view"] += 1
    return found


async def remember_neutron(ctx: RequestContext, read: list[tuple[str, list[dict]]],
                           since: datetime.datetime) -> None:
    """What a direct read of Neutron (begun at ``since``) found, (kind, objects), into the view as it keeps them:
    never over a newer change, and lifting the marks of our writes made before it."""
    seen = notifications.stamp_of(since)
    changes = [read_neutron(kind, {k: item[k] for k in notifications.KEPT[kind] if k in item}, ctx.project_id, seen)
               for kind, items in read for item in items]
    await ctx.services.live.observed(ctx.services.sessions, ctx.project_id, changes, since)


def volumes_known(servers_shown: list[dict], rows: dict[str, InstanceRow]) -> bool:
    """Whether the view tells the volumes of these instances: Nova's payloads carry them only when Nova sends
    them (``bdms_in_notifications``); an instance with no volume of ours needs none."""
    return all(server.get("os-extended-volumes:volumes_attached") is not None
               or not (rows.get(server["id"]) and rows[server["id"]].block_device_mappings)
               for server in servers_shown)


async def remember(ctx: RequestContext, view, shown: list[dict], ports: dict[str, list[Port]],
                   since: datetime.datetime, groups: list[dict] | None = None, ended: Sequence[dict] = ()) -> None:
    """What a direct read (begun at ``since``) found, into the view: never over a newer change, and lifting the
    marks of our writes made before it. ``groups``: the project's every group, the read being of the whole
    project (the view then answers for the project); without, the ports' groups are asked of Neutron with their
    revisions (one call; the instance's answer named them from Nova's server and the ports alone). ``ended``:
    servers the read found deleted, final (nothing after overwrites them)."""
    seen = notifications.stamp_of(since)
    project = ctx.project_id
    changes = [read_server(s, project, seen) for s in shown] + [read_server(s, project, seen, True) for s in ended]
    held: set[str] = set()
    for port in (port for own in ports.values() for port in own):
        held.update(port.neutron.get("security_groups") or [])
        changes.append(read_neutron("port", port.neutron, project, seen))
        if port.floating is not None:
            changes.append(read_neutron("floatingip", port.floating, project, seen))
    if groups is None and held and view.neutron is not None:
        groups = await view.neutron.list("security_group", {"id": sorted(held),
                                                            "fields": list(notifications.GROUP_NAMES)})
        whole = False
    else:
        whole = groups is not None
    changes += [read_neutron("security_group", group, project, seen) for group in groups or []]
    if whole:
        changes.append(Change("project", project, project, False, seen, {}, "read"))
    await ctx.services.live.observed(ctx.services.sessions, project, changes, since, whole)


async def project(ctx: RequestContext, since: datetime.datetime) -> tuple[list[dict], dict[str, list[Port]], dict]:
    """The project's servers (those deleted since ``since`` too), their ports and group names -> ids, from the
    view; Unanswered unless a read of the whole project refreshed it since the feed (re)connected and none of
    its objects was changed by our writes since."""
    live = ctx.services.live
    current(live)
    async with ctx.services.sessions() as session:
        await swept(session, ctx)
        built = await session.scalar(select(ViewObject.applied_at).where(
            ViewObject.kind == "project", ViewObject.os_id == ctx.project_id))
        since_trusted = live.trusted()
        if built is None or since_trusted is None or timestamps.aware(built) < since_trusted:
            raise Unanswered("unknown")
        if await session.scalar(select(ViewMark.os_id).where(
                ViewMark.project_id == ctx.project_id, ViewMark.kind.in_(INSTANCE_KINDS)).limit(1)) is not None:
            raise Unanswered("written")
        rows = (await session.execute(ROWS.where(
            ViewObject.project_id == ctx.project_id, ViewObject.kind.in_(INSTANCE_KINDS)))).all()
    servers: list[dict] = []
    ports: dict[str, dict] = {}
    floating: dict[str, dict] = {}
    names: dict[str, str] = {}
    for row in rows:
        if row.data is None:
            continue
        if row.kind == "server" and (not row.deleted or timestamps.aware(row.applied_at) >= since):
            servers.append(row.data)
        elif row.deleted:
            continue
        elif row.kind == "port" and row.link:
            ports[row.os_id] = row.data
        elif row.kind == "floatingip" and row.link:
            floating[row.link] = row.data
        elif row.kind == "security_group":
            names[row.os_id] = row.data.get("name") or ""
    by_server: dict[str, list[Port]] = {}
    for os_id, port in ports.items():
        by_server.setdefault(port.get("device_id") or "", []).append(Port(port, floating.get(os_id)))
    shown = [_with_groups(server, by_server.get(server["id"], []), names) for server in servers]
    return shown, by_server, {name: ids.from_uuid("sg", g) for g, name in names.items()}


def _with_groups(server: dict, ports: list[Port], names: dict[str, str]) -> dict:
    """The server as Nova's API shows it: its groups are its ports' (by name, once each)."""
    held = dict.fromkeys(g for p in ports for g in p.neutron.get("security_groups") or [])
    if any(g not in names for g in held):
        raise Unanswered("unknown")
    return {**server, "security_groups": [{"name": names[g]} for g in held]}


def read_server(server: dict, project: str, seen: str, ended: bool = False, event: str = "read") -> Change:
    """A server as Nova's API showed it when read at ``seen``, as the view keeps it (its groups come from its
    ports); ``ended``: found deleted, final (nothing after overwrites it)."""
    if ended:
        return Change("server", server["id"], project, True, notifications.server_order(FINAL, seen), server, event)
    return Change("server", server["id"], project, False, notifications.server_order(server.get("updated") or "", seen),
                  {**server, "security_groups": None}, event)


def read_neutron(kind: str, data: dict, project: str, seen: str, event: str = "read") -> Change:
    """A Neutron object as its API showed it when read at ``seen``, as the view keeps it (a network, which every
    project may see, as its owner's)."""
    owner = (data.get("project_id") or project) if kind == "network" else project
    if kind == "security_group" and "security_group_rules" not in data:
        seen = "0"  # read without its rules: never over the same revision read with them
    return Change(kind, data["id"], owner, False, notifications.neutron_order(data.get("revision_number", 0), seen),
                  data, event)
