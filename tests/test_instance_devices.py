"""RunInstances with BlockDeviceMappings and NetworkInterfaces: what survives termination, what EC2 shows."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from ec2proxy.ec2 import ids
from tests.devclouds import DevCloudProcess
from tests.support import WAIT, code_of, until

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.3"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def described(ec2, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def test_extra_volumes_and_delete_on_termination(ec2, ami):
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 2, "DeleteOnTermination": True, "VolumeType": "gp3"}},
        {"DeviceName": "/dev/sdg", "Ebs": {"VolumeSize": 3, "DeleteOnTermination": False}},
        {"DeviceName": "/dev/sdh", "NoDevice": ""},
    ])["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    shown = described(ec2, iid)
    assert shown["RootDeviceType"] == "instance-store"
    mappings = {m["DeviceName"]: m["Ebs"] for m in shown["BlockDeviceMappings"]}
    assert set(mappings) == {"/dev/sdf", "/dev/sdg"}
    assert mappings["/dev/sdf"]["DeleteOnTermination"] is True and mappings["/dev/sdg"]["DeleteOnTermination"] is False
    assert all(m["AttachTime"] and m["Status"] == "attached" for m in mappings.values())
    volumes = {v["VolumeId"]: v for v in ec2.describe_volumes(
        VolumeIds=[m["VolumeId"] for m in mappings.values()])["Volumes"]}
    assert volumes[mappings["/dev/sdf"]["VolumeId"]]["Size"] == 2
    assert volumes[mappings["/dev/sdg"]["VolumeId"]]["Size"] == 3
    assert {a["Device"] for v in volumes.values() for a in v["Attachments"]} == {"/dev/sdf", "/dev/sdg"}
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    left = {v["VolumeId"]: v for v in ec2.describe_volumes()["Volumes"]}
    assert mappings["/dev/sdf"]["VolumeId"] not in left  # deleted with the instance
    kept = left[mappings["/dev/sdg"]["VolumeId"]]  # survived it, detached
    assert kept["Attachments"] == []
    ec2.get_waiter("volume_available").wait(VolumeIds=[kept["VolumeId"]], WaiterConfig=WAIT)
    ec2.delete_volume(VolumeId=kept["VolumeId"])


def test_boot_from_volume(ec2, ami):
    root = ec2.describe_images(ImageIds=[ami])["Images"][0]["RootDeviceName"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, BlockDeviceMappings=[
        {"DeviceName": root, "Ebs": {"VolumeSize": 4}}])["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    shown = described(ec2, iid)
    assert shown["RootDeviceType"] == "ebs" and shown["RootDeviceName"] == root and shown["ImageId"] == ami
    (mapping,) = shown["BlockDeviceMappings"]
    assert mapping["DeviceName"] == root and mapping["Ebs"]["DeleteOnTermination"] is True
    assert ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"][0]["Size"] == 4
    assert code_of(ec2.detach_volume, VolumeId=mapping["Ebs"]["VolumeId"]) == "OperationNotPermitted"
    ec2.terminate_instances(InstanceIds=[iid])


def test_a_snapshot_becomes_an_extra_volume(ec2, ami):
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    source = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[source], WaiterConfig=WAIT)
    snapshot = ec2.create_snapshot(VolumeId=source)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot], WaiterConfig=WAIT)
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": zone},
                                    BlockDeviceMappings=[{"DeviceName": "/dev/sdf",
                                                          "Ebs": {"SnapshotId": snapshot}}])["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    (mapping,) = described(ec2, instance["InstanceId"])["BlockDeviceMappings"]
    volume = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"][0]
    assert volume["SnapshotId"] == snapshot
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


@pytest.mark.parametrize("mappings, code", [
    ([{"DeviceName": "/dev/sdf", "Ebs": {"DeleteOnTermination": True}}], "MissingParameter"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1, "Iops": 3000}}], "UnsupportedOperation"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1, "Encrypted": True}}], "UnsupportedOperation"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1, "VolumeType": "floppy"}}], "InvalidParameterValue"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}], "InvalidSnapshot.NotFound"),
    ([{"DeviceName": "/dev/sdf", "VirtualName": "swap"}], "InvalidParameterValue"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}, {"DeviceName": "/dev/sdf", "NoDevice": ""}],
     "InvalidParameterValue"),
    ([{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 99999}}], "InvalidParameterValue"),
])
def test_bad_block_device_mappings(ec2, ami, mappings, code):
    before = len(ec2.describe_volumes()["Volumes"])
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, BlockDeviceMappings=mappings) == code
    assert len(ec2.describe_volumes()["Volumes"]) == before


def test_network_interfaces(ec2, ami):
    subnet = ec2.describe_subnets()["Subnets"][0]
    group = ec2.create_security_group(GroupName="nic-group", Description="for the interface")["GroupId"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": subnet["SubnetId"], "PrivateIpAddress": "10.0.201.5",
         "Groups": [group]}])["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    shown = described(ec2, instance["InstanceId"])
    (interface,) = shown["NetworkInterfaces"]
    assert interface["PrivateIpAddress"] == "10.0.201.5" and interface["SubnetId"] == subnet["SubnetId"]
    assert [g["GroupId"] for g in interface["Groups"]] == [group]
    assert [g["GroupId"] for g in shown["SecurityGroups"]] == [group]
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"],
                   NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet["SubnetId"]}]) == \
        "InvalidParameterCombination"
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=2, MaxCount=2, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": subnet["SubnetId"], "PrivateIpAddress": "10.0.201.6"}]) == \
        "InvalidParameterCombination"
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "NetworkInterfaceId": interface["NetworkInterfaceId"]}]) == \
        "InvalidNetworkInterface.InUse"
    # as AWS answers: an existing interface is never deleted with the instance; an address outside the default
    # subnet (none named) is not in its range
    spare = ec2.create_network_interface(SubnetId=subnet["SubnetId"])["NetworkInterface"]["NetworkInterfaceId"]
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "NetworkInterfaceId": spare, "DeleteOnTermination": True}]) == \
        "InvalidParameterCombination"
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, PrivateIpAddress="10.16.1.2") == \
        "InvalidParameterValue"
    # in the VPC but not in the subnet named (the retired suite found the instance booted in a sibling subnet)
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"],
                   PrivateIpAddress="10.255.255.9") == "InvalidParameterValue"
    ec2.delete_network_interface(NetworkInterfaceId=spare)
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def test_device_indexes_of_a_launch_need_not_follow_each_other(ec2, ami):
    """Existing interfaces at 0 and 2 (as the retired ec2-api suite launches them): shown at those indexes; a
    new interface takes the free index 1. Each index once and one of them 0, as AWS asks."""
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    first, third = (ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
                    for _ in range(2))
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "NetworkInterfaceId": first}, {"DeviceIndex": 2, "NetworkInterfaceId": third},
        {"DeviceIndex": 1, "SubnetId": subnet}])["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    shown = sorted((n["Attachment"]["DeviceIndex"], n["NetworkInterfaceId"])
                   for n in described(ec2, iid)["NetworkInterfaces"])
    assert [index for index, _ in shown] == [0, 1, 2]
    assert (shown[0][1], shown[2][1]) == (first, third)
    for nics, code in (
            ([{"DeviceIndex": 0, "SubnetId": subnet}, {"DeviceIndex": 0, "SubnetId": subnet}], "InvalidParameterValue"),
            ([{"DeviceIndex": 1, "SubnetId": subnet}], "InvalidParameterValue"),
            ([{"DeviceIndex": 0, "SubnetId": subnet}, {"DeviceIndex": 3, "SubnetId": subnet}],
             "UnsupportedOperation")):
        assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, NetworkInterfaces=nics) == code
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)


def test_tag_specifications_for_the_volumes_and_interfaces_a_launch_creates(ec2, ami):
    """As Ansible's ec2_instance sends them whenever a name or tags are set."""
    specs = [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": "tagged-launch"}, {"Key": "kind", "Value": kind}]}
             for kind in ("instance", "volume", "network-interface")]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, TagSpecifications=specs,
                                    BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 1}}])[
        "Instances"]
    iid = instance["InstanceId"]
    assert {"Key": "kind", "Value": "instance"} in instance["Tags"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    shown = described(ec2, iid)
    volume_ids = [m["Ebs"]["VolumeId"] for m in shown["BlockDeviceMappings"]]
    eni_ids = [n["NetworkInterfaceId"] for n in shown["NetworkInterfaces"]]
    assert volume_ids and eni_ids
    by_name = [{"Name": "tag:Name", "Values": ["tagged-launch"]}]

    def tagged():
        volumes = ec2.describe_volumes(Filters=by_name)["Volumes"]
        enis = ec2.describe_network_interfaces(Filters=by_name)["NetworkInterfaces"]
        return sorted(v["VolumeId"] for v in volumes), sorted(n["NetworkInterfaceId"] for n in enis)

    for _ in range(60):  # tagged by a background job once Nova has built them
        if tagged() == (sorted(volume_ids), sorted(eni_ids)):
            break
        time.sleep(0.5)
    assert tagged() == (sorted(volume_ids), sorted(eni_ids))
    (volume,) = ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]
    assert {"Key": "kind", "Value": "volume"} in volume["Tags"]
    (eni,) = ec2.describe_network_interfaces(NetworkInterfaceIds=eni_ids)["NetworkInterfaces"]
    assert {"Key": "kind", "Value": "network-interface"} in eni["TagSet"]
    ec2.terminate_instances(InstanceIds=[iid])


def test_tag_specifications_for_what_a_launch_cannot_create_are_refused(ec2, ami):
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1,
                   TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "a", "Value": "b"}]}]) == \
        "InvalidParameterValue"


def test_ebs_image_of_a_volume_backed_instance(ec2, ami, proxy):
    """CreateImage of a volume-backed instance: an EBS image mapping the snapshots Nova made (tagged as asked),
    RunInstances of it boots from new volumes of them, DeregisterImage leaves the snapshots (as on AWS), and
    the roots go with their instances, snapshots or not."""
    root = ec2.describe_images(ImageIds=[ami])["Images"][0]["RootDeviceName"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, BlockDeviceMappings=[
        {"DeviceName": root, "Ebs": {"VolumeSize": 3, "DeleteOnTermination": True}}])["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    image_id = ec2.create_image(InstanceId=iid, Name="ebs-backed", TagSpecifications=[
        {"ResourceType": "image", "Tags": [{"Key": "of", "Value": "image"}]},
        {"ResourceType": "snapshot", "Tags": [{"Key": "of", "Value": "snapshot"}]}])["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig=WAIT)
    (image,) = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert image["RootDeviceType"] == "ebs" and image["Tags"] == [{"Key": "of", "Value": "image"}]
    (mapping,) = image["BlockDeviceMappings"]
    assert mapping["DeviceName"] == image["RootDeviceName"]
    assert mapping["Ebs"]["VolumeSize"] == 3 and mapping["Ebs"]["DeleteOnTermination"] is True
    snapshot_id = mapping["Ebs"]["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot_id], WaiterConfig=WAIT)
    (snapshot,) = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]
    assert snapshot["Tags"] == [{"Key": "of", "Value": "snapshot"}] and snapshot["VolumeSize"] == 3
    # Nova wrote the flavor's 8 GB root disk as min_disk, which would refuse every boot on a 3 GB root
    glance = DevCloudProcess(proxy.data_dir).sdk().image
    assert next(i for i in glance.images() if ids.from_uuid("ami", i.id) == image_id).min_disk == 3

    (booted,) = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[booted["InstanceId"]], WaiterConfig=WAIT)
    shown = described(ec2, booted["InstanceId"])
    assert shown["ImageId"] == image_id and shown["RootDeviceType"] == "ebs"
    (root_mapping,) = shown["BlockDeviceMappings"]
    (volume,) = ec2.describe_volumes(VolumeIds=[root_mapping["Ebs"]["VolumeId"]])["Volumes"]
    assert volume["SnapshotId"] == snapshot_id and volume["Size"] == 3

    first_root = described(ec2, iid)["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    ec2.create_tags(Resources=[first_root], Tags=[{"Key": "goes", "Value": "with-instance"}])
    ec2.terminate_instances(InstanceIds=[iid, booted["InstanceId"]])
    ec2.deregister_image(ImageId=image_id)
    assert code_of(ec2.describe_images, ImageIds=[image_id]) == "InvalidAMIID.Unavailable"
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"]] == [snapshot_id]

    # Both roots go with their instances, as on AWS. Cinder keeps the first, which has the image's snapshot
    # (Nova's delete is refused): EC2 shows it no more, and deleting that snapshot deletes it.
    roots = {first_root, root_mapping["Ebs"]["VolumeId"]}
    until(lambda: not roots & {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}, 30)
    assert code_of(ec2.describe_volumes, VolumeIds=[first_root]) == "InvalidVolume.NotFound"
    until(lambda: not ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [first_root]}])["Tags"], 30)
    assert code_of(ec2.create_snapshot, VolumeId=first_root) == "InvalidVolume.NotFound"
    assert ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["VolumeId"] == first_root
    cinder = DevCloudProcess(proxy.data_dir).sdk().block_storage
    in_cinder = {ids.from_uuid("vol", v.id): v for v in cinder.volumes()}
    assert set(in_cinder) & roots == {first_root} and in_cinder[first_root].status == "available"
    ec2.delete_snapshot(SnapshotId=snapshot_id)
    until(lambda: first_root not in {ids.from_uuid("vol", v.id) for v in cinder.volumes()}, 30)


def test_associate_public_ip_address_on_the_first_interface(ec2, ami):
    subnet = ec2.describe_subnets()["Subnets"][0]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": subnet["SubnetId"], "AssociatePublicIpAddress": True}])["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    for _ in range(100):  # given once Nova has made the port
        public = described(ec2, iid).get("PublicIpAddress")
        if public:
            break
        time.sleep(0.1)
    assert public and public not in [a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]]
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)


def test_delete_on_termination_changes_what_nova_deletes(ec2, ami, proxy):
    """ModifyInstanceAttribute's BlockDeviceMapping changes Nova's own delete-on-termination flag (compute API
    2.85), not only what EC2 shows: an attached volume set to go is deleted with the instance, a root volume
    set to stay survives it. Device names, the EBS root and the attach times stay as they were."""
    root = ec2.describe_images(ImageIds=[ami])["Images"][0]["RootDeviceName"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, BlockDeviceMappings=[
        {"DeviceName": root, "Ebs": {"VolumeSize": 1, "DeleteOnTermination": True}}])["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    zone = described(ec2, iid)["Placement"]["AvailabilityZone"]
    data = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[data], WaiterConfig=WAIT)
    ec2.attach_volume(VolumeId=data, InstanceId=iid, Device="/dev/sdf")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[data], WaiterConfig=WAIT)
    until(lambda: len(described(ec2, iid)["BlockDeviceMappings"]) == 2, 30)
    before = {m["DeviceName"]: m["Ebs"] for m in described(ec2, iid)["BlockDeviceMappings"]}
    assert {d: e["DeleteOnTermination"] for d, e in before.items()} == {root: True, "/dev/sdf": False}

    assert code_of(ec2.modify_instance_attribute, InstanceId=iid, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdz", "Ebs": {"DeleteOnTermination": True}}]) == "InvalidParameterValue"
    proxy.aws("ec2", "modify-instance-attribute", "--instance-id", iid, "--block-device-mappings",
              json.dumps([{"DeviceName": "/dev/sdf", "Ebs": {"DeleteOnTermination": True}}]))
    ec2.modify_instance_attribute(InstanceId=iid, BlockDeviceMappings=[
        {"DeviceName": root, "Ebs": {"DeleteOnTermination": False}}])
    shown = described(ec2, iid)
    after = {m["DeviceName"]: m["Ebs"] for m in shown["BlockDeviceMappings"]}
    assert {d: e["DeleteOnTermination"] for d, e in after.items()} == {root: False, "/dev/sdf": True}
    assert {d: (e["VolumeId"], e["AttachTime"]) for d, e in after.items()} == \
        {d: (e["VolumeId"], e["AttachTime"]) for d, e in before.items()}
    assert shown["RootDeviceType"] == "ebs" and shown["RootDeviceName"] == root
    assert ec2.describe_instance_attribute(InstanceId=iid, Attribute="blockDeviceMapping")[
        "BlockDeviceMappings"] == shown["BlockDeviceMappings"]
    (server,) = [s for s in DevCloudProcess(proxy.data_dir).sdk().compute.servers()
                 if ids.from_uuid("i", s.id) == iid]
    assert {ids.from_uuid("vol", v["id"]): v["delete_on_termination"] for v in server.attached_volumes} == \
        {after[root]["VolumeId"]: False, data: True}

    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    until(lambda: code_of_or_none(ec2.describe_volumes, VolumeIds=[data]) == "InvalidVolume.NotFound", 30)
    kept = after[root]["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[kept], WaiterConfig=WAIT)
    ec2.delete_volume(VolumeId=kept)


def code_of_or_none(call, **kwargs) -> str | None:
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None
