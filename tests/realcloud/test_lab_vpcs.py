"""The VPC stack against real Neutron and Nova (issue 19): built, used, refused while in use, torn down, and
nothing of it left in Neutron."""

from __future__ import annotations

import os
import time

import pytest
from botocore.exceptions import ClientError

from ec2proxy.ec2 import ids
from tests.realcloud.test_lab_instances import LAB, _demo_credential, as_demo, lab_server

pytestmark = pytest.mark.skipif(not LAB, reason="no OpenStack lab: run through ../shared/openstack-lab/run-with-lab.sh")
WAIT = {"Delay": 1, "MaxAttempts": 120}


def code_of(call, **kwargs) -> str:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def ec2(tmp_path_factory):
    server = lab_server(tmp_path_factory.mktemp("lab-vpcs"), "LAB_EC2_SERVICE")
    credential = _demo_credential()
    yield server.client(credential["access"], credential["secret"])
    server.stop()


def neutron_objects() -> dict[str, set[str]]:
    async def work(view):
        found = {}
        for kind in ("network", "subnet", "router", "port", "security_group", "floatingip"):
            found[kind] = {o["id"] for o in await view.neutron.list(kind)
                           if o.get("project_id") == view.project_id and not o.get("router:external")}
        return found

    return as_demo(work)


def test_vpc_stack_on_real_neutron(ec2):
    before = neutron_objects()
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    flavor = os.environ.get("LAB_FLAVOR", "m1.tiny")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")["Subnet"]["SubnetId"]
    private = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.2.0/24")["Subnet"]["SubnetId"]
    assert code_of(ec2.create_subnet, VpcId=vpc, CidrBlock="10.60.1.128/25") == "InvalidSubnet.Conflict"
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    table = ec2.create_route_table(VpcId=vpc, ClientToken=f"lab-rtb-{int(time.time())}")["RouteTable"]
    ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", GatewayId=gateway)
    link = ec2.associate_route_table(RouteTableId=table["RouteTableId"], SubnetId=public)["AssociationId"]
    web = ec2.create_security_group(GroupName="lab-web", Description="web", VpcId=vpc)["GroupId"]
    launched = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, SubnetId=public, SecurityGroupIds=[web],
                                 InstanceType=flavor)["Instances"]
    (inner,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=private, InstanceType=flavor,
                                 PrivateIpAddress="10.60.2.50")["Instances"]
    instance_ids = [i["InstanceId"] for i in launched] + [inner["InstanceId"]]
    address = None
    try:
        ec2.get_waiter("instance_running").wait(InstanceIds=instance_ids, WaiterConfig=WAIT)
        shown = {i["InstanceId"]: i for r in ec2.describe_instances(InstanceIds=instance_ids)["Reservations"]
                 for i in r["Instances"]}
        assert all(shown[i["InstanceId"]]["SubnetId"] == public and
                   shown[i["InstanceId"]]["PrivateIpAddress"].startswith("10.60.1.") for i in launched)
        assert shown[inner["InstanceId"]]["PrivateIpAddress"] == "10.60.2.50"
        assert [g["GroupName"] for g in shown[inner["InstanceId"]]["SecurityGroups"]] == ["default"]
        for _ in range(60):  # a public IP mapped on launch: a floating IP once Nova has made the port
            automatic = ec2.describe_instances(InstanceIds=[launched[1]["InstanceId"]])["Reservations"][0][
                "Instances"][0].get("PublicIpAddress")
            if automatic:
                break
            time.sleep(1)
        assert automatic and automatic not in [a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]]
        address = ec2.allocate_address(Domain="vpc")
        ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=launched[0]["InstanceId"])
        ec2.create_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="192.168.0.0/16",
                         InstanceId=inner["InstanceId"])  # a router extra route in real Neutron
        eni = ec2.create_network_interface(SubnetId=private, Groups=[web])["NetworkInterface"]["NetworkInterfaceId"]
        attachment = ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=launched[0]["InstanceId"],
                                                  DeviceIndex=1)["AttachmentId"]
        for _ in range(30):  # Nova binds the port a moment later
            found = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
            if found.get("Attachment"):
                break
            time.sleep(1)
        assert found["Attachment"]["InstanceId"] == launched[0]["InstanceId"]
        ec2.associate_address(AllocationId=address["AllocationId"], NetworkInterfaceId=eni, AllowReassociation=True)
        assert ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Association"][
            "PublicIp"] == address["PublicIp"]
        ec2.disassociate_address(AssociationId=ec2.describe_addresses(AllocationIds=[address["AllocationId"]])[
            "Addresses"][0]["AssociationId"])
        ec2.detach_network_interface(AttachmentId=attachment)
        for _ in range(30):
            try:
                ec2.delete_network_interface(NetworkInterfaceId=eni)
                break
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "InvalidNetworkInterface.InUse"
                time.sleep(1)
        assert code_of(ec2.delete_vpc, VpcId=vpc) == "DependencyViolation"
        assert code_of(ec2.detach_internet_gateway, InternetGatewayId=gateway, VpcId=vpc) == "DependencyViolation"
    finally:
        if address is not None:
            for found in ec2.describe_addresses(AllocationIds=[address["AllocationId"]])["Addresses"]:
                if found.get("AssociationId"):
                    ec2.disassociate_address(AssociationId=found["AssociationId"])
            ec2.release_address(AllocationId=address["AllocationId"])
        ec2.terminate_instances(InstanceIds=instance_ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=instance_ids, WaiterConfig=WAIT)
    ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="192.168.0.0/16")
    ec2.disassociate_route_table(AssociationId=link)
    ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    ec2.detach_internet_gateway(InternetGatewayId=gateway, VpcId=vpc)
    ec2.delete_internet_gateway(InternetGatewayId=gateway)
    ec2.delete_security_group(GroupId=web)
    for subnet in (public, private):
        for _ in range(60):  # Nova frees the ports a moment after the servers go
            try:
                ec2.delete_subnet(SubnetId=subnet)
                break
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "DependencyViolation"
                time.sleep(1)
    ec2.delete_vpc(VpcId=vpc)
    after = neutron_objects()
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}
