"""The live view's sweep (issue 29's periodic reconciliation): now and then, each served project's servers that
Nova's changes-since listing says changed, against what the feed brought of them.

Notifications can be lost with nobody told: a service's notification driver left off, its exchange deleted and
made again, a broker that dropped what it held. The feed then stays connected and on time, and only asking the
service shows it. A sweep is one call per project (the servers changed since the last sweep, deleted ones
included), never a listing of the whole project. It is made when the project's Describe* comes and the sweep is
due, in the background, with the caller's own view of the cloud (the proxy's own user may hold no role in the
project: on a cloud that validates signatures with Keystone it has the ``service`` role only), by whichever
worker claims it first (one conditional UPDATE of the project's row). A project nobody asks about is not
swept: its view is not read either.

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

from sqlalchemy import or_, select, update

from ec2proxy import db
from ec2proxy.cloud import notifications
from ec2proxy.db.models import ViewObject, ViewProject, utcnow
from ec2proxy.ec2 import timestamps
from ec2proxy.readmodels.instances import nova_time, slim
from ec2proxy.readmodels.live_instances import read_server
from ec2proxy.state import live_view

log = logging.getLogger(__name__)

OUTCOMES = ("projects", "missed", "failed")
STATE = ("status", "OS-EXT-STS:vm_state", "OS-EXT-STS:task_state")


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


async def _held(sessions, os_ids: list[str]) -> dict[str, tuple[str, bool, dict]]:
    """The view's servers of these ids: (Nova's updated time its order holds, deleted, data)."""
    held: dict[str, tuple[str, bool, dict]] = {}
    async with sessions() as session:
        for chunk in db.chunks(os_ids):
            held.update({os_id: (order.split("|")[0], deleted, data or {}) for os_id, order, deleted, data in (
                await session.execute(select(ViewObject.os_id, ViewObject.order_key, ViewObject.deleted,
                                             ViewObject.data).where(ViewObject.kind == "server",
                                                                    ViewObject.os_id.in_(chunk)))).all()})
    return held


def _lacking(server: dict, held: dict[str, tuple[str, bool, dict]], floor: str) -> bool | None:
    """Whether the view lacks this change of the server (None: the view cannot be judged by it)."""
    updated, os_id = notifications.to_second(server.get("updated") or ""), server["id"]
    if os_id not in held:
        # a server the view never had: its change was missed, unless it may be from before the project was
        # served (its notifications were dropped then), or a deletion (nothing to show)
        return True if updated > floor and server.get("status") != "DELETED" else None
    order, deleted, data = held[os_id]
    if server.get("status") == "DELETED":
        return not deleted
    # (Nova's times are to the second: two changes in one second have one time, the state tells them)
    return order < updated or (order == updated and any(data.get(k) != server.get(k) for k in STATE))


async def sweep(services, feed: live_view.Feed, view, since: datetime.datetime, served: datetime.datetime) -> int:
    """The project's servers changed since ``since`` against the view: what it missed is repaired; how many."""
    project = view.project_id
    # a change the previous sweep saw as too recent to judge is asked again
    query = {"changes-since": nova_time(since - datetime.timedelta(seconds=feed.bound + 2))}
    started = utcnow()
    servers: list[dict] = []
    async for page in view.nova.server_pages(query):
        servers += map(slim, page)
    # judged: the changes older than the bound, and, while notifications wait to be applied, older than the
    # newest the feed applied (a backlog is the feed late, not a loss)
    horizon = started - datetime.timedelta(seconds=feed.bound + 1)
    if feed.waiting and feed.newest is not None:
        horizon = min(horizon, feed.newest - datetime.timedelta(seconds=1))
    judged = notifications.to_second(notifications.stamp_of(horizon))
    servers = [s for s in servers if notifications.to_second(s.get("updated") or "") < judged]
    if not servers:
        return 0
    floor = notifications.to_second(notifications.stamp_of(served))
    held = await _held(services.sessions, [s["id"] for s in servers])
    verdicts = [(server, _lacking(server, held, floor)) for server in servers]
    lacking = [server for server, verdict in verdicts if verdict]
    if lacking:  # a second look, the bound later: a notification on its way to another worker is not a loss
        await asyncio.sleep(feed.bound)
        again = await _held(services.sessions, [s["id"] for s in lacking])
        lacking = [server for server in lacking if _lacking(server, again, floor)]
    if not lacking:
        if any(verdict is False for _, verdict in verdicts):  # the feed brings the project's changes: its view
            # is read again

            async def clear(session) -> None:
                await session.execute(update(ViewProject).where(
                    ViewProject.project_id == project, ViewProject.missed_at.is_not(None)).values(missed_at=None))

            await db.transaction(services.sessions, clear)
        return 0
    stamp = notifications.stamp_of(started)
    missed = [read_server(s, project, stamp, s.get("status") == "DELETED", "sweep") for s in lacking]
    await live_view.observed(services.sessions, project, missed, started)

    async def flag(session) -> None:
        await session.execute(update(ViewProject).where(ViewProject.project_id == project).values(
            missed_at=utcnow()))

    await db.transaction(services.sessions, flag)
    said = []
    for server in lacking:
        order, _, data = held.get(server["id"], ("nothing", False, {}))
        said.append(f"{server['id']} ({server.get('status')} updated {server.get('updated')}; the view had "
                    f"{data.get('status')} of {order})")
    log.warning("the live view had missed %d change(s) of project %s that Nova's changes-since shows (are all its "
                "notifications arriving?), repaired: %s; the project's Describe* reads OpenStack directly until a "
                "sweep finds its changes brought by the feed", len(missed), project, ", ".join(said))
    return len(missed)


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
