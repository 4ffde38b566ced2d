"""Resources that live only in our database: a row and its tags made together, or forgotten together."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete

from ec2proxy.state import tag_writes


async def add(session, row: Any, resource_id: str, tags: list[dict]) -> None:
    session.add(row)
    await tag_writes.write(session, row.project_id, {resource_id: tags})


async def remove(session, key: Any, project_id: str, resource_id: str, *conditions: Any) -> int:
    """Delete the project's row whose ``key`` column is ``resource_id`` (and meets ``conditions``) with its
    tags; how many rows went (0: another request took it first)."""
    model = key.class_
    gone = await session.execute(delete(model).where(model.project_id == project_id, key == resource_id,
                                                     *conditions))
    if gone.rowcount:
        await tag_writes.forget(session, project_id, resource_id)
    return gone.rowcount
