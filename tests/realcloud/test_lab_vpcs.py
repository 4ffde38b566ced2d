"""The VPC stack against real Neutron and Nova (issue 19): built, used, refused while in use, torn down, and
nothing of it left in Neutron."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from botocore.exceptions import ClientError

from ec2proxy.ec2 import ids
from tests.realcloud.test_lab_instances import LAB, _demo_credential, as_demo, lab_server, wait_running
from tests.support import when_free

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
    # the VPC's default network ACL, as Terraform reads it, with both subnets (from Neutron's listings)
    (acl,) = ec2.describe_network_acls(Filters=[{"Name": "default", "Values": ["true"]},
                                                {"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]
    assert sorted(a["SubnetId"] for a in acl["Associations"]) == sorted([public, private])
    # a group of an EC2 VPC starts with AWS's one egress rule (Neutron adds IPv6's too; Terraform revokes the one)
    assert [(p["IpProtocol"], p["IpRanges"], p["Ipv6Ranges"]) for p in ec2.describe_security_groups(
        GroupIds=[web])["SecurityGroups"][0]["IpPermissionsEgress"]] == [("-1", [{"CidrIp": "0.0.0.0/0"}], [])]
    launched = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, SubnetId=public, SecurityGroupIds=[web],
                                 InstanceType=flavor)["Instances"]
    (inner,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=private, InstanceType=flavor,
                                 PrivateIpAddress="10.60.2.50")["Instances"]
    instance_ids = [i["InstanceId"] for i in launched] + [inner["InstanceId"]]
    address = None
    try:
        wait_running(ec2, instance_ids, attempts=120)
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
        when_free(ec2.delete_network_interface, "InvalidParameterValue", 30, NetworkInterfaceId=eni)
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
        when_free(ec2.delete_subnet, "DependencyViolation", SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)
    after = neutron_objects()
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}


def neutron_port(port_id: str) -> dict:
    return as_demo(lambda view: view.neutron.show("port", port_id))


def test_dhcp_options_and_secondary_addresses_on_real_neutron(ec2):
    """What EC2 shows is what Neutron holds: name servers on the subnet, options on the port, the primary
    address kept primary although Neutron lists a port's addresses by their text."""
    before = neutron_objects()
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.1.0/24")["Subnet"]["SubnetId"]
    subnet_os = next(s for s in as_demo(lambda view: view.neutron.list("subnet", {"cidr": "10.61.1.0/24"})))
    eni = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress="10.61.1.50",
                                       SecondaryPrivateIpAddressCount=1)["NetworkInterface"]
    eni_id = eni["NetworkInterfaceId"]
    port_id = next(p["id"] for p in as_demo(lambda view: view.neutron.list("port", {"network_id": subnet_os[
        "network_id"]})) if ids.from_uuid("eni", p["id"]) == eni_id)
    try:
        shown = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
        assert shown["PrivateIpAddress"] == "10.61.1.50"
        assert [(p["PrivateIpAddress"] == "10.61.1.50", p["Primary"]) for p in shown["PrivateIpAddresses"]] == [
            (True, True), (False, False)]
        ec2.assign_private_ip_addresses(NetworkInterfaceId=eni_id, PrivateIpAddresses=["10.61.1.5"])
        listed = [f["ip_address"] for f in neutron_port(port_id)["fixed_ips"]]
        assert {"10.61.1.5", "10.61.1.50"} <= set(listed) and listed.index("10.61.1.5") < listed.index("10.61.1.50")
        shown = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
        assert shown["PrivateIpAddress"] == "10.61.1.50" and len(shown["PrivateIpAddresses"]) == 3
        ec2.unassign_private_ip_addresses(NetworkInterfaceId=eni_id, PrivateIpAddresses=["10.61.1.5"])
        assert "10.61.1.5" not in [f["ip_address"] for f in neutron_port(port_id)["fixed_ips"]]

        # a new VPC has the project's default set, which DescribeDhcpOptions answers (Ansible reads it back)
        default_id = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["DhcpOptionsId"]
        assert default_id.startswith("dopt-")
        assert ec2.describe_dhcp_options(DhcpOptionsIds=[default_id])["DhcpOptions"][0]["DhcpConfigurations"]
        dopt = ec2.create_dhcp_options(DhcpConfigurations=[
            {"Key": "domain-name", "Values": ["lab.example"]},
            {"Key": "domain-name-servers", "Values": ["10.61.0.2"]},
            {"Key": "ntp-servers", "Values": ["10.61.0.3"]}])["DhcpOptions"]["DhcpOptionsId"]
        ec2.associate_dhcp_options(DhcpOptionsId=dopt, VpcId=vpc)
        assert as_demo(lambda view: view.neutron.show("subnet", subnet_os["id"]))["dns_nameservers"] == ["10.61.0.2"]
        assert {o["opt_name"]: o["opt_value"] for o in neutron_port(port_id)["extra_dhcp_opts"]} == {
            "domain-name": "lab.example", "ntp-server": "10.61.0.3"}
        ec2.associate_dhcp_options(DhcpOptionsId="default", VpcId=vpc)
        assert as_demo(lambda view: view.neutron.show("subnet", subnet_os["id"]))["dns_nameservers"] == []
        assert neutron_port(port_id)["extra_dhcp_opts"] == []
        ec2.delete_dhcp_options(DhcpOptionsId=dopt)
    finally:
        ec2.delete_network_interface(NetworkInterfaceId=eni_id)
        ec2.delete_subnet(SubnetId=subnet)
        ec2.delete_vpc(VpcId=vpc)
    after = neutron_objects()
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}


def test_a_new_project_gets_a_default_vpc_on_real_neutron(tmp_path_factory):
    """The lab's Neutron has no default external network (auto-allocation answers 409): the proxy makes the
    default VPC, and an instance launched without a subnet runs in it with a public IP."""
    stamp = int(time.time())

    async def make(view):
        project = (await view.keystone.post("projects", {"project": {"name": f"ec2proxy-fresh-{stamp}",
                                                                     "domain_id": "default"}}))["project"]
        user = (await view.keystone.post("users", {"user": {"name": f"ec2proxy-fresh-{stamp}", "password": "x" * 16,
                                                            "domain_id": "default"}}))["user"]
        (role,) = (await view.keystone.get("roles?name=member"))["roles"]
        await view.keystone.put(f"projects/{project['id']}/users/{user['id']}/roles/{role['id']}")
        credential = await view.keystone.create_ec2_credential(user["id"], project["id"])
        return project, user, credential

    project, user, credential = as_demo(make, "ADMIN")
    server = lab_server(tmp_path_factory.mktemp("lab-default-vpc"), "LAB_EC2_SERVICE")
    fresh = server.client(credential["access"], credential["secret"])
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    try:
        assert fresh.describe_vpcs()["Vpcs"] == []
        (instance,) = fresh.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                          InstanceType=os.environ.get("LAB_FLAVOR", "m1.tiny"))["Instances"]
        (vpc,) = fresh.describe_vpcs()["Vpcs"]
        assert vpc["IsDefault"] is True and vpc["CidrBlock"] == "172.31.0.0/16"
        assert instance["VpcId"] == vpc["VpcId"]
        wait_running(fresh, [instance["InstanceId"]], attempts=120)
        for _ in range(60):
            shown = fresh.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
            if shown.get("PublicIpAddress"):
                break
            time.sleep(1)
        assert shown.get("PublicIpAddress") and shown["PrivateIpAddress"].startswith("172.31.")
        assert code_of(fresh.create_default_vpc) == "DefaultVpcAlreadyExists"
        fresh.terminate_instances(InstanceIds=[instance["InstanceId"]])
        fresh.get_waiter("instance_terminated").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
        (gateway,) = fresh.describe_internet_gateways()["InternetGateways"]
        fresh.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc["VpcId"])
        fresh.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
        (subnet,) = fresh.describe_subnets()["Subnets"]
        when_free(fresh.delete_subnet, "DependencyViolation", SubnetId=subnet["SubnetId"])
        fresh.delete_vpc(VpcId=vpc["VpcId"])
        assert fresh.describe_vpcs()["Vpcs"] == []
    finally:
        server.stop()
        as_demo(lambda view: remove_project(view, project["id"], user["id"]), "ADMIN")


async def remove_project(view, project_id: str, user_id: str) -> None:
    """Everything of a test's own project, as its operator removes it, then the project and its user."""
    neutron = view.neutron
    for server in await view.nova.list_servers({"all_tenants": 1, "project_id": project_id}):
        await view.nova.delete_server(server["id"])
    for _ in range(60):
        if not await view.nova.list_servers({"all_tenants": 1, "project_id": project_id}):
            break
        await asyncio.sleep(1)
    for fip in await neutron.list("floatingip", {"project_id": project_id}):
        await neutron.remove("floatingip", fip["id"])
    for router in await neutron.list("router", {"project_id": project_id}):
        await neutron.update("router", router["id"], {"external_gateway_info": {}, "routes": []})
        for port in await neutron.list("port", {"device_id": router["id"]}):
            for fixed in port["fixed_ips"]:
                await neutron.router_interface(router["id"], fixed["subnet_id"], add=False)
        await neutron.remove("router", router["id"])
    for port in await neutron.list("port", {"project_id": project_id}):
        await neutron.remove("port", port["id"])
    for network in await neutron.list("network", {"project_id": project_id}):
        await neutron.remove("network", network["id"])
    for group in await neutron.list("security_group", {"project_id": project_id}):
        await neutron.remove("security_group", group["id"])
    await view.keystone.delete(f"users/{user_id}")
    await view.keystone.delete(f"projects/{project_id}")


def test_an_attached_interface_goes_with_its_instance_on_real_nova(ec2):
    """Real Nova keeps a port it was given when the server goes (it unbinds it): the proxy deletes the one whose
    attachment says DeleteOnTermination."""
    before = neutron_objects()
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    vpc = ec2.create_vpc(CidrBlock="10.62.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.62.1.0/24")["Subnet"]["SubnetId"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet,
                                    InstanceType=os.environ.get("LAB_FLAVOR", "m1.tiny"))["Instances"]
    iid = instance["InstanceId"]
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    try:
        wait_running(ec2, [iid], attempts=120)
        link = ec2.attach_network_interface(NetworkInterfaceId=eni, InstanceId=iid, DeviceIndex=1)["AttachmentId"]
        for _ in range(30):  # Nova binds the port a moment later
            if ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0].get("Attachment"):
                break
            time.sleep(1)
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, Attachment={"AttachmentId": link,
                                                                                   "DeleteOnTermination": True})
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    for _ in range(60):
        try:
            ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidNetworkInterfaceID.NotFound"
            break
        time.sleep(1)
    else:
        raise AssertionError("the interface set to go with its instance is still there")
    when_free(ec2.delete_subnet, "DependencyViolation", SubnetId=subnet)  # Nova frees the instance's port
    ec2.delete_vpc(VpcId=vpc)
    after = neutron_objects()
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}


def test_an_instances_own_interface_kept_or_gone_as_asked_on_real_nova(ec2):
    """An instance launched alone into a subnet boots on a port the proxy made (real Nova keeps a port it was
    given): DeleteOnTermination=false keeps it, available, after the instance; left true it goes with it, and the
    subnet is deleted at once after the instance (no DependencyViolation while its removal is due)."""
    before = neutron_objects()
    ami = ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"])
    vpc = ec2.create_vpc(CidrBlock="10.63.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.63.1.0/24")["Subnet"]["SubnetId"]
    flavor = os.environ.get("LAB_FLAVOR", "m1.tiny")
    launched = [ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SubnetId=subnet, InstanceType=flavor)[
        "Instances"][0]["InstanceId"] for _ in range(2)]
    try:
        wait_running(ec2, launched, attempts=120)
        kept, going = (ec2.describe_instances(InstanceIds=[i])["Reservations"][0]["Instances"][0][
            "NetworkInterfaces"][0] for i in launched)
        assert kept["Attachment"]["DeleteOnTermination"] is True and kept["SubnetId"] == subnet
        ec2.modify_network_interface_attribute(NetworkInterfaceId=kept["NetworkInterfaceId"], Attachment={
            "AttachmentId": kept["Attachment"]["AttachmentId"], "DeleteOnTermination": False})
    finally:
        ec2.terminate_instances(InstanceIds=launched)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=launched, WaiterConfig=WAIT)
    for _ in range(60):
        (shown,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[kept["NetworkInterfaceId"]])[
            "NetworkInterfaces"]
        if shown["Status"] == "available":
            break
        time.sleep(1)
    assert shown["Status"] == "available" and shown["PrivateIpAddress"] == kept["PrivateIpAddress"]
    assert code_of(ec2.delete_subnet, SubnetId=subnet) == "DependencyViolation"  # the kept interface holds it
    ec2.delete_network_interface(NetworkInterfaceId=kept["NetworkInterfaceId"])
    ec2.delete_subnet(SubnetId=subnet)  # the other instance's interface, due to go, does not hold it
    assert code_of(ec2.describe_network_interfaces, NetworkInterfaceIds=[going["NetworkInterfaceId"]]) == \
        "InvalidNetworkInterfaceID.NotFound"
    ec2.delete_vpc(VpcId=vpc)
    after = neutron_objects()
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}
