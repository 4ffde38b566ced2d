"""VPC networking through boto3 and the AWS CLI (issue 19): a whole network stack built, used, refused while in
use, torn down in reverse, and nothing of it left in Neutron."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError

from tests.devclouds import DevCloudProcess
from tests.support import WAIT, code_of, when_free

pytestmark = pytest.mark.e2e
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.1"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def neutron_objects(proxy) -> dict[str, set[str]]:
    """What the demo project has in the dev cloud's Neutron, by kind."""
    sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
    return {"networks": {n.id for n in sdk.network.networks() if not n.is_router_external},
            "subnets": {s.id for s in sdk.network.subnets()}, "routers": {r.id for r in sdk.network.routers()},
            "ports": {p.id for p in sdk.network.ports()},
            "groups": {g.id for g in sdk.network.security_groups()},
            "floating IPs": {f.id for f in sdk.network.ips()}}


def test_bad_blocks_are_refused(ec2):
    assert code_of(ec2.create_vpc, CidrBlock="10.0.0.0/8") == "InvalidVpc.Range"
    assert code_of(ec2.create_vpc, CidrBlock="10.0.0.0/29") == "InvalidVpc.Range"
    assert code_of(ec2.create_vpc, CidrBlock="not-a-block") == "InvalidParameterValue"
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    assert code_of(ec2.create_subnet, VpcId=vpc, CidrBlock="10.10.0.0/24") == "InvalidSubnet.Range"
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    assert code_of(ec2.create_subnet, VpcId=vpc, CidrBlock="10.9.0.128/25") == "InvalidSubnet.Conflict"
    assert code_of(ec2.create_subnet, VpcId="vpc-0123456789abcdef0", CidrBlock="10.9.1.0/24") == \
        "InvalidVpcID.NotFound"
    assert code_of(ec2.delete_vpc, VpcId=vpc) == "DependencyViolation"
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)
    assert code_of(ec2.describe_vpcs, VpcIds=[vpc]) == "InvalidVpcID.NotFound"


def test_a_whole_stack_built_used_and_torn_down(proxy, ec2, ami):
    before = neutron_objects(proxy)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "stack"}]}])["Vpc"]
    vpc_id = vpc["VpcId"]
    assert vpc["CidrBlock"] == "10.20.0.0/16" and vpc["IsDefault"] is False
    assert ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["stack"]}])["Vpcs"][0]["VpcId"] == vpc_id
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    assert ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"] == \
        {"Value": True}
    (main,) = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]},
                                                 {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    assert main["Routes"] == [{"DestinationCidrBlock": "10.20.0.0/16", "GatewayId": "local", "State": "active",
                               "Origin": "CreateRouteTable"}]
    (default_group,) = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "SecurityGroups"]
    assert default_group["GroupName"] == "default"

    public = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]
    private = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.2.0/24")["Subnet"]
    assert public["AvailableIpAddressCount"] == 251  # AWS keeps five addresses of each subnet
    ec2.modify_subnet_attribute(SubnetId=public["SubnetId"], MapPublicIpOnLaunch={"Value": True})
    shown = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert {s["SubnetId"]: s["MapPublicIpOnLaunch"] for s in shown} == {public["SubnetId"]: True,
                                                                         private["SubnetId"]: False}

    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    assert code_of(ec2.attach_internet_gateway, InternetGatewayId=gateway, VpcId=vpc_id) == \
        "Resource.AlreadyAssociated"
    table = ec2.create_route_table(VpcId=vpc_id, ClientToken="stack-table")["RouteTable"]["RouteTableId"]
    assert ec2.create_route_table(VpcId=vpc_id, ClientToken="stack-table")["RouteTable"]["RouteTableId"] == table
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    assert code_of(ec2.create_route, RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway) == \
        "RouteAlreadyExists"
    association = ec2.associate_route_table(RouteTableId=table, SubnetId=public["SubnetId"])["AssociationId"]

    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.authorize_security_group_egress(GroupId=web, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.20.2.0/24"}]}])
    assert code_of(ec2.create_security_group, GroupName="web", Description="again", VpcId=vpc_id) == \
        "InvalidGroup.Duplicate"

    launched = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, SubnetId=public["SubnetId"],
                                 SecurityGroupIds=[web])["Instances"]
    (lonely,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=private["SubnetId"],
                                  PrivateIpAddress="10.20.2.50")["Instances"]
    instance_ids = [i["InstanceId"] for i in launched] + [lonely["InstanceId"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=instance_ids, WaiterConfig=WAIT)
    shown = {i["InstanceId"]: i for r in ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
             for i in r["Instances"]}
    for instance in launched:
        seen = shown[instance["InstanceId"]]
        assert (seen["SubnetId"], seen["VpcId"]) == (public["SubnetId"], vpc_id)
        assert seen["PrivateIpAddress"].startswith("10.20.1.")
        assert [g["GroupId"] for g in seen["SecurityGroups"]] == [web]
    assert shown[lonely["InstanceId"]]["PrivateIpAddress"] == "10.20.2.50"
    assert [(g["GroupName"], g["GroupId"]) for g in shown[lonely["InstanceId"]]["SecurityGroups"]] == \
        [("default", default_group["GroupId"])]  # launched without groups: its VPC's default group

    for _ in range(100):  # the public subnet maps a public IP on launch: given once Nova has made the port
        automatic = ec2.describe_instances(InstanceIds=[launched[1]["InstanceId"]])["Reservations"][0][
            "Instances"][0].get("PublicIpAddress")
        if automatic:
            break
        time.sleep(0.1)
    assert automatic and "PublicIpAddress" not in shown[lonely["InstanceId"]]  # the private subnet maps none
    assert ec2.describe_addresses()["Addresses"] == []  # an instance's public IP is no elastic IP
    address = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=launched[0]["InstanceId"])
    assert ec2.describe_instances(InstanceIds=[launched[0]["InstanceId"]])["Reservations"][0]["Instances"][0][
        "PublicIpAddress"] == address["PublicIp"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="192.168.0.0/16", InstanceId=lonely["InstanceId"])
    routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
    assert {r["DestinationCidrBlock"]: r.get("GatewayId") or r.get("InstanceId") for r in routes} == {
        "10.20.0.0/16": "local", "0.0.0.0/0": gateway, "192.168.0.0/16": lonely["InstanceId"]}

    # a second interface, made in the private subnet (exactly once with a ClientToken), attached, given the
    # elastic IP, changed, detached and deleted
    eni = ec2.create_network_interface(SubnetId=private["SubnetId"], Description="second", Groups=[web],
                                       ClientToken="stack-eni")["NetworkInterface"]
    assert ec2.create_network_interface(SubnetId=private["SubnetId"], Description="second", Groups=[web],
                                        ClientToken="stack-eni")["NetworkInterface"]["NetworkInterfaceId"] == \
        eni["NetworkInterfaceId"]
    assert eni["Status"] == "available" and eni["PrivateIpAddress"].startswith("10.20.2.")
    # a route may go to an interface not attached yet, never over the VPC's own local route; an attribute is
    # described one at a time (as AWS answers; the retired ec2-api suite checks both against AWS)
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="172.16.0.0/12",
                     NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert code_of(ec2.create_route, RouteTableId=table, DestinationCidrBlock="10.20.0.0/16",
                   NetworkInterfaceId=eni["NetworkInterfaceId"]) == "InvalidParameterValue"
    assert code_of(ec2.delete_route, RouteTableId=table, DestinationCidrBlock="10.20.0.0/16") == \
        "InvalidParameterValue"
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock="172.16.0.0/12")
    assert code_of(ec2.describe_network_interface_attribute, NetworkInterfaceId=eni["NetworkInterfaceId"]) == \
        "InvalidParameterCombination"
    attachment = ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"],
                                              InstanceId=launched[0]["InstanceId"], DeviceIndex=1)["AttachmentId"]
    interfaces = ec2.describe_instances(InstanceIds=[launched[0]["InstanceId"]])["Reservations"][0][
        "Instances"][0]["NetworkInterfaces"]
    assert sorted((n["Attachment"]["DeviceIndex"], n["NetworkInterfaceId"]) for n in interfaces)[1] == \
        (1, eni["NetworkInterfaceId"])
    ec2.associate_address(AllocationId=address["AllocationId"], NetworkInterfaceId=eni["NetworkInterfaceId"],
                          AllowReassociation=True)  # the elastic IP moves to the second interface
    (moved,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["NetworkInterfaceId"]])["NetworkInterfaces"]
    assert moved["Association"]["PublicIp"] == address["PublicIp"]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni["NetworkInterfaceId"],
                                           SourceDestCheck={"Value": False})
    assert ec2.describe_network_interface_attribute(NetworkInterfaceId=eni["NetworkInterfaceId"],
                                                    Attribute="sourceDestCheck")["SourceDestCheck"] == {"Value": False}
    # AWS: "InvalidParameterValue: Network interface 'eni-...' is currently in use" (its error-code list: an
    # interface in use may also answer InvalidParameterValue; a delete does, an attach InvalidNetworkInterface.InUse)
    with pytest.raises(ClientError) as caught:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert caught.value.response["Error"] == {
        "Code": "InvalidParameterValue",
        "Message": f"Network interface '{eni['NetworkInterfaceId']}' is currently in use."}
    primary = next(n for n in interfaces if n["Attachment"]["DeviceIndex"] == 0)["Attachment"]["AttachmentId"]
    assert code_of(ec2.detach_network_interface, AttachmentId=primary) == "OperationNotPermitted"
    ec2.disassociate_address(AssociationId=moved["Association"]["AssociationId"])
    ec2.detach_network_interface(AttachmentId=attachment)
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=launched[0]["InstanceId"])

    assert code_of(ec2.delete_vpc, VpcId=vpc_id) == "DependencyViolation"
    assert code_of(ec2.detach_internet_gateway, InternetGatewayId=gateway, VpcId=vpc_id) == "DependencyViolation"
    assert code_of(ec2.delete_internet_gateway, InternetGatewayId=gateway) == "DependencyViolation"
    assert code_of(ec2.delete_route_table, RouteTableId=table) == "DependencyViolation"
    assert code_of(ec2.delete_subnet, SubnetId=public["SubnetId"]) == "DependencyViolation"

    # tear down in reverse
    ec2.disassociate_address(AssociationId=ec2.describe_addresses(AllocationIds=[address["AllocationId"]])[
        "Addresses"][0]["AssociationId"])
    ec2.release_address(AllocationId=address["AllocationId"])
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock="192.168.0.0/16")
    ec2.terminate_instances(InstanceIds=instance_ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=instance_ids, WaiterConfig=WAIT)
    ec2.disassociate_route_table(AssociationId=association)
    ec2.delete_route_table(RouteTableId=table)
    ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=gateway)
    ec2.delete_security_group(GroupId=web)
    assert code_of(ec2.delete_security_group, GroupId=default_group["GroupId"]) == "CannotDelete"
    for subnet in (public["SubnetId"], private["SubnetId"]):  # Nova frees the ports a moment after
        when_free(ec2.delete_subnet, "DependencyViolation", 50, 0.2, SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc_id)
    assert code_of(ec2.describe_route_tables, RouteTableIds=[table]) == "InvalidRouteTableID.NotFound"
    assert ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"] == []
    assert code_of(ec2.describe_internet_gateways, InternetGatewayIds=[gateway]) == \
        "InvalidInternetGatewayID.NotFound"
    after = neutron_objects(proxy)
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}


def test_the_aws_cli_builds_and_removes_a_vpc(proxy):
    vpc = json.loads(proxy.aws("ec2", "create-vpc", "--cidr-block", "10.30.0.0/16").stdout)["Vpc"]["VpcId"]
    subnet = json.loads(proxy.aws("ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", "10.30.5.0/24",
                                  ).stdout)["Subnet"]["SubnetId"]
    listed = json.loads(proxy.aws("ec2", "describe-subnets", "--filters", f"Name=vpc-id,Values={vpc}").stdout)
    assert [s["SubnetId"] for s in listed["Subnets"]] == [subnet]
    gateway = json.loads(proxy.aws("ec2", "create-internet-gateway").stdout)["InternetGateway"]["InternetGatewayId"]
    proxy.aws("ec2", "attach-internet-gateway", "--internet-gateway-id", gateway, "--vpc-id", vpc)
    shown = json.loads(proxy.aws("ec2", "describe-internet-gateways", "--internet-gateway-ids", gateway).stdout)
    assert shown["InternetGateways"][0]["Attachments"] == [{"State": "available", "VpcId": vpc}]
    proxy.aws("ec2", "detach-internet-gateway", "--internet-gateway-id", gateway, "--vpc-id", vpc)
    proxy.aws("ec2", "delete-internet-gateway", "--internet-gateway-id", gateway)
    proxy.aws("ec2", "delete-subnet", "--subnet-id", subnet)
    proxy.aws("ec2", "delete-vpc", "--vpc-id", vpc)
    failed = proxy.aws("ec2", "describe-vpcs", "--vpc-ids", vpc, check=False)
    assert failed.returncode != 0 and "InvalidVpcID.NotFound" in failed.stderr


def test_a_launch_without_a_subnet_goes_to_the_default_vpc(ec2, ami):
    """A project with VPCs of its own has several networks: Nova's "auto" would refuse; AWS uses the default VPC."""
    made = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    (default,) = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    shown = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
    assert shown["VpcId"] == default["VpcId"] != made
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.delete_vpc(VpcId=made)


def test_vpn_listings_are_empty_as_no_vpn_can_be_made(ec2, proxy):
    """No VPN gateway or VPN connection can be made here, so their listings are empty, not UnsupportedOperation:
    a VPC teardown (Terraform's, the retired ec2-api suite's) lists them first."""
    assert ec2.describe_vpn_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": ["vpc-0123abcd"]}])[
        "VpnGateways"] == []
    assert ec2.describe_customer_gateways()["CustomerGateways"] == []
    assert ec2.describe_vpn_connections()["VpnConnections"] == []
    assert json.loads(proxy.aws("ec2", "describe-vpn-gateways").stdout) == {"VpnGateways": []}
    assert code_of(ec2.describe_vpn_gateways, VpnGatewayIds=["vgw-0123abcd"]) == "InvalidVpnGatewayID.NotFound"
    assert code_of(ec2.describe_customer_gateways, CustomerGatewayIds=["cgw-x"]) == \
        "InvalidCustomerGatewayId.Malformed"
    assert code_of(ec2.describe_vpn_connections, Filters=[{"Name": "colour", "Values": ["x"]}]) == \
        "InvalidParameterValue"
    assert code_of(ec2.create_vpn_gateway, Type="ipsec.1") == "UnsupportedOperation"
    assert code_of(ec2.create_vpn_connection, Type="ipsec.1", CustomerGatewayId="cgw-0123abcd",
                   VpnGatewayId="vgw-0123abcd") in ("UnsupportedOperation", "InvalidAction")


def test_customer_gateways_are_kept_records(ec2, proxy):
    """A customer gateway is, on AWS too, a record of the VPN's other end (address, ASN): kept, listed, tagged
    and deleted as AWS does, an identical request answering the existing one (CreateCustomerGateway)."""
    assert ec2.describe_customer_gateways()["CustomerGateways"] == []
    made = ec2.create_customer_gateway(Type="ipsec.1", IpAddress="198.51.100.77", TagSpecifications=[
        {"ResourceType": "customer-gateway", "Tags": [{"Key": "Name", "Value": "office"}]}])["CustomerGateway"]
    cgw = made["CustomerGatewayId"]
    assert cgw.startswith("cgw-") and made["State"] == "available" and made["BgpAsn"] == "65000"  # the default ASN
    assert made["IpAddress"] == "198.51.100.77" and made["Tags"] == [{"Key": "Name", "Value": "office"}]
    again = ec2.create_customer_gateway(Type="ipsec.1", IpAddress="198.51.100.77", BgpAsn=65000)["CustomerGateway"]
    assert again["CustomerGatewayId"] == cgw
    other = ec2.create_customer_gateway(Type="ipsec.1", PublicIp="198.51.100.77", BgpAsn=65001)[
        "CustomerGateway"]["CustomerGatewayId"]  # PublicIp: the deprecated name of IpAddress
    assert other != cgw
    listed = json.loads(proxy.aws("ec2", "describe-customer-gateways", "--filters",
                                  "Name=bgp-asn,Values=65001").stdout)["CustomerGateways"]
    assert [g["CustomerGatewayId"] for g in listed] == [other]
    assert [g["CustomerGatewayId"] for g in ec2.describe_customer_gateways(Filters=[
        {"Name": "tag:Name", "Values": ["office"]}])["CustomerGateways"]] == [cgw]
    ec2.create_tags(Resources=[other], Tags=[{"Key": "k", "Value": "v"}])
    assert sorted(ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["customer-gateway"]}])["Tags"],
                  key=lambda t: t["Key"]) == [
        {"Key": "Name", "ResourceId": cgw, "ResourceType": "customer-gateway", "Value": "office"},
        {"Key": "k", "ResourceId": other, "ResourceType": "customer-gateway", "Value": "v"}]
    assert code_of(ec2.create_customer_gateway, Type="ipsec.2", IpAddress="198.51.100.7") == "InvalidParameterValue"
    assert code_of(ec2.create_customer_gateway, Type="ipsec.1", IpAddress="not-an-ip") == "InvalidParameterValue"
    assert code_of(ec2.create_customer_gateway, Type="ipsec.1", IpAddress="2001:db8::1") == "InvalidParameterValue"
    assert code_of(ec2.create_customer_gateway, Type="ipsec.1") == "MissingParameter"
    assert code_of(ec2.create_customer_gateway, Type="ipsec.1", IpAddress="198.51.100.7", BgpAsn=0) == \
        "InvalidParameterValue"
    assert code_of(ec2.create_customer_gateway, Type="ipsec.1", IpAddress="198.51.100.7",
                   CertificateArn="arn:aws:acm:x") == "UnsupportedOperation"
    assert code_of(ec2.create_customer_gateway, Type="ipsec.1", IpAddress="198.51.100.7", DryRun=True) == \
        "DryRunOperation"
    ec2.delete_customer_gateway(CustomerGatewayId=cgw)
    ec2.delete_customer_gateway(CustomerGatewayId=other)
    assert code_of(ec2.describe_customer_gateways, CustomerGatewayIds=[cgw]) == "InvalidCustomerGatewayID.NotFound"
    assert code_of(ec2.delete_customer_gateway, CustomerGatewayId=cgw) == "InvalidCustomerGatewayID.NotFound"
    assert ec2.describe_customer_gateways()["CustomerGateways"] == []
    assert ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["customer-gateway"]}])["Tags"] == []


def test_an_instance_lives_in_its_subnets_zone(ec2, ami):
    """A subnet made in the second zone: the instance launched in it is there too, so a volume made in that zone
    attaches (found by the AWS SDK for JavaScript v3); a Placement zone that contradicts the subnet is refused."""
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    assert len(zones) > 1
    vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24", AvailabilityZone=zones[1])["Subnet"]
    assert subnet["AvailabilityZone"] == zones[1]
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"],
                   Placement={"AvailabilityZone": zones[0]}) == "InvalidParameterValue"
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet["SubnetId"])["Instances"]
    iid = instance["InstanceId"]
    assert instance["Placement"]["AvailabilityZone"] == zones[1]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    volume = ec2.create_volume(Size=1, AvailabilityZone=zones[1])["VolumeId"]
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdf")
    ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    ec2.detach_volume(VolumeId=volume)
    ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig=WAIT)
    ec2.delete_volume(VolumeId=volume)
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    when_free(ec2.delete_subnet, "DependencyViolation", SubnetId=subnet["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)


def test_every_vpc_has_its_default_network_acl_read_only(ec2, proxy):
    """Each VPC's default ACL as AWS shows one (allow all, then the "*" deny, in and out), associated with each of
    its subnets, found by the filters Terraform reads it with, taggable; ACL rules and custom ACLs are refused
    with the reason (Neutron filters at ports, by security groups), not accepted and never enforced."""
    vpc = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    subnets = sorted(ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.31.{n}.0/24")["Subnet"]["SubnetId"] for n in (1, 2))
    (acl,) = ec2.describe_network_acls(Filters=[{"Name": "default", "Values": ["true"]},
                                                {"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
    acl_id = acl["NetworkAclId"]
    assert acl_id.startswith("acl-") and acl["IsDefault"] is True and acl["VpcId"] == vpc
    assert sorted((e["Egress"], e["RuleNumber"], e["RuleAction"], e["Protocol"], e["CidrBlock"])
                  for e in acl["Entries"]) == [(False, 100, "allow", "-1", "0.0.0.0/0"),
                                               (False, 32767, "deny", "-1", "0.0.0.0/0"),
                                               (True, 100, "allow", "-1", "0.0.0.0/0"),
                                               (True, 32767, "deny", "-1", "0.0.0.0/0")]
    assert sorted(a["SubnetId"] for a in acl["Associations"]) == subnets
    assert all(a["NetworkAclId"] == acl_id and a["NetworkAclAssociationId"].startswith("aclassoc-")
               for a in acl["Associations"])
    by_subnet = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnets[0]]}])
    assert [a["NetworkAclId"] for a in by_subnet["NetworkAcls"]] == [acl_id]
    ec2.create_tags(Resources=[acl_id], Tags=[{"Key": "Name", "Value": "default-acl"}])
    listed = json.loads(proxy.aws("ec2", "describe-network-acls", "--network-acl-ids", acl_id).stdout)
    assert listed["NetworkAcls"][0]["Tags"] == [{"Key": "Name", "Value": "default-acl"}]
    assert code_of(ec2.describe_network_acls, NetworkAclIds=["acl-0123456789abcdef0"]) == \
        "InvalidNetworkAclID.NotFound"
    assert code_of(ec2.describe_network_acls, NetworkAclIds=["acl-x"]) == "InvalidNetworkAclId.Malformed"
    for call, kwargs in ((ec2.create_network_acl, {"VpcId": vpc}),
                         (ec2.create_network_acl_entry, {"NetworkAclId": acl_id, "RuleNumber": 110, "Protocol": "6",
                                                         "RuleAction": "deny", "Egress": False,
                                                         "CidrBlock": "10.0.0.0/8", "PortRange": {"From": 22,
                                                                                                "To": 22}}),
                         (ec2.delete_network_acl_entry, {"NetworkAclId": acl_id, "RuleNumber": 100, "Egress": True}),
                         (ec2.delete_network_acl, {"NetworkAclId": acl_id})):
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        assert caught.value.response["Error"]["Code"] == "UnsupportedOperation"
        assert "security groups" in caught.value.response["Error"]["Message"]
    assert ec2.describe_network_acls(NetworkAclIds=[acl_id])["NetworkAcls"][0]["Entries"] == acl["Entries"]
    for subnet in subnets:
        ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)
    assert ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"] == []
