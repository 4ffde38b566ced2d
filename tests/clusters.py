"""Two workers on one database and one dev cloud, and the check that each ClientToken made one server."""

from __future__ import annotations

import asyncio
import collections
import json

from sqlalchemy import select

from ec2proxy import db
from ec2proxy.db.models import Instance
from ec2proxy.ec2 import ids
from tests.devclouds import start_worker


def rows_of(database: str) -> list:
    async def read() -> list:
        engine = db.create_engine(database)
        try:
            async with db.sessionmaker(engine)() as session:
                return (await session.execute(select(Instance.ec2_id, Instance.os_id, Instance.client_token))).all()
        finally:
            await engine.dispose()

    return asyncio.run(read())


def assert_each_token_made_one_server(devcloud, database: str) -> list:
    """Our rows name each ClientToken once, and the cloud holds exactly the servers our rows name."""
    rows = rows_of(database)
    assert all(count == 1 for count in collections.Counter(t for _, _, t in rows).values())
    in_cloud = {s.id for s in devcloud.sdk().compute.servers()}
    assert in_cloud == {os_id for _, os_id, _ in rows}  # every server is ours, once; nothing lost
    return rows


def cluster(devcloud, tmp_path, database: str, prefix: str, clients: int, **api):
    """Two workers on one database and the demo project's shared boto3 client of each (thread-safe)."""
    workers = [start_worker(devcloud, tmp_path, f"{prefix}{n}", database, access_log="false", **api) for n in range(2)]
    demo = devcloud.accounts["demo"]
    created = json.loads(workers[0].ec2proxy("credentials", "create", "--project", demo["project_id"],
                                             "--user", demo["user_id"]).stdout)
    shared = [w.client(created["access_key"], created["secret"], max_pool_connections=clients) for w in workers]
    return workers, shared, ids.from_uuid("ami", devcloud.accounts["image_id"])
