"""The live view's sweep (issue 29's periodic reconciliation): now and then, each served project's servers that
Nova's changes-since listing says changed, against what the feed brought of them.

Notifications can be lost with nobody told: a service's notification driver left off, its exchange deleted and
made again, a broker that dropped what it held. The feed then stays connected and on time, and only asking the
service shows it. A sweep is one call per project (the servers changed since the last sweep, deleted ones
included), made by whichever worker claims the project first (one conditional UPDATE of its row), never a
listing of the whole project.

A change that the view lacks although it is older than the feed's bound was missed: it is written as a direct
read writes (never over a newer change), counted (``/metrics`` ``ec2proxy_live_view_sweeps{outcome="missed"}``),
said in the log, and the project's Describe* reads OpenStack directly (``ec2proxy_live_view_reads{outcome="missed"}``)
until a sweep finds a change of it that the feed did bring (the notifications arrive again), or for at most
``[notifications] reconcile`` seconds after the last change missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging

from sqlalchemy import or_, select, update

from ec2proxy import db
from ec2proxy.cloud import notifications
from ec2proxy.cloud.notifications import Change
from ec2proxy.db.models import ViewObject, ViewProject, utcnow
from ec2proxy.ec2 import timestamps
from ec2proxy.readmodels.instances import nova_time, slim
from ec2proxy.readmodels.live_instances import FINAL
from ec2proxy.state import live_view

log = logging.getLogger(__name__)

LOOK = 1.0  # seconds between looks for projects due (at most the sweep interval)
CLAIMED = 100  # projects one worker claims at a time
OUTCOMES = ("projects", "missed", "failed")
STATE = ("status", "OS-EXT-STS:vm_state", "OS-EXT-STS:task_state")


async def _claimed(sessions, interval: float, now: datetime.datetime) -> list[tuple[str, datetime.datetime,
                                                                                   datetime.datetime]]:
    """The served projects due (not swept for ``interval`` seconds), each claimed by this worker unless another
    claimed it first: (project, when it was last swept, since when it is served)."""
    due = now - datetime.timedelta(seconds=interval)
    not_recent = or_(ViewProject.swept_at.is_(None), ViewProject.swept_at < due)
    async with sessions() as session:
        rows = (await session.execute(select(ViewProject.project_id, ViewProject.swept_at, ViewProject.served_since)
                                      .where(not_recent).limit(CLAIMED))).all()
    out = []
    for project, swept, served in rows:
        async def claim(session, project: str = project) -> int:
            done = await session.execute(update(ViewProject).where(ViewProject.project_id == project, not_recent)
                                         .values(swept_at=now))
            return done.rowcount
        if await db.transaction(sessions, claim):
            served = timestamps.aware(served)
            out.append((project, timestamps.aware(swept) if swept is not None else served, served))
    return out


def _second(updated: str) -> str:
    """Nova's updated time as the view's orders hold it (to the second)."""
    return updated.replace("T", " ").rstrip("Z")[:19]


async def sweep(services, feed: live_view.Feed, project: str, since: datetime.datetime,
                served: datetime.datetime) -> int:
    """The project's servers changed since ``since`` against the view: what it missed is repaired; how many."""
    view = await services.cloud.view(project)
    # a change the previous sweep saw as too recent to judge is asked again
    asked = since - datetime.timedelta(seconds=feed.bound + 2)
    started = utcnow()
    servers: list[dict] = []
    async for page in view.nova.server_pages({"changes-since": nova_time(asked)}):
        servers += map(slim, page)
    if not servers:
        return 0
    held: dict[str, tuple[str, bool, dict]] = {}
    async with services.sessions() as session:
        for chunk in db.chunks([s["id"] for s in servers]):
            held.update({os_id: (order.split("|")[0], deleted, data or {}) for os_id, order, deleted, data in (
                await session.execute(select(ViewObject.os_id, ViewObject.order_key, ViewObject.deleted,
                                             ViewObject.data).where(ViewObject.kind == "server",
                                                                    ViewObject.os_id.in_(chunk)))).all()})
    judged = _second(notifications.stamp_of(started - datetime.timedelta(seconds=feed.bound + 1)))
    floor = _second(notifications.stamp_of(served))
    stamp = notifications.stamp_of(started)
    missed: list[Change] = []
    brought = 0
    for server in servers:
        updated, os_id = _second(server.get("updated") or ""), server["id"]
        if updated >= judged:
            continue  # too recent to judge: the next sweep asks again
        live = {**server, "security_groups": None}
        if os_id not in held:
            # a change of a server the view never had: missed, unless it may be from before the project was
            # served (its notifications were dropped then), or a deletion (nothing to show)
            if updated > floor and server.get("status") != "DELETED":
                missed.append(Change("server", os_id, project, False, notifications.server_order(updated, stamp),
                                     live, "sweep"))
            continue
        order, deleted, data = held[os_id]
        if server.get("status") == "DELETED":
            if deleted:
                brought += 1
            else:
                missed.append(Change("server", os_id, project, True, notifications.server_order(FINAL, stamp),
                                     server, "sweep"))
        elif order < updated or (order == updated and any(data.get(k) != server.get(k) for k in STATE)):
            # (Nova's times are to the second: two changes in one second have one time, the state tells them)
            missed.append(Change("server", os_id, project, False, notifications.server_order(updated, stamp),
                                 live, "sweep"))
        else:
            brought += 1
    if brought and not missed:  # the feed brings the project's changes: its view is read again

        async def clear(session) -> None:
            await session.execute(update(ViewProject).where(
                ViewProject.project_id == project, ViewProject.missed_at.is_not(None)).values(missed_at=None))

        await db.transaction(services.sessions, clear)
    if missed:
        await live_view.observed(services.sessions, project, missed, started)

        async def flag(session) -> None:
            await session.execute(update(ViewProject).where(ViewProject.project_id == project).values(
                missed_at=utcnow()))

        await db.transaction(services.sessions, flag)
        log.warning("the live view had missed %d change(s) of project %s that Nova's changes-since shows (are "
                    "all its notifications arriving?): repaired; the project's Describe* reads OpenStack "
                    "directly until a sweep finds its changes brought by the feed", len(missed), project)
    return len(missed)


async def sweeping(services, feed: live_view.Feed, stop: asyncio.Event) -> None:
    """Every ``[notifications] sweep`` seconds each served project swept by one worker, while the feed is
    connected (when it is not, Describe* reads OpenStack anyway)."""
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), min(LOOK, feed.sweep))
        if stop.is_set() or not feed.connected or services.cloud is None:
            continue
        try:
            due = await _claimed(services.sessions, feed.sweep, utcnow())
        except Exception as exc:  # noqa: BLE001 - the database away: the next look tries again
            log.warning("the live view's sweep could not read its projects (%s)", type(exc).__name__)
            continue
        for project, since, served in due:
            try:
                feed.swept["missed"] += await sweep(services, feed, project, since, served)
                feed.swept["projects"] += 1
            except Exception as exc:  # noqa: BLE001 - the cloud or the database away: swept again when due
                feed.swept["failed"] += 1
                log.warning("the live view's sweep of project %s failed (%s: %s)", project, type(exc).__name__,
                            exc)
