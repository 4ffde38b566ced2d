"""Resources that live only in our database (customer gateways, DHCP options sets, internet gateways...): a
project's rows of one model, oldest first, all of them or those of some ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ec2proxy.context import RequestContext


async def rows(ctx: RequestContext, model: Any, key: Any, wanted: list[str] | None = None) -> list:
    """The project's ``model`` rows (``key``: its id column), or those among ``wanted``."""
    query = select(model).where(model.project_id == ctx.project_id)
    if wanted is not None:
        query = query.where(key.in_(wanted))
    async with ctx.services.sessions() as session:
        return list((await session.scalars(query.order_by(model.created_at))).all())


async def existing(ctx: RequestContext, key: Any, resource_ids: list[str]) -> set[str]:
    """Which of ``resource_ids`` the project has (``key``: the id column of their model)."""
    async with ctx.services.sessions() as session:
        return set((await session.scalars(select(key).where(
            key.class_.project_id == ctx.project_id, key.in_(resource_ids)))).all())
