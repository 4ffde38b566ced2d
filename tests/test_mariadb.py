"""MariaDB as OpenStack deployments run it: text compared exactly, a deadlock run again, an outage answered 503.

The exactly-once suite (tests/test_instances_postgres.py) and the migrations check run on MariaDB too,
through the ``shared_database`` fixture."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import text

from ec2proxy import db
from ec2proxy.ec2 import ids
from tests.support import Server

pytestmark = pytest.mark.mariadb


@pytest.fixture
def mariadb_url():
    from tests import databases

    url, drop = databases.fresh("mariadb")
    yield url
    drop()


def test_tokens_tag_keys_and_key_names_are_matched_exactly(tmp_path, mariadb_url):
    server = Server(tmp_path / "proxy", env={"EC2PROXY_DATABASE_URL": mariadb_url,
                                             "EC2PROXY_DEVCLOUD_DELAY": "0.05"}).start()
    try:
        ec2 = server.client()
        accounts = json.loads((server.data_dir / "devcloud" / "accounts.json").read_text())
        ami = ids.from_uuid("ami", accounts["image_id"])
        reservations = {ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken=token)["ReservationId"]
                        for token in ("tok", "TOK", "tok ")}
        assert len(reservations) == 3  # a case-folding, space-padding collation would make them one
        again = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken="tok")["ReservationId"]
        assert again in reservations
        instance = ec2.describe_instances(Filters=[{"Name": "client-token", "Values": ["tok"]}])[
            "Reservations"][0]["Instances"][0]["InstanceId"]
        ec2.create_tags(Resources=[instance], Tags=[{"Key": "Name", "Value": "a"}, {"Key": "name", "Value": "b"}])
        tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance]}])["Tags"]
        assert sorted((t["Key"], t["Value"]) for t in tags) == [("Name", "a"), ("name", "b")]
        ec2.create_key_pair(KeyName="Key")
        ec2.create_key_pair(KeyName="key")
        assert sorted(k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]) == ["Key", "key"]
    finally:
        server.stop()


def test_a_deadlocked_transaction_is_run_again(mariadb_url):
    async def scenario() -> list[str]:
        engine = db.create_engine(mariadb_url)
        sessions = db.sessionmaker(engine)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE pair (id INT PRIMARY KEY, n INT) ENGINE=InnoDB"))
                await connection.execute(text("INSERT INTO pair VALUES (1, 0), (2, 0)"))
            both_hold_one = asyncio.Barrier(2)
            attempts: list[str] = []

            def crossing(first: int, second: int, name: str):
                async def work(session) -> None:
                    attempts.append(name)
                    await session.execute(text("UPDATE pair SET n = n + 1 WHERE id = :id"), {"id": first})
                    if attempts.count(name) == 1:  # the first run meets the other one halfway
                        await both_hold_one.wait()
                    await session.execute(text("UPDATE pair SET n = n + 1 WHERE id = :id"), {"id": second})
                return work

            await asyncio.gather(db.transaction(sessions, crossing(1, 2, "a")),
                                 db.transaction(sessions, crossing(2, 1, "b")))
            async with engine.connect() as connection:
                counts = (await connection.execute(text("SELECT n FROM pair ORDER BY id"))).scalars().all()
            assert counts == [2, 2]  # both transactions took effect exactly once
            return attempts
        finally:
            await engine.dispose()

    attempts = asyncio.run(scenario())
    assert len(attempts) == 3  # one of the two deadlocked and was run again


def test_an_unreachable_mariadb_is_unavailable_not_an_error():
    async def attempt() -> BaseException:
        engine = db.create_engine("mysql+asyncmy://root@127.0.0.1:1/none")
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001  the point is which one
            return exc
        finally:
            await engine.dispose()
        raise AssertionError("connected to a closed port")

    assert db.unavailable(asyncio.run(attempt()))
