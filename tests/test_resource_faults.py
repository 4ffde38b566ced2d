"""Every dev-cloud fault kind on Cinder and Neutron calls: the right EC2 error, nothing half-recorded, and a
ClientToken retry that makes the volume once."""

from __future__ import annotations

import pytest

from tests.faults import FAULTS, faulted

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2", "EC2PROXY_OPENSTACK_TIMEOUT": "1.5", "EC2PROXY_OPENSTACK_RETRIES": "1"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


@pytest.fixture(scope="module")
def zone(ec2):
    return ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_create_volume_fault_then_retry_makes_one_volume(ec2, cloud, zone, kind):
    inject, clear, _ = cloud
    spec, codes = FAULTS[kind]
    token = f"fault-volume-{kind}"
    before = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    code, status, message = faulted(inject, clear, {"service": "volume", "method": "POST", "path": r"/volumes$",
                                                    "count": 1, **spec},
                                    ec2.create_volume, Size=1, AvailabilityZone=zone, ClientToken=token,
                                    TagSpecifications=[{"ResourceType": "volume",
                                                        "Tags": [{"Key": "k", "Value": kind}]}])
    assert code in codes and status >= 500 and "Traceback" not in message
    tagged = ec2.describe_tags(Filters=[{"Name": "value", "Values": [kind]}])["Tags"]
    assert tagged == []  # no tags for a volume the caller was told failed
    made = ec2.create_volume(Size=1, AvailabilityZone=zone, ClientToken=token,
                             TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": "k", "Value": kind}]}])
    after = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    assert after - before == {made["VolumeId"]}  # one volume, even when the first create happened ('late')
    assert ec2.describe_volumes(VolumeIds=[made["VolumeId"]])["Volumes"][0]["Tags"] == [{"Key": "k", "Value": kind}]


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_allocate_address_fault_is_an_ec2_error_and_leaves_nothing_hidden(ec2, cloud, kind):
    inject, clear, _ = cloud
    spec, codes = FAULTS[kind]
    before = {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]}
    code, status, _ = faulted(inject, clear, {"service": "network", "method": "POST", "path": r"/floatingips$",
                                              "count": 1, **spec}, ec2.allocate_address, Domain="vpc")
    assert code in codes and status >= 500
    after = {a["AllocationId"] for a in ec2.describe_addresses()["Addresses"]}
    # a 'late' answer means Neutron allocated it: it is the caller's, visible and releasable, never hidden
    assert len(after - before) == (1 if kind == "late" else 0)
    for allocation in after - before:
        ec2.release_address(AllocationId=allocation)


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_authorize_fault_adds_all_rules_or_none(ec2, cloud, kind):
    inject, clear, _ = cloud
    spec, codes = FAULTS[kind]
    gid = ec2.create_security_group(GroupName=f"fault-{kind}", Description="faults")["GroupId"]
    permissions = [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
                   for port in (22, 80, 443)]
    code, status, _ = faulted(inject, clear, {"service": "network", "method": "POST",
                                              "path": r"/security-group-rules$", "count": 1, **spec},
                              ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=permissions)
    assert code in codes and status >= 500
    ports = sorted(p["FromPort"] for p in ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0][
        "IpPermissions"])
    assert ports == ([22, 80, 443] if kind == "late" else [])


@pytest.mark.parametrize("service, path, call", [
    ("volume", r"/volumes/detail$", "describe_volumes"),
    ("volume", r"/snapshots/detail$", "describe_snapshots"),
    ("network", r"/floatingips$", "describe_addresses"),
    ("network", r"/security-groups$", "describe_security_groups"),
    ("network", r"/networks$", "describe_vpcs"),
    ("image", r"/images$", "describe_images"),
])
@pytest.mark.parametrize("kind", ["status-500", "status-503", "hang"])
def test_describe_faults_are_ec2_errors(ec2, cloud, service, path, call, kind):
    inject, clear, _ = cloud
    spec, codes = FAULTS[kind]
    code, status, _ = faulted(inject, clear, {"service": service, "method": "GET", "path": path, "count": 5, **spec},
                              getattr(ec2, call))
    assert code in codes and status >= 500
    assert isinstance(getattr(ec2, call)(), dict)  # and the next call is fine


def _neutron_of_demo(sdk) -> dict[str, set[str]]:
    return {"networks": {n.id for n in sdk.network.networks() if not n.is_router_external},
            "routers": {r.id for r in sdk.network.routers()}, "groups": {g.id for g in sdk.network.security_groups()},
            "subnets": {s.id for s in sdk.network.subnets()}, "ports": {p.id for p in sdk.network.ports()}}


@pytest.mark.parametrize("method, path", [
    ("POST", r"/routers$"),  # after the network
    ("POST", r"/security-groups$"),  # after the network and the router
    ("POST", r"/security-group-rules$"),  # the default group's rules
    ("DELETE", r"/security-group-rules/"),  # its IPv6 egress rule
])
def test_a_failed_create_vpc_leaves_nothing_in_neutron(ec2, cloud, method, path):
    """Every step of CreateVpc failing in turn: the caller gets an EC2 error, no VPC shows, and Neutron holds
    nothing the attempt made (a real cloud bills for routers and counts networks against quota)."""
    inject, clear, sdk = cloud
    before, vpcs = _neutron_of_demo(sdk), {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]}
    code, status, message = faulted(inject, clear, {"service": "network", "method": method, "path": path,
                                                    "count": 1, "kind": "status", "status": 500},
                                    ec2.create_vpc, CidrBlock="10.77.0.0/16")
    assert code == "InternalError" and status == 500 and "Traceback" not in message
    assert {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]} == vpcs
    after = _neutron_of_demo(sdk)
    assert {kind: after[kind] - before[kind] for kind in after} == {kind: set() for kind in after}
    made = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]  # and the same request then works
    ec2.delete_vpc(VpcId=made)
    assert _neutron_of_demo(sdk) == before  # DeleteVpc took the network, its router and its default group
