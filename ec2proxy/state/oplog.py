"""The operations log: every mutating call is recorded before it acts and closed when it is done.

Crash recovery and the operators' view (``ec2proxy operations list``) read
it; background jobs (``ec2proxy.state.jobs``) are operations that stay pending.
"""

from __future__ import annotations

from sqlalchemy import update

from ec2proxy.db.models import Operation, utcnow


async def record(session, ctx, resource_ids: list[str], *, details: dict | None = None,
                 state: str = "pending", action: str | None = None) -> int:
    """A new operation of the request, in ``session`` (the caller's transaction); ``action`` names a
    background job the request leaves (``ec2proxy.state.jobs``), else it is the request's own action."""
    operation = Operation(request_id=ctx.request_id, action=action or ctx.action, project_id=ctx.project_id,
                          resource_ids=resource_ids, state=state, details=details, created_at=utcnow(),
                          updated_at=utcnow())
    session.add(operation)
    await session.flush()
    return operation.id


async def close(session, operation_id: int, error: str | None = None) -> None:
    """Succeeded, or failed with ``error``, in ``session`` (the caller's transaction)."""
    await session.execute(update(Operation).where(Operation.id == operation_id).values(
        state="failed" if error else "succeeded", error=error, updated_at=utcnow()))


async def logged(ctx, resource_ids: list[str]) -> int:
    """``record`` in a transaction of its own, for actions that act right after."""
    async with ctx.services.sessions() as session, session.begin():
        return await record(session, ctx, resource_ids)


async def closed(sessions, operation_id: int, error: str | None = None) -> None:
    """``close`` in a transaction of its own."""
    async with sessions() as session, session.begin():
        await close(session, operation_id, error)
