"""Placement groups against real Nova (issue 30): the server group exists with the policy of the strategy and
holds the members; on the lab's one compute host a spread group holds one instance, and a second launch fails
as AWS reports a placement it cannot make, leaving nothing in Nova or Neutron."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from ec2proxy.ec2 import ids
from tests.realcloud.test_lab_instances import LAB, _demo_credential, as_demo, lab_server, wait_running
from tests.support import until

pytestmark = pytest.mark.skipif(not LAB, reason="no OpenStack lab: run through ../shared/openstack-lab/run-with-lab.sh")
WAIT = {"Delay": 1, "MaxAttempts": 120}


@pytest.fixture(scope="module")
def ec2(tmp_path_factory):
    server = lab_server(tmp_path_factory.mktemp("lab-placement"), "LAB_EC2_SERVICE")
    credential = _demo_credential()
    yield server.client(credential["access"], credential["secret"])
    server.stop()


def nova_groups() -> dict[str, dict]:
    async def read(view):
        return {g["name"]: g for g in await view.nova.server_groups()}

    return as_demo(read)


def servers_and_ports() -> tuple[set[str], set[str]]:
    async def read(view):
        return ({s["id"] for s in await view.nova.list_server_ids()},
                {p["id"] for p in await view.neutron.list("port", {"project_id": view.project_id})})

    return as_demo(read)


def test_spread_and_cluster_groups_on_real_nova(ec2):
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    flavor = os.environ.get("LAB_FLAVOR", "m1.tiny")
    spread = ec2.create_placement_group(GroupName="lab-spread", Strategy="spread")["PlacementGroup"]
    cluster = ec2.create_placement_group(GroupName="lab-cluster", Strategy="cluster")["PlacementGroup"]
    launched: list[str] = []
    try:
        groups = nova_groups()
        assert groups[spread["GroupId"]]["policy"] == "anti-affinity"
        assert groups[cluster["GroupId"]]["policy"] == "affinity"
        first = ec2.run_instances(ImageId=ami, InstanceType=flavor, MinCount=1, MaxCount=1,
                                  Placement={"GroupName": "lab-spread"})["Instances"][0]
        launched.append(first["InstanceId"])
        assert first["Placement"]["GroupName"] == "lab-spread"
        wait_running(ec2, [first["InstanceId"]])
        assert [ids.from_uuid("i", m) for m in nova_groups()[spread["GroupId"]]["members"]] == [first["InstanceId"]]
        before = servers_and_ports()
        with pytest.raises(ClientError) as caught:
            ec2.run_instances(ImageId=ami, InstanceType=flavor, MinCount=1, MaxCount=1,
                              Placement={"GroupId": spread["GroupId"]})
        assert caught.value.response["Error"]["Code"] == "InsufficientInstanceCapacity"
        until(lambda: servers_and_ports() == before, seconds=60, delay=2)  # the failed launch left nothing
        assert len(nova_groups()[spread["GroupId"]]["members"]) == 1
        with pytest.raises(ClientError) as caught:
            ec2.delete_placement_group(GroupName="lab-spread")
        assert caught.value.response["Error"]["Code"] == "InvalidPlacementGroup.InUse"

        packed = ec2.run_instances(ImageId=ami, InstanceType=flavor, MinCount=2, MaxCount=2,
                                   Placement={"GroupName": "lab-cluster"})["Instances"]
        launched += [i["InstanceId"] for i in packed]
        wait_running(ec2, [i["InstanceId"] for i in packed])
        assert len(nova_groups()[cluster["GroupId"]]["members"]) == 2
        shown = [i for r in ec2.describe_instances(Filters=[{"Name": "placement-group-name",
                                                             "Values": ["lab-cluster"]}])["Reservations"]
                 for i in r["Instances"]]
        assert sorted(i["InstanceId"] for i in shown) == sorted(i["InstanceId"] for i in packed)
    finally:
        if launched:
            ec2.terminate_instances(InstanceIds=launched)
            ec2.get_waiter("instance_terminated").wait(InstanceIds=launched, WaiterConfig=WAIT)
        until(lambda: not nova_groups()[spread["GroupId"]]["members"], seconds=60, delay=2)
        for name in ("lab-spread", "lab-cluster"):
            ec2.delete_placement_group(GroupName=name)
    assert spread["GroupId"] not in nova_groups() and cluster["GroupId"] not in nova_groups()


def test_launch_from_a_template_on_real_nova(ec2):
    """A template's version launched on the lab: Nova gets its image and flavor, the call's own member wins, the
    instance carries the template's tags and says which template and version made it."""
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    flavors = [f for f in os.environ.get("LAB_FLAVORS", "m1.tiny,t2.micro").split(",") if f]
    template = ec2.create_launch_template(LaunchTemplateName="lab-template", LaunchTemplateData={
        "ImageId": ami, "InstanceType": flavors[0],
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "lab"}]}]}
    )["LaunchTemplate"]["LaunchTemplateId"]
    launched = None
    try:
        launched = ec2.run_instances(MinCount=1, MaxCount=1, InstanceType=flavors[-1],
                                     LaunchTemplate={"LaunchTemplateId": template})["Instances"][0]["InstanceId"]
        wait_running(ec2, [launched])
        (instance,) = ec2.describe_instances(InstanceIds=[launched])["Reservations"][0]["Instances"]
        assert instance["InstanceType"] == flavors[-1] and instance["ImageId"] == ami
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert tags["role"] == "lab" and tags["aws:ec2launchtemplate:id"] == template
        assert tags["aws:ec2launchtemplate:version"] == "1"

        async def flavor_of(view):
            (server,) = [s for s in await view.nova.list_servers() if ids.from_uuid("i", s["id"]) == launched]
            return server["flavor"]["original_name"]

        assert as_demo(flavor_of) == flavors[-1]  # Nova booted the type the call named, not the template's
    finally:
        if launched:
            ec2.terminate_instances(InstanceIds=[launched])
            ec2.get_waiter("instance_terminated").wait(InstanceIds=[launched], WaiterConfig=WAIT)
        ec2.delete_launch_template(LaunchTemplateId=template)
