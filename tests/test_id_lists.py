"""Lists of ids longer than one IN (...) holds (db.IN_LIMIT): nothing past the bound is dropped."""

from __future__ import annotations

import asyncio
import types

import pytest

from ec2proxy import db
from ec2proxy.db.models import Reservation
from ec2proxy.readmodels import instances
from tests.support import WAIT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
COUNT = db.IN_LIMIT + 50
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.05", "EC2PROXY_API_ACCESS_LOG": "false"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def test_tags_describe_and_terminate_over_the_bound(ec2, ami):
    launched = ec2.run_instances(ImageId=ami, MinCount=COUNT, MaxCount=COUNT)["Instances"]
    wanted = [i["InstanceId"] for i in launched]
    assert len(wanted) == COUNT
    ec2.create_tags(Resources=wanted, Tags=[{"Key": "batch", "Value": "big"}])
    tagged = ec2.get_paginator("describe_tags").paginate(Filters=[{"Name": "key", "Values": ["batch"]}])
    assert sorted(t["ResourceId"] for page in tagged for t in page["Tags"]) == sorted(wanted)
    described = ec2.describe_instances(InstanceIds=wanted)["Reservations"]
    assert sorted(i["InstanceId"] for r in described for i in r["Instances"]) == sorted(wanted)
    ec2.delete_tags(Resources=wanted, Tags=[{"Key": "batch"}])
    assert not ec2.describe_tags(Filters=[{"Name": "key", "Values": ["batch"]}])["Tags"]
    ec2.terminate_instances(InstanceIds=wanted)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=wanted[-100:], WaiterConfig=WAIT)
    states = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=wanted)["Reservations"]
              for i in r["Instances"]}
    assert set(states) == set(wanted) and set(states.values()) <= {"shutting-down", "terminated"}


def test_reservation_groups_over_the_bound(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'groups.sqlite'}"
    db.upgrade(url)

    async def read() -> dict:
        engine = db.create_engine(url)
        try:
            sessions = db.sessionmaker(engine)
            async with sessions() as session, session.begin():
                session.add_all(Reservation(reservation_id=f"r-{n:017x}", project_id="p", user_id="u",
                                            groups=[{"GroupId": f"sg-{n:017x}"}]) for n in range(COUNT))
            ctx = types.SimpleNamespace(project_id="p", services=types.SimpleNamespace(sessions=sessions))
            return await instances.reservation_groups(ctx, [f"r-{n:017x}" for n in range(COUNT)])
        finally:
            await engine.dispose()

    groups = asyncio.run(read())
    assert len(groups) == COUNT and groups[f"r-{COUNT - 1:017x}"] == [{"GroupId": f"sg-{COUNT - 1:017x}"}]
