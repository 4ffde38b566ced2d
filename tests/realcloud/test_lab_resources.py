"""Key pairs, security groups, images, tags, volumes, elastic IPs and the VPC view against real OpenStack."""

from __future__ import annotations

import hashlib
import os
import time

import pytest
from cryptography.hazmat.primitives import serialization

from ec2proxy.ec2 import ids
from tests.realcloud.test_lab_instances import LAB, _demo_credential, as_demo, bootable_volume, lab_server, wait_running
from tests.support import code_of, until, when_free

pytestmark = pytest.mark.skipif(not LAB, reason="no OpenStack lab: run through ../shared/openstack-lab/run-with-lab.sh")
WAIT = {"Delay": 1, "MaxAttempts": 90}
STAMP = str(int(time.time()))


STUCK_AFTER = 20


@pytest.fixture(scope="module")
def ec2(tmp_path_factory):
    """The demo user's client of a proxy on the lab whose images count as stuck after STUCK_AFTER seconds."""
    server = lab_server(tmp_path_factory.mktemp("lab-resources"), "LAB_EC2_SERVICE", "[api]",
                        f"image_stuck_after = {STUCK_AFTER}")
    credential = _demo_credential()
    yield server.client(credential["access"], credential["secret"])
    server.stop()


@pytest.fixture(scope="module")
def running(ec2):
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                    InstanceType=os.environ.get("LAB_FLAVOR", "m1.tiny"))["Instances"]
    wait_running(ec2, [instance["InstanceId"]])
    yield ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def test_key_pairs_on_real_nova(ec2):
    name = f"lab-key-{STAMP}"
    created = ec2.create_key_pair(KeyName=name)
    private = serialization.load_pem_private_key(created["KeyMaterial"].encode(), password=None)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    assert created["KeyFingerprint"] == ":".join(f"{b:02x}" for b in hashlib.sha1(der).digest())
    (shown,) = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
    assert shown["KeyFingerprint"] == created["KeyFingerprint"] and shown["KeyType"] == "rsa"
    assert code_of(ec2.create_key_pair, KeyName=name) == "InvalidKeyPair.Duplicate"
    ed = ec2.create_key_pair(KeyName=f"{name}-ed", KeyType="ed25519")
    assert ec2.describe_key_pairs(KeyPairIds=[ed["KeyPairId"]])["KeyPairs"][0]["KeyType"] == "ed25519"
    for key in (name, f"{name}-ed"):
        ec2.delete_key_pair(KeyName=key)
    assert code_of(ec2.describe_key_pairs, KeyNames=[name]) == "InvalidKeyPair.NotFound"


def test_security_group_rules_round_trip_on_real_neutron(ec2):
    gid = ec2.create_security_group(GroupName=f"lab-sg-{STAMP}", Description="lab")["GroupId"]
    ingress = [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8",
                                                                          "Description": "ssh"}]},
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": gid}]},
    ]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=ingress)
    shown = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]

    def flat(permissions):
        return sorted(
            [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r.get("CidrIp") or r.get("CidrIpv6")
              or r.get("GroupId"), r.get("Description"))
             for p in permissions for r in p.get("IpRanges", []) + p.get("Ipv6Ranges", []) +
             p.get("UserIdGroupPairs", [])], key=str)

    assert flat(shown["IpPermissions"]) == flat(ingress)
    assert flat(shown["IpPermissionsEgress"]) == [("-1", None, None, "0.0.0.0/0", None), ("-1", None, None, "::/0",
                                                                                         None)]
    assert code_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[ingress[1]]) == \
        "InvalidPermission.Duplicate"
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=ingress[:2])
    assert flat(ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissions"]) == \
        flat(ingress[2:])
    (default,) = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert default["VpcId"].startswith("vpc-")
    ec2.delete_security_group(GroupId=gid)


def test_images_and_tags_on_real_glance(ec2, running):
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    (image,) = ec2.describe_images(ImageIds=[ami])["Images"]
    assert image["State"] == "available" and image["Public"] is True
    # an instance of the public image keeps its root on the host (instance-store): CreateImage refuses it, as AWS
    assert running["RootDeviceType"] == "instance-store"
    assert code_of(ec2.create_image, InstanceId=running["InstanceId"], Name=f"lab-local-{STAMP}") == \
        "InvalidParameterValue"
    # an image that never gets its data (made in Glance directly, as a failed upload leaves one) stays queued:
    # pending at first, then failed with its reason once image_stuck_after has passed
    made = as_demo(lambda view: view.glance.create_image(name=f"lab-image-{STAMP}", container_format="bare",
                                                         disk_format="raw"))
    created = ids.from_uuid("ami", made["id"])
    (mine,) = ec2.describe_images(ImageIds=[created])["Images"]
    assert mine["State"] == "pending"
    time.sleep(STUCK_AFTER + 2)
    (mine,) = ec2.describe_images(ImageIds=[created])["Images"]
    assert mine["State"] == "failed" and "queued" in mine["StateReason"]["Message"]
    ec2.create_tags(Resources=[created, running["InstanceId"]], Tags=[{"Key": "suite", "Value": "lab"}])
    tagged = {t["ResourceId"] for t in ec2.describe_tags(Filters=[{"Name": "key", "Values": ["suite"]}])["Tags"]}
    assert {created, running["InstanceId"]} <= tagged
    ec2.deregister_image(ImageId=created)
    assert code_of(ec2.describe_images, ImageIds=[created]) == "InvalidAMIID.Unavailable"


def test_volumes_and_snapshots_on_real_cinder(ec2, running):
    if os.environ.get("LAB_CINDER", "1") != "1":
        pytest.skip("the lab runs without Cinder (LAB_CINDER=0)")
    zone = running["Placement"]["AvailabilityZone"]
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone, ClientToken=f"lab-vol-{STAMP}")["VolumeId"]
    assert ec2.create_volume(Size=1, AvailabilityZone=zone, ClientToken=f"lab-vol-{STAMP}")["VolumeId"] == vid
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    ec2.attach_volume(VolumeId=vid, InstanceId=running["InstanceId"], Device="/dev/sdf")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    for _ in range(60):
        attachments = ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["Attachments"]
        if attachments and attachments[0]["State"] == "attached":
            break
        time.sleep(1)
    assert attachments[0]["Device"] == "/dev/sdf" and attachments[0]["InstanceId"] == running["InstanceId"]
    mappings = ec2.describe_instances(InstanceIds=[running["InstanceId"]])["Reservations"][0]["Instances"][0][
        "BlockDeviceMappings"]
    assert [(m["DeviceName"], m["Ebs"]["VolumeId"]) for m in mappings] == [("/dev/sdf", vid)]
    sid = ec2.create_snapshot(VolumeId=vid, Description="lab")["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[sid], WaiterConfig=WAIT)
    ec2.detach_volume(VolumeId=vid)
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    restored = ec2.create_volume(SnapshotId=sid, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[restored], WaiterConfig=WAIT)
    ec2.delete_volume(VolumeId=restored)
    ec2.get_waiter("volume_deleted").wait(VolumeIds=[restored], WaiterConfig=WAIT)
    ec2.delete_snapshot(SnapshotId=sid)
    for _ in range(60):
        if sid not in [s["SnapshotId"] for s in ec2.describe_snapshots()["Snapshots"]]:
            break
        time.sleep(1)
    ec2.delete_volume(VolumeId=vid)


def test_delete_on_termination_set_on_real_nova(ec2):
    """ModifyInstanceAttribute's DeleteOnTermination is Nova's own flag (compute API 2.85): the volume set to go
    is deleted with the instance by Nova itself."""
    if os.environ.get("LAB_CINDER", "1") != "1":
        pytest.skip("the lab runs without Cinder (LAB_CINDER=0)")
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                    InstanceType=os.environ.get("LAB_FLAVOR", "m1.tiny"))["Instances"]
    iid = instance["InstanceId"]
    wait_running(ec2, [iid])
    zone = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["Placement"][
        "AvailabilityZone"]
    vid = ec2.create_volume(Size=1, AvailabilityZone=zone)["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[vid], WaiterConfig=WAIT)
    ec2.attach_volume(VolumeId=vid, InstanceId=iid, Device="/dev/sdf")
    until(lambda: [a["State"] for a in ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0]["Attachments"]] ==
          ["attached"])
    ec2.modify_instance_attribute(InstanceId=iid, BlockDeviceMappings=[
        {"DeviceName": "/dev/sdf", "Ebs": {"DeleteOnTermination": True}}])
    (mapping,) = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"]
    assert mapping["DeviceName"] == "/dev/sdf" and mapping["Ebs"]["DeleteOnTermination"] is True

    async def nova_flags(view):
        (server,) = [s for s in await view.nova.list_servers() if ids.from_uuid("i", s["id"]) == iid]
        return {ids.from_uuid("vol", v["id"]): v["delete_on_termination"]
                for v in server["os-extended-volumes:volumes_attached"]}

    assert as_demo(nova_flags) == {vid: True}
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    until(lambda: vid not in cinder_volumes())  # Nova deleted it


def test_elastic_ip_and_vpc_view_on_real_neutron(ec2, running):
    allocated = ec2.allocate_address(Domain="vpc")
    assert allocated["PublicIp"].startswith("198.51.100.")
    ec2.associate_address(AllocationId=allocated["AllocationId"], InstanceId=running["InstanceId"])
    shown = ec2.describe_instances(InstanceIds=[running["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert shown["PublicIpAddress"] == allocated["PublicIp"]  # from Neutron, before Nova's cache knows
    (address,) = ec2.describe_addresses(AllocationIds=[allocated["AllocationId"]])["Addresses"]
    assert address["InstanceId"] == running["InstanceId"]
    (vpc,) = ec2.describe_vpcs(VpcIds=[shown["VpcId"]])["Vpcs"]
    assert vpc["CidrBlock"] == "10.0.0.0/24" and vpc["IsDefault"] is True
    (subnet,) = ec2.describe_subnets(SubnetIds=[shown["SubnetId"]])["Subnets"]
    assert subnet["VpcId"] == vpc["VpcId"]
    (eni,) = ec2.describe_network_interfaces(
        NetworkInterfaceIds=[shown["NetworkInterfaces"][0]["NetworkInterfaceId"]])["NetworkInterfaces"]
    assert eni["Attachment"]["InstanceId"] == running["InstanceId"]
    assert eni["Association"]["PublicIp"] == allocated["PublicIp"]
    # what AWS answers (issue 27), on real Neutron: an address already associated is not moved without
    # AllowReassociation; unknown addresses and associations are NotFound; a VPC address is not released by its
    # PublicIp; Terraform's ptr_record read answers (no reverse DNS kept by this cloud's Neutron)
    spare = ec2.create_network_interface(SubnetId=shown["SubnetId"])["NetworkInterface"]["NetworkInterfaceId"]
    assert code_of(ec2.associate_address, AllocationId=allocated["AllocationId"],
                   NetworkInterfaceId=spare) == "Resource.AlreadyAssociated"
    ec2.delete_network_interface(NetworkInterfaceId=spare)
    assert code_of(ec2.describe_addresses, PublicIps=["203.0.113.250"]) == "InvalidAddress.NotFound"
    assert code_of(ec2.disassociate_address, AssociationId="eipassoc-0123456789abcdef0") == \
        "InvalidAssociationID.NotFound"
    assert code_of(ec2.release_address, PublicIp=allocated["PublicIp"]) == "InvalidParameterValue"
    (attribute,) = ec2.describe_addresses_attribute(AllocationIds=[allocated["AllocationId"]],
                                                    Attribute="domain-name")["Addresses"]
    assert attribute["PublicIp"] == allocated["PublicIp"] and "PtrRecord" not in attribute
    ec2.disassociate_address(AssociationId=address["AssociationId"])
    assert code_of(ec2.disassociate_address, AssociationId=address["AssociationId"]) == \
        "InvalidAssociationID.NotFound"
    ec2.release_address(AllocationId=allocated["AllocationId"])
    assert code_of(ec2.describe_addresses, AllocationIds=[allocated["AllocationId"]]) == \
        "InvalidAllocationID.NotFound"


def test_ebs_image_flow_on_real_nova_and_cinder(ec2):
    """A volume-backed instance, CreateImage of it (snapshots tagged as asked), RunInstances of that EBS image
    (boots from new volumes of the snapshots), DeregisterImage leaving the snapshots: as AWS does."""
    if os.environ.get("LAB_CINDER", "1") != "1":
        pytest.skip("the lab runs without Cinder (LAB_CINDER=0)")
    flavor = os.environ.get("LAB_FLAVOR", "m1.tiny")
    source = bootable_volume(ec2, WAIT)
    seed = ec2.create_snapshot(VolumeId=source)["SnapshotId"]
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[seed], WaiterConfig=WAIT)
    registered = ec2.register_image(Name=f"lab-seed-{STAMP}", RootDeviceName="/dev/sda", BlockDeviceMappings=[
        {"DeviceName": "/dev/sda", "Ebs": {"SnapshotId": seed, "DeleteOnTermination": True}}])["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[registered], WaiterConfig=WAIT)
    (first,) = ec2.run_instances(ImageId=registered, MinCount=1, MaxCount=1, InstanceType=flavor)["Instances"]
    wait_running(ec2, [first["InstanceId"]])
    shown = ec2.describe_instances(InstanceIds=[first["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert shown["RootDeviceType"] == "ebs"

    image = ec2.create_image(InstanceId=first["InstanceId"], Name=f"lab-ebs-{STAMP}", TagSpecifications=[
        {"ResourceType": "snapshot", "Tags": [{"Key": "made-by", "Value": "CreateImage"}]}])["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
    (described,) = ec2.describe_images(ImageIds=[image])["Images"]
    assert described["RootDeviceType"] == "ebs"
    (mapping,) = described["BlockDeviceMappings"]
    snapshot = mapping["Ebs"]["SnapshotId"]
    assert mapping["DeviceName"] == described["RootDeviceName"] and mapping["Ebs"]["VolumeSize"] == 1
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot], WaiterConfig=WAIT)
    assert ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["Tags"] == [
        {"Key": "made-by", "Value": "CreateImage"}]

    (second,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=flavor)["Instances"]
    wait_running(ec2, [second["InstanceId"]])
    booted = ec2.describe_instances(InstanceIds=[second["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert booted["RootDeviceType"] == "ebs" and booted["ImageId"] == image
    (root,) = booted["BlockDeviceMappings"]
    assert ec2.describe_volumes(VolumeIds=[root["Ebs"]["VolumeId"]])["Volumes"][0]["SnapshotId"] == snapshot

    # Both roots go with their instances, as on AWS; Cinder refuses to delete the first, which has the image's
    # snapshot: EC2 no longer shows it, and deleting that snapshot deletes it.
    roots = [shown["BlockDeviceMappings"][0]["Ebs"]["VolumeId"], root["Ebs"]["VolumeId"]]
    ec2.terminate_instances(InstanceIds=[first["InstanceId"], second["InstanceId"]])
    ec2.deregister_image(ImageId=image)
    ec2.deregister_image(ImageId=registered)
    assert [s["SnapshotId"] for s in ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]] == [snapshot]
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[first["InstanceId"], second["InstanceId"]],
                                               WaiterConfig=WAIT)
    until(lambda: not set(roots) & {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]})
    assert code_of(ec2.describe_volumes, VolumeIds=roots[:1]) == "InvalidVolume.NotFound"
    assert ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["VolumeId"] == roots[0]
    assert cinder_volumes() & set(roots) == {roots[0]}  # kept by Cinder for its snapshot
    for snap in (snapshot, seed):
        ec2.delete_snapshot(SnapshotId=snap)
    until(lambda: not cinder_volumes() & set(roots))
    when_free(ec2.delete_volume, "VolumeInUse", VolumeId=source)  # once Cinder has deleted its snapshot
    until(lambda: source not in cinder_volumes())


def cinder_volumes() -> set[str]:
    """The vol- ids of the demo project's volumes, as Cinder has them (EC2 may not show them all)."""
    async def read(view):
        return {ids.from_uuid("vol", v["id"]) for v in await view.cinder.list_volumes()}

    return as_demo(read)



def test_rule_descriptions_and_modified_rules_on_real_neutron(ec2):
    """Real Neutron cannot update a rule (PUT is a 500) and calls a rule differing only in description a
    duplicate (409): descriptions change through the proxy's overlay, traffic changes by make-then-remove."""
    group = ec2.create_security_group(GroupName=f"lab-rules-{STAMP}", Description="lab")["GroupId"]
    try:
        (rule,) = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "old"}]}])["SecurityGroupRules"]
        rule_id = rule["SecurityGroupRuleId"]
        ec2.update_security_group_rule_descriptions_ingress(GroupId=group, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "new"}]}])
        (shown,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
        assert shown["Description"] == "new"
        ec2.modify_security_group_rules(GroupId=group, SecurityGroupRules=[{"SecurityGroupRuleId": rule_id,
            "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 2222, "ToPort": 2222, "CidrIpv4": "10.0.0.0/8",
                                  "Description": "moved"}}])
        (shown,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"]
        assert (shown["FromPort"], shown["Description"]) == (2222, "moved")
        (permission,) = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
        assert (permission["FromPort"], permission["IpRanges"]) == (2222, [{"CidrIp": "10.0.0.0/8",
                                                                            "Description": "moved"}])
    finally:
        ec2.delete_security_group(GroupId=group)
