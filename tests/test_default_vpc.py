"""The default VPC a project gets when it first needs one (issue 19): Neutron's auto-allocated topology where
the cloud offers it, else one the proxy makes as AWS makes it; several workers' requests at once make one."""

from __future__ import annotations

import concurrent.futures
import time

import pytest

from tests.devclouds import DevCloudProcess
from tests.support import WAIT, code_of

pytestmark = pytest.mark.e2e
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.1"}


def without_networks(sdk) -> None:
    """Remove the project's seeded network and router: a project with no network at all."""
    for router in list(sdk.network.routers()):
        for port in list(sdk.network.ports(device_id=router.id)):
            for fixed in port.fixed_ips:
                sdk.network.remove_interface_from_router(router, subnet=fixed["subnet_id"])
        sdk.network.delete_router(router)
    for network in list(sdk.network.networks()):
        if network.project_id == sdk.current_project_id and not network.is_router_external:
            sdk.network.delete_network(network)


def default_vpc_of(client) -> str:
    (attribute,) = client.describe_account_attributes(AttributeNames=["default-vpc"])["AccountAttributes"]
    return attribute["AttributeValues"][0]["AttributeValue"]


def test_a_project_without_networks_gets_one_default_vpc_however_many_ask_at_once(proxy, alt, ami):
    devcloud = DevCloudProcess(proxy.data_dir)
    sdk = devcloud.sdk("devcloud-alt")
    without_networks(sdk)
    assert default_vpc_of(alt) == "none"
    assert alt.describe_vpcs()["Vpcs"] == []

    def create():
        try:
            return alt.create_default_vpc()["Vpc"]["VpcId"]
        except Exception as exc:  # noqa: BLE001 (the losers' error code is what is checked)
            return getattr(exc, "response", {}).get("Error", {}).get("Code", repr(exc))

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: create(), range(4)))
    made = [a for a in answers if a.startswith("vpc-")]
    assert len(made) == 1 and sorted(set(answers) - set(made)) == ["DefaultVpcAlreadyExists"], answers
    vpc_id = made[0]
    assert [n.name for n in sdk.network.networks() if not n.is_router_external] == [
        next(n.name for n in sdk.network.networks() if not n.is_router_external)]  # one network, no leftovers
    assert len(list(sdk.network.routers())) == 1
    assert default_vpc_of(alt) == vpc_id
    assert code_of(alt.create_default_vpc) == "DefaultVpcAlreadyExists"

    (vpc,) = alt.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert vpc["IsDefault"] is True and vpc["CidrBlock"] == "172.31.0.0/16"
    (subnet,) = alt.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert subnet["CidrBlock"] == "172.31.0.0/20" and subnet["DefaultForAz"] is True
    assert subnet["MapPublicIpOnLaunch"] is True
    (gateway,) = alt.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])[
        "InternetGateways"]
    (main,) = alt.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    assert {r["DestinationCidrBlock"]: r["GatewayId"] for r in main["Routes"]} == {
        "172.31.0.0/16": "local", "0.0.0.0/0": gateway["InternetGatewayId"]}
    assert [g["GroupName"] for g in alt.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]] == ["default"]

    (instance,) = alt.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    assert (instance["VpcId"], instance["SubnetId"]) == (vpc_id, subnet["SubnetId"])
    alt.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    deadline = time.monotonic() + 30  # as in AWS's default subnets: a public IP without asking
    while not alt.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0].get(
            "PublicIpAddress"):
        assert time.monotonic() < deadline, "the instance in the default VPC never got its public IP"
        time.sleep(0.5)
    alt.terminate_instances(InstanceIds=[instance["InstanceId"]])
    alt.get_waiter("instance_terminated").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)

    # a default VPC can be taken down as AWS allows, and the project is without one again
    alt.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
    alt.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
    alt.delete_subnet(SubnetId=subnet["SubnetId"])
    alt.delete_vpc(VpcId=vpc_id)
    assert default_vpc_of(alt) == "none"
    assert [n for n in sdk.network.networks() if not n.is_router_external] == []


def test_a_cloud_with_auto_allocation_gives_its_topology(proxy, ami):
    """With a default external network, Neutron's auto-allocated topology is the project's default VPC."""
    ec2 = proxy.client()
    devcloud = DevCloudProcess(proxy.data_dir)
    admin = devcloud.sdk("devcloud-admin")
    public = next(n for n in admin.network.networks() if n.is_router_external)
    admin.network.update_network(public, is_default=True)
    sdk = devcloud.sdk("devcloud-demo")
    without_networks(sdk)
    assert sdk.network.get(f"/auto-allocated-topology/{sdk.current_project_id}").status_code == 409  # no pool
    pool = admin.network.create_subnet_pool(name="default-v4", prefixes=["10.128.0.0/12"], default_prefix_length=24,
                                            is_default=True, shared=True)
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    (network,) = [n for n in sdk.network.networks() if not n.is_router_external]
    assert network.name == "auto_allocated_network"
    (subnet,) = sdk.network.subnets(network_id=network.id)
    assert subnet.subnet_pool_id == pool.id and subnet.cidr == "10.128.0.0/24"
    (vpc,) = ec2.describe_vpcs()["Vpcs"]
    assert vpc["IsDefault"] is True and instance["VpcId"] == vpc["VpcId"] == default_vpc_of(ec2)
    assert code_of(ec2.create_default_vpc) == "DefaultVpcAlreadyExists"
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
