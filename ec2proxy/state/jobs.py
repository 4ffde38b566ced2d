"""Background jobs: operations that go on after the request answered (CopyImage's data copy).

The job is an ``operations`` row (``state = pending``, its ``details``
saying what to do), written before the request answers; every worker runs
this loop and takes a pending job over conditionally once nobody touched it
for ``[api] job_lease`` seconds, so a restart or a dead worker loses nothing and no
two workers run the same job at once. Each step is safe to run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from typing import AsyncIterator, Awaitable, Callable, TypeVar

from sqlalchemy import select, update

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.db.models import Operation, utcnow
from ec2proxy.state import oplog

LOG = logging.getLogger(__name__)
INTERVAL = 2.0

Runner = Callable[..., Awaitable[None]]
T = TypeVar("T")


class JobFailed(Exception):
    """The job cannot finish, ever: its operation closes with this message."""

RUNNERS: dict[str, Runner] = {}
# What every worker looks into now and then, not for a job but for what the cloud did of itself (a guest that
# shut down): ``async fn(services)``, every so many seconds.
PERIODIC: dict[str, tuple[float, Callable[..., Awaitable[None]]]] = {}


def runner(action: str) -> Callable[[Runner], Runner]:
    def register(fn: Runner) -> Runner:
        RUNNERS[action] = fn
        return fn

    return register


async def _take(services, operation: Operation) -> bool:
    async with services.sessions() as session, session.begin():
        taken = await session.execute(update(Operation).where(
            Operation.id == operation.id, Operation.state == "pending",
            Operation.updated_at == operation.updated_at).values(updated_at=utcnow()))
    return taken.rowcount == 1


async def run_once(services, *, now: datetime.datetime | None = None, fresh_ids: tuple[int, ...] = (),
                   view=None) -> int:
    """Take and run the jobs that are due; how many ran.

    ``fresh_ids`` were just written by this worker's request, whose cloud
    ``view`` (the signer's own token) runs them; a job taken over later runs
    with the proxy's own access to the project (``Cloud.reader_view``) of
    its ``details["project"]``. A runner is ``async fn(services, operation, view)``.
    """
    stale = (now or utcnow()) - datetime.timedelta(seconds=float(services.config.api.job_lease))
    async with services.sessions() as session:
        due = (await session.scalars(select(Operation).where(
            Operation.state == "pending", Operation.action.in_(list(RUNNERS)),
            (Operation.updated_at < stale) | Operation.id.in_(list(fresh_ids))).limit(20))).all()
    ran = 0
    for operation in due:
        if not await _take(services, operation):
            continue
        ran += 1
        beat = asyncio.get_running_loop().create_task(_heartbeat(services, operation.id))
        try:
            # the request's own view for a job it just wrote, else the proxy's own access to the project
            job_view = view if operation.id in fresh_ids and view is not None else \
                await services.backend.reader_view((operation.details or {})["project"])
            await RUNNERS[operation.action](services, operation, job_view)
        except BackendNotFound as exc:
            await oplog.closed(services.sessions, operation.id, f"gone: {exc}")
        except JobFailed as exc:
            LOG.warning("job %s (%s) gave up: %s", operation.id, operation.action, exc)
            await oplog.closed(services.sessions, operation.id, str(exc))
        except BackendError as exc:  # the backend failed now; the next round tries again after the lease
            LOG.warning("job %s (%s) failed for now: %s", operation.id, operation.action, exc)
        except Exception:  # noqa: BLE001  a job must never take the loop down
            LOG.exception("job %s (%s) failed", operation.id, operation.action)
            await oplog.closed(services.sessions, operation.id, "internal error")
        else:
            await oplog.closed(services.sessions, operation.id, None)
        finally:
            beat.cancel()
    return ran


async def _heartbeat(services, operation_id: int) -> None:
    """Keep the lease of a running job: only a worker that stopped loses its jobs to the others."""
    interval = float(services.config.api.job_lease) / 3
    while True:
        await asyncio.sleep(interval)
        async with services.sessions() as session, session.begin():
            await session.execute(update(Operation).where(
                Operation.id == operation_id, Operation.state == "pending").values(updated_at=utcnow()))


async def schedule(ctx, view, action: str, resource_ids: list[str], details: dict) -> None:
    """Log a job on the caller's project (``details`` say what to do) and start it at once with the request's
    own cloud view."""
    async with ctx.services.sessions() as session, session.begin():
        operation_id = await oplog.record(session, ctx, resource_ids, details={"project": ctx.project_id, **details},
                                          action=action)
    kick(ctx.services, operation_id, view)


async def waited(check: Callable[[], Awaitable[T | None]], wait: float, service: str, still: str) -> T:
    """Ask ``check()`` once a second until it answers something other than None; after ``wait`` seconds the
    run fails for now (``still`` says why) and the job is taken up again after its lease."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        answer = await check()
        if answer is not None:
            return answer
        if loop.time() > deadline:
            raise BackendError(service, 409, still)
        await asyncio.sleep(1.0)


def kick(services, operation_id: int, view=None) -> None:
    """Run a job this worker just wrote without waiting for the next round."""
    task = asyncio.get_running_loop().create_task(run_once(services, fresh_ids=(operation_id,), view=view))
    services.background.add(task)
    task.add_done_callback(services.background.discard)


def periodic(name: str, every: float) -> Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]:
    def register(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        PERIODIC[name] = (every, fn)
        return fn

    return register


async def _periodic_round(services, due: dict[str, float]) -> None:
    now = asyncio.get_running_loop().time()
    for name, (every, fn) in PERIODIC.items():
        if due.get(name, 0.0) > now:
            continue
        due[name] = now + every
        try:
            await fn(services)
        except BackendError as exc:
            LOG.warning("%s failed for now: %s", name, exc)
        except Exception:  # noqa: BLE001  nor may a look around
            LOG.exception("%s failed", name)


@contextlib.asynccontextmanager
async def running(services) -> AsyncIterator[None]:
    async def loop() -> None:
        due: dict[str, float] = {}
        while True:
            try:
                await run_once(services)
                await _periodic_round(services, due)
            except Exception:  # noqa: BLE001  the database may be away for a while
                LOG.exception("background jobs round failed")
            await asyncio.sleep(INTERVAL)

    task = asyncio.get_running_loop().create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        for pending in list(services.background) + [task]:
            pending.cancel()
        await asyncio.gather(task, *services.background, return_exceptions=True)
