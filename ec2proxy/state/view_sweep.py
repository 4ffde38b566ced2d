"""The live view's sweep (issue 29's periodic reconciliation): now and then, what each served project's
services say changed (Nova's servers by changes-since; Neutron's ports, floating IPs and groups by their
``updated_at``), against what the feed brought of them.

Notifications can be lost with nobody told: a service's notification driver left off, its exchange deleted and made
again, a broker that dropped what it held. The feed then stays connected and on time, and only asking the service
shows it. A sweep is four calls per project, at once: the servers changed since the last sweep (deleted ones
included), and the project's Neutron objects with only the fields the view keeps (Neutron lists nothing by what
changed: the objects the view holds that it no longer lists were deleted). It is made when the project's Describe*
comes and the sweep is due, in the background, with the caller's own view of the cloud (the proxy's own user may
hold no role in the project: on a cloud that validates signatures with Keystone it has the ``service`` role only),
by whichever worker claims it first (one conditional UPDATE of the project's row). A project nobody asks about is
not swept: its view is not read either.

A change that the view lacks although it is older than the feed's bound was missed: it is written as a direct
read writes (never over a newer change), counted (``/metrics`` ``ec2proxy_live_view_sweeps{outcome="missed"}``),
said in the log, and the project's Describe* reads OpenStack directly (``ec2proxy_live_view_reads{outcome="missed"}``)
until a sweep finds a change of it that the feed did bring (the notifications arrive again), or for at most
``[notifications] reconcile`` seconds after the last change missed.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import NamedTuple

from sqlalchemy import or_, select, update

from ec2proxy import db
from ec2proxy.cloud import notifications
from ec2proxy.cloud.notifications import Change
from ec2proxy.db.models import ViewObject, ViewProject, utcnow
from ec2proxy.ec2 import timestamps
from ec2proxy.readmodels.instances import nova_time, slim
from ec2proxy.readmodels.live_instances import read_neutron, read_server
from ec2proxy.state import live_view

log = logging.getLogger(__name__)

OUTCOMES = ("projects", "missed", "failed")
STATE = ("status", "OS-EXT-STS:vm_state", "OS-EXT-STS:task_state")
NEUTRON = ("port", "floatingip", "security_group")  # the Neutron objects Describe* reads from the view


async def _claimed(sessions, project: str, interval: float,
                   now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime] | None:
    """The project claimed for a sweep by this worker, unless it is not due (swept less than ``interval`` seconds
    ago, by any worker) or not served: (when it was last swept, since when it is served)."""
    due = now - datetime.timedelta(seconds=interval)
    not_recent = or_(ViewProject.swept_at.is_(None), ViewProject.swept_at < due)

    async def claim(session) -> tuple[datetime.datetime, datetime.datetime] | None:
        row = (await session.execute(select(ViewProject.swept_at, ViewProject.served_since).where(
            ViewProject.project_id == project, not_recent))).first()
        if row is None:
            return None
        done = await session.execute(update(ViewProject).where(
            ViewProject.project_id == project, ViewProject.swept_at == row.swept_at if row.swept_at is not None
            else ViewProject.swept_at.is_(None)).values(swept_at=now))
        if not done.rowcount:
            return None  # another worker claimed it between the two statements
        served = timestamps.aware(row.served_since)
        return (timestamps.aware(row.swept_at) if row.swept_at is not None else served), served

    return await db.transaction(sessions, claim)


async def _held(sessions, objects: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, bool, dict]]:
    """The view's rows of these (kind, id): (order, deleted, data)."""
    held: dict[tuple[str, str], tuple[str, bool, dict]] = {}
    async with sessions() as session:
        for kind, chunk in live_view.by_kind(objects):
            held.update({(kind, os_id): (order, deleted, data or {}) for os_id, order, deleted, data in (
                await session.execute(select(ViewObject.os_id, ViewObject.order_key, ViewObject.deleted,
                                             ViewObject.data).where(ViewObject.kind == kind,
                                                                    ViewObject.os_id.in_(chunk)))).all()})
    return held


class Listed(NamedTuple):
    """An object a service's listing showed changed since the last sweep, and when (to the second); or one the
    view holds that Neutron's listing no longer shows (``gone``: deleted)."""

    kind: str
    data: dict
    updated: str
    gone: bool = False


async def _changed(view, since: datetime.datetime) -> tuple[list[Listed], dict[str, set[str]]]:
    """What changed since ``since``: Nova's servers (changes-since, deleted ones too), and Neutron's ports,
    floating IPs and groups of the project, one call each, at once; and the ids Neutron listed of each kind.
    Neutron has no listing of what changed (its ``changed_since`` is refused by the filter validation real
    clouds run, and ``updated_at`` is no sort key): the project's objects are listed with the few fields the
    view keeps, and their ``updated_at`` tells what changed."""
    async def servers() -> tuple[list[Listed], dict[str, set[str]]]:
        found: list[Listed] = []
        async for page in view.nova.server_pages({"changes-since": nova_time(since)}):
            found += [Listed("server", server, notifications.to_second(server.get("updated") or ""))
                      for server in map(slim, page)]
        return found, {}

    floor = notifications.to_second(notifications.stamp_of(since))

    async def neutron(kind: str) -> tuple[list[Listed], dict[str, set[str]]]:
        items = [item for item in await view.neutron.list(kind, {"fields": [*notifications.SWEPT[kind], "updated_at"]})
                 if item.get("project_id") == view.project_id and judged(kind, item)]  # (not a group shared
        # with it)
        changed = [Listed(kind, {k: v for k, v in item.items() if k != "updated_at"},
                          notifications.to_second(item.get("updated_at") or "")) for item in items]
        return [item for item in changed if item.updated >= floor], {kind: {item["id"] for item in items}}

    calls = [servers()] + ([neutron(kind) for kind in NEUTRON] if view.neutron is not None else [])
    listed: list[Listed] = []
    present: dict[str, set[str]] = {}
    for found, ids in await asyncio.gather(*calls):
        listed += found
        present.update(ids)
    return listed, present


async def _vanished(sessions, project: str, present: dict[str, set[str]],
                    before: datetime.datetime) -> list[Listed]:
    """The Neutron objects the view holds alive (written before the listings began) that they do not show."""
    if not present:
        return []
    async with sessions() as session:
        rows = (await session.execute(select(ViewObject.kind, ViewObject.os_id, ViewObject.data).where(
            ViewObject.project_id == project, ViewObject.kind.in_(sorted(present)), ViewObject.deleted.is_(False),
            ViewObject.applied_at < before))).all()
    return [Listed(kind, {"id": os_id}, "", True) for kind, os_id, data in rows
            if os_id not in present[kind] and judged(kind, data or {})]


def judged(kind: str, data: dict) -> bool:
    """Whether the sweep judges the view by this object: not a port Neutron makes and deletes itself (a router's
    interface, a DHCP port: ``network:*``), which it sends no port notification of, and no Describe* reads."""
    return not (kind == "port" and (data.get("device_owner") or "").startswith("network:"))


def _lacking(listed: Listed, held: dict[tuple[str, str], tuple[str, bool, dict]], floor: str) -> bool | None:
    """Whether the view lacks this change (False: it holds it or a later one; None: it cannot be judged by it)."""
    obj = listed.data
    row = held.get((listed.kind, obj["id"]))
    if listed.gone:
        return row is not None and not row[1]  # (the feed brought the deletion: the row says deleted)
    if listed.kind != "server":
        return _neutron_lacking(listed, row, floor)
    if row is None:
        # a server the view never had: its change was missed, unless it is from before the project was served
        # (its notifications were dropped then), or a deletion (nothing to show). The services' times are to the
        # second: a change in the second the project was first served is judged (the view answers for it; at
        # worst a change made just before is taken for missed, and the project is read directly a while)
        return True if listed.updated >= floor and obj.get("status") != "DELETED" else None
    order, deleted, data = row
    if obj.get("status") == "DELETED":
        return not deleted
    updated = order.split("|")[0]
    # (Nova's times are to the second: two changes in one second have one time, the state tells them)
    return updated < listed.updated or (updated == listed.updated and any(data.get(k) != obj.get(k) for k in STATE))


def _neutron_lacking(listed: Listed, row: tuple[str, bool, dict] | None, floor: str) -> bool | None:
    obj = listed.data
    if row is None:
        # (Neutron makes a project's default group when the project first asks, and says nothing of it)
        return True if listed.updated >= floor and listed.kind != "security_group" else None
    order, deleted, data = row
    if deleted:
        return None  # deleted since it was listed
    if int(order.split("|")[0]) >= obj.get("revision_number", 0):
        return False
    # a later revision than the view's: Neutron writes some without a notification (an agent's port status, a
    # group's rules), so only a change of what Describe* shows was missed
    return True if any(k in data and data[k] != v for k, v in obj.items() if k != "revision_number") else None


async def sweep(services, feed: live_view.Feed, view, since: datetime.datetime, served: datetime.datetime) -> int:
    """The project's objects changed since ``since`` against the view: what it missed is repaired; how many."""
    project = view.project_id
    started = utcnow()
    # a change the previous sweep saw as too recent to judge is asked again
    listed, present = await _changed(view, since - datetime.timedelta(seconds=feed.bound + 2))
    # judged: the changes older than the bound, and, while notifications wait to be applied, older than the
    # newest the feed applied (a backlog is the feed late, not a loss)
    horizon = started - datetime.timedelta(seconds=feed.bound + 1)
    if feed.waiting and feed.newest is not None:
        horizon = min(horizon, feed.newest - datetime.timedelta(seconds=1))
    judged = notifications.to_second(notifications.stamp_of(horizon))
    listed = [item for item in listed if item.updated < judged]
    listed += await _vanished(services.sessions, project, present, started)
    if not listed:
        return 0
    floor = notifications.to_second(notifications.stamp_of(served))
    held = await _held(services.sessions, [(item.kind, item.data["id"]) for item in listed])
    verdicts = [(item, _lacking(item, held, floor)) for item in listed]
    lacking = [item for item, verdict in verdicts if verdict]
    if lacking:  # a second look, the bound later: a notification on its way to another worker is not a loss
        await asyncio.sleep(feed.bound)
        again = await _held(services.sessions, [(item.kind, item.data["id"]) for item in lacking])
        lacking = [item for item in lacking if _lacking(item, again, floor)]
    if not lacking:
        if any(verdict is False for _, verdict in verdicts):  # the feed brings the project's changes: its view
            # is read again

            async def clear(session) -> None:
                await session.execute(update(ViewProject).where(
                    ViewProject.project_id == project, ViewProject.missed_at.is_not(None)).values(missed_at=None))

            await db.transaction(services.sessions, clear)
        return 0
    stamp = notifications.stamp_of(started)
    missed = [_repaired(item, project, stamp) for item in lacking]
    await live_view.observed(services.sessions, project, missed, started)

    async def flag(session) -> None:
        await session.execute(update(ViewProject).where(ViewProject.project_id == project).values(
            missed_at=utcnow()))

    await db.transaction(services.sessions, flag)
    log.warning("the live view had missed %d change(s) of project %s that the services' listings of what changed "
                "show (are all their notifications arriving?), repaired: %s; the project's Describe* reads "
                "OpenStack directly until a sweep finds its changes brought by the feed", len(missed), project,
                ", ".join(_said(item, held) for item in lacking))
    return len(missed)


def _repaired(item: Listed, project: str, stamp: str) -> Change:
    """A change missed, as the view keeps it (never over a later one)."""
    if item.gone:
        return Change(item.kind, item.data["id"], project, True, notifications.neutron_order(notifications.GONE, stamp),
                      None, "sweep")
    if item.kind == "server":
        return read_server(item.data, project, stamp, item.data.get("status") == "DELETED", "sweep")
    return read_neutron(item.kind, item.data, project, stamp, "sweep")


def _said(item: Listed, held: dict[tuple[str, str], tuple[str, bool, dict]]) -> str:
    """A change missed as the log names it: the object, what the service shows, what the view had."""
    order, _, data = held.get((item.kind, item.data["id"]), ("nothing", False, {}))
    if item.gone:
        return f"{item.kind} {item.data['id']} (deleted; the view had it alive at {order})"
    if item.kind == "server":
        return (f"server {item.data['id']} ({item.data.get('status')} updated {item.data.get('updated')}; the view "
                f"had {data.get('status')} of {order})")
    return (f"{item.kind} {item.data['id']} (revision {item.data.get('revision_number')} updated {item.updated}; "
            f"the view had {order})")


def kick(ctx) -> None:
    """On a Describe* the view may answer: the project's sweep, in the background, when this worker has not
    seen it due for ``[notifications] sweep`` seconds (the database decides which worker makes it)."""
    feed = ctx.services.live
    if not feed.sweep or not feed.connected:
        return
    now = asyncio.get_running_loop().time()
    if feed.next_sweep.get(ctx.project_id, 0.0) > now:
        return
    feed.next_sweep[ctx.project_id] = now + feed.sweep
    task = asyncio.create_task(_swept(ctx, feed))
    ctx.services.background.add(task)
    task.add_done_callback(ctx.services.background.discard)


async def _swept(ctx, feed: live_view.Feed) -> None:
    try:
        claimed = await _claimed(ctx.services.sessions, ctx.project_id, feed.sweep, utcnow())
        if claimed is None:
            return
        missed = await sweep(ctx.services, feed, await ctx.cloud(), *claimed)
        feed.swept["missed"] += missed  # (added after the await: sweeps of other projects count meanwhile)
        feed.swept["projects"] += 1
    except Exception as exc:  # noqa: BLE001 - the cloud or the database away: swept again when due
        feed.swept["failed"] += 1
        log.warning("the live view's sweep of project %s failed (%s: %s)", ctx.project_id, type(exc).__name__,
                    exc)
