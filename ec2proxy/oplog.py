"""The operations log: every mutating call is recorded before it acts and closed when it is done.

Crash recovery and the operators' view (``ec2proxy operations list``) read
it; background jobs (``ec2proxy.jobs``) are operations that stay pending.
"""

from __future__ import annotations

from sqlalchemy import update

from ec2proxy.db.models import Operation, utcnow


async def record(ctx, resource_ids: list[str], *, details: dict | None = None, state: str = "pending",
                 session=None) -> int:
    """A new operation of the request; with ``session``, inside the caller's transaction."""
    operation = Operation(request_id=ctx.request_id, action=ctx.action, project_id=ctx.project_id,
                          resource_ids=resource_ids, state=state, details=details, created_at=utcnow(),
                          updated_at=utcnow())
    if session is not None:
        session.add(operation)
        await session.flush()
        return operation.id
    async with ctx.services.sessions() as own, own.begin():
        own.add(operation)
    return operation.id


async def close(session_or_sessions, operation_id: int, error: str | None = None) -> None:
    """Succeeded, or failed with ``error``; pass an open session to close it with the work itself."""
    statement = update(Operation).where(Operation.id == operation_id).values(
        state="failed" if error else "succeeded", error=error, updated_at=utcnow())
    if hasattr(session_or_sessions, "execute"):
        await session_or_sessions.execute(statement)
        return
    async with session_or_sessions() as session, session.begin():
        await session.execute(statement)
