"""The machine's PostgreSQL and MariaDB, for tests that need a shared database: a fresh one per test.

Where one is absent the test skips and says why, unless EC2PROXY_REQUIRE_DATABASES is set (CI sets it):
then it fails, so a CI run can never pass without them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from urllib.parse import urlsplit

import pytest

PG_URL = os.environ.get("EC2PROXY_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
MARIADB_URL = os.environ.get("EC2PROXY_TEST_MARIADB", "mysql+asyncmy://root@127.0.0.1:3306/mysql")


def _absent(what: str, url: str, exc: BaseException):
    message = f"{what} is not reachable at {url}: {exc}"
    if os.environ.get("EC2PROXY_REQUIRE_DATABASES"):
        pytest.fail(message)
    pytest.skip(message)


def _postgres(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(run())


def _mariadb(sql: str) -> None:
    import asyncmy

    parts = urlsplit(MARIADB_URL)

    async def run() -> None:
        connection = await asyncmy.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username,
                                           password=parts.password or "", connect_timeout=5)
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(sql)
        finally:
            connection.close()

    asyncio.run(run())


KINDS = {
    # kind -> (admin, base URL, create, drop)
    "postgresql": (_postgres, PG_URL, "CREATE DATABASE {}", "DROP DATABASE IF EXISTS {} WITH (FORCE)"),
    "mariadb": (_mariadb, MARIADB_URL, "CREATE DATABASE {} CHARACTER SET utf8mb4", "DROP DATABASE IF EXISTS {}"),
}


def fresh(kind: str) -> tuple[str, callable]:
    """A new empty database of ``kind``: its SQLAlchemy URL, and the function that drops it."""
    admin, base, create, drop = KINDS[kind]
    try:
        admin("SELECT 1")
    except Exception as exc:  # noqa: BLE001  absent: any driver's connection error
        _absent(kind, base, exc)
    name = f"ec2proxy_test_{uuid.uuid4().hex[:10]}"
    admin(create.format(name))
    return f"{base.rsplit('/', 1)[0]}/{name}", lambda: admin(drop.format(name))
