"""The EC2 calls Terraform's AWS provider makes, resource by resource, made the same way through boto3.

Each function below is one resource's create, read (what every ``terraform plan``/``refresh`` does) and delete, as
hashicorp/terraform-provider-aws makes them (``internal/service/ec2/``: ``vpc_.go``, ``vpc_subnet.go``,
``vpc_internet_gateway.go``, ``vpc_route_table.go``, ``vpc_route_table_association.go``,
``vpc_security_group.go``, ``ec2_key_pair.go``, ``ec2_instance.go``, ``ec2_eip.go``, ``ec2_eip_association.go``,
``ebs_volume.go``, ``ebs_volume_attachment.go``). Which failures the provider tolerates is said where it matters:
a read it treats as fatal must answer, one it only warns about may be refused; the members it always sends
(false, empty, defaults) must be accepted. A stack is built, refreshed twice, and destroyed in Terraform's order.
"""

from __future__ import annotations

import base64
import time

import botocore.exceptions
import pytest

from tests.support import WAIT, code_of

pytestmark = pytest.mark.e2e
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.1"}

PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ2b2dzaGVyZS1vZi10aGUtcmVhZGVyLWtleS0wMDAw terraform"


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def _tags(kind: str, name: str) -> list[dict]:
    """``TagSpecifications`` as the provider sends them on every create (default_tags and the resource's own)."""
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}, {"Key": "managed-by", "Value": "tf"}]}]


def _retry_while(codes: set[str], call, **kwargs):
    """``tfresource.RetryWhenAWSErrCodeEquals``: the provider retries these codes for minutes; here 60 s."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return call(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] not in codes or time.monotonic() > deadline:
                raise
            time.sleep(1)


def _until_not_found(call, code: str, **kwargs) -> None:
    """``tfresource.RetryUntilNotFound``: a deleted resource is gone once its Describe answers NotFound (or an
    empty list)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = call(**kwargs)
        except botocore.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == code
            return
        if not any(isinstance(v, list) and v for k, v in answer.items() if k != "ResponseMetadata"):
            return
        time.sleep(1)
    raise AssertionError(f"{call.__name__}({kwargs}) still finds it")


def _until(read, done, what: str):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        value = read()
        if done(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"waited a minute for {what}")


# -- aws_vpc (vpc_.go) -------------------------------------------------------------------------------------------


def vpc_create(ec2) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16", InstanceTenancy="default", TagSpecifications=_tags("vpc", "tf"))
    vpc_id = vpc["Vpc"]["VpcId"]
    _until(lambda: ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["State"], lambda s: s == "available", "the VPC")
    # modifyVPCAttributesOnCreate: reads the three attributes, changes those that differ from the configuration
    # (enable_dns_hostnames = true here), and waits for each change to show
    current = {a: vpc_attribute(ec2, vpc_id, a) for a in ("enableDnsHostnames", "enableDnsSupport",
                                                           "enableNetworkAddressUsageMetrics")}
    assert current == {"enableDnsHostnames": False, "enableDnsSupport": True,
                       "enableNetworkAddressUsageMetrics": False}
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    _until(lambda: vpc_attribute(ec2, vpc_id, "enableDnsHostnames"), bool, "enableDnsHostnames")
    return vpc_id


def vpc_attribute(ec2, vpc_id: str, attribute: str) -> bool:
    member = attribute[0].upper() + attribute[1:]
    return ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attribute)[member]["Value"]


def vpc_read(ec2, vpc_id: str) -> dict:
    (vpc,) = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    state = {"cidr_block": vpc["CidrBlock"], "dhcp_options_id": vpc["DhcpOptionsId"],
             "instance_tenancy": vpc["InstanceTenancy"], "owner_id": vpc["OwnerId"]}
    for attribute in ("enableDnsHostnames", "enableDnsSupport", "enableNetworkAddressUsageMetrics"):  # fatal
        state[attribute] = vpc_attribute(ec2, vpc_id, attribute)
    # the default network ACL (the provider only warns when it fails, and default_network_acl_id stays empty)
    (acl,) = ec2.describe_network_acls(Filters=[{"Name": "default", "Values": ["true"]},
                                                {"Name": "vpc-id", "Values": [vpc_id]}])["NetworkAcls"]
    state["default_network_acl_id"] = acl["NetworkAclId"]
    (main,) = ec2.describe_route_tables(Filters=[{"Name": "association.main", "Values": ["true"]},
                                                 {"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    state["main_route_table_id"] = main["RouteTableId"]
    (group,) = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]},
                                                     {"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    state["default_security_group_id"] = group["GroupId"]
    state["tags"] = {t["Key"]: t["Value"] for t in vpc.get("Tags") or []}
    return state


def vpc_delete(ec2, vpc_id: str) -> None:
    _retry_while({"DependencyViolation"}, ec2.delete_vpc, VpcId=vpc_id)
    _until_not_found(ec2.describe_vpcs, "InvalidVpcID.NotFound", VpcIds=[vpc_id])


# -- aws_subnet (vpc_subnet.go) ------------------------------------------------------------------------------


def subnet_create(ec2, vpc_id: str, zone: str) -> str:
    subnet_id = ec2.create_subnet(AvailabilityZone=zone, CidrBlock="10.70.1.0/24", VpcId=vpc_id,
                                  TagSpecifications=_tags("subnet", "tf"))["Subnet"]["SubnetId"]
    _until(lambda: ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["State"], lambda s: s == "available",
           "the subnet")
    # map_public_ip_on_launch = true: modifySubnetAttributesOnCreate sets it and waits for it to show
    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    _until(lambda: ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["MapPublicIpOnLaunch"], bool,
           "MapPublicIpOnLaunch")
    return subnet_id


def subnet_read(ec2, subnet_id: str) -> dict:
    (subnet,) = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    return {k: subnet[k] for k in ("AvailabilityZone", "CidrBlock", "VpcId", "MapPublicIpOnLaunch",
                                   "AvailableIpAddressCount", "OwnerId", "DefaultForAz")}


def subnet_delete(ec2, subnet_id: str) -> None:
    _retry_while({"DependencyViolation"}, ec2.delete_subnet, SubnetId=subnet_id)
    _until_not_found(ec2.describe_subnets, "InvalidSubnetID.NotFound", SubnetIds=[subnet_id])


# -- aws_internet_gateway (vpc_internet_gateway.go) --------------------------------------------------------------


def gateway_create(ec2, vpc_id: str) -> str:
    gw = ec2.create_internet_gateway(TagSpecifications=_tags("internet-gateway", "tf"))["InternetGateway"]
    gw_id = gw["InternetGatewayId"]
    ec2.describe_internet_gateways(InternetGatewayIds=[gw_id])
    ec2.attach_internet_gateway(InternetGatewayId=gw_id, VpcId=vpc_id)
    # waitInternetGatewayAttached: the attachment's state is "available" (what AWS says of a VPC attachment)
    _until(lambda: ec2.describe_internet_gateways(InternetGatewayIds=[gw_id])["InternetGateways"][0]["Attachments"],
           lambda a: a == [{"State": "available", "VpcId": vpc_id}], "the attachment")
    return gw_id


def gateway_delete(ec2, gw_id: str, vpc_id: str) -> None:
    _retry_while({"DependencyViolation"}, ec2.detach_internet_gateway, InternetGatewayId=gw_id, VpcId=vpc_id)
    _retry_while({"DependencyViolation"}, ec2.delete_internet_gateway, InternetGatewayId=gw_id)
    _until_not_found(ec2.describe_internet_gateways, "InvalidInternetGatewayID.NotFound", InternetGatewayIds=[gw_id])


# -- aws_route_table and aws_route_table_association ----------------------------------------------------------------


def route_table_create(ec2, vpc_id: str, gw_id: str) -> str:
    rtb_id = ec2.create_route_table(VpcId=vpc_id, TagSpecifications=_tags("route-table", "tf"))["RouteTable"][
        "RouteTableId"]
    ec2.describe_route_tables(RouteTableIds=[rtb_id])
    ec2.create_route(RouteTableId=rtb_id, DestinationCidrBlock="0.0.0.0/0", GatewayId=gw_id)
    # waitRouteReady: the route is found by its destination, state active
    _until(lambda: [r for r in ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"][0]["Routes"]
                    if r.get("DestinationCidrBlock") == "0.0.0.0/0"],
           lambda r: r and r[0]["State"] == "active" and r[0]["GatewayId"] == gw_id, "the route")
    return rtb_id


def association_create(ec2, rtb_id: str, subnet_id: str) -> str:
    association = ec2.associate_route_table(RouteTableId=rtb_id, SubnetId=subnet_id)
    association_id = association["AssociationId"]
    assert association["AssociationState"]["State"] == "associated"
    # findRouteTableAssociationByID: route tables by association.route-table-association-id
    (table,) = ec2.describe_route_tables(Filters=[{"Name": "association.route-table-association-id",
                                                   "Values": [association_id]}])["RouteTables"]
    assert table["RouteTableId"] == rtb_id
    return association_id


def route_table_read(ec2, rtb_id: str) -> dict:
    (table,) = ec2.describe_route_tables(RouteTableIds=[rtb_id])["RouteTables"]
    return {"routes": sorted((r.get("DestinationCidrBlock"), r.get("GatewayId")) for r in table["Routes"]
                             if r.get("Origin") != "CreateRouteTable"),  # the local route is not in the config
            "associations": sorted(a.get("SubnetId") or "" for a in table["Associations"]),
            "propagating_vgws": table["PropagatingVgws"]}


def route_table_delete(ec2, rtb_id: str, association_id: str) -> None:
    ec2.disassociate_route_table(AssociationId=association_id)
    _until_not_found(ec2.describe_route_tables, "InvalidRouteTableID.NotFound",
                     Filters=[{"Name": "association.route-table-association-id", "Values": [association_id]}])
    ec2.delete_route_table(RouteTableId=rtb_id)
    _until_not_found(ec2.describe_route_tables, "InvalidRouteTableID.NotFound", RouteTableIds=[rtb_id])


# -- aws_security_group (vpc_security_group.go) -----------------------------------------------------------------------


def group_create(ec2, vpc_id: str) -> str:
    group_id = ec2.create_security_group(GroupName="tf-web", Description="Managed by Terraform", VpcId=vpc_id,
                                         TagSpecifications=_tags("security-group", "tf"))["GroupId"]
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    # the provider removes the default allow-all egress rule first (its rules are the configuration's only),
    # in exactly this shape
    assert {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [], "PrefixListIds": [],
            "UserIdGroupPairs": []} in group["IpPermissionsEgress"]
    ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[
        {"FromPort": 0, "ToPort": 0, "IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=[
        {"FromPort": 22, "ToPort": 22, "IpProtocol": "tcp",
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}]}])
    ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=[
        {"FromPort": 0, "ToPort": 0, "IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return group_id


def group_read(ec2, group_id: str) -> dict:
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    return {"ingress": [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), [r["CidrIp"] for r in p["IpRanges"]])
                        for p in group["IpPermissions"]],
            "egress": [(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), [r["CidrIp"] for r in p["IpRanges"]])
                       for p in group["IpPermissionsEgress"]],
            "vpc_id": group["VpcId"], "owner_id": group["OwnerId"]}


def group_delete(ec2, group_id: str) -> None:
    _retry_while({"DependencyViolation", "InvalidGroup.InUse"}, ec2.delete_security_group, GroupId=group_id)
    _until_not_found(ec2.describe_security_groups, "InvalidGroup.NotFound", GroupIds=[group_id])


# -- aws_key_pair (ec2_key_pair.go) -----------------------------------------------------------------------------------


def key_pair_create(ec2) -> str:
    pair = ec2.import_key_pair(KeyName="tf-key", PublicKeyMaterial=PUBLIC_KEY.encode(),
                               TagSpecifications=_tags("key-pair", "tf"))
    assert pair["KeyPairId"].startswith("key-") and pair["KeyFingerprint"]
    return pair["KeyName"]


def key_pair_read(ec2, name: str) -> dict:
    (pair,) = ec2.describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"]
    return {"key_pair_id": pair["KeyPairId"], "fingerprint": pair["KeyFingerprint"],
            "public_key": pair["PublicKey"].strip(), "key_type": pair["KeyType"]}


# -- aws_instance (ec2_instance.go) --------------------------------------------------------------------------------


def instance_create(ec2, ami: str, subnet_id: str, group_id: str, key_name: str) -> str:
    """RunInstances with every member the provider sends when the configuration leaves it unset."""
    reservation = ec2.run_instances(
        ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1, KeyName=key_name, SubnetId=subnet_id,
        SecurityGroupIds=[group_id], UserData="#cloud-config\n",  # botocore encodes it, once
        DisableApiStop=False, DisableApiTermination=False, EbsOptimized=False,
        HibernationOptions={"Configured": False}, Monitoring={"Enabled": False},
        Placement={"AvailabilityZone": "", "Tenancy": "default"},
        CreditSpecification={"CpuCredits": "unlimited"},  # t3's default
        MetadataOptions={"HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": 1,
                         "InstanceMetadataTags": "disabled"},
        TagSpecifications=_tags("instance", "tf") + _tags("volume", "tf"))
    instance_id = reservation["Instances"][0]["InstanceId"]
    # WaitInstanceCreated: pending until running
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)
    return instance_id


def instance_read(ec2, instance_id: str) -> dict:
    (reservation,) = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    (instance,) = reservation["Instances"]
    # FindInstanceTypeByName (fatal): is the type burstable, so are credits read
    (itype,) = ec2.describe_instance_types(InstanceTypes=[instance["InstanceType"]])["InstanceTypes"]
    primary = next(n for n in instance["NetworkInterfaces"] if n["Attachment"]["DeviceIndex"] == 0)
    state = {"instance_state": instance["State"]["Name"],
             "availability_zone": instance["Placement"]["AvailabilityZone"],
             "tenancy": instance["Placement"].get("Tenancy"), "ami": instance["ImageId"],
             "key_name": instance["KeyName"], "subnet_id": primary["SubnetId"],
             "primary_network_interface_id": primary["NetworkInterfaceId"],
             "source_dest_check": primary["SourceDestCheck"], "private_ip": instance["PrivateIpAddress"],
             "associate_public_ip_address": "Association" in primary, "ebs_optimized": instance["EbsOptimized"],
             "monitoring": instance["Monitoring"]["State"] in ("enabled", "pending"),
             "hibernation": instance.get("HibernationOptions", {}).get("Configured", False),
             "metadata_options": instance["MetadataOptions"],
             "vpc_security_group_ids": [g["GroupId"] for g in instance["SecurityGroups"]],
             "root_device_type": instance["RootDeviceType"]}
    # the instance attributes, each read on its own (all fatal but disableApiStop outside the ISO partitions)
    for attribute, member in (("disableApiStop", "DisableApiStop"), ("disableApiTermination",
                                                                      "DisableApiTermination"),
                              ("userData", "UserData"), ("instanceInitiatedShutdownBehavior",
                                                         "InstanceInitiatedShutdownBehavior")):
        state[attribute] = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute=attribute)[member].get(
            "Value")
    # readBlockDevices: the EBS volumes of the instance's mappings, by id
    volume_ids = [m["Ebs"]["VolumeId"] for m in instance.get("BlockDeviceMappings") or [] if "Ebs" in m]
    state["volumes"] = sorted(v["VolumeId"] for v in ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]) \
        if volume_ids else []
    if itype.get("BurstablePerformanceSupported"):  # UnsupportedOperation is tolerated, other errors are fatal
        try:
            (credits,) = ec2.describe_instance_credit_specifications(InstanceIds=[instance_id])[
                "InstanceCreditSpecifications"]
            state["credit_specification"] = credits["CpuCredits"]
        except botocore.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "UnsupportedOperation"
            state["credit_specification"] = None
    state["tags"] = {t["Key"]: t["Value"] for t in instance.get("Tags") or []}
    return state


def instance_delete(ec2, instance_id: str) -> None:
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id], WaiterConfig=WAIT)


# -- aws_eip and aws_eip_association (ec2_eip.go, ec2_eip_association.go) ------------------------------------------


def eip_create(ec2, instance_id: str) -> tuple[str, str]:
    allocation_id = ec2.allocate_address(Domain="vpc", TagSpecifications=_tags("elastic-ip", "tf"))["AllocationId"]
    ec2.describe_addresses(AllocationIds=[allocation_id])
    association_id = ec2.associate_address(AllocationId=allocation_id, InstanceId=instance_id)["AssociationId"]
    # waitForAddressAssociationClassic/VPC: the address is found by its association id
    _until(lambda: ec2.describe_addresses(Filters=[{"Name": "association-id", "Values": [association_id]}])[
        "Addresses"], lambda a: a and a[0]["AllocationId"] == allocation_id, "the association")
    return allocation_id, association_id


def eip_read(ec2, allocation_id: str) -> dict:
    (address,) = ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"]
    # ptr_record (fatal in the provider): the address's reverse DNS, absent where the cloud keeps none
    (attribute,) = ec2.describe_addresses_attribute(AllocationIds=[allocation_id], Attribute="domain-name")[
        "Addresses"]
    return {"public_ip": address["PublicIp"], "private_ip": address.get("PrivateIpAddress"),
            "instance": address.get("InstanceId"), "association_id": address.get("AssociationId"),
            "network_interface": address.get("NetworkInterfaceId"), "domain": address["Domain"],
            "ptr_record": attribute.get("PtrRecord"), "public_ipv4_pool": address.get("PublicIpv4Pool"),
            "network_border_group": address.get("NetworkBorderGroup")}


def eip_delete(ec2, allocation_id: str, association_id: str) -> None:
    ec2.disassociate_address(AssociationId=association_id)
    ec2.release_address(AllocationId=allocation_id)
    _until_not_found(ec2.describe_addresses, "InvalidAllocationID.NotFound", AllocationIds=[allocation_id])


# -- aws_ebs_volume and aws_volume_attachment (ebs_volume.go, ebs_volume_attachment.go) --------------------------


def volume_create(ec2, zone: str) -> str:
    volume_id = ec2.create_volume(AvailabilityZone=zone, Size=1, VolumeType="gp3",
                                  TagSpecifications=_tags("volume", "tf-data"))["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume_id], WaiterConfig=WAIT)
    return volume_id


def volume_read(ec2, volume_id: str) -> dict:
    (volume,) = ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"]
    return {k: volume.get(k) for k in ("AvailabilityZone", "Size", "VolumeType", "Encrypted", "SnapshotId",
                                       "MultiAttachEnabled")}


def attachment_find(ec2, volume_id: str, instance_id: str, device: str) -> list[dict]:
    """findEBSVolumeAttachment: the volume by id and the attachment filters, its attachment to that instance."""
    volumes = ec2.describe_volumes(VolumeIds=[volume_id], Filters=[
        {"Name": "attachment.device", "Values": [device]},
        {"Name": "attachment.instance-id", "Values": [instance_id]}])["Volumes"]
    return [a for v in volumes for a in v["Attachments"] if a["InstanceId"] == instance_id and a["Device"] == device]


def attachment_create(ec2, volume_id: str, instance_id: str, device: str) -> None:
    ec2.attach_volume(Device=device, InstanceId=instance_id, VolumeId=volume_id)
    _until(lambda: attachment_find(ec2, volume_id, instance_id, device),
           lambda a: a and a[0]["State"] == "attached", "the volume attached")


def attachment_delete(ec2, volume_id: str, instance_id: str, device: str) -> None:
    ec2.detach_volume(Device=device, Force=False, InstanceId=instance_id, VolumeId=volume_id)
    _until(lambda: attachment_find(ec2, volume_id, instance_id, device), lambda a: not a, "the volume detached")


def volume_delete(ec2, volume_id: str) -> None:
    _retry_while({"VolumeInUse"}, ec2.delete_volume, VolumeId=volume_id)
    _until_not_found(ec2.describe_volumes, "InvalidVolume.NotFound", VolumeIds=[volume_id])


# -- the stack ------------------------------------------------------------------------------------------------


def test_a_terraform_stack_is_created_refreshed_and_destroyed_as_the_provider_calls_it(ec2, ami):
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    vpc_id = vpc_create(ec2)
    subnet_id = subnet_create(ec2, vpc_id, zone)
    gw_id = gateway_create(ec2, vpc_id)
    rtb_id = route_table_create(ec2, vpc_id, gw_id)
    association_id = association_create(ec2, rtb_id, subnet_id)
    group_id = group_create(ec2, vpc_id)
    key_name = key_pair_create(ec2)
    instance_id = instance_create(ec2, ami, subnet_id, group_id, key_name)
    allocation_id, eip_association = eip_create(ec2, instance_id)
    volume_id = volume_create(ec2, zone)
    attachment_create(ec2, volume_id, instance_id, "/dev/sdh")

    def refresh() -> dict:
        return {"vpc": vpc_read(ec2, vpc_id), "subnet": subnet_read(ec2, subnet_id),
                "route_table": route_table_read(ec2, rtb_id), "group": group_read(ec2, group_id),
                "key_pair": key_pair_read(ec2, key_name), "instance": instance_read(ec2, instance_id),
                "eip": eip_read(ec2, allocation_id), "volume": volume_read(ec2, volume_id),
                "attachment": attachment_find(ec2, volume_id, instance_id, "/dev/sdh")[0]["State"]}

    first = refresh()
    # what the configuration said is what a refresh reads back (no perpetual diff)
    assert first["vpc"]["enableDnsHostnames"] is True and first["vpc"]["enableDnsSupport"] is True
    assert first["vpc"]["tags"] == {"Name": "tf", "managed-by": "tf"}
    assert first["vpc"]["main_route_table_id"] != rtb_id
    assert first["vpc"]["default_network_acl_id"].startswith("acl-")
    assert first["subnet"]["AvailabilityZone"] == zone and first["subnet"]["MapPublicIpOnLaunch"] is True
    assert first["route_table"] == {"routes": [("0.0.0.0/0", gw_id)], "associations": [subnet_id],
                                    "propagating_vgws": []}
    assert first["group"]["ingress"] == [("tcp", 22, 22, ["0.0.0.0/0"])]
    assert first["group"]["egress"] == [("-1", None, None, ["0.0.0.0/0"])]
    # the key material read back (the provider compares type and key, not the comment)
    assert first["key_pair"]["public_key"].split()[:2] == PUBLIC_KEY.split()[:2]
    instance = first["instance"]
    assert instance["instance_state"] == "running" and instance["subnet_id"] == subnet_id
    assert instance["availability_zone"] == zone and instance["key_name"] == key_name
    assert instance["vpc_security_group_ids"] == [group_id]
    assert instance["disableApiStop"] is False and instance["disableApiTermination"] is False
    assert instance["userData"] == base64.b64encode(b"#cloud-config\n").decode()
    assert instance["instanceInitiatedShutdownBehavior"] == "stop"
    assert instance["metadata_options"]["HttpTokens"] == "required"
    assert instance["ebs_optimized"] is False and instance["monitoring"] is False and instance["hibernation"] is False
    assert instance["tags"] == {"Name": "tf", "managed-by": "tf"}
    assert first["eip"]["instance"] == instance_id and first["eip"]["association_id"] == eip_association
    assert first["eip"]["domain"] == "vpc" and first["eip"]["ptr_record"] is None
    assert first["volume"]["Size"] == 1 and first["volume"]["AvailabilityZone"] == zone
    assert first["attachment"] == "attached"
    assert refresh() == first  # a second plan reads the same: nothing drifts by being read

    # terraform destroy, dependents first
    attachment_delete(ec2, volume_id, instance_id, "/dev/sdh")
    volume_delete(ec2, volume_id)
    eip_delete(ec2, allocation_id, eip_association)
    instance_delete(ec2, instance_id)
    ec2.delete_key_pair(KeyName=key_name)
    group_delete(ec2, group_id)
    route_table_delete(ec2, rtb_id, association_id)
    gateway_delete(ec2, gw_id, vpc_id)
    subnet_delete(ec2, subnet_id)
    vpc_delete(ec2, vpc_id)
    assert code_of(ec2.describe_key_pairs, KeyNames=[key_name]) == "InvalidKeyPair.NotFound"


def test_launch_template_and_placement_group_as_the_provider_reads_them(ec2, ami):
    """``ec2_launch_template.go`` and ``ec2_placement_group.go`` (``find.go``): a template is read by
    DescribeLaunchTemplates(LaunchTemplateIds) and its version by DescribeLaunchTemplateVersions(LaunchTemplateId,
    Versions=[n]); gone, they must answer one of the codes the provider takes for "not found"
    (InvalidLaunchTemplateId.NotFound/.Malformed, InvalidLaunchTemplateName.NotFoundException, and
    InvalidLaunchTemplateId.VersionNotFound for a version). A placement group is read by
    DescribePlacementGroups(GroupNames), gone as InvalidPlacementGroup.Unknown; created, it waits for "available".
    An aws_instance with launch_template and placement_group launches with both."""
    group = ec2.create_placement_group(GroupName="tf-pg", Strategy="cluster", TagSpecifications=[
        {"ResourceType": "placement-group", "Tags": [{"Key": "Name", "Value": "tf-pg"}]}])["PlacementGroup"]
    (read,) = ec2.describe_placement_groups(GroupNames=["tf-pg"])["PlacementGroups"]
    assert read["State"] == "available" and read["GroupId"] == group["GroupId"]
    template = ec2.create_launch_template(
        LaunchTemplateName="tf-lt", ClientToken="terraform-lt-1", VersionDescription="",
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "Name", "Value": "tf-lt"}]}],
        LaunchTemplateData={"ImageId": ami, "InstanceType": "t2.micro", "MetadataOptions": {
            "HttpEndpoint": "enabled", "HttpTokens": "required", "HttpPutResponseHopLimit": 1}},
    )["LaunchTemplate"]
    template_id = template["LaunchTemplateId"]
    (found,) = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"]
    assert found["LatestVersionNumber"] == 1 and found["DefaultVersionNumber"] == 1
    (version,) = ec2.describe_launch_template_versions(LaunchTemplateId=template_id,
                                                       Versions=["1"])["LaunchTemplateVersions"]
    assert version["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "required"
    # update_default_version = true: a new version, then ModifyLaunchTemplate
    ec2.create_launch_template_version(LaunchTemplateId=template_id, ClientToken="terraform-lt-2",
                                       LaunchTemplateData={"ImageId": ami, "InstanceType": "t2.small"})
    ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion="2")
    launched = ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateId": template_id,
                                                                         "Version": "$Default"},
                                 Placement={"GroupName": "tf-pg"}, HibernationOptions={"Configured": False},
                                 CapacityReservationSpecification={"CapacityReservationPreference": "open"}
                                 )["Instances"][0]
    assert launched["InstanceType"] == "t2.small" and launched["Placement"]["GroupName"] == "tf-pg"
    ec2.terminate_instances(InstanceIds=[launched["InstanceId"]])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[launched["InstanceId"]], WaiterConfig=WAIT)

    ec2.delete_launch_template(LaunchTemplateId=template_id)
    assert code_of(ec2.describe_launch_templates, LaunchTemplateIds=[template_id]) in (
        "InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateId.Malformed",
        "InvalidLaunchTemplateName.NotFoundException")
    assert code_of(ec2.describe_launch_template_versions, LaunchTemplateId=template_id, Versions=["1"]) in (
        "InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateName.NotFoundException",
        "InvalidLaunchTemplateId.VersionNotFound")
    ec2.delete_placement_group(GroupName="tf-pg")
    assert code_of(ec2.describe_placement_groups, GroupNames=["tf-pg"]) == "InvalidPlacementGroup.Unknown"
