"""The live view's rows (``view_objects``): each OpenStack object as its services' notifications last showed it.

A change is applied at most once and never backwards: it is written only when its order sorts after the one
held (``ec2proxy.cloud.notifications``), by one conditional UPDATE (``WHERE order_key < new``) that the database
decides alone, so two workers (or two messages of one worker) applying changes of one object at once end with
the later one whatever their order; reading first and writing after would let the older one win on SQLite,
which takes no row lock.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import logging
from typing import Any, Callable, Iterator, Sequence, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ec2proxy import db
from ec2proxy.cloud import writes
from ec2proxy.cloud.notifications import Change, link_of
from ec2proxy.db.models import ViewMark, ViewObject, ViewProject, utcnow

log = logging.getLogger(__name__)

ATTEMPTS = 3


# How Describe* answered: from the view; or directly, the feed being down or late, an object unknown to the view (or not
# trusted: not seen since the feed connected), one our own write changed and no direct read saw since, or the
# project's changes lately found missed by a sweep
READS = ("view", "down", "late", "unknown", "written", "missed")


class Served:
    """The projects whose changes the view keeps: those the proxy has served a request of
    (``view_projects``). What the services say of the others is foreign: counted and dropped, so the view holds
    the part of the cloud EC2 users use. A project is served from before its first call to OpenStack, so a
    change the feed drops as foreign happened before the direct read that builds the project's view."""

    def __init__(self) -> None:
        self.known: set[str] = set()  # once served, always: only the unknown are asked of the database

    async def add(self, sessions, project_id: str) -> None:
        if project_id in self.known:
            return

        async def put(session) -> None:
            if await session.get(ViewProject, project_id) is None:
                session.add(ViewProject(project_id=project_id, served_since=utcnow()))
                await session.flush()

        await _retried(sessions, put)  # another worker served it first: the second attempt finds its row
        self.known.add(project_id)

    async def of(self, sessions, projects: set[str]) -> set[str]:
        """Which of these projects are served (any worker may have served one since this one last asked)."""
        unknown = sorted(projects - self.known)
        if unknown:
            async with sessions() as session:
                for chunk in db.chunks(unknown):
                    self.known.update(await session.scalars(select(ViewProject.project_id).where(
                        ViewProject.project_id.in_(chunk))))
        return projects & self.known


@dataclasses.dataclass
class Feed:
    """This worker's feed as the read models see it: the view is read only while the feed is connected (every
    change since is on its way), else Describe* reads OpenStack directly; ``reads`` counts which it did and why
    (``/metrics`` ``ec2proxy_live_view_reads``)."""

    configured: bool = False
    connected: bool = False
    # When the feed last (re)connected: what was lost before (the broker away, its exchanges gone with it) is
    # not trusted, so a row is read only when a change or a direct read wrote it since.
    trusted_since: datetime.datetime | None = None
    # A row not confirmed (by a change or a direct read) for this long is read again: what a lost notification
    # left wrong lasts at most this long ([notifications] reconcile)
    max_age: float = 300.0
    # Seconds from a notification's sending to its applying, of the newest applied; over ``bound`` while more
    # wait to be applied (the feed behind a flood) the view is not read. Once nothing waits, the feed is as
    # current as the services made it (a lag that stays is their clocks', not ours to wait for).
    lag: float = 0.0
    bound: float = 2.0
    waiting: bool = False
    sweep: float = 0.0  # seconds between sweeps of a project ([notifications] sweep; 0: none)
    newest: datetime.datetime | None = None  # when the newest notification this worker applied was sent

    @property
    def late(self) -> bool:
        return self.waiting and self.lag > self.bound

    def applied(self, sent: datetime.datetime, waiting: bool) -> None:
        was = self.late
        self.lag, self.waiting = max(0.0, (utcnow() - sent).total_seconds()), waiting
        self.newest = max(self.newest, sent) if self.newest is not None else sent
        if self.late != was:
            log.warning("the notification feed is %.1f s behind the services: Describe* reads OpenStack directly "
                        "until it has caught up", self.lag) if self.late else \
                log.info("the notification feed has caught up: Describe* reads the live view again")
    reads: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    served: Served = dataclasses.field(default_factory=Served)
    swept: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # ec2proxy.state.view_sweep
    next_sweep: dict[str, float] = dataclasses.field(default_factory=dict)  # project -> loop time it is due
    sweeper: Callable[[Any], None] | None = None

    def trusted(self) -> datetime.datetime | None:
        """Rows written before this are not read (None: none are)."""
        if self.trusted_since is None:
            return None
        return max(self.trusted_since, utcnow() - datetime.timedelta(seconds=self.max_age))

    def up(self, *_) -> None:
        self.connected, self.trusted_since = True, utcnow()
        log.info("the notification feed is connected: Describe* reads the live view again as it fills")

    def down(self, *_) -> None:
        if self.connected:
            log.warning("the notification feed lost its broker: Describe* reads OpenStack directly until it is back")
        self.connected = False

    def swept_when_due(self, ctx) -> None:
        """On a Describe* the view may answer: the project's sweep when it is due (``ec2proxy.state.view_sweep``,
        set as ``sweeper`` where the feed runs)."""
        if self.sweeper is not None:
            self.sweeper(ctx)

    async def watch(self, view, sessions) -> None:
        """A request's view of the cloud, before its first call: its project served, its writes marked."""
        await self.served.add(sessions, view.project_id)
        marking(view, sessions)

    async def observed(self, sessions, project_id: str, changes: list[Change], since: datetime.datetime,
                       whole: bool = False) -> None:
        await observed(sessions, project_id, changes, since, whole)


async def _apply(session, change: Change) -> bool:
    values: dict = dict(order_key=change.order, deleted=change.deleted, applied_at=utcnow())
    if change.data is not None:  # a bare delete keeps what was last known of the object, and its project (the
        # one it names is the deleting caller's, an admin's maybe)
        values.update(project_id=change.project_id, data=change.data, link=link_of(change.kind, change.data))
    for _ in range(ATTEMPTS):
        done = await session.execute(update(ViewObject).where(
            ViewObject.kind == change.kind, ViewObject.os_id == change.os_id,
            ViewObject.order_key < change.order).values(**values))
        if done.rowcount:
            return True
        held = await session.scalar(select(ViewObject.order_key).where(  # a locking read: the latest row
            ViewObject.kind == change.kind, ViewObject.os_id == change.os_id).with_for_update())
        if held is None:
            break
        if held >= change.order:
            return False  # the same change again, or one older than what is held
        # an older row committed between the two statements (each sees what is committed when it runs): again
    else:
        raise RuntimeError(f"the view's {change.kind} {change.os_id} kept changing under a notification")
    # another writer's first row of the object at once: IntegrityError, asked again
    await session.execute(insert(ViewObject).values(kind=change.kind, os_id=change.os_id, **{
        "project_id": change.project_id, "data": change.data, "link": link_of(change.kind, change.data), **values}))
    return True


def by_kind(objects: list[tuple[str, str]]) -> Iterator[tuple[str, Sequence[str]]]:
    """(kind, ids) of these (kind, id) pairs, a database's IN list at a time."""
    for kind in dict.fromkeys(kind for kind, _ in objects):
        yield from ((kind, chunk) for chunk in db.chunks(list(dict.fromkeys(i for k, i in objects if k == kind))))


async def _retried(sessions, work):
    """``work`` in one transaction, asked again when another writer inserted one of its rows at once (the
    unique key said so): the second time it sees that row."""
    for attempt in range(ATTEMPTS):
        try:
            return await db.transaction(sessions, work)
        except IntegrityError:
            if attempt + 1 == ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def apply(sessions, change: Change) -> bool:
    """Whether the change was newer than what the view held (and is now held)."""
    return (await apply_all(sessions, [change]))[0]


VIEW = cast(Table, ViewObject.__table__)
# The compare-and-set of a change to a row the view holds, compiled once (a flood is thousands of them)
NEWER = update(VIEW).where(VIEW.c.kind == bindparam("k"), VIEW.c.os_id == bindparam("i"),
                           VIEW.c.order_key < bindparam("o"))
NEWER_WITH_DATA = NEWER.values(project_id=bindparam("p"), order_key=bindparam("o"), deleted=bindparam("d"),
                               applied_at=bindparam("t"), data=bindparam("data_"), link=bindparam("link_"))
NEWER_BARE = NEWER.values(order_key=bindparam("o"), deleted=bindparam("d"), applied_at=bindparam("t"))


async def _apply_many(session, changes: list[Change]) -> list[bool]:
    """``_apply`` of each change, in fewer statements: the rows held of them read at once; a change older than
    its row is stale with no statement; a row held older is updated by the compare-and-set (``_apply`` when
    another writer changed it meanwhile); the first rows of new objects inserted together."""
    connection = await session.connection()
    held: dict[tuple[str, str], str] = {}
    for kind, chunk in by_kind([(change.kind, change.os_id) for change in changes]):
        rows = await connection.execute(select(VIEW.c.os_id, VIEW.c.order_key).where(
            VIEW.c.kind == kind, VIEW.c.os_id.in_(chunk)))
        held.update({(kind, os_id): order for os_id, order in rows})
    now = utcnow()
    new: dict[tuple[str, str], dict] = {}
    out: list[bool] = []
    for change in changes:
        key = (change.kind, change.os_id)
        if key in held and held[key] >= change.order:
            out.append(False)
            continue
        out.append(True)
        if key not in held or key in new:  # the object's first row, written with the others below
            held[key] = change.order
            new[key] = {"kind": change.kind, "os_id": change.os_id, "project_id": change.project_id,
                        "order_key": change.order, "deleted": change.deleted, "applied_at": now,
                        "data": change.data, "link": link_of(change.kind, change.data)}
            continue
        values = {"k": change.kind, "i": change.os_id, "o": change.order, "d": change.deleted, "t": now}
        if change.data is not None:
            values.update(p=change.project_id, data_=change.data, link_=link_of(change.kind, change.data))
        done = await connection.execute(NEWER_WITH_DATA if change.data is not None else NEWER_BARE, values)
        if not done.rowcount:
            out[-1] = await _apply(session, change)  # changed meanwhile by another writer: compare again
        held[key] = max(held[key], change.order)
    if new:  # another writer's first row of one of them at once: IntegrityError, the batch asked again
        await connection.execute(insert(VIEW), list(new.values()))
    return out


async def apply_all(sessions, changes: list[Change]) -> list[bool]:
    """Each change applied as ``apply`` does, all in one transaction (a flood of notifications is a few
    commits and few statements, not several each): whether each was newer than what the view held."""
    return await _retried(sessions, lambda session: _apply_many(session, changes))


async def observed(sessions, project_id: str, changes: list[Change], since: datetime.datetime,
                   whole: bool = False) -> None:
    """What a direct read found (read after ``since``), in one transaction: applied as any change (never over a
    newer one), and the marks of the objects read, made before ``since``, lifted (the read showed what those
    writes did); ``whole``: the read was of the project's every instance, every mark before it is lifted."""
    now = utcnow()

    async def write(session) -> None:
        applied = await _apply_many(session, changes)
        # what the view held as new already is confirmed as of now: one statement per kind, not one per row
        for kind, chunk in by_kind([(c.kind, c.os_id) for c, new in zip(changes, applied, strict=True) if not new]):
            await session.execute(update(ViewObject).where(
                ViewObject.kind == kind, ViewObject.os_id.in_(chunk)).values(applied_at=now))
        if whole:
            await session.execute(delete(ViewMark).where(ViewMark.project_id == project_id,
                                                         ViewMark.marked_at <= since))
            return
        for kind, chunk in by_kind([(change.kind, change.os_id) for change in changes]):
            await session.execute(delete(ViewMark).where(
                ViewMark.kind == kind, ViewMark.os_id.in_(chunk), ViewMark.project_id == project_id,
                ViewMark.marked_at <= since))

    await _retried(sessions, write)


async def mark(sessions, project_id: str, objects: list[tuple[str, str]]) -> None:
    """Our own write changed these objects (kind, id): the view shows them again once a direct read did."""
    now = utcnow()

    async def put(session) -> None:
        for kind, os_id in dict.fromkeys(objects):
            done = await session.execute(update(ViewMark).where(
                ViewMark.kind == kind, ViewMark.os_id == os_id).values(marked_at=now, project_id=project_id))
            if not done.rowcount:
                session.add(ViewMark(kind=kind, os_id=os_id, project_id=project_id, marked_at=now))
        await session.flush()

    await _retried(sessions, put)  # another request marked one first: ours is the later time, set again


def marking(view, sessions) -> None:
    """Every call of this view's Nova, Neutron and Cinder clients that may change something marks the objects
    it changes, once it returned (a describe after the write sees the mark, one during it may not)."""
    async def on_write(path: str, body) -> None:
        objects = writes.changed(path, body)
        if objects:
            try:
                await mark(sessions, view.project_id, objects)
            except Exception as exc:  # noqa: BLE001 - the write is done; the view's rows age out by the feed
                log.warning("could not mark %s as changed for the live view (%s)", objects, type(exc).__name__)

    for client in (view.nova, view.neutron, view.cinder):
        if client is not None:
            client.on_write = on_write
