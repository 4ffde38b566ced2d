"""Images through boto3 and the AWS CLI: Describe, CreateImage (answered at once), RegisterImage,
attributes and sharing, deregistering, stuck images."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import pytest

from tests.support import WAIT, code_of, ebs_root, own_image

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.5", "EC2PROXY_API_IMAGE_STUCK_AFTER": "6", "EC2PROXY_API_JOB_LEASE": "3",
             "EC2PROXY_API_IMAGE_LOCATION_ALLOW": "127.0.0.1"}  # the test image server is on loopback


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


@pytest.fixture(scope="module")
def running(ec2, ami):
    """An EBS-backed instance (its root a volume made of the public image): what CreateImage images."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, BlockDeviceMappings=ebs_root(ec2, ami))[
        "Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    yield instance["InstanceId"]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


@pytest.fixture(scope="module")
def image_server():
    """An http server with one image file, for RegisterImage's ImageLocation."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"\x00disk image bytes" * 64
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_clouds_public_image_is_described_like_an_ami(ec2, ami, accounts):
    (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
    assert image["State"] == "available" and image["Public"] is True and image["ImageType"] == "machine"
    assert image["Name"] == "cirros-0.6.2-x86_64-disk" and image["RootDeviceType"] == "instance-store"
    assert image["OwnerId"] == accounts["admin"]["project_id"] and image["CreationDate"].endswith("Z")
    assert ami in [i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]]
    assert ami not in [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]]
    assert ami in [i["ImageId"] for i in ec2.describe_images(ExecutableUsers=["all"])["Images"]]
    for name, value in (("name", "cirros-*"), ("is-public", "true"), ("state", "available"),
                        ("image-type", "machine"), ("architecture", "x86_64"), ("root-device-type", "instance-store")):
        assert ami in [i["ImageId"] for i in ec2.describe_images(Filters=[{"Name": name, "Values": [value]}])["Images"]]
    assert ec2.describe_images(Filters=[{"Name": "name", "Values": ["nothing-*"]}])["Images"] == []
    assert code_of(ec2.describe_images, ImageIds=["ami-0123456789abcdef0"]) == "InvalidAMIID.NotFound"
    assert code_of(ec2.describe_images, ImageIds=["ami-zzz"]) == "InvalidAMIID.Malformed"
    assert code_of(ec2.describe_images, Filters=[{"Name": "colour", "Values": ["x"]}]) == "InvalidParameterValue"


def test_an_instance_store_instance_is_not_imaged_as_on_aws(ec2, ami):
    """CreateImage makes EBS-backed AMIs of EBS-backed instances (EC2 API reference); an instance of the cloud's
    public image keeps its root on the host's disk (RootDeviceType instance-store) and is refused, nothing made."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["RootDeviceType"] == \
        "instance-store"
    before = ec2.describe_images(Owners=["self"])["Images"]
    assert code_of(ec2.create_image, InstanceId=iid, Name="of-local-disk") == "InvalidParameterValue"
    assert ec2.describe_images(Owners=["self"])["Images"] == before
    ec2.terminate_instances(InstanceIds=[iid])


def test_create_image_answers_at_once_and_becomes_available(ec2, running):
    started = time.monotonic()
    created = ec2.create_image(InstanceId=running, Name="web-1.0", Description="the web tier", NoReboot=True,
                               TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "v", "Value": "1"}]}])
    assert time.monotonic() - started < 2  # Nova snapshots for a while: we do not wait for it
    ami = created["ImageId"]
    (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
    # an EBS AMI: Nova makes the image once Cinder's snapshots are, which may already be the case
    assert image["State"] in ("pending", "available") and image["Tags"] == [{"Key": "v", "Value": "1"}]
    assert image["RootDeviceType"] == "ebs"
    # other requests keep being served while the snapshot is made
    assert ec2.describe_regions()["Regions"] and ec2.describe_instances(InstanceIds=[running])["Reservations"]
    ec2.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig=WAIT)
    (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
    assert image["Name"] == "web-1.0" and image["Description"] == "the web tier" and image["Public"] is False
    assert ami in [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]]
    assert code_of(ec2.create_image, InstanceId=running, Name="web-1.0") == "InvalidAMIName.Duplicate"
    # the new image boots
    (booted,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    assert booted["ImageId"] == ami
    ec2.terminate_instances(InstanceIds=[booted["InstanceId"]])


@pytest.mark.parametrize("kwargs, code", [
    ({"InstanceId": "i-0123456789abcdef0", "Name": "fine-name"}, "InvalidInstanceID.NotFound"),
    ({"Name": "star*name"}, "InvalidParameterValue"),
    ({"Name": "bad!name"}, "InvalidParameterValue"),
    ({"Name": "fine-name", "Description": "d" * 256}, "InvalidParameterValue"),
    ({"Name": "fine-name", "BlockDeviceMappings": [{"DeviceName": "/dev/sdb", "NoDevice": ""}]},
     "UnsupportedOperation"),
    ({"Name": "fine-name", "TagSpecifications": [{"ResourceType": "volume", "Tags": [{"Key": "a", "Value": "b"}]}]},
     "InvalidParameterValue"),
    ({"Name": "fine-name", "DryRun": True}, "DryRunOperation"),
])
def test_create_image_errors(ec2, running, kwargs, code):
    assert code_of(ec2.create_image, **{"InstanceId": running, **kwargs}) == code
    assert ec2.describe_images(Filters=[{"Name": "name", "Values": ["fine-name"]}])["Images"] == []


def test_register_image_from_a_location(ec2, image_server):
    ami = ec2.register_image(Name="registered", ImageLocation=f"{image_server}/disk.img",
                             Architecture="x86_64", Description="from a URL")["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig=WAIT)
    (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
    assert image["Description"] == "from a URL" and image["OwnerId"] == ec2.describe_security_groups(
        GroupNames=["default"])["SecurityGroups"][0]["OwnerId"]
    assert code_of(ec2.register_image, Name="nowhere", ImageLocation="bucket/manifest.xml") == \
        "InvalidParameterValue"
    assert code_of(ec2.register_image, Name="no-root") == "InvalidParameterValue"
    assert code_of(ec2.register_image, Name="registered", ImageLocation=f"{image_server}/x.img") == \
        "InvalidAMIName.Duplicate"


def test_attributes_and_sharing(ec2, alt, ami, accounts):
    # an image with its data in Glance: another project launches a shared one (an EBS AMI's snapshots would stay
    # the owner's in Cinder)
    ami = own_image(ec2, ami, "shared-image")
    ec2.modify_image_attribute(ImageId=ami, Description={"Value": "new words"})
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="description")["Description"] == {"Value": "new words"}
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")["LaunchPermissions"] == []
    assert code_of(alt.describe_images, ImageIds=[ami]) == "InvalidAMIID.NotFound"
    other = accounts["alt"]["project_id"]
    ec2.modify_image_attribute(ImageId=ami, LaunchPermission={"Add": [{"UserId": other}]})
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")["LaunchPermissions"] == [
        {"UserId": other}]
    assert [i["ImageId"] for i in alt.describe_images(ImageIds=[ami])["Images"]] == [ami]
    assert ami in [i["ImageId"] for i in ec2.describe_images(ExecutableUsers=[other])["Images"]]
    (theirs,) = alt.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]  # shared means launchable
    alt.terminate_instances(InstanceIds=[theirs["InstanceId"]])
    assert code_of(alt.modify_image_attribute, ImageId=ami, Description={"Value": "theirs"}) == "AuthFailure"
    # making an image public is the cloud's admins' call in Glance's default policy
    assert code_of(ec2.modify_image_attribute, ImageId=ami, LaunchPermission={"Add": [{"Group": "all"}]}) == \
        "UnauthorizedOperation"
    ec2.reset_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="launchPermission")["LaunchPermissions"] == []
    assert code_of(alt.describe_images, ImageIds=[ami]) == "InvalidAMIID.NotFound"
    assert code_of(ec2.describe_image_attribute, ImageId=ami, Attribute="colour") == "InvalidRequest"
    assert ec2.describe_image_attribute(ImageId=ami, Attribute="blockDeviceMapping")["BlockDeviceMappings"] == []
    for name, member in (("kernel", "KernelId"), ("ramdisk", "RamdiskId")):  # none: no member, as DescribeImages
        assert member not in ec2.describe_image_attribute(ImageId=ami, Attribute=name)
    assert code_of(ec2.modify_image_attribute, ImageId=ami, Attribute="kernel", Value="aki-01234567") == \
        "InvalidParameter"


def test_another_accounts_public_image_is_seen_not_touched(ec2, ami):
    """The codes AWS answers for an image the caller sees but does not own (the cloud's public image here); the
    request is checked before the ownership (as the retired project's suite, written against AWS, checks)."""
    assert ec2.describe_images(ImageIds=[ami])["Images"][0]["Public"] is True
    cases = [
        (ec2.describe_image_attribute, {"Attribute": "unsupported"}, "InvalidRequest"),
        (ec2.describe_image_attribute, {"Attribute": "description"}, "AuthFailure"),
        (ec2.describe_image_attribute, {"Attribute": "launchPermission"}, "AuthFailure"),  # Ansible's ec2_ami_info
        (ec2.modify_image_attribute, {"Attribute": "unsupported"}, "InvalidParameterCombination"),
        (ec2.modify_image_attribute, {"Attribute": "blockDeviceMapping"}, "InvalidParameter"),
        (ec2.modify_image_attribute, {}, "InvalidParameterCombination"),
        (ec2.modify_image_attribute, {"Description": {"Value": "fake"}}, "AuthFailure"),
        (ec2.modify_image_attribute, {"LaunchPermission": {"Add": [{"Group": "all"}]}}, "AuthFailure"),
        (ec2.modify_image_attribute, {"Attribute": "description"}, "MissingParameter"),
        (ec2.modify_image_attribute, {"Attribute": "launchPermission"}, "InvalidParameterCombination"),
        (ec2.reset_image_attribute, {"Attribute": "fake"}, "InvalidRequest"),
        (ec2.reset_image_attribute, {"Attribute": "launchPermission"}, "AuthFailure"),
        (ec2.deregister_image, {}, "AuthFailure"),
    ]
    for call, extra, code in cases:
        assert (call.__name__, extra, code_of(call, ImageId=ami, **extra)) == (call.__name__, extra, code)
    assert ec2.describe_images(ImageIds=[ami])["Images"][0]["Public"] is True  # and it is unchanged


def test_deregister(ec2, running, ami):
    mine = ec2.create_image(InstanceId=running, Name="short-lived")["ImageId"]
    ec2.create_tags(Resources=[mine], Tags=[{"Key": "a", "Value": "b"}])
    assert code_of(ec2.deregister_image, ImageId=ami) == "AuthFailure"  # the cloud's public image, not ours
    assert code_of(ec2.deregister_image, ImageId=mine, DryRun=True) == "DryRunOperation"
    assert ec2.deregister_image(ImageId=mine)["Return"] is True
    assert code_of(ec2.describe_images, ImageIds=[mine]) == "InvalidAMIID.Unavailable"  # deregistered, not unknown
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [mine]}])["Tags"] == []
    assert code_of(ec2.deregister_image, ImageId=mine) == "InvalidAMIID.NotFound"


def test_a_stuck_image_shows_failed_and_an_operator_removes_it(proxy, ec2, accounts):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections and never answers: Glance's download never ends
    try:
        ami = ec2.register_image(Name="stuck", ImageLocation=f"http://127.0.0.1:{silent.getsockname()[1]}/x.img")[
            "ImageId"]
        assert ec2.describe_images(ImageIds=[ami])["Images"][0]["State"] == "pending"
        time.sleep(7)
        (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
        assert image["State"] == "failed" and "more than 6 s" in image["StateReason"]["Message"]
        listed = [json.loads(line) for line in proxy.ec2proxy(
            "images", "stuck", "--project", accounts["demo"]["project_id"], "--json").stdout.splitlines()]
        assert [r["image_id"] for r in listed] == [ami] and not listed[0]["deleted"]
        proxy.ec2proxy("images", "stuck", "--project", accounts["demo"]["project_id"], "--delete")
        assert code_of(ec2.describe_images, ImageIds=[ami]) == "InvalidAMIID.NotFound"
    finally:
        silent.close()


def test_aws_cli_describe_images(proxy, ami):
    listed = json.loads(proxy.aws("ec2", "describe-images", "--image-ids", ami).stdout)
    assert listed["Images"][0]["ImageId"] == ami
    failed = proxy.aws("ec2", "describe-images", "--image-ids", "ami-0123456789abcdef0", check=False)
    assert failed.returncode != 0 and "InvalidAMIID.NotFound" in failed.stderr


def test_copy_image_answers_at_once_and_the_copy_becomes_available(ec2, ami):
    source = own_image(ec2, ami, "copy-source")
    ec2.create_tags(Resources=[source], Tags=[{"Key": "tier", "Value": "web"}])
    copied = ec2.copy_image(SourceImageId=source, SourceRegion="RegionOne", Name="copy-target",
                            Description="a copy", CopyImageTags=True, ClientToken="copy-1")["ImageId"]
    assert copied != source
    again = ec2.copy_image(SourceImageId=source, SourceRegion="RegionOne", Name="copy-target",
                           Description="a copy", CopyImageTags=True, ClientToken="copy-1")["ImageId"]
    assert again == copied  # one copy per ClientToken
    ec2.get_waiter("image_available").wait(ImageIds=[copied], WaiterConfig=WAIT)
    (image,) = ec2.describe_images(ImageIds=[copied])["Images"]
    assert image["Name"] == "copy-target" and image["Description"] == "a copy"
    assert image["Tags"] == [{"Key": "tier", "Value": "web"}]
    assert len(ec2.describe_images(Filters=[{"Name": "name", "Values": ["copy-target"]}])["Images"]) == 1
    (booted,) = ec2.run_instances(ImageId=copied, MinCount=1, MaxCount=1)["Instances"]
    ec2.terminate_instances(InstanceIds=[booted["InstanceId"]])
    assert code_of(ec2.copy_image, SourceImageId=source, SourceRegion="elsewhere-1", Name="x-copy") == \
        "UnsupportedOperation"
    assert code_of(ec2.copy_image, SourceImageId="ami-0123456789abcdef0", SourceRegion="RegionOne",
                   Name="x-copy") == "InvalidAMIID.NotFound"


def test_a_copy_cut_off_by_a_crash_is_finished_after_a_restart(proxy, ec2, ami, cloud):
    """The copy is a job in the database: a worker killed mid-copy loses nothing, the restarted one finishes it."""
    inject, clear, _ = cloud
    source = own_image(ec2, ami, "crash-source")
    inject({"service": "image", "method": "GET", "path": r"images/[^/]+/file", "count": 1, "kind": "hang",
            "seconds": 30})
    copied = ec2.copy_image(SourceImageId=source, SourceRegion="RegionOne", Name="crash-target")["ImageId"]
    time.sleep(7)  # the copy is hanging in its download, longer than image_stuck_after: a live job is not stuck
    assert ec2.describe_images(ImageIds=[copied])["Images"][0]["State"] == "pending"
    proxy.kill()
    proxy.start(timeout=120)  # a loaded CI machine may be slow to bring it back
    fresh = proxy.client()
    try:
        fresh.get_waiter("image_available").wait(ImageIds=[copied], WaiterConfig=WAIT)
    except Exception as exc:  # noqa: BLE001  what the restarted proxy did, for whoever reads a CI log
        raise AssertionError(f"{exc}\n--- serve.log (end) ---\n{proxy.log.read_text()[-4000:]}") from None
    listed = proxy.ec2proxy("operations", "list", "--resource-id", copied, "--json").stdout.splitlines()
    assert [json.loads(line)["state"] for line in listed] == ["succeeded"]


def test_register_an_image_whose_root_is_a_snapshot(ec2, running):
    zone = ec2.describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]["Placement"][
        "AvailabilityZone"]
    volume = ec2.create_volume(Size=2, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot], WaiterConfig=WAIT)
    ami = ec2.register_image(Name="from-snapshot", RootDeviceName="/dev/xvda", BlockDeviceMappings=[
        {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": snapshot, "DeleteOnTermination": True}}])["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[ami], WaiterConfig=WAIT)
    (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
    assert image["RootDeviceType"] == "ebs" and image["RootDeviceName"] == "/dev/xvda"
    (mapping,) = image["BlockDeviceMappings"]
    assert mapping["DeviceName"] == "/dev/xvda" and mapping["Ebs"]["SnapshotId"] == snapshot
    assert [i["ImageId"] for i in ec2.describe_images(Filters=[
        {"Name": "block-device-mapping.snapshot-id", "Values": [snapshot]}])["Images"]] == [ami]
    assert code_of(ec2.register_image, Name="bad-snapshot-root", RootDeviceName="/dev/xvda", BlockDeviceMappings=[
        {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-0123456789abcdef0"}}]) == "InvalidSnapshot.NotFound"


def test_a_deregistered_image_is_unavailable_not_unknown(ec2, ami):
    """Tools (amazon.aws ec2_ami) take InvalidAMIID.Unavailable as "already gone" on a re-run."""
    image = ec2.copy_image(SourceImageId=ami, SourceRegion="RegionOne", Name="to-be-deregistered")["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
    ec2.deregister_image(ImageId=image)
    assert code_of(ec2.describe_images, ImageIds=[image]) == "InvalidAMIID.Unavailable"
    assert code_of(ec2.describe_images, ImageIds=["ami-0123456789abcdef0"]) == "InvalidAMIID.NotFound"
