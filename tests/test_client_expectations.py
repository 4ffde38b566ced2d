"""Small AWS behaviours clients rely on (issues 18 and 20), through boto3 against ``ec2proxy serve``."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

from tests.support import WAIT, Server, code_of

pytestmark = pytest.mark.e2e
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.05"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def test_key_name_filter_finds_instances_launched_with_that_key(ec2, ami, accounts):
    ec2.create_key_pair(KeyName="filtered")
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, KeyName="filtered")["Instances"]
    ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)  # another, without the key
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    found = ec2.describe_instances(Filters=[{"Name": "key-name", "Values": ["filtered"]}])["Reservations"]
    assert [i["InstanceId"] for r in found for i in r["Instances"]] == [instance["InstanceId"]]
    assert found[0]["Instances"][0]["KeyName"] == "filtered"


def test_a_missing_key_pair_is_named_as_the_caller_named_it(ec2, ami, accounts):
    with pytest.raises(ClientError) as caught:
        ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, KeyName="no-such-key")
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidKeyPair.NotFound" and "'no-such-key'" in error["Message"]
    assert accounts["demo"]["project_id"] not in error["Message"]  # Nova's prefixed name never leaks


def test_image_attribute_names_as_ansible_sends_them(ec2, ami):
    image = ec2.copy_image(SourceImageId=ami, SourceRegion="RegionOne", Name="described")["ImageId"]
    ec2.modify_image_attribute(ImageId=image, Attribute="Description", Value="from ec2_ami")
    described = ec2.describe_image_attribute(ImageId=image, Attribute="description")
    assert described["Description"]["Value"] == "from ec2_ami"


def test_empty_and_conflicting_parameters(proxy, ec2):
    unvalidated = proxy.client(parameter_validation=False)
    assert code_of(unvalidated.import_key_pair, KeyName="empty", PublicKeyMaterial=b"") == "MissingParameter"
    address = ec2.allocate_address(Domain="vpc")
    assert code_of(ec2.release_address, AllocationId=address["AllocationId"], PublicIp=address["PublicIp"]) == \
        "InvalidParameterCombination"
    ec2.release_address(AllocationId=address["AllocationId"])


def test_vpc_filters_by_the_names_ansible_sends(ec2):
    (default,) = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    assert default["IsDefault"] is True
    by_cidr = ec2.describe_vpcs(Filters=[{"Name": "cidr-block", "Values": [default["CidrBlock"]]}])["Vpcs"]
    assert [v["VpcId"] for v in by_cidr] == [default["VpcId"]]
    assert ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"] == [default]
    assert code_of(ec2.describe_vpcs, Filters=[{"Name": "isNothing", "Values": ["x"]}]) == "InvalidParameterValue"


def test_tag_key_and_tag_value_filters_on_describe_tags_and_describe_calls(ec2):
    first = ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
    second = ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
    ec2.create_tags(Resources=[first], Tags=[{"Key": "team", "Value": "blue"}])
    ec2.create_tags(Resources=[second], Tags=[{"Key": "team", "Value": "red"}, {"Key": "env", "Value": "blue"}])

    def volumes(*filters):
        found = ec2.describe_volumes(Filters=[{"Name": n, "Values": v} for n, v in filters])["Volumes"]
        return sorted(v["VolumeId"] for v in found if v["VolumeId"] in (first, second))

    assert volumes(("tag-key", ["env"])) == [second]
    assert volumes(("tag-value", ["blue"])) == sorted([first, second])  # any tag's value
    assert volumes(("tag:team", ["blue"])) == [first]  # that tag's value only
    assert volumes(("tag:team", ["r*"]), ("tag-key", ["env"])) == [second]

    def tags(*filters):
        found = ec2.describe_tags(Filters=[{"Name": n, "Values": v} for n, v in filters])["Tags"]
        return sorted((t["ResourceId"], t["Key"]) for t in found if t["ResourceId"] in (first, second))

    assert tags(("tag-key", ["env"])) == [(second, "env")]
    assert tags(("tag-value", ["blue"])) == sorted([(first, "team"), (second, "env")])
    assert tags(("tag:team", ["red"])) == [(second, "team")]
    ec2.get_waiter("volume_available").wait(VolumeIds=[first, second], WaiterConfig=WAIT)
    for volume in (first, second):
        ec2.delete_volume(VolumeId=volume)


def test_deleting_a_volume_still_being_created_is_incorrect_state(tmp_path):
    server = Server(tmp_path / "data", env={"EC2PROXY_DEVCLOUD_DELAY": "3"}).start()
    try:
        ec2 = server.client()
        volume = ec2.create_volume(Size=1, AvailabilityZone="nova")["VolumeId"]
        with pytest.raises(ClientError) as caught:
            ec2.delete_volume(VolumeId=volume)
        code, message = caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]
        assert code == "IncorrectState" and "creating" in message and "snapshot" not in message
        ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)
        ec2.delete_volume(VolumeId=volume)
    finally:
        server.stop()


def test_a_launch_names_its_zone_at_once(ec2, ami):
    """Playbooks create a volume in the zone RunInstances answered, before the instance runs."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    zone = instance["Placement"]["AvailabilityZone"]
    assert zone in [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    pending = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert pending["Placement"]["AvailabilityZone"] == zone
    volume = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    ec2.attach_volume(VolumeId=volume, InstanceId=instance["InstanceId"], Device="/dev/sdf")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def test_an_instance_launched_without_groups_is_in_the_default_group(ec2, ami):
    (default,) = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    expected = [{"GroupName": "default", "GroupId": default["GroupId"]}]
    assert instance["SecurityGroups"] == expected
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    shown = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert shown["SecurityGroups"] == expected
    assert [g["GroupId"] for g in shown["NetworkInterfaces"][0]["Groups"]] == [default["GroupId"]]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


DESCRIBES = ["DescribeInstances", "DescribeImages", "DescribeVolumes", "DescribeSnapshots", "DescribeSecurityGroups",
             "DescribeAddresses", "DescribeKeyPairs", "DescribeTags", "DescribeVpcs", "DescribeSubnets",
             "DescribeNetworkInterfaces", "DescribeInternetGateways", "DescribeRouteTables",
             "DescribeSecurityGroupRules"]


def _documented_filters(operation: str) -> list[str]:
    """The filter names the AWS reference lists for an action (botocore carries its documentation)."""
    import re

    import botocore.session

    model = botocore.session.get_session().get_service_model("ec2")
    doc = model.operation_model(operation).input_shape.members["Filters"].documentation
    return sorted({n for n in re.findall(r"<li>\s*<p>\s*<code>([a-z][a-zA-Z0-9.:\-]*[a-zA-Z0-9])</code>\s*-", doc)
                   if n != "tag"})


@pytest.mark.parametrize("operation", DESCRIBES)
def test_every_documented_filter_name_is_accepted(ec2, operation):
    """Clients send any name the reference lists (issue 20): each is understood, none InvalidParameterValue."""
    names = _documented_filters(operation)
    assert len(names) >= 2, names
    method = getattr(ec2, re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower())
    refused = []
    for name in names:
        try:
            method(Filters=[{"Name": name, "Values": ["no-such-value"]}])
        except ClientError as exc:
            refused.append((name, exc.response["Error"]["Code"]))
    assert refused == []
