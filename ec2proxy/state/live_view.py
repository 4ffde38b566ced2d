"""The live view's rows (``view_objects``): each OpenStack object as its services' notifications last showed it.

A change is applied at most once and never backwards: it is written only when its order sorts after the one
held (``ec2proxy.cloud.notifications``), by one conditional UPDATE (``WHERE order_key < new``) that the database
decides alone, so two workers (or two messages of one worker) applying changes of one object at once end with
the later one whatever their order; reading first and writing after would let the older one win on SQLite,
which takes no row lock.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ec2proxy import db
from ec2proxy.cloud.notifications import Change
from ec2proxy.db.models import ViewObject, utcnow

ATTEMPTS = 3


async def _apply(session, change: Change) -> bool:
    values: dict = dict(project_id=change.project_id, order_key=change.order, deleted=change.deleted,
                        applied_at=utcnow())
    if change.data is not None:  # a bare delete keeps what was last known of the object
        values["data"] = change.data
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
    session.add(ViewObject(kind=change.kind, os_id=change.os_id, **{**values, "data": change.data}))
    await session.flush()  # another writer's first row of the object at once: IntegrityError, asked again
    return True


async def apply(sessions, change: Change) -> bool:
    """Whether the change was newer than what the view held (and is now held)."""
    for attempt in range(ATTEMPTS):
        try:
            return await db.transaction(sessions, lambda session: _apply(session, change))
        except IntegrityError:  # another worker inserted the object's first row meanwhile: compare with it
            if attempt + 1 == ATTEMPTS:
                raise
    raise AssertionError("unreachable")
