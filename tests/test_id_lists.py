"""Lists of ids longer than one IN (...) holds (db.IN_LIMIT): nothing past the bound is dropped."""

from __future__ import annotations

import asyncio
import types
import uuid

import pytest

from ec2proxy import db
from ec2proxy.db.models import Instance, Reservation
from ec2proxy.ec2 import ids
from ec2proxy.readmodels import instances
from ec2proxy.state import tag_writes
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


def test_rows_and_tags_over_the_bound(tmp_path):
    """Our rows of many servers and their tags: one session, nothing dropped past the bound, a row whose
    reservation has no row of ours (a server made in Nova) read as well."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'groups.sqlite'}"
    db.upgrade(url)
    os_ids = [str(uuid.UUID(int=n)) for n in range(COUNT)]

    async def read() -> tuple[dict, dict]:
        engine = db.create_engine(url)
        try:
            sessions = db.sessionmaker(engine)
            async with sessions() as session, session.begin():
                session.add_all(Reservation(reservation_id=f"r-{n:017x}", project_id="p", user_id="u",
                                            groups=[{"GroupId": f"sg-{n:017x}"}]) for n in range(COUNT - 1))
                session.add_all(Instance(ec2_id=ids.from_uuid("i", os_id), os_id=os_id, project_id="p",
                                         reservation_id=f"r-{n:017x}", image_id="ami-00000001", instance_type="m1")
                                for n, os_id in enumerate(os_ids))
                await tag_writes.write(session, "p", {ids.from_uuid("i", os_id): [{"Key": "n", "Value": str(n)}]
                                                   for n, os_id in enumerate(os_ids)})
            ctx = types.SimpleNamespace(project_id="p", services=types.SimpleNamespace(sessions=sessions))
            return await instances._stored(ctx, os_ids)
        finally:
            await engine.dispose()

    rows, tags = asyncio.run(read())
    assert len(rows) == len(tags) == COUNT
    assert rows[os_ids[COUNT - 2]].reservation_id == f"r-{COUNT - 2:017x}"
    assert rows[os_ids[COUNT - 1]].reservation_id == f"r-{COUNT - 1:017x}"
    assert tags[ids.from_uuid("i", os_ids[COUNT - 1])] == [{"Key": "n", "Value": str(COUNT - 1)}]
