"""Volumes and snapshots through boto3 and the AWS CLI, with the waiters tools use."""

from __future__ import annotations

import json
import time

import pytest

from tests.devclouds import DevCloudProcess
from tests.support import WAIT, code_of, when_free

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.3",
             "EC2PROXY_API_VOLUME_TYPES": "standard=__DEFAULT__ gp2=__DEFAULT__ gp3=__DEFAULT__ io1=ssd"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


@pytest.fixture(scope="module")
def running(ec2, ami):
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    described = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    yield described
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def volume(ec2, volume_id: str) -> dict:
    return ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]


def wait_attachment(ec2, volume_id: str, state: str) -> dict:
    for _ in range(WAIT["MaxAttempts"] * 2):
        current = volume(ec2, volume_id)
        if [a["State"] for a in current["Attachments"]] == ([state] if state != "detached" else []):
            return current
        time.sleep(0.5)
    raise AssertionError(f"{volume_id} never reached attachment state {state}: {current}")


def test_create_attach_detach_delete_with_waiters(ec2, running):
    zone = running["Placement"]["AvailabilityZone"]
    created = ec2.create_volume(Size=2, AvailabilityZone=zone, VolumeType="gp3", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": "data"}]}])
    vid = created["VolumeId"]
    assert created["State"] == "creating" and created["Size"] == 2 and created["VolumeType"] == "gp3"
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    attached = ec2.attach_volume(VolumeId=vid, InstanceId=running["InstanceId"], Device="/dev/sdf")
    assert attached["State"] == "attaching" and attached["Device"] == "/dev/sdf"
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    shown = wait_attachment(ec2, vid, "attached")
    (attachment,) = shown["Attachments"]
    assert attachment["InstanceId"] == running["InstanceId"] and attachment["Device"] == "/dev/sdf"
    assert attachment["AttachTime"] and shown["Tags"] == [{"Key": "Name", "Value": "data"}]
    instance = ec2.describe_instances(InstanceIds=[running["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert [(m["DeviceName"], m["Ebs"]["VolumeId"]) for m in instance["BlockDeviceMappings"]] == [("/dev/sdf", vid)]
    assert instance["BlockDeviceMappings"][0]["Ebs"]["AttachTime"]
    assert code_of(ec2.delete_volume, VolumeId=vid) == "VolumeInUse"
    assert code_of(ec2.attach_volume, VolumeId=vid, InstanceId=running["InstanceId"], Device="/dev/sdg") == \
        "IncorrectState"
    filtered = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [running["InstanceId"]]}])
    assert [v["VolumeId"] for v in filtered["Volumes"]] == [vid]
    detached = ec2.detach_volume(VolumeId=vid)
    assert detached["State"] == "detaching" and detached["InstanceId"] == running["InstanceId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    instance = ec2.describe_instances(InstanceIds=[running["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert instance["BlockDeviceMappings"] == []
    assert code_of(ec2.detach_volume, VolumeId=vid) == "IncorrectState"
    ec2.delete_volume(VolumeId=vid)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[vid], WaiterConfig=WAIT)


def test_snapshot_and_restore(ec2, running):
    zone = running["Placement"]["AvailabilityZone"]
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    snapshot = ec2.create_snapshot(VolumeId=vid, Description="nightly", TagSpecifications=[
        {"ResourceType": "snapshot", "Tags": [{"Key": "when", "Value": "night"}]}])
    sid = snapshot["SnapshotId"]
    assert snapshot["State"] == "pending" and snapshot["VolumeId"] == vid and snapshot["VolumeSize"] == 1
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    (shown,) = ec2.describe_snapshots(SnapshotIds=[sid])["Snapshots"]
    assert shown["Description"] == "nightly" and shown["Tags"] == [{"Key": "when", "Value": "night"}]
    assert shown["Progress"] == "100%"
    assert sid in [s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]
    assert ec2.describe_snapshots(OwnerIds=["123456789012"])["Snapshots"] == []
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(
        Filters=[{"Name": "volume-id", "Values": [vid]}])["Snapshots"]] == [sid]
    restored = ec2.create_volume(SnapshotId=sid, AvailabilityZone=zone, Size=2)
    assert restored["SnapshotId"] == sid
    ec2.get_waiter("volume_available").wait(VolumeIds=[restored["VolumeId"]], WaiterConfig=WAIT)
    assert volume(ec2, restored["VolumeId"])["Size"] == 2
    assert ec2.describe_snapshot_attribute(SnapshotId=sid, Attribute="createVolumePermission")[
        "CreateVolumePermissions"] == []
    assert code_of(ec2.modify_snapshot_attribute, SnapshotId=sid, Attribute="createVolumePermission",
                   OperationType="add", UserIds=["123456789012"]) == "UnsupportedOperation"
    assert code_of(ec2.copy_snapshot, SourceSnapshotId=sid, SourceRegion="RegionOne") == "UnsupportedOperation"
    assert code_of(ec2.create_volume, SnapshotId=sid, AvailabilityZone=zone, Size=0) in (
        "InvalidParameterValue",)
    ec2.delete_volume(VolumeId=restored["VolumeId"])
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[restored["VolumeId"]], WaiterConfig=WAIT)
    ec2.delete_snapshot(SnapshotId=sid)
    assert code_of(ec2.delete_snapshot, SnapshotId="snap-0123456789abcdef0") == "InvalidSnapshot.NotFound"


def test_client_token_creates_one_volume(ec2, running):
    zone = running["Placement"]["AvailabilityZone"]
    first = ec2.create_volume(Size=1, AvailabilityZone=zone, ClientToken="vol-token-1")
    again = ec2.create_volume(Size=1, AvailabilityZone=zone, ClientToken="vol-token-1")
    assert first["VolumeId"] == again["VolumeId"]
    assert code_of(ec2.create_volume, Size=2, AvailabilityZone=zone, ClientToken="vol-token-1") == \
        "IdempotentParameterMismatch"
    assert len([v for v in ec2.describe_volumes()["Volumes"] if v["VolumeId"] == first["VolumeId"]]) == 1


def test_modify_and_status(ec2, running):
    zone = running["Placement"]["AvailabilityZone"]
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    modification = ec2.modify_volume(VolumeId=vid, Size=3)["VolumeModification"]
    assert modification["TargetSize"] == 3 and modification["OriginalSize"] == 1
    for _ in range(40):
        if volume(ec2, vid)["Size"] == 3:
            break
        time.sleep(0.25)
    assert volume(ec2, vid)["Size"] == 3
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    assert code_of(ec2.modify_volume, VolumeId=vid, Size=2) == "InvalidParameterValue"
    (status,) = ec2.describe_volume_status(VolumeIds=[vid])["VolumeStatuses"]
    assert status["VolumeStatus"]["Status"] == "ok"
    assert ec2.describe_volume_attribute(VolumeId=vid, Attribute="autoEnableIO")["AutoEnableIO"] == {"Value": False}
    ec2.modify_volume_attribute(VolumeId=vid, AutoEnableIO={"Value": True})
    assert ec2.describe_volume_attribute(VolumeId=vid, Attribute="autoEnableIO")["AutoEnableIO"] == {"Value": True}
    ec2.delete_volume(VolumeId=vid)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[vid], WaiterConfig=WAIT)


def test_modify_volume_type_retypes_in_cinder(ec2, running, proxy):
    """gp2 -> gp3 share Cinder's default type: only the EC2 type changes; gp3 -> io1 is Cinder's retype."""
    zone = running["Placement"]["AvailabilityZone"]
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone, VolumeType="gp2")["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    changed = ec2.modify_volume(VolumeId=vid, VolumeType="gp3")["VolumeModification"]
    assert (changed["OriginalVolumeType"], changed["TargetVolumeType"]) == ("gp2", "gp3")
    assert volume(ec2, vid)["VolumeType"] == "gp3"
    changed = ec2.modify_volume(VolumeId=vid, VolumeType="io1", Size=2)["VolumeModification"]
    assert (changed["TargetVolumeType"], changed["TargetSize"]) == ("io1", 2)
    for _ in range(40):
        if (volume(ec2, vid)["VolumeType"], volume(ec2, vid)["Size"]) == ("io1", 2):
            break
        time.sleep(0.25)
    assert (volume(ec2, vid)["VolumeType"], volume(ec2, vid)["Size"]) == ("io1", 2)
    assert code_of(ec2.modify_volume, VolumeId=vid, VolumeType="sc1") == "InvalidParameterValue"  # not offered
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    ec2.delete_volume(VolumeId=vid)


@pytest.mark.parametrize("kwargs, code", [
    ({}, "MissingParameter"),
    ({"Size": 0}, "InvalidParameterValue"),
    ({"Size": 20000}, "InvalidParameterValue"),
    ({"Size": 1, "VolumeType": "io2", "Iops": 3000}, "UnsupportedOperation"),
    ({"Size": 1, "Encrypted": True}, "UnsupportedOperation"),
    ({"Size": 1, "VolumeType": "floppy"}, "InvalidParameterValue"),
    ({"Size": 1, "AvailabilityZone": "nowhere-1z"}, "InvalidParameterValue"),
    ({"SnapshotId": "snap-0123456789abcdef0"}, "InvalidSnapshot.NotFound"),
    ({"Size": 1, "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "a", "Value": "b"}]}]},
     "InvalidParameterValue"),
    ({"Size": 1, "DryRun": True}, "DryRunOperation"),
])
def test_create_volume_errors(ec2, running, kwargs, code):
    def settled() -> set[str]:
        return {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"] if v["State"] != "deleting"}

    before = settled()
    assert code_of(ec2.create_volume, **{"AvailabilityZone": running["Placement"]["AvailabilityZone"], **kwargs}) == \
        code
    assert settled() <= before  # nothing half-made


def test_attach_errors(ec2, running):
    zone = running["Placement"]["AvailabilityZone"]
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    assert code_of(ec2.attach_volume, VolumeId=vid, InstanceId=running["InstanceId"], Device="sdf!") == \
        "InvalidParameterValue"
    assert code_of(ec2.attach_volume, VolumeId=vid, InstanceId=running["InstanceId"],
                   Device=running["RootDeviceName"]) == "InvalidParameterValue"
    assert code_of(ec2.attach_volume, VolumeId=vid, InstanceId="i-0123456789abcdef0", Device="/dev/sdh") == \
        "InvalidInstanceID.NotFound"
    assert code_of(ec2.attach_volume, VolumeId="vol-0123456789abcdef0", InstanceId=running["InstanceId"],
                   Device="/dev/sdh") == "InvalidVolume.NotFound"
    assert code_of(ec2.describe_volumes, VolumeIds=["vol-nope"]) == "InvalidVolumeID.Malformed"
    ec2.delete_volume(VolumeId=vid)


def test_aws_cli_volume_lifecycle(proxy, running):
    zone = running["Placement"]["AvailabilityZone"]
    created = json.loads(proxy.aws("ec2", "create-volume", "--size", "1", "--availability-zone", zone).stdout)
    proxy.aws("ec2", "wait", "volume-available", "--volume-ids", created["VolumeId"])
    listed = json.loads(proxy.aws("ec2", "describe-volumes", "--volume-ids", created["VolumeId"]).stdout)
    assert listed["Volumes"][0]["State"] == "available"
    # The plain listing: the AWS CLI pages it with MaxResults=1000 of its own, over DescribeVolumes' maximum of
    # 500; AWS answers 500 a page then, so must we
    everything = json.loads(proxy.aws("ec2", "describe-volumes").stdout)
    assert created["VolumeId"] in [v["VolumeId"] for v in everything["Volumes"]]
    proxy.aws("ec2", "delete-volume", "--volume-id", created["VolumeId"])


def test_max_results_over_the_maximum_is_the_maximum(ec2):
    assert "Volumes" in ec2.describe_volumes(MaxResults=1000)
    assert "Tags" in ec2.describe_tags(MaxResults=1100)  # the retired suite checks it against AWS
    for call in (ec2.describe_volumes, ec2.describe_tags):
        assert code_of(call, MaxResults=4) == "InvalidParameterValue"


def test_snapshot_right_after_the_in_use_waiter(ec2, running):
    """DescribeVolumes shows an attaching volume in-use (as AWS does): CreateSnapshot then waits for Cinder to
    finish the attachment instead of refusing the moment it still needs."""
    zone = running["Placement"]["AvailabilityZone"]
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    ec2.attach_volume(VolumeId=vid, InstanceId=running["InstanceId"], Device="/dev/sdm")
    shown = volume(ec2, vid)
    assert shown["State"] == "in-use" and shown["Attachments"][0]["State"] == "attaching"
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    snapshot = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot], WaiterConfig=WAIT)
    ec2.detach_volume(VolumeId=vid)
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    ec2.delete_snapshot(SnapshotId=snapshot)


def test_delete_volume_after_delete_snapshot(ec2, running):
    """Cinder finishes a snapshot's deletion on its own; then the volume can go (the dev cloud once waited for
    someone to list snapshots)."""
    zone = running["Placement"]["AvailabilityZone"]
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    snapshot = ec2.create_snapshot(VolumeId=vid)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot], WaiterConfig=WAIT)
    assert code_of(ec2.delete_volume, VolumeId=vid) == "VolumeInUse"  # this cloud: snapshots first (README)
    ec2.delete_snapshot(SnapshotId=snapshot)
    when_free(ec2.delete_volume, "VolumeInUse", 40, 0.25, VolumeId=vid)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[vid], WaiterConfig=WAIT)


def test_describe_volumes_by_id_asks_cinder_for_those_volumes_only(ec2, proxy):
    """A few known volume ids are one GET each, their tags read meanwhile: never the project's listing; an id
    asked twice is one volume; one that is gone is NotFound (the listing then says which)."""
    read, clear = DevCloudProcess(proxy.data_dir).request_log()
    volume = ec2.create_volume(Size=1, AvailabilityZone="nova",
                               TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "k", "Value": "v"}]}])
    vid = volume["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    clear()
    (shown,) = ec2.describe_volumes(VolumeIds=[vid, vid])["Volumes"]
    assert shown["VolumeId"] == vid and shown["State"] == "available" and shown["Tags"] == [{"Key": "k", "Value": "v"}]
    paths = [c["raw_path"] for c in read() if c["method"] == "GET" and "/volumes" in c["raw_path"]]
    assert paths and not any("/volumes/detail" in p for p in paths), paths
    ec2.delete_volume(VolumeId=vid)
    deadline = time.monotonic() + 60
    while ec2.describe_volumes(Filters=[{"Name": "volume-id", "Values": [vid]}])["Volumes"]:
        assert time.monotonic() < deadline, "the deleted volume never went"
        time.sleep(0.5)
    assert code_of(ec2.describe_volumes, VolumeIds=[vid]) == "InvalidVolume.NotFound"
