"""Key pair names as Nova keeps them: per user, so prefixed with the project when the proxy is one user."""

from __future__ import annotations

from sqlalchemy import select

from ec2proxy.cloud import CloudView
from ec2proxy.context import RequestContext
from ec2proxy.db.models import KeyPair


def namespace(ctx: RequestContext, view: CloudView) -> str:
    """The prefix of this project's key names in Nova: none when Nova sees the signer's own user.

    With the ``local`` credential source the proxy calls Nova as its own user
    for every project, and Nova keeps key pairs per user: the project id in
    front of the name keeps projects from seeing each other's keys.
    """
    return "" if view.scoped.user_id == ctx.user_id else f"{ctx.project_id}_"


def nova_name(ctx: RequestContext, view: CloudView, name: str) -> str:
    return namespace(ctx, view) + name


async def rows(ctx: RequestContext, user_id: str) -> dict[str, KeyPair]:
    """Our rows of the user's key pairs in the project, by name."""
    async with ctx.services.sessions() as session:
        return {row.name: row for row in (await session.scalars(
            select(KeyPair).where(KeyPair.user_id == user_id, KeyPair.project_id == ctx.project_id))).all()}
