"""Every dev-cloud fault kind during Run/Describe/Terminate: the right EC2 error, an honest ledger,
no second boot on retry, and the operators' view of what failed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.faults import FAULTS, error_of
from tests.support import WAIT, until

# kind -> (fault spec, EC2 codes that describe it honestly)


PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2", "EC2PROXY_OPENSTACK_TIMEOUT": "1.5", "EC2PROXY_OPENSTACK_RETRIES": "1"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()








def servers_named(demo, prefix: str) -> list:
    return [s for s in demo.compute.servers() if s.name.startswith(prefix)]


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_run_instances_fault_then_retry_boots_once(proxy, ec2, cloud, ami, kind):
    inject, clear, demo = cloud
    spec, codes = FAULTS[kind]
    token = f"fault-run-{kind}"
    inject({"service": "compute", "method": "POST", "path": r"/servers$", "count": 1, **spec})
    try:
        code, status, message = error_of(ec2.run_instances, ImageId=ami, MinCount=2, MaxCount=2, ClientToken=token)
    finally:
        fired = clear()
    assert fired > 0  # the injected fault happened
    assert code in codes and status >= 500 and "Traceback" not in message
    failed = json.loads(proxy.ec2proxy("operations", "list", "--state", "failed", "--json").stdout.splitlines()[0])
    assert failed["action"] == "RunInstances" and failed["state"] == "failed" and failed["error"]
    url = f"{proxy.admin}/operations?state=failed&resource_id={failed['resource_ids'][0]}"
    with pytest.raises(urllib.error.HTTPError) as refused:  # every project's operations: not without the token
        urllib.request.urlopen(url)
    assert refused.value.code == 401
    admin_token = (proxy.data_dir / "admin_token").read_text().strip()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {admin_token}"})) as r:
        assert [o["id"] for o in json.load(r)["operations"]] == [failed["id"]]
    # The ledger did not record success: the retry does the work, or adopts what a 'late' create left.
    answer = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, ClientToken=token)
    assert answer["ReservationId"] == failed["resource_ids"][0]
    assert len(servers_named(demo, answer["ReservationId"])) == 2  # never a second boot
    again = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2, ClientToken=token)
    assert [i["InstanceId"] for i in again["Instances"]] == [i["InstanceId"] for i in answer["Instances"]]
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in answer["Instances"]])


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_describe_instances_fault_is_an_ec2_error(ec2, cloud, kind):
    inject, clear, _ = cloud
    spec, codes = FAULTS[kind]
    if kind == "late":
        spec = {**spec, "kind": "hang"}  # a read is retried: 'late' and 'hang' look the same to it
    # two listings (the live servers, the deleted ones), each retried: enough faults for both to fail
    inject({"service": "compute", "method": "GET", "path": r"/servers/detail$", "count": 10, **spec})
    try:
        code, status, _ = error_of(ec2.describe_instances)
    finally:
        fired = clear()
    assert fired > 0  # the injected fault happened
    assert code in codes and status >= 500
    assert isinstance(ec2.describe_instances()["Reservations"], list)  # and the next call is fine


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_a_termination_the_cloud_fails_for_now_is_carried_out(proxy, ec2, cloud, ami, kind):
    """Nova's delete fails (500, 503, 429, no answer, a dropped connection, an answer too late): the termination
    is still accepted, shows shutting-down, and a job asks Nova again until the server is gone, as AWS carries
    out every TerminateInstances it accepted (the lab left a server in ERROR behind on a 500)."""
    inject, clear, demo = cloud
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    os_id = json.loads(proxy.ec2proxy("instances", "show", iid, "--json").stdout)["os_id"]
    inject({"service": "compute", "method": "DELETE", "path": r"/servers/", "count": 1, **FAULTS[kind][0]})
    try:
        changes = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"]
    finally:
        fired = clear()
    assert fired > 0  # the injected fault happened
    assert changes[0]["CurrentState"]["Name"] == "shutting-down"
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    until(lambda: os_id not in {s.id for s in demo.compute.servers()}, 60)
    operations = [json.loads(line) for line in proxy.ec2proxy("operations", "list", "--resource-id", iid,
                                                              "--json").stdout.splitlines()]
    assert "failed" not in {o["state"] for o in operations if o["action"].startswith("TerminateInstances")}


def test_instances_show_maps_ec2_ids_to_nova(proxy, ec2, cloud, ami):
    _, _, demo = cloud
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    described = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]
    shown = json.loads(proxy.ec2proxy("instances", "show", iid, "--json").stdout)
    server = demo.compute.get_server(shown["os_id"])
    assert shown["ec2_id"] == iid and shown["state"] == "running"
    assert shown["project_id"] == server.project_id == described["OwnerId"]
    assert shown["reservation_id"] == described["ReservationId"]
    assert shown["private_ip"] == described["Instances"][0]["PrivateIpAddress"]
    missing = proxy.ec2proxy("instances", "show", "i-0000000000000000a", "--json", check=False)
    assert missing.returncode == 1 and "not in this proxy's database" in missing.stderr
    ec2.terminate_instances(InstanceIds=[iid])
