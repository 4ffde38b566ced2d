"""The proxy's own database: engine, sessions and migrations (SQLAlchemy 2, async)."""

from __future__ import annotations

import pathlib

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

MIGRATIONS = pathlib.Path(__file__).parent / "migrations"


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


# SQLSTATE classes of a database that is away rather than wrong: connection exception, insufficient
# resources (too many connections), operator intervention (shutting down, starting up).
_AWAY_CLASSES = ("08", "53", "57")


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
    if str(state)[:2] in _AWAY_CLASSES:
        return True
    return isinstance(exc, sa_exc.OperationalError) and "database is locked" in str(exc.orig)  # SQLite, busy


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
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()
