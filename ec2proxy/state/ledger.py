"""The ClientToken ledger: exactly-once, decided by the database.

A request that carries a ClientToken first INSERTs its row under the UNIQUE
key (project, region, action, token), before any backend call, naming
the resource id it will create. The INSERT that wins owns the work; a
concurrent duplicate waits for it and replays its result; the same token with
other parameters is ``IdempotentParameterMismatch``. A row left ``pending``
by a crashed worker is taken over once its lease runs out, and the owner
adopts what the crash left in the cloud (found by the marker it chose).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import hashlib
import json
from typing import Any, Awaitable, Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ec2proxy import db
from ec2proxy.db.models import ClientToken, utcnow
from ec2proxy.ec2 import errors, timestamps
from ec2proxy.state import oplog

WAIT = 30.0


def params_hash(params: dict) -> str:
    canonical = {k: v for k, v in params.items() if k not in ("ClientToken", "DryRun")}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


def check_token(token: str) -> None:
    if not 1 <= len(token) <= 64 or not token.isascii() or not token.isprintable():
        raise errors.InvalidParameterValue("ClientToken must be 1 to 64 printable ASCII characters")


@dataclasses.dataclass
class Claim:
    row_id: int
    resource_id: str
    owner: bool  # True: do the work; False: replay ``resource_id``
    adopting: bool = False  # True: an earlier owner (crashed or failed) may have left backend resources


async def claim(sessions, *, project_id: str, region: str, action: str, token: str,
                params: dict, resource_id: str, lease: float = 60.0) -> Claim:
    check_token(token)
    digest = params_hash(params)
    # The zone is a parameter like any other (another zone is IdempotentParameterMismatch), not part of
    # the key: the table's zone column stays empty.
    key = dict(project_id=project_id, region=region, zone="", action=action, token=token)
    async def insert(session) -> int:
        row = ClientToken(**key, params_hash=digest, state="pending", resource_id=resource_id,
                          created_at=utcnow(), updated_at=utcnow())
        session.add(row)
        await session.flush()
        return row.id

    try:
        return Claim(await db.transaction(sessions, insert), resource_id, owner=True)
    except IntegrityError:
        pass
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        async with sessions() as session:
            row = (await session.scalars(select(ClientToken).filter_by(**key))).one()
        if row.params_hash != digest:
            raise errors.IdempotentParameterMismatch()
        if row.state == "succeeded":
            return Claim(row.id, row.resource_id, owner=False)
        stale = timestamps.aware(row.updated_at) + datetime.timedelta(seconds=lease) < utcnow()
        if row.state == "failed" or stale:
            # Take the row over, conditionally: only one of several retries wins.
            take_over = (update(ClientToken)
                         .where(ClientToken.id == row.id, ClientToken.state == row.state,
                                ClientToken.updated_at == row.updated_at)
                         .values(state="pending", updated_at=utcnow(), error_code=None, error_message=None))
            taken = await db.transaction(sessions, lambda session, statement=take_over: session.execute(statement))
            if taken.rowcount == 1:
                # A failure may have been only ours (a timeout, a dropped answer) while the backend did
                # the work: the new owner always looks for what the marker finds before acting again.
                return Claim(row.id, row.resource_id, owner=True, adopting=True)
            continue
        if asyncio.get_running_loop().time() > deadline and not stale:
            raise errors.Unavailable("A request with this client token is still in progress; retry later.")
        await asyncio.sleep(0.1)


async def finish(session, claimed: Claim | None, failure: errors.EC2Error | None = None) -> None:
    """Record the outcome in ``session`` (the caller's transaction: committed with the work itself)."""
    if claimed is None:
        return
    values: dict[str, Any] = {"state": "failed" if failure else "succeeded", "updated_at": utcnow()}
    if failure is not None:
        values.update(error_code=failure.code, error_message=failure.message[:1000])
    await session.execute(update(ClientToken).where(ClientToken.id == claimed.row_id).values(**values))


@dataclasses.dataclass
class Create:
    """One create, the way every token-bearing action does it: claim -> operations log -> cloud -> finish.

    ``marker`` is what names the cloud object before it exists (chosen here, or the first request's on a
    retry); when ``owner`` is false the caller replays what ``marker`` made; when ``adopting`` it first
    looks for what an earlier attempt left under ``marker``. Without a ClientToken there is no claim and
    the same steps apply.
    """

    ctx: Any
    marker: str
    claim: Claim | None = None
    operation_id: int | None = None

    @classmethod
    async def begin(cls, ctx, params: dict, marker: str) -> "Create":
        create = cls(ctx, marker)
        if params.get("ClientToken"):
            create.claim = await claim(ctx.services.sessions, project_id=ctx.project_id, region=ctx.region,
                                       action=ctx.action, token=params["ClientToken"], params=params,
                                       resource_id=marker, lease=ctx.services.config.api.client_token_lease)
            create.marker = create.claim.resource_id
        return create

    @property
    def owner(self) -> bool:
        return self.claim is None or self.claim.owner

    @property
    def adopting(self) -> bool:
        return self.claim is not None and self.claim.adopting

    async def log(self, resource_ids: list[str], session=None, **details) -> None:
        """The operations log entry, before the cloud is asked (or with the work, in ``session``)."""
        if session is not None:
            self.operation_id = await oplog.record(session, self.ctx, resource_ids, **details)
            return
        self.operation_id = await db.transaction(
            self.ctx.services.sessions, lambda own: oplog.record(own, self.ctx, resource_ids, **details))

    async def failed(self, failure: errors.EC2Error, detail: str = "") -> None:
        """The cloud refused or failed: the claim and the log say so, together."""
        async def record(session) -> None:
            await finish(session, self.claim, failure)
            if self.operation_id is not None:
                await oplog.close(session, self.operation_id, detail or f"{failure.code}: {failure.message}")
        await db.transaction(self.ctx.services.sessions, record)

    async def interrupted(self) -> None:
        """Cancelled or crashed in our own code: the log says so; the claim stays for a retry to take over."""
        if self.operation_id is not None:
            await db.transaction(self.ctx.services.sessions,
                                 lambda session: oplog.close(session, self.operation_id, "interrupted"))

    async def record(self, change: Callable[..., Awaitable[Any]], *args: Any, job: bool = False) -> Any:
        """``change(session, *args)`` and the token's outcome in one transaction: what the create made is
        recorded exactly when its claim is finished; a change refused (an EC2 error) finishes the claim with it."""
        async def work(session) -> Any:
            made = await change(session, *args)
            await self.done(session, job=job)
            return made
        try:
            return await db.transaction(self.ctx.services.sessions, work)
        except errors.EC2Error as failure:
            await self.failed(failure)
            raise

    async def done(self, session, *, job: bool = False) -> None:
        """Succeeded, in the transaction that writes what the create made. ``job``: the logged operation
        stays pending, a background job (``ec2proxy.state.jobs``) carries it on and closes it."""
        await finish(session, self.claim)
        if self.operation_id is not None and not job:
            await oplog.close(session, self.operation_id)
