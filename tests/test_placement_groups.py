"""Placement groups on Nova server groups (issue 30), through boto3 and the AWS CLI on the embedded default: made
and described as AWS shows them, refused where Nova has no counterpart, launched into (Nova's scheduler hint,
Placement.GroupName shown), a spread group that Nova's one host cannot hold failing the launch as AWS fails
it with nothing left behind, and in use while it has instances."""

from __future__ import annotations

import json

import pytest

from tests.devclouds import DevCloudProcess
from tests.support import WAIT, code_of, until

pytestmark = pytest.mark.e2e
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


@pytest.fixture(scope="module")
def nova(proxy):
    """The dev cloud's Nova as the demo project sees it, at the microversion that shows server groups' policy."""
    sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")

    def get(path: str) -> dict:
        return sdk.compute.get(path, microversion="2.71").json()

    return get


def test_groups_are_made_described_and_deleted_as_aws_shows_them(ec2, nova, proxy):
    made = ec2.create_placement_group(GroupName="web", Strategy="spread", TagSpecifications=[
        {"ResourceType": "placement-group", "Tags": [{"Key": "team", "Value": "web"}]}])["PlacementGroup"]
    assert made["GroupName"] == "web" and made["Strategy"] == "spread" and made["State"] == "available"
    assert made["GroupId"].startswith("pg-") and made["SpreadLevel"] == "rack"
    assert made["GroupArn"].endswith(":placement-group/web") and made["Tags"] == [{"Key": "team", "Value": "web"}]
    ec2.create_placement_group(GroupName="hpc", Strategy="cluster")
    policies = {g["name"]: g["policy"] for g in nova("/os-server-groups")["server_groups"]}
    assert policies[made["GroupId"]] == "anti-affinity"  # Nova's group is named after the EC2 id
    assert "affinity" in policies.values()

    listed = {g["GroupName"]: g for g in ec2.describe_placement_groups()["PlacementGroups"]}
    assert set(listed) == {"web", "hpc"} and listed["hpc"]["Strategy"] == "cluster"
    assert "SpreadLevel" not in listed["hpc"]
    assert ec2.describe_placement_groups(GroupIds=[made["GroupId"]])["PlacementGroups"][0]["GroupName"] == "web"
    assert [g["GroupName"] for g in ec2.describe_placement_groups(Filters=[
        {"Name": "strategy", "Values": ["cluster"]}])["PlacementGroups"]] == ["hpc"]
    assert [g["GroupName"] for g in ec2.describe_placement_groups(Filters=[
        {"Name": "tag:team", "Values": ["web"]}])["PlacementGroups"]] == ["web"]
    assert code_of(ec2.describe_placement_groups, GroupNames=["nope"]) == "InvalidPlacementGroup.Unknown"
    assert code_of(ec2.describe_placement_groups, GroupIds=["pg-0123456789abcdef0"]) == \
        "InvalidPlacementGroup.Unknown"
    assert code_of(ec2.describe_placement_groups, GroupIds=["pg-nothex"]) == "InvalidPlacementGroupId.Malformed"

    cli = json.loads(proxy.aws("ec2", "describe-placement-groups", "--group-names", "hpc").stdout)
    assert cli["PlacementGroups"][0]["Strategy"] == "cluster"
    proxy.aws("ec2", "delete-placement-group", "--group-name", "hpc")
    ec2.delete_placement_group(GroupName="web")
    assert ec2.describe_placement_groups()["PlacementGroups"] == []
    assert nova("/os-server-groups")["server_groups"] == []
    assert code_of(ec2.delete_placement_group, GroupName="web") == "InvalidPlacementGroup.Unknown"


def test_what_nova_cannot_do_is_refused_saying_why(ec2):
    assert code_of(ec2.create_placement_group, GroupName="p", Strategy="partition", PartitionCount=3) == \
        "UnsupportedOperation"
    assert code_of(ec2.create_placement_group, GroupName="p", Strategy="spread", SpreadLevel="host") == \
        "InvalidParameterValue"
    assert code_of(ec2.create_placement_group, GroupName="p", Strategy="cluster", PartitionCount=2) == \
        "InvalidParameterValue"
    assert code_of(ec2.create_placement_group, GroupName="p", Strategy="cluster", DryRun=True) == "DryRunOperation"
    ec2.create_placement_group(GroupName="twice", Strategy="cluster")
    assert code_of(ec2.create_placement_group, GroupName="twice", Strategy="spread") == \
        "InvalidPlacementGroup.Duplicate"
    ec2.delete_placement_group(GroupName="twice")
    assert ec2.describe_placement_groups()["PlacementGroups"] == []


def test_instances_launch_into_a_group_and_keep_it_in_use(ec2, nova, ami):
    group = ec2.create_placement_group(GroupName="pack", Strategy="cluster")["PlacementGroup"]
    reservation = ec2.run_instances(ImageId=ami, InstanceType="t2.micro", MinCount=2, MaxCount=2,
                                    Placement={"GroupName": "pack"})
    launched = [i["InstanceId"] for i in reservation["Instances"]]
    assert {i["Placement"]["GroupName"] for i in reservation["Instances"]} == {"pack"}
    ec2.get_waiter("instance_running").wait(InstanceIds=launched, WaiterConfig=WAIT)
    described = ec2.describe_instances(Filters=[{"Name": "placement-group-name", "Values": ["pack"]}])
    shown = [i for r in described["Reservations"] for i in r["Instances"]]
    assert sorted(i["InstanceId"] for i in shown) == sorted(launched)
    assert {i["Placement"]["GroupId"] for i in shown} == {group["GroupId"]}
    server_group = next(g for g in nova("/os-server-groups")["server_groups"] if g["name"] == group["GroupId"])
    assert len(server_group["members"]) == 2  # Nova holds them in the group: the scheduler hint went through

    assert code_of(ec2.delete_placement_group, GroupName="pack") == "InvalidPlacementGroup.InUse"
    ec2.terminate_instances(InstanceIds=launched)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=launched, WaiterConfig=WAIT)
    ec2.delete_placement_group(GroupName="pack")
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, Placement={"GroupName": "pack"}) == \
        "InvalidPlacementGroup.Unknown"


def test_a_spread_group_nova_cannot_spread_fails_the_launch_leaving_nothing(ec2, nova, ami, proxy):
    """The dev cloud has one host, as the lab: a spread group (anti-affinity) holds one instance; a second fails
    as AWS reports a placement it cannot make, and nothing of it is left in Nova or Neutron."""
    group = ec2.create_placement_group(GroupName="apart", Strategy="spread")["PlacementGroup"]
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    first = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet,
                              Placement={"GroupId": group["GroupId"]})["Instances"][0]["InstanceId"]
    sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
    servers_before = {s.id for s in sdk.compute.servers()}
    ports_before = {p.id for p in sdk.network.ports()}
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet,
                   Placement={"GroupName": "apart"}, ClientToken="second-apart") == "InsufficientInstanceCapacity"
    # the same ClientToken answers the same failure, without a second launch
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet,
                   Placement={"GroupName": "apart"}, ClientToken="second-apart") == "InsufficientInstanceCapacity"
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=7, MaxCount=7,
                   Placement={"GroupName": "apart"}) == "InsufficientInstanceCapacity"  # beyond AWS's seven

    def left() -> tuple[set, set]:
        servers = {s.id for s in sdk.compute.servers() if s.status != "DELETED"} - servers_before
        ports = {p.id for p in sdk.network.ports()} - ports_before
        return servers, ports

    until(lambda: left() == (set(), set()), seconds=30)
    members = next(g for g in nova("/os-server-groups")["server_groups"] if g["name"] == group["GroupId"])["members"]
    assert len(members) == 1
    ec2.terminate_instances(InstanceIds=[first])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[first], WaiterConfig=WAIT)
    ec2.delete_placement_group(GroupName="apart")
