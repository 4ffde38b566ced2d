"""Schema changes go through Alembic: the migrated database must equal the models, on SQLite, PostgreSQL and
MariaDB."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ec2proxy import db
from ec2proxy.db.models import Base


def _diff(url: str) -> list:
    async def compare() -> list:
        engine = db.create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def test_sqlite_migrations_match_the_models(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'schema.sqlite'}"
    db.upgrade(url)
    assert _diff(url) == []


def test_shared_database_migrations_match_the_models(shared_database):
    db.upgrade(shared_database)
    assert _diff(shared_database) == []
