"""Keystone's roles decide on a real cloud too: a user holding only the reader role on the lab's demo project,
with an EC2 credential of its own, reads everything and changes nothing, not even what only the proxy keeps."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from ec2proxy.ec2 import ids
from tests.realcloud.test_lab_instances import LAB, _demo_credential, as_demo, lab_server, wait_running
from tests.support import changes_a_reader_tries, nothing_a_reader_tried_shows

pytestmark = pytest.mark.skipif(not LAB, reason="no OpenStack lab: run through ../shared/openstack-lab/run-with-lab.sh")
AUDITOR = "ec2proxy-auditor"
PASSWORD = "auditor-" + os.environ.get("LAB_PASSWORD", "labpass")


def _ensure_auditor() -> tuple[dict, str]:
    """The user, made by the lab's admin if absent, with the reader role on demo and nothing else; a new EC2
    credential of it and its id."""
    async def make(view):
        keystone = view.keystone
        (reader,) = (await keystone.get("roles", params={"name": "reader"}))["roles"]
        found = (await keystone.get("users", params={"name": AUDITOR}))["users"]
        if found:
            user = found[0]
            await keystone.call("PATCH", f"users/{user['id']}", json_body={"user": {"password": PASSWORD}})
        else:
            user = (await keystone.post("users", {"user": {
                "name": AUDITOR, "password": PASSWORD, "domain_id": "default",
                "default_project_id": os.environ["LAB_DEMO_PROJECT_ID"]}}))["user"]
        await keystone.put(f"projects/{os.environ['LAB_DEMO_PROJECT_ID']}/users/{user['id']}/roles/{reader['id']}")
        # Keystone lets a reader make no EC2 credential of its own: the admin gives it one, as operators do.
        return await keystone.create_ec2_credential(user["id"], os.environ["LAB_DEMO_PROJECT_ID"]), user["id"]

    return as_demo(make, "ADMIN")


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    credential, auditor = _ensure_auditor()
    member = _demo_credential()
    server = lab_server(tmp_path_factory.mktemp("lab-roles"), "LAB_EC2_SERVICE")
    yield server.client(member["access"], member["secret"]), server.client(credential["access"], credential["secret"])
    server.stop()
    as_demo(lambda view: view.keystone.delete_ec2_credential(auditor, credential["access"]), "ADMIN")
    as_demo(lambda view: view.keystone.delete_ec2_credential(view.scoped.user_id, member["access"]))


def _refused(call) -> None:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == "UnauthorizedOperation", caught.value.response["Error"]


def test_a_keystone_reader_reads_and_leaves_no_trace(clients):
    ec2, reader = clients
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType=os.environ.get(
        "LAB_FLAVOR", "m1.tiny"), TagSpecifications=[{"ResourceType": "instance",
                                                       "Tags": [{"Key": "team", "Value": "a"}]}])["Instances"]
    iid = instance["InstanceId"]
    try:
        wait_running(ec2, [iid])
        seen = reader.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        assert seen["Tags"] == [{"Key": "team", "Value": "a"}]
        zone = seen["Placement"]["AvailabilityZone"]
        assert reader.describe_images(ImageIds=[ami])["Images"]
        assert reader.describe_security_groups()["SecurityGroups"]
        for change in changes_a_reader_tries(reader, iid, ami, zone):
            _refused(change)
        nothing_a_reader_tried_shows(ec2, iid, ami)
    finally:
        ec2.terminate_instances(InstanceIds=[iid])  # the members were not locked out
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 90})
