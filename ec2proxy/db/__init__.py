"""The proxy's own database: engine, sessions and migrations (SQLAlchemy 2, async)."""

from __future__ import annotations

import asyncio
import pathlib
import random
from typing import Iterator, Sequence, TypeVar

import orjson
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

MIGRATIONS = pathlib.Path(__file__).parent / "migrations"
T = TypeVar("T")


def _json_text(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns (an instance's device mappings and metadata options, a reservation's groups) are read for every
# row a Describe shows: orjson decodes them several times faster than the standard library.
_JSON = {"json_serializer": _json_text, "json_deserializer": orjson.loads}


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **_JSON)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if url.startswith(("mysql", "mariadb")):  # the server closes idle connections after wait_timeout
        return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=1800,
                                   **_JSON)
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **_JSON)


# SQLSTATE classes of a database that is away rather than wrong: connection exception, insufficient
# resources (too many connections), operator intervention (shutting down, starting up).
_AWAY_CLASSES = ("08", "53", "57")
# MariaDB/MySQL error numbers of the same kind: too many connections, shutdown in progress, connection
# killed, cannot connect, server gone away, lost during a query, disconnected by the server, and a Galera
# node not (yet) part of the cluster (WSREP has not yet prepared node for application use).
_MYSQL_AWAY = frozenset({1040, 1053, 1927, 2002, 2003, 2006, 2013, 4031, 1047})
# Worth running the whole transaction again: a deadlock (also how Galera reports a certification
# failure) and a lock wait timeout.
_MYSQL_RETRY = frozenset({1213, 1205})
RETRIES = 5


def _mysql_code(exc: BaseException) -> int | None:
    args = getattr(getattr(exc, "orig", None), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def unavailable(exc: BaseException) -> bool:
    """The database is away (down, restarting, unreachable, out of connections): an outage the caller may
    retry through, answered 503 ``Unavailable``, not an ``InternalError``."""
    if isinstance(exc, (ConnectionError, TimeoutError, sa_exc.TimeoutError)):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or ""
    if str(state)[:2] in _AWAY_CLASSES or _mysql_code(exc) in _MYSQL_AWAY:
        return True
    return isinstance(exc, sa_exc.OperationalError) and "database is locked" in str(exc.orig)  # SQLite, busy


IN_LIMIT = 900  # values in one IN (...): SQLite builds before 3.32 take at most 999 bound parameters


def chunks(values: Sequence[T], size: int = IN_LIMIT) -> Iterator[Sequence[T]]:
    """``values`` in slices small enough for one IN list each: every query over an id list goes through it."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def conflicted(exc: BaseException) -> bool:
    """A transaction the database rolled back for running alongside another (MariaDB/Galera deadlock or
    certification failure, lock wait timeout): running it again is the remedy."""
    return isinstance(exc, sa_exc.DBAPIError) and _mysql_code(exc) in _MYSQL_RETRY


async def transaction(sessions, work):
    """``await work(session)`` in one transaction, run again (a few times) when :func:`conflicted`.

    Only for work that touches nothing but this database: the retry must be safe to make.
    """
    for attempt in range(RETRIES):
        try:
            async with sessions() as session, session.begin():
                return await work(session)
        except sa_exc.DBAPIError as exc:
            if not conflicted(exc) or attempt + 1 == RETRIES:
                raise
            await asyncio.sleep(0.01 * (2 ** attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def upgrade(url: str, revision: str = "head") -> None:
    """Apply Alembic migrations (blocking: call it before the loop, or in a thread)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = url
    command.upgrade(config, revision)


def current_revision(url: str) -> str | None:
    """The Alembic revision the database at ``url`` is at (None: never migrated). Blocking, like upgrade."""
    from alembic.migration import MigrationContext

    async def read() -> str | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        finally:
            await engine.dispose()

    return asyncio.run(read())
