import json

import pytest

from ec2proxy.ec2 import ids
from tests.devclouds import DevCloudProcess
from tests.support import WAIT, Server


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One embedded-default ``ec2proxy serve`` for the session's read-only tests."""
    proc = Server(tmp_path_factory.mktemp("proxy")).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def ec2(server):
    return server.client()


@pytest.fixture(scope="module")
def proxy(request, tmp_path_factory):
    """A module's own ``ec2proxy serve`` on the embedded dev cloud; ``PROXY_ENV`` in the module tunes it."""
    env = getattr(request.module, "PROXY_ENV", {"EC2PROXY_DEVCLOUD_DELAY": "0.3"})
    proc = Server(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]), env=env).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def ami(proxy):
    """The dev cloud's seeded image, as an ami- id."""
    accounts = json.loads((proxy.data_dir / "devcloud" / "accounts.json").read_text())
    return ids.from_uuid("ami", accounts["image_id"])


@pytest.fixture(scope="module")
def accounts(proxy) -> dict:
    """The dev cloud's seeded accounts (users, projects, ids) of the module's proxy."""
    return json.loads((proxy.data_dir / "devcloud" / "accounts.json").read_text())


@pytest.fixture(scope="module")
def alt(proxy, accounts):
    """A boto3 client of the dev cloud's other project, ``alt``."""
    created = json.loads(proxy.ec2proxy("credentials", "create", "--project", accounts["alt"]["project_id"],
                                        "--user", accounts["alt"]["user_id"]).stdout)
    return proxy.client(created["access_key"], created["secret"])


@pytest.fixture(scope="module")
def running(ec2, ami):
    """One running instance of the module's proxy (``ec2`` as the module defines it), terminated after."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    yield instance["InstanceId"]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def _database(kind: str):
    from tests import databases

    url, drop = databases.fresh(kind)
    yield url
    drop()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    yield from _database("postgresql")


@pytest.fixture(params=["postgresql", "mariadb"])
def shared_database(request):
    """A fresh database of each kind that several workers can share (PostgreSQL, MariaDB)."""
    yield from _database(request.param)


@pytest.fixture
def devcloud(tmp_path):
    """A dev cloud in a process of its own (``ec2proxy devcloud``), for proxies configured as for a real cloud."""
    process = DevCloudProcess(tmp_path / "cloud").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def cloud(proxy):
    """The module's embedded dev cloud, admin side: ``inject(rule)`` a fault, ``clear()`` answers how many
    calls the faults hit (tests assert the fault fired), and an openstacksdk view of demo."""
    devcloud = DevCloudProcess(proxy.data_dir)
    inject, clear = devcloud.fault_injection()
    return inject, clear, devcloud.sdk("devcloud-demo")


def pytest_collection_modifyitems(items):
    """Markers from what a test needs, so none is forgotten: ``-m "not fuzz and not slow"`` is the quick tier."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        database = getattr(getattr(item, "callspec", None), "params", {}).get("shared_database")
        if "postgres_url" in fixtures or database == "postgresql":
            item.add_marker(pytest.mark.postgres)
        if database == "mariadb" or item.path.name == "test_mariadb.py":
            item.add_marker(pytest.mark.mariadb)
        if item.path.name.startswith("test_fuzz_"):
            item.add_marker(pytest.mark.fuzz)
        if item.path.parent.name == "realcloud":
            item.add_marker(pytest.mark.realcloud)
        if {"postgres_url", "shared_database", "devcloud"} & fixtures:
            item.add_marker(pytest.mark.e2e)
        if database or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


# Whole suites of tens of seconds to minutes (fault matrices, several workers on a database): outside the quick
# tier, inside every full run and CI.
SLOW_MODULES = {"test_identity_image_faults.py", "test_instance_faults.py", "test_resource_faults.py",
                "test_instances_postgres.py", "test_ansible.py"}
