"""Every change to the proxy's own rows, one module per kind (route tables, key pairs, tags...), each taking
an explicit session and owning its rows; the ClientToken ledger, the operations log, background jobs and the
operators' maintenance. Handlers open no sessions: they name a change and :func:`write` (or a create's
``record``) runs it in a transaction.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from ec2proxy import db


async def write(ctx: Any, change: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """``change(session, *args)`` in one transaction of the proxy's database, run again when it conflicts:
    handlers say what changes, the state module that owns the rows writes them."""
    return await db.transaction(ctx.services.sessions, lambda session: change(session, *args))
