"""DescribeInstances from the live view (issue 29), through ``ec2proxy serve`` on the embedded dev cloud that
notifies as Nova, Neutron and Cinder do, on the machine's RabbitMQ (test-only exchanges and queue): an instance
is described from the view once the view can vouch for it; our own writes show at once (the view is not read
for what we changed until a direct read saw it); a change made in the cloud directly shows within the bound;
with the feed away Describe* reads OpenStack, and the view is read again once the feed is back."""

from __future__ import annotations

import asyncio
import datetime
import json
import time

import pytest

from ec2proxy.ec2 import ids
from tests.devclouds import DevCloudProcess
from tests.live_feeds import BROKER, LiveFeed, metrics, reads
from tests.support import until
from tests.test_live_view import _broker_reachable_or_skip, _cleanup

pytestmark = pytest.mark.e2e

FEED = LiveFeed()
TAG, EXCHANGES = FEED.tag, FEED.exchanges
# sweeps every 5 s: the module's changes are all compared with Nova's changes-since (none may be found missed)
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.3", "EC2PROXY_NOTIFICATIONS_SWEEP": "5", **FEED.env}
BOUND = 2.0  # seconds: a change made in the cloud shows in Describe* within this while the feed is healthy


CAPTURE = f"test-{TAG}-capture"


@pytest.fixture(scope="module", autouse=True)
def _broker():
    """The test exchanges, and a queue that keeps a copy of everything the dev cloud sends on them."""
    asyncio.run(_broker_reachable_or_skip())
    asyncio.run(_capture())
    yield
    asyncio.run(_cleanup(TAG, EXCHANGES.values()))
    asyncio.run(_cleanup(f"{TAG}-capture", ()))


async def _capture() -> None:
    import aio_pika

    connection = await aio_pika.connect(BROKER.replace("rabbit://", "amqp://"))
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(CAPTURE, durable=True)
        for name in EXCHANGES.values():
            exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=False)
            await queue.bind(exchange, routing_key="#")


async def _captured() -> list[dict]:
    import aio_pika

    out = []
    connection = await aio_pika.connect(BROKER.replace("rabbit://", "amqp://"))
    async with connection:
        queue = await (await connection.channel()).get_queue(CAPTURE)
        while (message := await queue.get(fail=False)) is not None:
            await message.ack()
            out.append({"exchange": message.exchange, "routing_key": message.routing_key,
                        "body": json.loads(message.body)})
    return out


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def described(ec2, iid: str) -> dict:
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


def from_view(proxy, ec2, iid: str) -> dict:
    """The instance, described until the view answered it (the first answers may be direct reads that fill it)."""
    for _ in range(100):
        before = reads(proxy, "view")
        instance = described(ec2, iid)
        if reads(proxy, "view") > before:
            return instance
        time.sleep(0.1)
    raise AssertionError(f"the view never answered for {iid}: {metrics(proxy)}")


def described_address(ec2, allocation: str) -> dict:
    return ec2.describe_addresses(AllocationIds=[allocation])["Addresses"][0]


def address_from_view(proxy, ec2, allocation: str) -> dict:
    """The address, described by its allocation id until the view answered it."""
    return viewed(proxy, lambda: described_address(ec2, allocation), allocation)


def described_group(ec2, group: str) -> dict:
    return ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]


def viewed(proxy, describe, what: str):
    """What ``describe`` answers, asked until the view answered it."""
    for _ in range(100):
        before = reads(proxy, "view")
        shown = describe()
        if reads(proxy, "view") > before:
            return shown
        time.sleep(0.1)
    raise AssertionError(f"the view never answered for {what}: {metrics(proxy)}")


def server_of(sdk, iid: str) -> str:
    return next(s.id for s in sdk.compute.servers() if ids.from_uuid("i", s.id) == iid)


@pytest.fixture(scope="module")
def running(proxy, ec2, ami) -> str:
    until(lambda: metrics(proxy).get("ec2proxy_live_view_connected") == 1.0, seconds=30, delay=0.2)
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0][
        "InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    return iid


def test_an_instance_is_described_from_the_view_as_directly(proxy, ec2, running):
    direct = described(ec2, running)
    viewed = from_view(proxy, ec2, running)
    assert viewed == direct  # the same instance, whichever way it was read
    assert viewed["State"]["Name"] == "running" and viewed["PrivateIpAddress"]
    assert viewed["SecurityGroups"] and viewed["NetworkInterfaces"][0]["Groups"] == [
        {"GroupId": viewed["SecurityGroups"][0]["GroupId"], "GroupName": viewed["SecurityGroups"][0]["GroupName"]}]


def test_our_own_writes_show_at_once_then_the_view_answers_again(proxy, ec2, running):
    from_view(proxy, ec2, running)
    before = reads(proxy, "written")
    ec2.stop_instances(InstanceIds=[running])
    assert described(ec2, running)["State"]["Name"] == "stopping"  # the view still said running
    assert reads(proxy, "written") == before + 1
    until(lambda: from_view(proxy, ec2, running)["State"]["Name"] == "stopped", seconds=30, delay=0.2)

    ec2.create_tags(Resources=[running], Tags=[{"Key": "role", "Value": "web"}])  # ours: read from our database
    assert from_view(proxy, ec2, running)["Tags"] == [{"Key": "role", "Value": "web"}]

    address = ec2.allocate_address(Domain="vpc")
    ec2.start_instances(InstanceIds=[running])
    assert described(ec2, running)["State"]["Name"] == "pending"
    ec2.get_waiter("instance_running").wait(InstanceIds=[running], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    ec2.associate_address(InstanceId=running, AllocationId=address["AllocationId"])
    assert described(ec2, running)["PublicIpAddress"] == address["PublicIp"]
    assert from_view(proxy, ec2, running)["PublicIpAddress"] == address["PublicIp"]
    association = ec2.describe_addresses(AllocationIds=[address["AllocationId"]])["Addresses"][0]["AssociationId"]
    ec2.disassociate_address(AssociationId=association)
    assert "PublicIpAddress" not in described(ec2, running)
    ec2.release_address(AllocationId=address["AllocationId"])


def test_an_address_by_id_from_the_view_our_writes_at_once_and_neutrons_within_the_bound(proxy, ec2, running):
    """DescribeAddresses naming an allocation id (a Terraform refresh of an aws_eip), or a public IP, is answered
    from the view as it would be directly; our associate shows at once; a disassociation made in Neutron directly
    within the bound, still from the view."""
    address = ec2.allocate_address(Domain="vpc")
    allocation = address["AllocationId"]

    def addressed() -> dict:
        return described_address(ec2, allocation)

    def from_the_view() -> dict:
        return address_from_view(proxy, ec2, allocation)

    try:
        ec2.associate_address(InstanceId=running, AllocationId=allocation)
        assert addressed()["InstanceId"] == running  # ours, at once
        direct = addressed()
        shown = from_the_view()
        assert shown == direct and shown["InstanceId"] == running and shown["AssociationId"]
        assert shown["PublicIpv4Pool"] and shown["NetworkInterfaceId"].startswith("eni-")

        def by_ip() -> list[dict]:
            return ec2.describe_addresses(PublicIps=[address["PublicIp"]])["Addresses"]

        assert viewed(proxy, by_ip, address["PublicIp"]) == [shown]  # by its public IP too

        sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
        (fip,) = sdk.network.ips(floating_ip_address=address["PublicIp"])
        sdk.network.update_ip(fip, port_id=None)  # in Neutron directly
        until(lambda: "AssociationId" not in addressed(), seconds=BOUND, delay=0.05)
        assert "InstanceId" not in from_the_view()

        ec2.associate_address(InstanceId=running, AllocationId=allocation)
        assert addressed()["InstanceId"] == running  # ours again, at once
        with pytest.raises(Exception, match="InvalidAllocationID.NotFound"):
            ec2.describe_addresses(AllocationIds=[ids.from_uuid("eipalloc", "no-such-address")])
    finally:
        association = addressed().get("AssociationId")
        if association:
            ec2.disassociate_address(AssociationId=association)
        ec2.release_address(AllocationId=allocation)
    with pytest.raises(Exception, match="InvalidAllocationID.NotFound"):
        ec2.describe_addresses(AllocationIds=[allocation])  # ours: released, at once


def test_a_group_by_id_from_the_view_our_rules_at_once_and_neutrons_within_the_bound(proxy, ec2):
    """DescribeSecurityGroups naming a group id (a Terraform refresh of an aws_security_group) is answered from
    the view as it would be directly; our authorize and revoke show at once; a rule added in Neutron directly
    shows within the bound, and the view answers again after."""
    group = ec2.create_security_group(GroupName=f"live-{TAG}", Description="live view")["GroupId"]
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}

    def ports() -> set:
        return {p.get("FromPort") for p in described_group(ec2, group)["IpPermissions"]}

    try:
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[ssh])
        assert ports() == {22}  # ours, at once
        direct = described_group(ec2, group)
        shown = viewed(proxy, lambda: described_group(ec2, group), group)
        assert shown == direct and shown["IpPermissionsEgress"] and shown["Description"] == "live view"

        sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
        (os_group,) = [g for g in sdk.network.security_groups() if ids.from_uuid("sg", g.id) == group]
        sdk.network.create_security_group_rule(security_group_id=os_group.id, direction="ingress",
                                               ethertype="IPv4", protocol="tcp", port_range_min=4567,
                                               port_range_max=4567, remote_ip_prefix="192.0.2.0/24")
        until(lambda: 4567 in ports(), seconds=BOUND, delay=0.05)  # in Neutron directly
        assert {p.get("FromPort") for p in viewed(proxy, lambda: described_group(ec2, group), group)[
            "IpPermissions"]} == {22, 4567}

        ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[ssh])
        assert ports() == {4567}  # ours again, at once
    finally:
        ec2.delete_security_group(GroupId=group)
    with pytest.raises(Exception, match="InvalidGroup.NotFound"):
        described_group(ec2, group)  # ours: deleted, at once


def test_a_change_made_in_the_cloud_directly_shows_within_the_bound(proxy, ec2, running):
    from_view(proxy, ec2, running)
    sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
    os_id = server_of(sdk, running)
    state = described(ec2, running)["State"]["Name"]
    viewed = reads(proxy, "view")
    if state == "running":
        sdk.compute.stop_server(os_id)
        wanted = ("stopping", "stopped")
    else:
        sdk.compute.start_server(os_id)
        wanted = ("pending", "running")
    changed = time.monotonic()
    until(lambda: described(ec2, running)["State"]["Name"] in wanted, seconds=BOUND, delay=0.05)
    seen = time.monotonic() - changed
    assert reads(proxy, "view") > viewed, "answered by direct reads, not by the view"
    assert seen <= BOUND
    until(lambda: described(ec2, running)["State"]["Name"] == wanted[1], seconds=30, delay=0.2)


def test_a_server_deleted_in_the_cloud_directly_is_terminated(proxy, ec2, ami):
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    from_view(proxy, ec2, iid)
    sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
    sdk.compute.delete_server(server_of(sdk, iid))
    until(lambda: described(ec2, iid)["State"]["Name"] in ("shutting-down", "terminated"), seconds=BOUND,
          delay=0.05)
    until(lambda: described(ec2, iid)["State"]["Name"] == "terminated", seconds=30, delay=0.2)


def listing(ec2, **kw) -> dict[str, dict]:
    return {i["InstanceId"]: i for r in ec2.describe_instances(**kw)["Reservations"] for i in r["Instances"]}


def listed_from_view(proxy, ec2, **kw) -> dict[str, dict]:
    for _ in range(100):
        before = reads(proxy, "view")
        found = listing(ec2, **kw)
        if reads(proxy, "view") > before:
            return found
        time.sleep(0.1)
    raise AssertionError(f"the view never answered the project's listing: {metrics(proxy)}")


def test_the_projects_listing_from_the_view_and_our_launches_in_it_at_once(proxy, ec2, ami, running):
    viewed = listed_from_view(proxy, ec2)
    direct_after = listing(ec2, InstanceIds=list(viewed))  # by id, read directly or from the view alike
    assert {i: v["State"]["Name"] for i, v in viewed.items()} == \
        {i: v["State"]["Name"] for i, v in direct_after.items()}
    assert viewed[running] == direct_after[running]
    state = viewed[running]["State"]["Name"]
    filtered = listed_from_view(proxy, ec2, Filters=[{"Name": "instance-state-name", "Values": [state]}])
    assert running in filtered and all(i["State"]["Name"] == state for i in filtered.values())

    launched = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    assert listing(ec2)[launched]["State"]["Name"] == "pending"  # ours, before any notification of it
    ec2.get_waiter("instance_running").wait(InstanceIds=[launched], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    ec2.terminate_instances(InstanceIds=[launched])
    assert listing(ec2)[launched]["State"]["Name"] in ("shutting-down", "terminated")
    # the direct read (our write marked it) refreshed the view: it never shows the instance running again
    assert listed_from_view(proxy, ec2)[launched]["State"]["Name"] in ("shutting-down", "terminated")
    until(lambda: listed_from_view(proxy, ec2)[launched]["State"]["Name"] == "terminated", seconds=30, delay=0.2)


class Forwarder:
    """A TCP hop between the proxy's feed and the machine's RabbitMQ that a test cuts and restores: the broker
    away for this proxy alone (the machine's is shared)."""

    def __init__(self, target: int = 5672):
        import threading

        from tests.support import free_port

        self.port, self.target = free_port(), target
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: asyncio.Server | None = None
        self.writers: set = set()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    async def _pipe(self, reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader, writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers |= {writer, upstream_writer}
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    def resume(self) -> None:
        async def start() -> None:
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self._run(start())

    def cut(self) -> None:
        async def stop() -> None:
            assert self.server is not None
            self.server.close()
            for writer in self.writers:
                writer.close()
            self.writers.clear()
        self._run(stop())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)


def own_proxy(tmp_path, **env: str):
    """A proxy of the test's own (the module's settings and ``env``), its feed connected, and a running instance."""
    from tests.support import Server

    proxy = Server(tmp_path / "proxy", env={**PROXY_ENV, **env}).start()
    try:
        ec2 = proxy.client()
        until(lambda: metrics(proxy).get("ec2proxy_live_view_connected") == 1.0, seconds=30, delay=0.2)
        image = next(i["ImageId"] for i in ec2.describe_images()["Images"])
        iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    except BaseException:
        proxy.stop()
        raise
    return proxy, ec2, iid


def test_with_the_feed_away_describe_reads_openstack_then_the_view_again(tmp_path):
    forwarder = Forwarder()
    forwarder.resume()
    proxy, ec2, iid = own_proxy(tmp_path, EC2PROXY_NOTIFICATIONS_QUEUE=f"test-{TAG}-away",
                                EC2PROXY_NOTIFICATIONS_TRANSPORT_URL=f"rabbit://guest:guest@127.0.0.1:{forwarder.port}/")
    try:
        from_view(proxy, ec2, iid)

        forwarder.cut()
        until(lambda: metrics(proxy).get("ec2proxy_live_view_connected") == 0.0, seconds=30, delay=0.2)
        down = reads(proxy, "down")
        sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
        sdk.compute.stop_server(server_of(sdk, iid))  # notified while this proxy's feed is away
        assert described(ec2, iid)["State"]["Name"] in ("stopping", "stopped")  # read from Nova
        assert reads(proxy, "down") > down

        forwarder.resume()
        until(lambda: metrics(proxy).get("ec2proxy_live_view_connected") == 1.0, seconds=60, delay=0.2)
        until(lambda: from_view(proxy, ec2, iid)["State"]["Name"] == "stopped", seconds=30, delay=0.2)
        assert "Describe* reads OpenStack directly until it is back" in proxy.log.read_text()
    finally:
        proxy.stop()
        forwarder.close()
        asyncio.run(_cleanup(f"{TAG}-away", ()))


def test_the_dev_cloud_notifies_as_the_lab_does():
    """The contract, on both: every message the dev cloud sent in this module and every one the lab's services
    sent (``tests/lab_samples``) passes the same checks, and Nova's payload has the same members on both."""
    from tests.test_notifications import SAMPLES as LAB
    from tests.test_notifications import shapes_hold

    sent = asyncio.run(_captured())
    names = {value: key for key, value in EXCHANGES.items()}
    sent = [{**message, "exchange": names[message["exchange"]]} for message in sent]
    assert {"instance.update", "port.update.end", "floatingip.update.end", "floatingip.delete.end",
            "port.delete.end"} <= {json.loads(m["body"]["oslo.message"])["event_type"] for m in sent}
    lab_members = shapes_hold(LAB)
    assert shapes_hold(sent) == lab_members


def test_what_a_lost_notification_left_wrong_is_read_again_within_the_reconcile_time(tmp_path):
    """A notification lost (here: the view's row of a running server made to say stopped, as a lost start
    would leave it) is answered from the view until the row is [notifications] reconcile old, then read from
    Nova again."""
    import sqlite3

    proxy, ec2, iid = own_proxy(tmp_path, EC2PROXY_NOTIFICATIONS_QUEUE=f"test-{TAG}-reconcile",
                                EC2PROXY_NOTIFICATIONS_RECONCILE="3")
    try:
        until(lambda: from_view(proxy, ec2, iid)["State"]["Name"] == "running", seconds=30, delay=0.2)
        with sqlite3.connect(tmp_path / "proxy" / "ec2proxy.sqlite") as database:
            (data,) = database.execute("SELECT data FROM view_objects WHERE kind = 'server'").fetchone()
            wrong = json.loads(data)
            wrong.update({"status": "SHUTOFF", "OS-EXT-STS:vm_state": "stopped"})
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
            database.execute("UPDATE view_objects SET data = ?, applied_at = ? WHERE kind = 'server'",
                             (json.dumps(wrong), now))
        assert from_view(proxy, ec2, iid)["State"]["Name"] == "stopped"  # the view, as it was left
        until(lambda: described(ec2, iid)["State"]["Name"] == "running", seconds=10, delay=0.2)
        assert from_view(proxy, ec2, iid)["State"]["Name"] == "running"  # read again, and the view repaired
    finally:
        proxy.stop()
        asyncio.run(_cleanup(f"{TAG}-reconcile", ()))


def test_behind_a_flood_describe_reads_openstack_then_the_view_again(proxy, ec2, running, accounts):
    """3,000 notifications (of made-up servers of the project, sent 10 s ago) at once: while the feed works
    through them it is late, and Describe* reads Nova (counted 'late'); once it has caught up the view answers
    again."""
    from tests.test_live_view import flood_bodies, publish_flood

    from_view(proxy, ec2, running)
    late, applied = reads(proxy, "late"), metrics(proxy)['ec2proxy_notifications{outcome="applied"}']
    old = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=10)).strftime(
        "%Y-%m-%d %H:%M:%S.%f")
    asyncio.run(publish_flood(EXCHANGES["nova"], flood_bodies(3000, sent=old, project=accounts["demo"]["project_id"])))
    until(lambda: described(ec2, running) and reads(proxy, "late") > late, seconds=30, delay=0.05)
    until(lambda: metrics(proxy)['ec2proxy_notifications{outcome="applied"}'] >= applied + 3000, seconds=60,
          delay=0.2)
    from_view(proxy, ec2, running)
    assert "Describe* reads OpenStack directly until it has caught up" in proxy.log.read_text()


def test_more_of_our_writes_show_at_once(proxy, ec2, ami):
    """A group added to the instance (its port updated in Neutron), a volume attached and detached: each shows
    in the next describe, before any notification of it (the view's rows of what they changed are marked)."""
    iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    shown = from_view(proxy, ec2, iid)
    group = ec2.create_security_group(GroupName=f"live-{TAG}", Description="live view", VpcId=shown["VpcId"])[
        "GroupId"]
    volume = ec2.create_volume(Size=1, AvailabilityZone=shown["Placement"]["AvailabilityZone"])["VolumeId"]
    try:
        current = [g["GroupId"] for g in shown["SecurityGroups"]]
        ec2.modify_instance_attribute(InstanceId=iid, Groups=[*current, group])
        assert {g["GroupId"] for g in described(ec2, iid)["SecurityGroups"]} == {*current, group}
        assert {g["GroupId"] for g in from_view(proxy, ec2, iid)["SecurityGroups"]} == {*current, group}

        ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdf")
        assert volume in [m["Ebs"]["VolumeId"] for m in described(ec2, iid)["BlockDeviceMappings"]]
        ec2.get_waiter("volume_in_use").wait(VolumeIds=[volume], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        ec2.detach_volume(VolumeId=volume)
        ec2.get_waiter("volume_available").wait(VolumeIds=[volume], WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        assert volume not in [m["Ebs"]["VolumeId"] for m in described(ec2, iid)["BlockDeviceMappings"]]
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
        ec2.delete_volume(VolumeId=volume)
        ec2.delete_security_group(GroupId=group)


def test_the_aws_cli_is_answered_from_the_view(proxy, ec2, running):
    """The AWS CLI, as a subprocess with the files the proxy wrote: the instance by id and the project's listing
    answered by the view, the same instance boto3 was shown."""
    shown = from_view(proxy, ec2, running)
    listed_from_view(proxy, ec2)
    viewed = reads(proxy, "view")
    by_id = json.loads(proxy.aws("ec2", "describe-instances", "--instance-ids", running).stdout)
    listed = json.loads(proxy.aws("ec2", "describe-instances").stdout)
    assert reads(proxy, "view") == viewed + 2
    (instance,) = [i for r in by_id["Reservations"] for i in r["Instances"]]
    assert (instance["InstanceId"], instance["State"], instance["PrivateIpAddress"]) == \
        (running, shown["State"], shown["PrivateIpAddress"])
    assert running in {i["InstanceId"] for r in listed["Reservations"] for i in r["Instances"]}


def test_another_projects_changes_are_counted_as_foreign_and_not_kept(proxy, ec2, running, accounts):
    """A project nobody asked this proxy about (the dev cloud's alt) changes in the cloud directly: the feed
    counts its notifications as foreign and keeps nothing of them, while the served project's go on."""
    import sqlite3

    from_view(proxy, ec2, running)
    alt = DevCloudProcess(proxy.data_dir).sdk("devcloud-alt")
    foreign = metrics(proxy).get('ec2proxy_notifications{outcome="foreign"}', 0.0)
    group = alt.network.create_security_group(name=f"foreign-{TAG}")
    try:
        until(lambda: metrics(proxy)['ec2proxy_notifications{outcome="foreign"}'] > foreign, seconds=BOUND,
              delay=0.05)
        with sqlite3.connect(proxy.data_dir / "ec2proxy.sqlite") as database:
            held = database.execute("SELECT COUNT(*) FROM view_objects WHERE project_id = ?",
                                    (accounts["alt"]["project_id"],)).fetchone()[0]
            served = [p for (p,) in database.execute("SELECT project_id FROM view_projects")]
        assert held == 0 and accounts["alt"]["project_id"] not in served
        assert accounts["demo"]["project_id"] in served
    finally:
        alt.network.delete_security_group(group)
    assert from_view(proxy, ec2, running)["State"]["Name"] in ("running", "stopped", "pending", "stopping")


def test_a_proxy_restarted_while_changes_happen_catches_up(tmp_path):
    """The proxy killed (no goodbye: what it held unacknowledged goes back to the queue) while an instance is
    stopped in the cloud directly, then started again as the stop goes on: the durable queue kept what the
    services sent meanwhile, and the restarted proxy applies it to the view within the bound of its start; its
    describes are direct until it can vouch for the view again (what came while it was away is not trusted),
    then the view answers, with the instance stopped."""
    import json as json_
    import sqlite3

    from tests.devclouds import server_for

    feed = LiveFeed()
    devcloud = DevCloudProcess(tmp_path / "cloud", env=feed.notify).start()
    server = None
    try:
        server = server_for(devcloud, tmp_path, notifications={
            "transport_url": BROKER, "queue": f"test-{feed.tag}", "bindings": feed.bindings})
        demo = devcloud.accounts["demo"]
        created = json_.loads(server.ec2proxy("credentials", "create", "--project", demo["project_id"],
                                              "--user", demo["user_id"]).stdout)
        ec2 = server.client(created["access_key"], created["secret"])
        until(lambda: metrics(server).get("ec2proxy_live_view_connected") == 1.0, seconds=30, delay=0.2)
        ami = ids.from_uuid("ami", devcloud.accounts["image_id"])
        iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
        assert from_view(server, ec2, iid)["State"]["Name"] == "running"
        sdk = devcloud.sdk("devcloud-demo")
        os_id = server_of(sdk, iid)

        server.kill()
        sdk.compute.stop_server(os_id)  # its notifications wait in the queue; the stop goes on as we start
        server.start()
        restarted = time.monotonic()

        def held() -> str | None:
            with sqlite3.connect(server.data_dir / "ec2proxy.sqlite") as database:
                row = database.execute("SELECT data FROM view_objects WHERE kind = 'server' AND os_id = ?",
                                       (os_id,)).fetchone()
            return json_.loads(row[0])["status"] if row else None

        until(lambda: held() == "SHUTOFF", seconds=30, delay=0.05)
        assert time.monotonic() - restarted <= 10  # the backlog, applied as the feed connects
        until(lambda: described(ec2, iid)["State"]["Name"] == "stopped", seconds=BOUND, delay=0.05)
        assert reads(server, "unknown") >= 1  # the first describe after the restart was direct
        assert from_view(server, ec2, iid)["State"]["Name"] == "stopped"
        text = server.log.read_text()
        assert "Traceback" not in text and "could not be applied" not in text
    finally:
        if server is not None:
            server.stop()
        devcloud.stop()
        feed.cleanup()


def test_changes_whose_notifications_never_arrive_are_found_by_the_sweep(tmp_path):
    """Nova's notifications never reach the proxy (its feed bound to Neutron's and Cinder's exchanges only, as
    a cloud whose Nova notifies nowhere): the feed is connected and on time, yet the sweep (changes-since, every
    second here) finds the launch's changes missing from the view, repairs them, counts them as missed and the
    project is read directly from then on, so that a stop made in Nova directly shows within the bound."""
    proxy, ec2, iid = own_proxy(tmp_path, EC2PROXY_NOTIFICATIONS_QUEUE=f"test-{TAG}-sweep",
                                EC2PROXY_NOTIFICATIONS_SWEEP="1",
                                EC2PROXY_NOTIFICATIONS_BINDINGS=" ".join(
                                    f"{EXCHANGES[name]}=notifications.*" for name in ("neutron", "openstack")))
    try:
        until(lambda: metrics(proxy).get('ec2proxy_live_view_sweeps{outcome="missed"}', 0) >= 1, seconds=20,
              delay=0.2)
        assert "had missed" in proxy.log.read_text()
        assert described(ec2, iid)["State"]["Name"] == "running"
        direct, viewed = reads(proxy, "missed"), reads(proxy, "view")
        assert direct >= 1  # read directly: the project's view is not vouched for any more
        sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
        sdk.compute.stop_server(server_of(sdk, iid))
        until(lambda: described(ec2, iid)["State"]["Name"] in ("stopping", "stopped"), seconds=BOUND, delay=0.05)
        assert reads(proxy, "missed") > direct and reads(proxy, "view") == viewed
        until(lambda: described(ec2, iid)["State"]["Name"] == "stopped", seconds=10, delay=0.1)
    finally:
        proxy.stop()
        asyncio.run(_cleanup(f"{TAG}-sweep", ()))


def test_a_floating_ip_whose_notifications_never_arrive_is_found_by_the_sweep(tmp_path):
    """Neutron's notifications never reach the proxy (its feed bound to Nova's and Cinder's exchanges only): a
    floating IP associated in Neutron directly changes nothing Nova's changes-since shows, yet the sweep (Neutron's
    listings, their updated_at) finds it missing from the view, repairs it, and the instance shows its public
    address; deleted there, the sweep finds it gone and the instance shows none."""
    proxy, ec2, iid = own_proxy(tmp_path, EC2PROXY_NOTIFICATIONS_QUEUE=f"test-{TAG}-neutron-sweep",
                                EC2PROXY_NOTIFICATIONS_SWEEP="1",
                                EC2PROXY_NOTIFICATIONS_BINDINGS=" ".join([
                                    f"{EXCHANGES['nova']}=versioned_notifications.*",
                                    f"{EXCHANGES['openstack']}=notifications.*"]))
    try:
        assert "PublicIpAddress" not in from_view(proxy, ec2, iid)
        sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
        public = next(n for n in sdk.network.networks() if n.is_router_external)
        port = next(sdk.network.ports(device_id=server_of(sdk, iid)))
        floating = sdk.network.create_ip(floating_network_id=public.id, port_id=port.id)
        # (a project is swept on its Describe*)
        until(lambda: described(ec2, iid).get("PublicIpAddress") == floating.floating_ip_address
              and f"floatingip {floating.id}" in proxy.log.read_text(), seconds=30, delay=0.2)
        figures = metrics(proxy)
        assert figures.get('ec2proxy_live_view_sweeps{outcome="missed"}', 0) >= 1, figures
        sdk.network.delete_ip(floating)
        # (a project is swept on its Describe*)
        until(lambda: "PublicIpAddress" not in described(ec2, iid)
              and f"floatingip {floating.id} (deleted" in proxy.log.read_text(), seconds=30, delay=0.2)
        assert not metrics(proxy).get('ec2proxy_live_view_sweeps{outcome="failed"}'), metrics(proxy)
    finally:
        proxy.stop()
        asyncio.run(_cleanup(f"{TAG}-neutron-sweep", ()))


def test_the_sweeps_found_nothing_the_feed_missed(proxy, ec2):
    """The module's proxy swept its project every 5 s through all of the above: every change Nova's
    changes-since and Neutron's listings showed had come by the feed (the dev cloud's notifications and its
    API agree)."""
    ec2.describe_instances()  # (the project served, were this test run alone)
    until(lambda: metrics(proxy).get('ec2proxy_live_view_sweeps{outcome="projects"}', 0) >= 1, seconds=10,
          delay=0.2)
    figures = metrics(proxy)
    assert figures.get('ec2proxy_live_view_sweeps{outcome="missed"}') == 0, figures
    assert figures.get('ec2proxy_live_view_sweeps{outcome="failed"}') == 0, figures
