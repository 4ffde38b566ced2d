"""Alembic environment: runs revisions over the async engine of the given URL."""

import asyncio

from alembic import context
from sqlalchemy import text

from ec2proxy.db import create_engine
from ec2proxy.db.models import Base

target_metadata = Base.metadata
MIGRATION_LOCK = 0x0EC2_0001


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Workers starting together must not migrate twice at once: a lock held for the whole run.
_LOCKS = {
    "postgresql": ("SELECT pg_advisory_lock(:key)", "SELECT pg_advisory_unlock(:key)"),
    "mysql": ("SELECT GET_LOCK(CONCAT('ec2proxy-migrate-', :key), 300)",
              "SELECT RELEASE_LOCK(CONCAT('ec2proxy-migrate-', :key))"),
}


async def _main(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            lock, unlock = _LOCKS.get(connection.dialect.name, (None, None))
            if lock:
                await connection.execute(text(lock), {"key": MIGRATION_LOCK})
            await connection.run_sync(_run)
            await connection.commit()
            if unlock:
                await connection.execute(text(unlock), {"key": MIGRATION_LOCK})
                await connection.commit()
    finally:
        await engine.dispose()


url = context.config.attributes["database_url"]
if context.is_offline_mode():
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_main(url))
