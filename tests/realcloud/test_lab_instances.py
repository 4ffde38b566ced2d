"""The proxy against a real OpenStack (../shared/openstack-lab, via run-with-lab.sh): real Nova is the judge.

Skips, saying why, when the lab's environment (LAB_KEYSTONE_URL...) is absent.
"""

from __future__ import annotations

import asyncio
import os
import re
import urllib.request

import aiohttp
import pytest
from botocore.exceptions import ClientError, WaiterError

from ec2proxy.cloud import Cloud
from ec2proxy.cloud.auth import Authenticator
from ec2proxy.ec2 import ids
from tests.support import Server

LAB = os.environ.get("LAB_KEYSTONE_URL")
pytestmark = pytest.mark.skipif(not LAB, reason="no OpenStack lab: run through ../shared/openstack-lab/run-with-lab.sh")
WAIT = {"Delay": 1, "MaxAttempts": 90}


def wait_running(client, instance_ids: list[str], attempts: int = 90) -> None:
    """The ``instance_running`` waiter; when it fails, what the proxy says of the instances (Nova's fault in
    StateReason), so that a failure on a real cloud explains itself."""
    try:
        client.get_waiter("instance_running").wait(InstanceIds=instance_ids,
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": attempts})
    except WaiterError:
        shown = [(i["InstanceId"], i["State"]["Name"], i.get("StateReason"))
                 for r in client.describe_instances(InstanceIds=instance_ids)["Reservations"] for i in r["Instances"]]
        raise AssertionError(f"not all running: {shown}") from None


def as_demo(work, account: str = "DEMO"):
    """Run ``await work(view)`` with the lab's demo user's own clients (what the user does outside EC2), or
    another ``LAB_<account>_USER``'s (ADMIN: the operator's)."""
    async def run():
        async with aiohttp.ClientSession() as session:
            cloud = Cloud(session, Authenticator({
                "auth_url": LAB, "auth_type": "password", "username": os.environ[f"LAB_{account}_USER"],
                "password": os.environ[f"LAB_{account}_PASSWORD"],
                "project_name": os.environ[f"LAB_{account}_PROJECT"],
                "user_domain_name": "Default", "project_domain_name": "Default"}))
            return await work(await cloud.view())

    return asyncio.run(run())


def bootable_volume(ec2, wait: dict) -> str:
    """A blank 1 GB volume marked bootable in Cinder (outside EC2), available: the lab's no-storage Cinder writes no
    image into a volume, so an EBS root on the lab starts from one (registered through its snapshot)."""
    source = ec2.create_volume(Size=1, AvailabilityZone=os.environ.get("LAB_AVAILABILITY_ZONE", "nova"))["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[source], WaiterConfig=wait)

    async def bootable(view):
        (volume,) = [v for v in await view.cinder.list_volumes() if ids.from_uuid("vol", v["id"]) == source]
        await view.cinder.post(f"volumes/{volume['id']}/action", {"os-set_bootable": {"bootable": True}})

    as_demo(bootable)
    return source


def _demo_credential() -> dict:
    return as_demo(lambda view: view.keystone.create_ec2_credential(view.scoped.user_id, view.project_id))


def lab_server(data, account: str, *extra: str) -> Server:
    """``ec2proxy serve`` on the lab with the ``<account>_USER/PASSWORD/PROJECT`` service user, keystone keys."""
    config = data / "ec2proxy.conf"
    config.write_text("\n".join([
        "[openstack]", f"auth_url = {LAB}", f"username = {os.environ[account + '_USER']}",
        f"password = {os.environ[account + '_PASSWORD']}", f"project_name = {os.environ[account + '_PROJECT']}",
        "[auth]", "credential_source = keystone", *extra]) + "\n")
    server = Server(data, config=config)
    server.credentials_path.parent.mkdir(parents=True, exist_ok=True)
    server.credentials_path.write_text("")  # a real cloud writes no demo files; start() waits for one
    return server.start()


@pytest.fixture(scope="module")
def lab_proxy(tmp_path_factory):
    server = lab_server(tmp_path_factory.mktemp("lab-proxy"), "LAB_EC2_SERVICE")
    credential = _demo_credential()
    yield server, server.client(credential["access"], credential["secret"]), credential
    server.stop()


def test_keystone_signed_requests_and_zones(lab_proxy):
    server, ec2, credential = lab_proxy
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    assert os.environ.get("LAB_AVAILABILITY_ZONE", "nova") in zones
    with pytest.raises(ClientError) as caught:
        server.client(credential["access"], credential["secret"] + "x").describe_regions()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_instance_lifecycle_and_client_token_on_real_nova(lab_proxy):
    _, ec2, _ = lab_proxy
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    flavor = os.environ.get("LAB_FLAVOR", "m1.tiny")
    reservation = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, InstanceType=flavor,
                                    ClientToken="lab-lifecycle",
                                    TagSpecifications=[{"ResourceType": "instance",
                                                        "Tags": [{"Key": "suite", "Value": "realcloud"}]}])
    wanted = [i["InstanceId"] for i in reservation["Instances"]]
    try:
        assert [i["AmiLaunchIndex"] for i in reservation["Instances"]] == [0, 1]
        again = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, InstanceType=flavor,
                                  ClientToken="lab-lifecycle",
                                  TagSpecifications=[{"ResourceType": "instance",
                                                      "Tags": [{"Key": "suite", "Value": "realcloud"}]}])
        assert again["ReservationId"] == reservation["ReservationId"]
        with pytest.raises(ClientError) as caught:
            ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, ClientToken="lab-lifecycle")
        assert caught.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
        wait_running(ec2, wanted)
        tagged = ec2.describe_instances(Filters=[{"Name": "tag:suite", "Values": ["realcloud"]},
                                                 {"Name": "instance-state-name", "Values": ["running"]}])
        running = [i for r in tagged["Reservations"] for i in r["Instances"]]
        assert sorted(i["InstanceId"] for i in running) == sorted(wanted)
        assert all(i["PrivateIpAddress"] for i in running)
        assert ec2.get_password_data(InstanceId=wanted[0])["PasswordData"] == ""  # Nova's os-server-password
        assert ec2.describe_instance_attribute(InstanceId=wanted[0], Attribute="sourceDestCheck")[
            "SourceDestCheck"] == {"Value": True}
        ec2.modify_instance_attribute(InstanceId=wanted[0], SourceDestCheck={"Value": False})
        assert ec2.describe_instance_attribute(InstanceId=wanted[0], Attribute="sourceDestCheck")[
            "SourceDestCheck"] == {"Value": False}
        assert all(g["GroupName"] == "default" for i in running for g in i["SecurityGroups"])  # none asked for
        ec2.stop_instances(InstanceIds=wanted[:1])
        ec2.get_waiter("instance_stopped").wait(InstanceIds=wanted[:1], WaiterConfig=WAIT)
        ec2.start_instances(InstanceIds=wanted[:1])
        wait_running(ec2, wanted[:1])
        ec2.reboot_instances(InstanceIds=wanted[1:])
    finally:
        ec2.terminate_instances(InstanceIds=wanted)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=wanted, WaiterConfig=WAIT)


def test_thirty_instances_never_vanish_while_nova_builds_them(lab_proxy):
    """Real Nova leaves servers it is still scheduling out of changes-since listings: every DescribeInstances
    answer, from RunInstances until all run, holds all 30 (and a ClientToken replay shows them all)."""
    _, ec2, _ = lab_proxy
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    flavor = os.environ.get("LAB_FLAVOR", "m1.tiny")
    as_demo(lambda view: view.nova.put(f"os-quota-sets/{os.environ['LAB_DEMO_PROJECT_ID']}", {"quota_set": {
        "instances": 60, "cores": 120, "ram": 512 * 1024}}), "ADMIN")  # the lab's default allows 10
    launched = ec2.run_instances(ImageId=ami, MinCount=30, MaxCount=30, InstanceType=flavor,
                                 ClientToken="lab-thirty")["Instances"]
    wanted = {i["InstanceId"] for i in launched}
    try:
        answers = 0
        for _ in range(300):
            found = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"]
                     for i in r["Instances"] if i["InstanceId"] in wanted}
            answers += 1
            assert set(found) == wanted, f"answer {answers} is missing {len(wanted - set(found))} of 30"
            replay = ec2.run_instances(ImageId=ami, MinCount=30, MaxCount=30, InstanceType=flavor,
                                       ClientToken="lab-thirty")["Instances"]
            assert {i["InstanceId"] for i in replay} == wanted
            assert "terminated" not in {i["State"]["Name"] for i in replay}
            if set(found.values()) == {"running"}:
                break
        assert set(found.values()) == {"running"} and answers > 1
    finally:
        ec2.terminate_instances(InstanceIds=sorted(wanted))
    ec2.get_waiter("instance_terminated").wait(InstanceIds=sorted(wanted), WaiterConfig=WAIT)


def _identity_calls(server) -> float:
    with urllib.request.urlopen(f"{server.admin}/metrics", timeout=10) as response:
        text = response.read().decode()
    (value,) = re.findall(r'^ec2proxy_backend_calls_by_service\{service="identity"\} (\S+)$', text, re.M)
    return float(value)


def _system_reader(grant: bool) -> None:
    """As the lab's operator: give the proxy's user (LAB_EC2_SERVICE_USER) the reader role on the system, or
    take it away (openstack role add/remove --system all --user USER reader)."""
    async def work(view):
        (user,) = (await view.keystone.get("users", params={"name": os.environ["LAB_EC2_SERVICE_USER"]}))["users"]
        (role,) = (await view.keystone.get("roles", params={"name": "reader"}))["roles"]
        path = f"system/users/{user['id']}/roles/{role['id']}"
        if grant:
            await view.keystone.put(path)
        else:
            await view.keystone.delete(path)

    as_demo(work, "ADMIN")


def test_signatures_are_checked_here_once_the_proxy_may_read_secrets(tmp_path):
    """Keystone refuses EC2 secrets to project-scoped tokens: without a system role every request is an
    ec2tokens call; with the reader role on the system, one per key and cache period, the rest local."""
    credential = _demo_credential()
    for name in ("without", "with"):
        (tmp_path / name).mkdir()
    before = lab_server(tmp_path / "without", "LAB_EC2_SERVICE")
    try:
        ec2 = before.client(credential["access"], credential["secret"])
        ec2.describe_regions()
        start = _identity_calls(before)
        for _ in range(5):
            ec2.describe_regions()
        assert _identity_calls(before) - start >= 5  # Keystone validated each one
    finally:
        before.stop()
    _system_reader(True)
    try:
        after = lab_server(tmp_path / "with", "LAB_EC2_SERVICE")
        try:
            ec2 = after.client(credential["access"], credential["secret"])
            ec2.describe_regions()
            start = _identity_calls(after)
            for _ in range(20):
                ec2.describe_regions()
            assert _identity_calls(after) == start  # every one checked here, with the secret read once
            with pytest.raises(ClientError) as caught:
                after.client(credential["access"], credential["secret"] + "x").describe_regions()
            assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
            assert "Keystone does not let ec2proxy read EC2 secrets" not in after.log.read_text()
        finally:
            after.stop()
    finally:
        _system_reader(False)
