"""Elastic IPs and the default-VPC view: what DescribeInstances, DescribeAddresses, the VPC describes and the
metadata service show must agree."""

from __future__ import annotations

import ipaddress
import json

import pytest
from botocore.exceptions import ClientError

from tests.metadata_calls import fetch, signed
from tests.support import WAIT, code_of

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.3"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def described(ec2, instance_id: str) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def metadata(proxy, instance_id: str, path: str) -> tuple[int, str]:
    record = json.loads(proxy.ec2proxy("instances", "show", instance_id, "--json").stdout)
    status, body, _ = fetch(f"{proxy.metadata}/latest/meta-data/{path}", signed(proxy, record))
    return status, body.decode()


def test_allocate_associate_disassociate_release(proxy, ec2, running):
    allocated = ec2.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": [{"Key": "role", "Value": "web"}]}])
    assert allocated["AllocationId"].startswith("eipalloc-") and allocated["Domain"] == "vpc"
    ip = allocated["PublicIp"]
    association = ec2.associate_address(AllocationId=allocated["AllocationId"], InstanceId=running)["AssociationId"]
    assert association.startswith("eipassoc-")
    (address,) = ec2.describe_addresses(AllocationIds=[allocated["AllocationId"]])["Addresses"]
    assert address["InstanceId"] == running and address["AssociationId"] == association
    assert address["Tags"] == [{"Key": "role", "Value": "web"}]
    instance = described(ec2, running)
    assert instance["PublicIpAddress"] == ip and instance["PrivateIpAddress"] == address["PrivateIpAddress"]
    assert instance["NetworkInterfaces"][0]["Association"]["PublicIp"] == ip
    assert address["NetworkInterfaceId"] == instance["NetworkInterfaces"][0]["NetworkInterfaceId"]
    assert metadata(proxy, running, "public-ipv4") == (200, ip)
    assert [a["PublicIp"] for a in ec2.describe_addresses(
        Filters=[{"Name": "instance-id", "Values": [running]}])["Addresses"]] == [ip]
    assert code_of(ec2.release_address, AllocationId=allocated["AllocationId"]) == "InvalidIPAddress.InUse"

    # a second address moves only with AllowReassociation, and replaces the first on the instance
    second = ec2.allocate_address(Domain="vpc")
    other = ec2.associate_address(AllocationId=second["AllocationId"], InstanceId=running)["AssociationId"]
    assert described(ec2, running)["PublicIpAddress"] == second["PublicIp"]
    assert "AssociationId" not in ec2.describe_addresses(AllocationIds=[allocated["AllocationId"]])["Addresses"][0]
    assert code_of(ec2.associate_address, AllocationId=second["AllocationId"],
                   NetworkInterfaceId=instance["NetworkInterfaces"][0]["NetworkInterfaceId"],
                   PrivateIpAddress="10.255.255.1") == "InvalidParameterValue"

    ec2.disassociate_address(AssociationId=other)
    assert "PublicIpAddress" not in described(ec2, running)
    assert metadata(proxy, running, "public-ipv4")[0] == 404
    assert code_of(ec2.disassociate_address, AssociationId=other) == "InvalidAssociationID.NotFound"
    for allocation in (allocated, second):
        ec2.release_address(AllocationId=allocation["AllocationId"])
    assert code_of(ec2.describe_addresses, AllocationIds=[allocated["AllocationId"]]) == \
        "InvalidAllocationID.NotFound"
    assert code_of(ec2.release_address, PublicIp="203.0.113.250") == "InvalidAddress.NotFound"
    for call in (ec2.release_address, ec2.disassociate_address):
        assert code_of(call, PublicIp="invalidIp") == "InvalidParameterValue"
    assert code_of(ec2.describe_addresses, PublicIps=["invalidIp"]) == "InvalidParameterValue"
    assert code_of(ec2.describe_addresses, PublicIps=["203.0.113.250"]) == "InvalidAddress.NotFound"


def test_reassociation_needs_permission(ec2, ami, running):
    (other,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[other["InstanceId"]], WaiterConfig=WAIT)
    allocated = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=allocated["AllocationId"], InstanceId=running)
    assert code_of(ec2.associate_address, AllocationId=allocated["AllocationId"], InstanceId=other["InstanceId"]) == \
        "Resource.AlreadyAssociated"
    ec2.associate_address(AllocationId=allocated["AllocationId"], InstanceId=other["InstanceId"],
                          AllowReassociation=True)
    assert described(ec2, other["InstanceId"])["PublicIpAddress"] == allocated["PublicIp"]
    # PublicIp names EC2-Classic addresses (deprecated in the AWS API reference of DisassociateAddress and
    # ReleaseAddress): a VPC address is unmapped by its association id and released by its allocation id.
    for call in (ec2.disassociate_address, ec2.release_address):
        with pytest.raises(ClientError) as caught:
            call(PublicIp=allocated["PublicIp"])
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert caught.value.response["Error"]["Message"].startswith("You must specify an a")
    assert described(ec2, other["InstanceId"])["PublicIpAddress"] == allocated["PublicIp"]
    ec2.disassociate_address(AssociationId=ec2.describe_addresses(
        AllocationIds=[allocated["AllocationId"]])["Addresses"][0]["AssociationId"])
    ec2.release_address(AllocationId=allocated["AllocationId"])
    ec2.terminate_instances(InstanceIds=[other["InstanceId"]])


def test_the_vpc_view_is_consistent_with_instances(ec2, running):
    instance = described(ec2, running)
    vpc_id, subnet_id = instance["VpcId"], instance["SubnetId"]
    (vpc,) = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert vpc["IsDefault"] is True and vpc["State"] == "available"
    attributes = {a["AttributeName"]: a["AttributeValues"][0]["AttributeValue"]
                  for a in ec2.describe_account_attributes()["AccountAttributes"]}
    assert attributes["default-vpc"] == vpc_id
    (subnet,) = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    assert subnet["VpcId"] == vpc_id and subnet["DefaultForAz"] is True
    assert subnet["AvailableIpAddressCount"] > 0
    assert ipaddress.ip_address(instance["PrivateIpAddress"]) in ipaddress.ip_network(subnet["CidrBlock"])
    (interface,) = instance["NetworkInterfaces"]
    (eni,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[interface["NetworkInterfaceId"]])[
        "NetworkInterfaces"]
    assert eni["Attachment"]["InstanceId"] == running and eni["SubnetId"] == subnet_id and eni["VpcId"] == vpc_id
    assert eni["PrivateIpAddress"] == instance["PrivateIpAddress"] == interface["PrivateIpAddress"]
    assert eni["MacAddress"] == interface["MacAddress"]
    assert [g["GroupName"] for g in eni["Groups"]] == ["default"]
    by_instance = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [running]}])
    assert [n["NetworkInterfaceId"] for n in by_instance["NetworkInterfaces"]] == [eni["NetworkInterfaceId"]]
    assert running in [i["InstanceId"] for r in ec2.describe_instances(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "subnet-id", "Values": [subnet_id]}])[
        "Reservations"] for i in r["Instances"]]
    ec2.create_tags(Resources=[vpc_id, subnet_id, eni["NetworkInterfaceId"]], Tags=[{"Key": "net", "Value": "a"}])
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:net", "Values": ["a"]}])["Vpcs"][0]["VpcId"] == vpc_id
    assert code_of(ec2.describe_vpcs, VpcIds=["vpc-0123456789abcdef0"]) == "InvalidVpcID.NotFound"
    assert code_of(ec2.describe_subnets, SubnetIds=["subnet-0123456789abcdef0"]) == "InvalidSubnetID.NotFound"


def test_run_instances_into_a_subnet_with_a_private_ip(ec2, ami):
    subnet = ec2.describe_subnets()["Subnets"][0]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"],
                                    PrivateIpAddress="10.0.200.10")["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    shown = described(ec2, instance["InstanceId"])
    assert shown["SubnetId"] == subnet["SubnetId"] and shown["PrivateIpAddress"] == "10.0.200.10"
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def test_aws_cli_addresses(proxy):
    allocated = json.loads(proxy.aws("ec2", "allocate-address", "--domain", "vpc").stdout)
    listed = json.loads(proxy.aws("ec2", "describe-addresses", "--allocation-ids", allocated["AllocationId"]).stdout)
    assert listed["Addresses"][0]["PublicIp"] == allocated["PublicIp"]
    proxy.aws("ec2", "release-address", "--allocation-id", allocated["AllocationId"])


def test_address_attributes_as_terraform_reads_them(ec2, proxy):
    """Terraform's aws_eip reads DescribeAddressesAttribute domain-name on every refresh; the dev cloud, like a
    cloud without Neutron's DNS extension, keeps no reverse DNS, so there is no PtrRecord to show."""
    allocated = ec2.allocate_address(Domain="vpc")
    allocation = allocated["AllocationId"]
    (shown,) = ec2.describe_addresses_attribute(AllocationIds=[allocation], Attribute="domain-name")["Addresses"]
    assert shown == {"AllocationId": allocation, "PublicIp": allocated["PublicIp"]}
    listed = json.loads(proxy.aws("ec2", "describe-addresses-attribute", "--attribute", "domain-name").stdout)
    assert {"AllocationId": allocation, "PublicIp": allocated["PublicIp"]} in listed["Addresses"]
    assert code_of(ec2.describe_addresses_attribute, AllocationIds=["eipalloc-0123456789abcdef0"],
                   Attribute="domain-name") == "InvalidAllocationID.NotFound"
    assert code_of(ec2.describe_addresses_attribute, AllocationIds=[allocation], Attribute="colour") == \
        "InvalidParameterValue"
    assert ec2.reset_address_attribute(AllocationId=allocation, Attribute="domain-name")["Address"] == shown
    assert code_of(ec2.modify_address_attribute, AllocationId=allocation, DomainName="www.example.com") == \
        "UnsupportedOperation"
    ec2.release_address(AllocationId=allocation)


def test_an_address_on_an_interface_gone_with_its_instance_is_no_longer_associated():
    """An interface that goes with its instance is shown deleted as the instance ends, though Neutron deletes its
    port a moment later: its address is shown free from then on, as AWS disassociates it with the interface;
    an address on any other interface stays associated."""
    from ec2proxy.ec2 import ids, vpcs
    from ec2proxy.handlers.addresses import build_address

    fip = {"id": "f1", "floating_ip_address": "203.0.113.9", "port_id": "p1", "fixed_ip_address": "10.0.0.5",
           "floating_network_id": "n1", "project_id": "demo"}
    condemned = {"id": "p1", "device_id": "", "device_owner": "", "tags": [vpcs.DELETE_ON_TERMINATION]}
    shown = build_address(fip, {"p1": condemned}, {"n1": "public"}, "RegionOne").shape
    assert "AssociationId" not in shown and "NetworkInterfaceId" not in shown and "PrivateIpAddress" not in shown
    for kept in ({**condemned, "tags": []}, {**condemned, "device_id": "s1", "device_owner": "compute:nova"}):
        shown = build_address(fip, {"p1": kept}, {"n1": "public"}, "RegionOne").shape
        assert shown["NetworkInterfaceId"] == ids.from_uuid("eni", "p1") and shown["AssociationId"]
