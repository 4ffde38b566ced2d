"""Project isolation, table-driven over every implemented action: project B can never see, change, tag or
terminate project A's resources. A new action without a row here fails the coverage test."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from ec2proxy.frontdoor.actions import implemented
from tests.support import WAIT, ebs_root, launch_with_volume

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2"}
NOT_FOUND = {"InvalidInstanceID.NotFound", "InvalidAttachmentID.NotFound", "InvalidVolume.NotFound",
             "InvalidSnapshot.NotFound",
             "InvalidAMIID.NotFound", "InvalidGroup.NotFound", "InvalidKeyPair.NotFound",
             "InvalidAllocationID.NotFound", "InvalidAssociationID.NotFound", "InvalidGroupId.NotFound",
             "InvalidNetworkInterfaceID.NotFound", "InvalidSubnetID.NotFound", "InvalidVpcID.NotFound",
             "InvalidAddress.NotFound", "InvalidInternetGatewayID.NotFound", "InvalidRouteTableID.NotFound",
             "InvalidDhcpOptionID.NotFound", "InvalidCustomerGatewayID.NotFound", "InvalidNetworkAclID.NotFound",
             "InvalidPlacementGroup.Unknown", "InvalidLaunchTemplateId.NotFound",
             "UnauthorizedOperation"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


@pytest.fixture(scope="module")
def a(ec2, ami):
    """Project A's resources, one of each kind."""
    iid, zone, volume = launch_with_volume(ec2, ami, UserData=base64.b64encode(b"a").decode(),
                                           BlockDeviceMappings=ebs_root(ec2, ami),  # CreateImage images it
                                           TagSpecifications=[{"ResourceType": "instance",
                                                               "Tags": [{"Key": "owner", "Value": "a"}]}])
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    image = ec2.create_image(InstanceId=iid, Name="a-private-image")["ImageId"]
    group = ec2.create_security_group(GroupName="a-group", Description="A's")["GroupId"]
    (rule,) = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}])[
        "SecurityGroupRules"]
    key = ec2.create_key_pair(KeyName="a-key")["KeyPairId"]
    address = ec2.allocate_address(Domain="vpc")
    association = ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=iid)["AssociationId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image], WaiterConfig=WAIT)
    ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snapshot], WaiterConfig=WAIT)
    described = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    made_vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    made_subnet = ec2.create_subnet(VpcId=made_vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=made_vpc)
    table = ec2.create_route_table(VpcId=made_vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    link = ec2.associate_route_table(RouteTableId=table, SubnetId=made_subnet)["AssociationId"]
    dopt = ec2.create_dhcp_options(DhcpConfigurations=[{"Key": "domain-name", "Values": ["a.example"]}])[
        "DhcpOptions"]["DhcpOptionsId"]
    ec2.associate_dhcp_options(DhcpOptionsId=dopt, VpcId=made_vpc)
    cgw = ec2.create_customer_gateway(Type="ipsec.1", IpAddress="198.51.100.7", BgpAsn=65010)["CustomerGateway"][
        "CustomerGatewayId"]
    (acl,) = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [made_vpc]}])["NetworkAcls"]
    pg = ec2.create_placement_group(GroupName="a-pg", Strategy="cluster")["PlacementGroup"]["GroupId"]
    lt = ec2.create_launch_template(LaunchTemplateName="a-lt", LaunchTemplateData={"InstanceType": "t2.micro"})[
        "LaunchTemplate"]["LaunchTemplateId"]
    return {"made_vpc": made_vpc, "pg": pg, "lt": lt, "dopt": dopt, "cgw": cgw, "acl": acl["NetworkAclId"],
            "aclassoc": acl["Associations"][0]["NetworkAclAssociationId"], "made_subnet": made_subnet,
            "igw": gateway, "rtb": table, "rtbassoc": link,
            "attachment": described["NetworkInterfaces"][0]["Attachment"]["AttachmentId"],
            "instance": iid, "zone": zone, "volume": volume, "snapshot": snapshot, "image": image, "group": group,
            "key": key, "allocation": address["AllocationId"], "ip": address["PublicIp"], "association": association,
            "eni": described["NetworkInterfaces"][0]["NetworkInterfaceId"], "subnet": described["SubnetId"],
            "vpc": described["VpcId"], "rule": rule["SecurityGroupRuleId"]}


# action -> (boto3 method, kwargs from A's resources); each must fail for B with a not-found (or not-yours)
CHANGES = {
    "AssociateAddress": ("associate_address", lambda r: {"AllocationId": r["allocation"], "InstanceId": r["instance"],
                                                         "AllowReassociation": True}),
    "AttachVolume": ("attach_volume", lambda r: {"VolumeId": r["volume"], "InstanceId": r["instance"],
                                                 "Device": "/dev/sdk"}),
    "AuthorizeSecurityGroupEgress": ("authorize_security_group_egress", lambda r: {
        "GroupId": r["group"], "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
                                                  "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}),
    "AuthorizeSecurityGroupIngress": ("authorize_security_group_ingress", lambda r: {
        "GroupId": r["group"], "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2,
                                                  "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}),
    "CopyImage": ("copy_image", lambda r: {"SourceImageId": r["image"], "SourceRegion": "RegionOne",
                                           "Name": "stolen-copy"}),
    "CopySnapshot": ("copy_snapshot", lambda r: {"SourceSnapshotId": r["snapshot"], "SourceRegion": "RegionOne"}),
    "CreateImage": ("create_image", lambda r: {"InstanceId": r["instance"], "Name": "stolen-image"}),
    "CreateSnapshot": ("create_snapshot", lambda r: {"VolumeId": r["volume"]}),
    "CreateTags": ("create_tags", lambda r: {"Resources": [r["instance"]],
                                             "Tags": [{"Key": "b", "Value": "was here"}]}),
    "CreateVolume": ("create_volume", lambda r: {"SnapshotId": r["snapshot"], "AvailabilityZone": r["zone"]}),
    "DeleteSecurityGroup": ("delete_security_group", lambda r: {"GroupId": r["group"]}),
    "DeleteVpc": ("delete_vpc", lambda r: {"VpcId": r["made_vpc"]}),
    "DeleteDhcpOptions": ("delete_dhcp_options", lambda r: {"DhcpOptionsId": r["dopt"]}),
    "DeleteCustomerGateway": ("delete_customer_gateway", lambda r: {"CustomerGatewayId": r["cgw"]}),
    "DeletePlacementGroup": ("delete_placement_group", lambda r: {"GroupName": "a-pg"}),
    "CreateLaunchTemplateVersion": ("create_launch_template_version", lambda r: {
        "LaunchTemplateId": r["lt"], "LaunchTemplateData": {"InstanceType": "t2.small"}}),
    "ModifyLaunchTemplate": ("modify_launch_template", lambda r: {"LaunchTemplateId": r["lt"],
                                                                  "DefaultVersion": "1"}),
    "DeleteLaunchTemplate": ("delete_launch_template", lambda r: {"LaunchTemplateId": r["lt"]}),
    "DeleteLaunchTemplateVersions": ("delete_launch_template_versions", lambda r: {
        "LaunchTemplateId": r["lt"], "Versions": ["1"]}),
    "CreateNetworkAcl": ("create_network_acl", lambda r: {"VpcId": r["made_vpc"]}),
    "DeleteNetworkAcl": ("delete_network_acl", lambda r: {"NetworkAclId": r["acl"]}),
    "CreateNetworkAclEntry": ("create_network_acl_entry", lambda r: {
        "NetworkAclId": r["acl"], "RuleNumber": 110, "Protocol": "-1", "RuleAction": "deny", "Egress": False,
        "CidrBlock": "10.0.0.0/8"}),
    "ReplaceNetworkAclEntry": ("replace_network_acl_entry", lambda r: {
        "NetworkAclId": r["acl"], "RuleNumber": 100, "Protocol": "-1", "RuleAction": "deny", "Egress": False,
        "CidrBlock": "0.0.0.0/0"}),
    "DeleteNetworkAclEntry": ("delete_network_acl_entry", lambda r: {"NetworkAclId": r["acl"], "RuleNumber": 100,
                                                                     "Egress": False}),
    "ReplaceNetworkAclAssociation": ("replace_network_acl_association", lambda r: {
        "AssociationId": r["aclassoc"], "NetworkAclId": r["acl"]}),
    "AssociateDhcpOptions": ("associate_dhcp_options", lambda r: {"DhcpOptionsId": "default",
                                                                  "VpcId": r["made_vpc"]}),
    "ResetNetworkInterfaceAttribute": ("reset_network_interface_attribute", lambda r: {
        "NetworkInterfaceId": r["eni"], "SourceDestCheck": "sourceDestCheck"}),
    "AssignPrivateIpAddresses": ("assign_private_ip_addresses", lambda r: {"NetworkInterfaceId": r["eni"],
                                                                           "SecondaryPrivateIpAddressCount": 1}),
    "UnassignPrivateIpAddresses": ("unassign_private_ip_addresses", lambda r: {"NetworkInterfaceId": r["eni"],
                                                                               "PrivateIpAddresses": ["10.0.0.9"]}),
    "ModifyVpcAttribute": ("modify_vpc_attribute", lambda r: {"VpcId": r["made_vpc"],
                                                              "EnableDnsHostnames": {"Value": True}}),
    "CreateSubnet": ("create_subnet", lambda r: {"VpcId": r["made_vpc"], "CidrBlock": "10.77.9.0/24"}),
    "DeleteSubnet": ("delete_subnet", lambda r: {"SubnetId": r["made_subnet"]}),
    "ModifySubnetAttribute": ("modify_subnet_attribute", lambda r: {"SubnetId": r["made_subnet"],
                                                                    "MapPublicIpOnLaunch": {"Value": True}}),
    "AttachInternetGateway": ("attach_internet_gateway", lambda r: {"InternetGatewayId": r["igw"],
                                                                    "VpcId": r["made_vpc"]}),
    "DetachInternetGateway": ("detach_internet_gateway", lambda r: {"InternetGatewayId": r["igw"],
                                                                    "VpcId": r["made_vpc"]}),
    "DeleteInternetGateway": ("delete_internet_gateway", lambda r: {"InternetGatewayId": r["igw"]}),
    "CreateRouteTable": ("create_route_table", lambda r: {"VpcId": r["made_vpc"]}),
    "DeleteRouteTable": ("delete_route_table", lambda r: {"RouteTableId": r["rtb"]}),
    "AssociateRouteTable": ("associate_route_table", lambda r: {"RouteTableId": r["rtb"],
                                                                "SubnetId": r["made_subnet"]}),
    "DisassociateRouteTable": ("disassociate_route_table", lambda r: {"AssociationId": r["rtbassoc"]}),
    "ReplaceRouteTableAssociation": ("replace_route_table_association", lambda r: {
        "AssociationId": r["rtbassoc"], "RouteTableId": r["rtb"]}),
    "CreateRoute": ("create_route", lambda r: {"RouteTableId": r["rtb"], "DestinationCidrBlock": "1.2.3.0/24",
                                               "GatewayId": r["igw"]}),
    "ReplaceRoute": ("replace_route", lambda r: {"RouteTableId": r["rtb"], "DestinationCidrBlock": "0.0.0.0/0",
                                                 "GatewayId": r["igw"]}),
    "DeleteRoute": ("delete_route", lambda r: {"RouteTableId": r["rtb"], "DestinationCidrBlock": "0.0.0.0/0"}),
    "CreateNetworkInterface": ("create_network_interface", lambda r: {"SubnetId": r["made_subnet"]}),
    "DeleteNetworkInterface": ("delete_network_interface", lambda r: {"NetworkInterfaceId": r["eni"]}),
    "AttachNetworkInterface": ("attach_network_interface", lambda r: {"NetworkInterfaceId": r["eni"],
                                                                      "InstanceId": r["instance"], "DeviceIndex": 1}),
    "DetachNetworkInterface": ("detach_network_interface", lambda r: {"AttachmentId": r["attachment"]}),
    "ModifyNetworkInterfaceAttribute": ("modify_network_interface_attribute", lambda r: {
        "NetworkInterfaceId": r["eni"], "Description": {"Value": "b was here"}}),
    "ModifySecurityGroupRules": ("modify_security_group_rules", lambda r: {
        "GroupId": r["group"], "SecurityGroupRules": [
            {"SecurityGroupRuleId": r["rule"], "SecurityGroupRule": {"IpProtocol": "-1", "CidrIpv4": "0.0.0.0/0"}}]}),
    "UpdateSecurityGroupRuleDescriptionsEgress": ("update_security_group_rule_descriptions_egress", lambda r: {
        "GroupId": r["group"], "SecurityGroupRuleDescriptions": [{"SecurityGroupRuleId": r["rule"],
                                                                  "Description": "b was here"}]}),
    "UpdateSecurityGroupRuleDescriptionsIngress": ("update_security_group_rule_descriptions_ingress", lambda r: {
        "GroupId": r["group"], "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                                  "IpRanges": [{"CidrIp": "10.9.0.0/16", "Description": "b"}]}]}),
    "DeleteSnapshot": ("delete_snapshot", lambda r: {"SnapshotId": r["snapshot"]}),
    "DeleteVolume": ("delete_volume", lambda r: {"VolumeId": r["volume"]}),
    "DeregisterImage": ("deregister_image", lambda r: {"ImageId": r["image"]}),
    "DescribeImageAttribute": ("describe_image_attribute", lambda r: {"ImageId": r["image"],
                                                                      "Attribute": "description"}),
    "DescribeInstanceAttribute": ("describe_instance_attribute", lambda r: {"InstanceId": r["instance"],
                                                                            "Attribute": "userData"}),
    "DescribeSnapshotAttribute": ("describe_snapshot_attribute", lambda r: {"SnapshotId": r["snapshot"],
                                                                            "Attribute": "createVolumePermission"}),
    "DescribeVolumeAttribute": ("describe_volume_attribute", lambda r: {"VolumeId": r["volume"],
                                                                        "Attribute": "autoEnableIO"}),
    "DetachVolume": ("detach_volume", lambda r: {"VolumeId": r["volume"]}),
    "DisassociateAddress": ("disassociate_address", lambda r: {"AssociationId": r["association"]}),
    "GetConsoleOutput": ("get_console_output", lambda r: {"InstanceId": r["instance"]}),
    "ModifyImageAttribute": ("modify_image_attribute", lambda r: {"ImageId": r["image"],
                                                                  "Description": {"Value": "b's now"}}),
    "ModifyInstanceAttribute": ("modify_instance_attribute", lambda r: {"InstanceId": r["instance"],
                                                                        "DisableApiTermination": {"Value": True}}),
    "ModifyInstanceMetadataOptions": ("modify_instance_metadata_options", lambda r: {"InstanceId": r["instance"],
                                                                                      "HttpTokens": "required"}),
    "ModifySnapshotAttribute": ("modify_snapshot_attribute", lambda r: {
        "SnapshotId": r["snapshot"], "Attribute": "createVolumePermission", "OperationType": "add",
        "UserIds": ["x"]}),
    "ModifyVolume": ("modify_volume", lambda r: {"VolumeId": r["volume"], "Size": 5}),
    "ModifyVolumeAttribute": ("modify_volume_attribute", lambda r: {"VolumeId": r["volume"],
                                                                    "AutoEnableIO": {"Value": True}}),
    "RebootInstances": ("reboot_instances", lambda r: {"InstanceIds": [r["instance"]]}),
    "ResetInstanceAttribute": ("reset_instance_attribute", lambda r: {"InstanceId": r["instance"],
                                                                      "Attribute": "sourceDestCheck"}),
    "ReleaseAddress": ("release_address", lambda r: {"AllocationId": r["allocation"]}),
    "ModifyAddressAttribute": ("modify_address_attribute", lambda r: {"AllocationId": r["allocation"],
                                                                      "DomainName": "b.example"}),
    "ResetAddressAttribute": ("reset_address_attribute", lambda r: {"AllocationId": r["allocation"],
                                                                    "Attribute": "domain-name"}),
    "ResetImageAttribute": ("reset_image_attribute", lambda r: {"ImageId": r["image"],
                                                                "Attribute": "launchPermission"}),
    "ResetSnapshotAttribute": ("reset_snapshot_attribute", lambda r: {"SnapshotId": r["snapshot"],
                                                                      "Attribute": "createVolumePermission"}),
    "RevokeSecurityGroupEgress": ("revoke_security_group_egress", lambda r: {
        "GroupId": r["group"], "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}),
    "RevokeSecurityGroupIngress": ("revoke_security_group_ingress", lambda r: {
        "GroupId": r["group"], "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": r["group"]}]}]}),
    "RunInstances": ("run_instances", lambda r: {"ImageId": r["image"], "MinCount": 1, "MaxCount": 1}),
    "StartInstances": ("start_instances", lambda r: {"InstanceIds": [r["instance"]]}),
    "StopInstances": ("stop_instances", lambda r: {"InstanceIds": [r["instance"]]}),
    "TerminateInstances": ("terminate_instances", lambda r: {"InstanceIds": [r["instance"]]}),
}
# action -> (boto3 method, kwargs naming A's resources); B gets a not-found, never A's data
DESCRIBE_BY_ID = {
    "DescribeAddresses": ("describe_addresses", lambda r: {"AllocationIds": [r["allocation"]]}),
    "DescribeAddressesAttribute": ("describe_addresses_attribute", lambda r: {"AllocationIds": [r["allocation"]],
                                                                              "Attribute": "domain-name"}),
    "DescribeImages": ("describe_images", lambda r: {"ImageIds": [r["image"]]}),
    "DescribeInstanceStatus": ("describe_instance_status", lambda r: {"InstanceIds": [r["instance"]]}),
    "DescribeInstances": ("describe_instances", lambda r: {"InstanceIds": [r["instance"]]}),
    "DescribeKeyPairs": ("describe_key_pairs", lambda r: {"KeyPairIds": [r["key"]]}),
    "DescribeNetworkInterfaces": ("describe_network_interfaces", lambda r: {"NetworkInterfaceIds": [r["eni"]]}),
    "DescribeSecurityGroups": ("describe_security_groups", lambda r: {"GroupIds": [r["group"]]}),
    "DescribeSnapshots": ("describe_snapshots", lambda r: {"SnapshotIds": [r["snapshot"]]}),
    "DescribeSubnets": ("describe_subnets", lambda r: {"SubnetIds": [r["subnet"]]}),
    "DescribeVolumeStatus": ("describe_volume_status", lambda r: {"VolumeIds": [r["volume"]]}),
    "DescribeVolumes": ("describe_volumes", lambda r: {"VolumeIds": [r["volume"]]}),
    "DescribeVpcs": ("describe_vpcs", lambda r: {"VpcIds": [r["vpc"]]}),
    "DescribeDhcpOptions": ("describe_dhcp_options", lambda r: {"DhcpOptionsIds": [r["dopt"]]}),
    "DescribeCustomerGateways": ("describe_customer_gateways", lambda r: {"CustomerGatewayIds": [r["cgw"]]}),
    "DescribeNetworkAcls": ("describe_network_acls", lambda r: {"NetworkAclIds": [r["acl"]]}),
    "DescribePlacementGroups": ("describe_placement_groups", lambda r: {"GroupIds": [r["pg"]]}),
    "DescribeLaunchTemplates": ("describe_launch_templates", lambda r: {"LaunchTemplateIds": [r["lt"]]}),
    "DescribeLaunchTemplateVersions": ("describe_launch_template_versions", lambda r: {
        "LaunchTemplateId": r["lt"]}),
    "GetLaunchTemplateData": ("get_launch_template_data", lambda r: {"InstanceId": r["instance"]}),
    "GetPasswordData": ("get_password_data", lambda r: {"InstanceId": r["instance"]}),
    "DescribeNetworkInterfaceAttribute": ("describe_network_interface_attribute", lambda r: {
        "NetworkInterfaceId": r["eni"], "Attribute": "description"}),
    "DescribeVpcAttribute": ("describe_vpc_attribute", lambda r: {"VpcId": r["vpc"], "Attribute": "enableDnsSupport"}),
}
# refused for every caller (a network ACL here is its VPC's default, read-only): nothing to find or change
ACL_CHANGES = ("CreateNetworkAcl", "DeleteNetworkAcl", "CreateNetworkAclEntry", "ReplaceNetworkAclEntry",
               "DeleteNetworkAclEntry", "ReplaceNetworkAclAssociation")
# listings: B's answer must not contain any of A's ids or addresses
LISTINGS = {
    "DescribeSecurityGroupRules": "describe_security_group_rules", "DescribeTags": "describe_tags",
    "DescribeAddresses": "describe_addresses", "DescribeImages": "describe_images",
    "DescribeInstances": "describe_instances", "DescribeKeyPairs": "describe_key_pairs",
    "DescribeNetworkInterfaces": "describe_network_interfaces", "DescribeSecurityGroups": "describe_security_groups",
    "DescribeSnapshots": "describe_snapshots", "DescribeSubnets": "describe_subnets",
    "DescribeVolumes": "describe_volumes", "DescribeVpcs": "describe_vpcs", "DescribeVolumeStatus":
    "describe_volume_status", "DescribeInstanceStatus": "describe_instance_status",
    "DescribeRouteTables": "describe_route_tables", "DescribeInternetGateways": "describe_internet_gateways",
    "DescribeDhcpOptions": "describe_dhcp_options", "DescribeVpnGateways": "describe_vpn_gateways",
    "DescribeCustomerGateways": "describe_customer_gateways", "DescribeVpnConnections": "describe_vpn_connections",
    "DescribeNetworkAcls": "describe_network_acls", "DescribePlacementGroups": "describe_placement_groups",
    "DescribeLaunchTemplates": "describe_launch_templates",
    "DescribeLaunchTemplateVersions": "describe_launch_template_versions",
}
# actions that name no other project's resource: they create B's own or describe the region
OWN_ONLY = {
    "AllocateAddress": ("allocate_address", lambda r: {"Domain": "vpc"}),
    "CreateKeyPair": ("create_key_pair", lambda r: {"KeyName": "made-by-reader"}),
    "CreateVpc": ("create_vpc", lambda r: {"CidrBlock": "10.88.0.0/16"}),
    "CreateDefaultVpc": ("create_default_vpc", lambda r: {}),
    "CreateDhcpOptions": ("create_dhcp_options", lambda r: {
        "DhcpConfigurations": [{"Key": "domain-name", "Values": ["reader.example"]}]}),
    "CreateInternetGateway": ("create_internet_gateway", lambda r: {}),
    "CreateCustomerGateway": ("create_customer_gateway", lambda r: {"Type": "ipsec.1", "IpAddress": "198.51.100.7",
                                                                    "BgpAsn": 65010}),
    "CreateLaunchTemplate": ("create_launch_template", lambda r: {
        "LaunchTemplateName": "made-by-reader", "LaunchTemplateData": {"InstanceType": "t2.micro"}}),
    "CreatePlacementGroup": ("create_placement_group", lambda r: {"GroupName": "made-by-reader",
                                                                  "Strategy": "spread"}),
    "CreateSecurityGroup": ("create_security_group", lambda r: {"GroupName": "made-by-reader", "Description": "r"}),
    "DeleteKeyPair": ("delete_key_pair", lambda r: {"KeyPairId": r["key"]}),
    "DeleteTags": ("delete_tags", lambda r: {"Resources": [r["instance"]]}),
    "DescribeAccountAttributes": ("describe_account_attributes", lambda r: {}),
    "DescribeAvailabilityZones": ("describe_availability_zones", lambda r: {}),
    "DescribeInstanceTypes": ("describe_instance_types", lambda r: {}),
    "DescribeInstanceTypeOfferings": ("describe_instance_type_offerings", lambda r: {}),
    "DescribeRegions": ("describe_regions", lambda r: {}),
    "ImportKeyPair": ("import_key_pair", lambda r: {"KeyName": "imported-by-reader", "PublicKeyMaterial": (
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ2b2dzaGVyZS1vZi10aGUtcmVhZGVyLWtleS0wMDAw reader")}),
    "RegisterImage": ("register_image", lambda r: {"Name": "registered-by-reader", "RootDeviceName": "/dev/sda1",
                                                   "BlockDeviceMappings": [{"DeviceName": "/dev/sda1",
                                                                            "Ebs": {"SnapshotId": r["snapshot"]}}]}),
}
# The role column: the least of OpenStack's personas (reader < member) that may call each action in its own
# project. A reader may call every Describe*/Get* action and nothing else (ec2proxy.auth.policy).
EVERY_ACTION = {**CHANGES, **OWN_ONLY, **DESCRIBE_BY_ID,
                **{name: (method, lambda r: {}) for name, method in LISTINGS.items()}}
ROLE = {name: "reader" if name.startswith(("Describe", "Get")) else "member" for name in EVERY_ACTION}
MEMBER_ONLY = sorted(name for name, role in ROLE.items() if role == "member")
READABLE = sorted(name for name, role in ROLE.items() if role == "reader")


def test_every_implemented_action_has_an_isolation_row():
    covered = set(CHANGES) | set(DESCRIBE_BY_ID) | set(LISTINGS) | set(OWN_ONLY)
    assert sorted(implemented() - covered) == []


def test_every_implemented_action_has_a_role_row():
    assert sorted(implemented() - set(ROLE)) == []
    assert {"CreateTags", "DeleteTags", "ModifyInstanceAttribute", "ModifyInstanceMetadataOptions",
            "CreateDhcpOptions", "CreateKeyPair", "ImportKeyPair", "CreateVolume"} <= set(MEMBER_ONLY)


@pytest.mark.parametrize("action", sorted(CHANGES))
def test_b_cannot_act_on_as_resources(alt, a, action):
    method, kwargs = CHANGES[action]
    with pytest.raises(ClientError) as caught:
        getattr(alt, method)(**kwargs(a))
    code = caught.value.response["Error"]["Code"]
    assert code in NOT_FOUND or (code == "UnsupportedOperation" and action in ("CopySnapshot", *ACL_CHANGES)), code


@pytest.mark.parametrize("action", sorted(DESCRIBE_BY_ID))
def test_b_cannot_describe_as_resources_by_id(alt, a, action):
    method, kwargs = DESCRIBE_BY_ID[action]
    try:
        answer = getattr(alt, method)(**kwargs(a))
    except ClientError as caught:
        assert caught.response["Error"]["Code"] in NOT_FOUND | {"InvalidGroup.NotFound"}
        return
    flat = repr(answer)
    assert not any(value in flat for key, value in a.items() if key not in ("zone", "vpc", "subnet")), flat


@pytest.mark.parametrize("action", sorted(LISTINGS))
def test_b_never_lists_as_resources(alt, a, action):
    answer = repr(getattr(alt, LISTINGS[action])())
    leaked = [key for key, value in a.items() if key not in ("zone",) and value in answer]
    assert leaked == []


def test_b_cannot_delete_as_tags_or_key_pair(ec2, alt, a):
    alt.delete_tags(Resources=[a["instance"]])  # succeeds, and touches only B's own (absent) tags
    alt.delete_key_pair(KeyName="a-key")  # B's namespace: A's key of that name stays
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [a["instance"]]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("owner", "a")]
    assert ec2.describe_key_pairs(KeyPairIds=[a["key"]])["KeyPairs"]


def test_as_resources_are_untouched(ec2, a):
    instance = ec2.describe_instances(InstanceIds=[a["instance"]])["Reservations"][0]["Instances"][0]
    assert instance["State"]["Name"] == "running" and instance["PublicIpAddress"] == a["ip"]
    assert ec2.describe_instance_attribute(InstanceId=a["instance"], Attribute="disableApiTermination")[
        "DisableApiTermination"] == {"Value": False}
    assert ec2.describe_volumes(VolumeIds=[a["volume"]])["Volumes"][0]["State"] == "available"
    assert ec2.describe_images(ImageIds=[a["image"]])["Images"][0].get("Description") is None
    assert ec2.describe_snapshots(SnapshotIds=[a["snapshot"]])["Snapshots"][0]["State"] == "completed"
    assert ec2.describe_security_groups(GroupIds=[a["group"]])["SecurityGroups"][0]["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.9.0.0/16"}], "Ipv6Ranges": [],
         "UserIdGroupPairs": [], "PrefixListIds": []}]  # its one rule, as A made it: no description, same traffic
    (rule,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[a["rule"]])["SecurityGroupRules"]
    assert (rule["CidrIpv4"], rule.get("Description")) == ("10.9.0.0/16", None)
    assert ec2.describe_vpcs(VpcIds=[a["made_vpc"]])["Vpcs"][0]["DhcpOptionsId"] == a["dopt"]
    assert len(ec2.describe_network_interfaces(NetworkInterfaceIds=[a["eni"]])["NetworkInterfaces"][0][
        "PrivateIpAddresses"]) == 1


def test_no_secret_reaches_the_log(proxy, ec2, alt, a):
    """Secret keys, private keys, the metadata secret and cloud passwords never appear in a log line."""
    material = ec2.create_key_pair(KeyName="secret-key")["KeyMaterial"]
    with pytest.raises(ClientError):
        proxy.client(proxy.demo_keys()[0], "wrong" + proxy.demo_keys()[1]).describe_regions()
    log = proxy.log.read_text()
    accounts_secrets = [v["password"] for v in
                        json.loads((proxy.data_dir / "devcloud" / "accounts.json").read_text()).values()
                        if isinstance(v, dict) and v.get("password")]
    secrets = [proxy.demo_keys()[1], material.splitlines()[1],
               (proxy.data_dir / "metadata" / "shared_secret").read_text().strip(), *accounts_secrets]
    assert log and [s[:6] + "..." for s in secrets if s and s in log] == []


@pytest.fixture(scope="module")
def reader(proxy, accounts):
    """A boto3 client of a key with Keystone's read-only role in A's own project (demo)."""
    created = json.loads(proxy.ec2proxy("credentials", "create", "--project", accounts["demo"]["project_id"],
                                        "--user", accounts["demo"]["user_id"], "--role", "reader").stdout)
    assert created["roles"] == ["reader"]
    return proxy.client(created["access_key"], created["secret"])


def _call(client, action: str, resources: dict, **extra):
    method, kwargs = EVERY_ACTION[action]
    return getattr(client, method)(**kwargs(resources), **extra)


def _takes_dry_run(client, action: str) -> bool:
    return "DryRun" in client.meta.service_model.operation_model(action).input_shape.members


@pytest.mark.parametrize("action", MEMBER_ONLY)
def test_reader_is_refused_every_change_dry_run_or_not(reader, a, action):
    for extra in ({}, {"DryRun": True}) if _takes_dry_run(reader, action) else ({},):
        with pytest.raises(ClientError) as caught:
            _call(reader, action, a, **extra)
        error = caught.value.response
        assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
            "UnauthorizedOperation", 403), (extra, error["Error"])
        assert error["Error"]["Message"] == "You are not authorized to perform this operation."


@pytest.mark.parametrize("action", READABLE)
def test_reader_reads_its_project(reader, a, action):
    answer = repr(_call(reader, action, a))
    if action in DESCRIBE_BY_ID and action not in ("GetPasswordData", "GetLaunchTemplateData"):  # no id shown
        asked = {value for value in repr(DESCRIBE_BY_ID[action][1](a)).split("'") if value in a.values()}
        assert asked and all(value in answer for value in asked), answer
    if _takes_dry_run(reader, action):
        with pytest.raises(ClientError) as caught:
            _call(reader, action, a, DryRun=True)
        assert caught.value.response["Error"]["Code"] == "DryRunOperation"


@pytest.mark.parametrize("action", sorted(ROLE))
def test_member_passes_the_policy_of_every_action(ec2, a, action):
    """A's member asks with DryRun where the action takes it: the policy lets it through, to DryRunOperation or
    to what the handler's own checks say of A's resources as they are now (an attached gateway, a VPC in use)."""
    if not _takes_dry_run(ec2, action):
        _call(ec2, action, a) if ROLE[action] == "reader" else pytest.skip(f"{action} has no DryRun")
        return
    with pytest.raises(ClientError) as caught:
        _call(ec2, action, a, DryRun=True)
    assert caught.value.response["Error"]["Code"] not in ("UnauthorizedOperation", "AuthFailure"), action


def test_nothing_the_reader_tried_left_a_trace(proxy, reader, ec2, a):
    """Every change a reader may not make, tried in a row: not one row of ours changes and no call reaches the
    cloud (the refusal comes before the handler); A's instance can still be terminated by its members."""
    import sqlite3

    from tests.devclouds import DevCloudProcess

    def dump() -> list[str]:
        with sqlite3.connect(proxy.data_dir / "ec2proxy.sqlite") as connection:
            return list(connection.iterdump())

    read, clear = DevCloudProcess(proxy.data_dir).request_log()
    before = dump()
    clear()
    for action in MEMBER_ONLY:
        with pytest.raises(ClientError) as caught:
            _call(reader, action, a)
        assert caught.value.response["Error"]["Code"] == "UnauthorizedOperation", action
    reached = [(call["method"], call["raw_path"]) for call in read() if "/identity/" not in call["raw_path"]]
    assert reached == []
    after = dump()
    assert [line for line in after if line not in before] == [] and len(after) == len(before)
    assert ec2.describe_tags(Filters=[{"Name": "key", "Values": ["b"]}])["Tags"] == []
    assert ec2.describe_instance_attribute(InstanceId=a["instance"], Attribute="disableApiTermination")[
        "DisableApiTermination"] == {"Value": False}
    assert not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["*-by-reader"]}])["KeyPairs"]
