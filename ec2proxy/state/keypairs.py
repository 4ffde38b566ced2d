"""Our row of a key pair (its AWS id, fingerprint and creation time; Nova keeps the key) and its tags."""

from __future__ import annotations

from sqlalchemy import delete

from ec2proxy.db.models import KeyPair
from ec2proxy.state import tag_writes


async def forget(session, project_id: str, user_id: str, name: str, pair_id: str) -> None:
    await session.execute(delete(KeyPair).where(KeyPair.user_id == user_id, KeyPair.name == name,
                                                KeyPair.project_id == project_id))
    await tag_writes.forget(session, project_id, pair_id)


async def record(session, row: KeyPair, tags: list[dict]) -> None:
    """The pair just imported into Nova, in place of any row an earlier pair of that name left."""
    await forget(session, row.project_id, row.user_id, row.name, row.key_pair_id)
    session.add(row)
    await tag_writes.write(session, row.project_id, {row.key_pair_id: tags})
