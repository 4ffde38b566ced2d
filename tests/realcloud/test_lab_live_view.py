"""The live view on real OpenStack (issue 29): changes made in Nova and Neutron directly, not through the proxy,
show in DescribeInstances within the bound, answered by the view that the lab's own notifications keep
(``LAB_NOTIFICATIONS=1``, as CI runs the lab). Skips, saying why, without a lab or without its notifications."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import pytest

from ec2proxy.ec2 import ids
from tests.live_feeds import metrics, reads
from tests.realcloud.test_lab_instances import LAB, _demo_credential, as_demo, lab_server, wait_running
from tests.support import until
from tests.test_live_describe import address_from_view, described, described_address, described_group, from_view, viewed

pytestmark = [
    pytest.mark.skipif(not LAB, reason="no OpenStack lab: run through ../shared/openstack-lab/run-with-lab.sh"),
    pytest.mark.skipif(not os.environ.get("LAB_TRANSPORT_URL"),
                       reason="the lab sends no notifications: run it with LAB_NOTIFICATIONS=1"),
]
BOUND = 2.0  # seconds, while the feed is healthy
QUEUE = "ec2proxy-live-view-lab-tier"


@pytest.fixture(scope="module")
def live_proxy(tmp_path_factory):
    server = lab_server(tmp_path_factory.mktemp("lab-live"), "LAB_EC2_SERVICE", "[notifications]",
                        f"transport_url = {os.environ['LAB_TRANSPORT_URL']}",
                        f"queue = {QUEUE}", "sweep = 2")
    credential = _demo_credential()
    until(lambda: metrics(server).get("ec2proxy_live_view_connected") == 1.0, seconds=60, delay=0.2)
    yield server, server.client(credential["access"], credential["secret"])
    server.stop()
    asyncio.run(_queue_deleted(os.environ["LAB_TRANSPORT_URL"], QUEUE))


async def _queue_deleted(url: str, name: str) -> None:
    """The durable queue goes with the test: left, it would take the lab's every notification forever."""
    import aio_pika

    connection = await aio_pika.connect(url.replace("rabbit://", "amqp://", 1))
    async with connection:
        await (await connection.channel()).queue_delete(name)


def _launched(ec2) -> str:
    """One instance of the lab's image, launched (not yet running)."""
    return ec2.run_instances(ImageId=ids.from_uuid("ami", os.environ["LAB_IMAGE_ID"]), MinCount=1, MaxCount=1,
                             InstanceType=os.environ.get("LAB_FLAVOR", "m1.tiny"))["Instances"][0]["InstanceId"]


def _within_bound(server, ec2, iid: str, check) -> float:
    """Seconds until the instance as described passes ``check``; each answer after the first from the view."""
    started = time.monotonic()
    viewed = reads(server, "view")
    while not check(described(ec2, iid)):
        assert time.monotonic() - started < BOUND, f"not within {BOUND} s: {described(ec2, iid)}"
        time.sleep(0.05)
    assert reads(server, "view") > viewed, "answered by direct reads, not by the view"
    return time.monotonic() - started


def test_changes_made_in_openstack_directly_show_within_the_bound(live_proxy):
    server, ec2 = live_proxy
    iid = _launched(ec2)
    try:
        wait_running(ec2, [iid])
        shown = from_view(server, ec2, iid)
        os_id = as_demo(lambda view: _server_id(view, iid))

        as_demo(lambda view: view.nova.stop(os_id))  # a stop in Nova directly
        _within_bound(server, ec2, iid, lambda i: i["State"]["Name"] in ("stopping", "stopped"))
        until(lambda: described(ec2, iid)["State"]["Name"] == "stopped", seconds=60, delay=0.5)

        port = shown["NetworkInterfaces"][0]["NetworkInterfaceId"]
        fip = as_demo(lambda view: _floating_ip(view, port))  # a floating IP associated in Neutron directly
        try:
            _within_bound(server, ec2, iid, lambda i: i.get("PublicIpAddress") == fip["floating_ip_address"])
        finally:
            as_demo(lambda view: view.neutron.remove("floatingip", fip["id"]))  # and deleted there
        _within_bound(server, ec2, iid, lambda i: "PublicIpAddress" not in i)

        group = shown["SecurityGroups"][0]["GroupId"]
        group_os_id = as_demo(lambda view: _group_of(view, group))
        rule = as_demo(lambda view: view.neutron.create("security_group_rule", {
            "security_group_id": group_os_id, "direction": "ingress",
            "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 4567, "port_range_max": 4567,
            "remote_ip_prefix": "192.0.2.0/24"}))  # a rule added in Neutron directly
        try:
            permissions = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
            assert any(p.get("FromPort") == 4567 for p in permissions)
        finally:
            as_demo(lambda view: view.neutron.remove("security_group_rule", rule["id"]))

        as_demo(lambda view: view.nova.delete_server(os_id))  # the server deleted in Nova directly
        _within_bound(server, ec2, iid, lambda i: i["State"]["Name"] in ("shutting-down", "terminated"))
    finally:
        ec2.terminate_instances(InstanceIds=[iid])


async def _server_id(view, iid: str) -> str:
    return next(s["id"] for s in await view.nova.list_servers() if ids.from_uuid("i", s["id"]) == iid)


async def _group_of(view, group: str) -> str:
    return next(g["id"] for g in await view.neutron.list("security_group") if ids.from_uuid("sg", g["id"]) == group)


async def _floating_ip(view, eni: str) -> dict:
    port = next(p for p in await view.neutron.list("port") if ids.from_uuid("eni", p["id"]) == eni)
    public = next(n for n in await view.neutron.list("network", {"router:external": "true"}))
    return await view.neutron.create("floatingip", {"floating_network_id": public["id"], "port_id": port["id"]})


def test_an_address_by_id_from_the_view_on_real_neutron(live_proxy):
    """DescribeAddresses naming an allocation id is answered from the view as directly; our associate shows at
    once; a disassociation made in real Neutron directly shows within the bound, from the view."""
    server, ec2 = live_proxy
    iid = _launched(ec2)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    try:
        wait_running(ec2, [iid])
        ec2.associate_address(InstanceId=iid, AllocationId=allocation)
        assert described_address(ec2, allocation)["InstanceId"] == iid  # ours, at once
        direct = described_address(ec2, allocation)
        viewed = address_from_view(server, ec2, allocation)
        assert viewed == direct and viewed["InstanceId"] == iid

        os_id = as_demo(lambda view: _floating_ip_id(view, allocation))
        as_demo(lambda view: view.neutron.update("floatingip", os_id, {"port_id": None}))  # in Neutron directly
        started = time.monotonic()
        viewed_before = reads(server, "view")
        until(lambda: "AssociationId" not in described_address(ec2, allocation), seconds=BOUND, delay=0.05)
        assert time.monotonic() - started <= BOUND and reads(server, "view") > viewed_before
    finally:
        association = described_address(ec2, allocation).get("AssociationId")
        if association:
            ec2.disassociate_address(AssociationId=association)
        ec2.release_address(AllocationId=allocation)
        ec2.terminate_instances(InstanceIds=[iid])


async def _floating_ip_id(view, allocation: str) -> str:
    return next(f["id"] for f in await view.neutron.list("floatingip")
                if ids.from_uuid("eipalloc", f["id"]) == allocation)


def test_the_sweeps_found_nothing_the_feed_missed_on_real_nova(live_proxy):
    """The proxy swept the demo project every 2 s through the test above: every change real Nova's
    changes-since and Neutron's changed_since showed had come by their notifications (their updated_at, revisions
    and the APIs agree), so no project was read directly for a miss."""
    server, ec2 = live_proxy
    ec2.describe_instances()
    until(lambda: metrics(server).get('ec2proxy_live_view_sweeps{outcome="projects"}', 0) >= 2, seconds=20,
          delay=0.2)
    figures = metrics(server)
    assert figures.get('ec2proxy_live_view_sweeps{outcome="missed"}') == 0, figures
    assert figures.get('ec2proxy_live_view_sweeps{outcome="failed"}') == 0, figures
    assert not reads(server, "missed"), figures


def test_a_floating_ip_neutron_never_notified_is_found_by_the_sweep(tmp_path):
    """A proxy bound to Nova's notifications only (as a cloud whose Neutron notifies nowhere): a floating IP
    associated in real Neutron directly is found by the sweep (Neutron's listing, its updated_at), repaired and
    shown; deleted there, the sweep finds it gone."""
    queue = f"{QUEUE}-nova-only"
    server = lab_server(tmp_path, "LAB_EC2_SERVICE", "[notifications]",
                        f"transport_url = {os.environ['LAB_TRANSPORT_URL']}", f"queue = {queue}", "sweep = 1",
                        "bindings = nova=versioned_notifications.*")
    credential = _demo_credential()
    ec2 = server.client(credential["access"], credential["secret"])
    iid = None
    try:
        until(lambda: metrics(server).get("ec2proxy_live_view_connected") == 1.0, seconds=60, delay=0.2)
        iid = _launched(ec2)
        wait_running(ec2, [iid])
        shown = from_view(server, ec2, iid)
        fip = as_demo(lambda view: _floating_ip(view, shown["NetworkInterfaces"][0]["NetworkInterfaceId"]))
        try:
            until(lambda: described(ec2, iid).get("PublicIpAddress") == fip["floating_ip_address"]
                  and f"floatingip {fip['id']}" in server.log.read_text(), seconds=30, delay=0.2)
            figures = metrics(server)
            assert figures.get('ec2proxy_live_view_sweeps{outcome="missed"}', 0) >= 1, figures
            assert not figures.get('ec2proxy_live_view_sweeps{outcome="failed"}'), figures
        finally:
            as_demo(lambda view: view.neutron.remove("floatingip", fip["id"]))
        # (a project is swept on its Describe*)
        until(lambda: "PublicIpAddress" not in described(ec2, iid)
              and f"floatingip {fip['id']} (deleted" in server.log.read_text(), seconds=30, delay=0.2)
    finally:
        if iid is not None:
            ec2.terminate_instances(InstanceIds=[iid])
        server.stop()
        asyncio.run(_queue_deleted(os.environ["LAB_TRANSPORT_URL"], queue))


def test_the_aws_cli_is_answered_from_the_view_on_real_nova(live_proxy, tmp_path):
    """The AWS CLI, as a subprocess: an instance by id, the project's listing and a group by id, answered by the
    view that the lab's notifications keep, as boto3 was shown."""
    server, ec2 = live_proxy
    credential = _demo_credential()
    (tmp_path / "credentials").write_text(f"[default]\naws_access_key_id = {credential['access']}\n"
                                          f"aws_secret_access_key = {credential['secret']}\n")
    (tmp_path / "config").write_text("[default]\nregion = RegionOne\n")
    env = {**os.environ, "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
           "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_MAX_ATTEMPTS": "1"}

    def aws(*args: str) -> dict:
        done = subprocess.run(["aws", "--endpoint-url", server.endpoint, "ec2", *args], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    iid = _launched(ec2)
    try:
        wait_running(ec2, [iid])
        shown = from_view(server, ec2, iid)
        group = shown["SecurityGroups"][0]["GroupId"]
        viewed(server, lambda: described_group(ec2, group), group)
        viewed(server, lambda: ec2.describe_instances()["Reservations"], "the project")
        before = reads(server, "view")
        by_id = aws("describe-instances", "--instance-ids", iid)
        listed = aws("describe-instances")
        groups = aws("describe-security-groups", "--group-ids", group)
        assert reads(server, "view") == before + 3
        (instance,) = [i for r in by_id["Reservations"] for i in r["Instances"]]
        assert (instance["State"], instance["PrivateIpAddress"]) == (shown["State"], shown["PrivateIpAddress"])
        assert iid in {i["InstanceId"] for r in listed["Reservations"] for i in r["Instances"]}
        assert groups["SecurityGroups"][0]["GroupId"] == group
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
