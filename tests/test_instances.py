"""Instances through a running proxy on the dev cloud, with boto3 and the AWS CLI."""

from __future__ import annotations

import concurrent.futures
import json
import time

import pytest
from botocore.exceptions import ClientError

from ec2proxy.ec2 import ids
from tests.devclouds import DevCloudProcess
from tests.support import WAIT, code_of

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.3"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def instance_ids(reservation: dict) -> list[str]:
    return [i["InstanceId"] for i in reservation["Instances"]]


def test_run_wait_describe_and_terminate(ec2, ami):
    reservation = ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=3, InstanceType="t2.micro",
                                    TagSpecifications=[{"ResourceType": "instance",
                                                        "Tags": [{"Key": "role", "Value": "web"}]}])
    assert reservation["ReservationId"].startswith("r-") and reservation["OwnerId"]
    launched = reservation["Instances"]
    assert [i["AmiLaunchIndex"] for i in launched] == [0, 1, 2]
    assert all(i["State"] == {"Code": 0, "Name": "pending"} and i["ImageId"] == ami for i in launched)
    assert all(i["Tags"] == [{"Key": "role", "Value": "web"}] for i in launched)
    # Reservation.Groups is "Not supported" (EC2 API reference, Reservation): AWS answers it empty; the launch's
    # group is on each instance
    assert reservation["Groups"] == []
    assert all([g["GroupName"] for g in i["SecurityGroups"]] == ["default"] for i in launched)
    wanted = instance_ids(reservation)
    ec2.get_waiter("instance_running").wait(InstanceIds=wanted, WaiterConfig=WAIT)
    described = ec2.describe_instances(InstanceIds=wanted)["Reservations"]
    assert [r["ReservationId"] for r in described] == [reservation["ReservationId"]]
    listed = [r for r in ec2.describe_instances()["Reservations"] if r["ReservationId"] == reservation["ReservationId"]]
    assert described[0]["Groups"] == listed[0]["Groups"] == reservation["Groups"]  # by id and in the listing
    running = described[0]["Instances"]
    assert {i["State"]["Name"] for i in running} == {"running"}
    assert all(i["PrivateIpAddress"].startswith("10.0.") and i["InstanceType"] == "t2.micro" for i in running)
    assert all(i["PrivateDnsName"] == f"ip-{i['PrivateIpAddress'].replace('.', '-')}.ec2.internal" for i in running)
    changes = ec2.terminate_instances(InstanceIds=wanted)["TerminatingInstances"]
    assert {c["CurrentState"]["Name"] for c in changes} == {"shutting-down"}
    ec2.get_waiter("instance_terminated").wait(InstanceIds=wanted, WaiterConfig=WAIT)
    after = ec2.describe_instances(InstanceIds=wanted)["Reservations"][0]["Instances"]
    assert {i["State"]["Name"] for i in after} == {"terminated"}  # still visible after termination


def test_stop_start_reboot_with_waiters_and_incorrect_state(ec2, ami):
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    idle = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]  # starting a running one: a no-op
    assert idle["PreviousState"] == idle["CurrentState"] == {"Code": 16, "Name": "running"}
    assert code_of(ec2.stop_instances, InstanceIds=[iid], Hibernate=True) == "UnsupportedOperation"
    stopping = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert (stopping["PreviousState"]["Name"], stopping["CurrentState"]["Name"]) == ("running", "stopping")
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert code_of(ec2.reboot_instances, InstanceIds=[iid]) == "IncorrectInstanceState"
    starting = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert (starting["PreviousState"]["Name"], starting["CurrentState"]["Name"]) == ("stopped", "pending")
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    ec2.reboot_instances(InstanceIds=[iid])
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert code_of(ec2.start_instances, InstanceIds=[iid]) == "IncorrectInstanceState"


def test_client_token_replays_the_reservation_and_refuses_other_parameters(ec2, ami):
    first = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=2, ClientToken="replay-token-1")
    again = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=2, ClientToken="replay-token-1")
    assert again["ReservationId"] == first["ReservationId"]
    assert instance_ids(again) == instance_ids(first)
    assert all(i["ClientToken"] == "replay-token-1" for i in again["Instances"])
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=3,
                   ClientToken="replay-token-1") == "IdempotentParameterMismatch"
    filtered = ec2.describe_instances(Filters=[{"Name": "client-token", "Values": ["replay-token-1"]}])
    assert sorted(i["InstanceId"] for r in filtered["Reservations"] for i in r["Instances"]) == \
        sorted(instance_ids(first))
    ec2.terminate_instances(InstanceIds=instance_ids(first))


def test_same_client_token_concurrently_boots_once(proxy, ami):
    clients = [proxy.client(max_pool_connections=4) for _ in range(8)]

    def run(n: int) -> dict:
        return clients[n % len(clients)].run_instances(ImageId=ami, MinCount=2, MaxCount=2,
                                                       ClientToken="concurrent-token")

    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(pool.map(run, range(50)))
    assert len({a["ReservationId"] for a in answers}) == 1
    assert len({tuple(instance_ids(a)) for a in answers}) == 1
    ec2 = proxy.client()
    mine = ec2.describe_instances(Filters=[{"Name": "client-token", "Values": ["concurrent-token"]}])
    assert sum(len(r["Instances"]) for r in mine["Reservations"]) == 2  # one boot, not fifty
    ec2.terminate_instances(InstanceIds=instance_ids(answers[0]))


def test_dry_run_validates_and_boots_nothing(ec2, ami):
    before = len(ec2.describe_instances()["Reservations"])
    assert code_of(ec2.run_instances, ImageId=ami, MinCount=1, MaxCount=1, DryRun=True) == "DryRunOperation"
    assert code_of(ec2.run_instances, ImageId="ami-0000000000000000a", MinCount=1, MaxCount=1,
                   DryRun=True) == "InvalidAMIID.NotFound"
    assert len(ec2.describe_instances()["Reservations"]) == before


@pytest.mark.parametrize("kwargs, code", [
    ({"ImageId": "ami-0000000000000000a"}, "InvalidAMIID.NotFound"),
    ({"ImageId": "nope"}, "InvalidAMIID.Malformed"),
    ({"InstanceType": "z9.huge"}, "InvalidParameterValue"),
    ({"KeyName": "no-such-key"}, "InvalidKeyPair.NotFound"),
    ({"SecurityGroups": ["no-such-group"]}, "InvalidGroup.NotFound"),
    ({"MinCount": 3, "MaxCount": 2}, "InvalidParameterValue"),
    ({"Placement": {"AvailabilityZone": "mars-1a"}}, "InvalidParameterValue"),
    ({"ClientToken": "x" * 65}, "InvalidParameterValue"),
    ({"KernelId": "aki-00000001"}, "UnsupportedOperation"),
    # what this cloud has no counterpart of is refused, never ignored
    ({"DisableApiStop": True}, "UnsupportedOperation"),
    ({"EbsOptimized": True}, "UnsupportedOperation"),
    ({"Monitoring": {"Enabled": True}}, "UnsupportedOperation"),
    ({"Ipv6AddressCount": 1}, "UnsupportedOperation"),
    ({"Placement": {"Tenancy": "dedicated"}}, "UnsupportedOperation"),
    ({"Placement": {"GroupName": "cluster-a"}}, "InvalidPlacementGroup.Unknown"),  # no such group
    ({"PrivateDnsNameOptions": {"HostnameType": "resource-name"}}, "UnsupportedOperation"),
    ({"ElasticInferenceAccelerators": [{"Type": "eia1.medium"}]}, "UnsupportedOperation"),
    ({"HibernationOptions": {"Configured": True}}, "UnsupportedOperation"),
    ({"CapacityReservationSpecification": {"CapacityReservationPreference": "none"}}, "UnsupportedOperation"),
    ({"CpuOptions": {"CoreCount": 1, "ThreadsPerCore": 1}}, "UnsupportedOperation"),
])
def test_bad_run_requests_get_ec2_errors(ec2, ami, kwargs, code):
    request = {"ImageId": ami, "MinCount": 1, "MaxCount": 1, **kwargs}
    assert code_of(ec2.run_instances, **request) == code


def test_run_defaults_that_ask_for_nothing_are_accepted(ec2, ami):
    """What Terraform, Ansible or the console send as defaults (monitoring off, default tenancy, IP names) boots
    an instance that shows exactly that."""
    (instance,) = ec2.run_instances(
        ImageId=ami, MinCount=1, MaxCount=1, DisableApiStop=False, EbsOptimized=False, Monitoring={"Enabled": False},
        Placement={"Tenancy": "default"}, PrivateDnsNameOptions={"HostnameType": "ip-name"},
        CreditSpecification={"CpuCredits": "standard"}, MaintenanceOptions={"AutoRecovery": "default"},
        # what Terraform's AWS provider sends on every aws_instance create
        HibernationOptions={"Configured": False}, EnclaveOptions={"Enabled": False},
        CapacityReservationSpecification={"CapacityReservationPreference": "open"})["Instances"]
    assert instance["Monitoring"] == {"State": "disabled"} and instance["Placement"]["Tenancy"] == "default"
    assert instance["EbsOptimized"] is False
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def test_user_data_that_is_not_base64_is_refused(proxy, ami):
    from tests.signing import error_code, signed

    status, body = signed(proxy.endpoint, [("Action", "RunInstances"), ("Version", "2016-11-15"), ("ImageId", ami),
                                           ("MinCount", "1"), ("MaxCount", "1"), ("UserData", "%%%")],
                          *proxy.demo_keys())
    assert (status, error_code(body)) == (400, "InvalidParameterValue")


def test_describe_errors_filters_and_paging(ec2, ami):
    assert code_of(ec2.describe_instances, InstanceIds=["i-00000000000000000"]) == "InvalidInstanceID.NotFound"
    assert code_of(ec2.describe_instances, InstanceIds=["x-1"]) == "InvalidInstanceID.Malformed"
    assert code_of(ec2.describe_instances, Filters=[{"Name": "nope", "Values": ["1"]}]) == "InvalidParameterValue"
    assert code_of(ec2.describe_instances, InstanceIds=["i-00000000000000000"],
                   MaxResults=5) == "InvalidParameterCombination"
    assert code_of(ec2.describe_instances, MaxResults=4) == "InvalidParameterValue"
    assert code_of(ec2.describe_instances, MaxResults=5, NextToken="garbage") == "InvalidNextToken"
    reservation = ec2.run_instances(ImageId=ami, MinCount=7, MaxCount=7, InstanceType="m1.tiny",
                                    TagSpecifications=[{"ResourceType": "instance",
                                                        "Tags": [{"Key": "batch", "Value": "paging-7"}]}])
    wanted = instance_ids(reservation)
    tagged = [{"Name": "tag:batch", "Values": ["paging-?"]}, {"Name": "instance-type", "Values": ["m1.tiny"]}]
    pages = list(ec2.get_paginator("describe_instances").paginate(Filters=tagged,
                                                                   PaginationConfig={"PageSize": 5}))
    counts = [sum(len(r["Instances"]) for r in page["Reservations"]) for page in pages]
    assert counts == [5, 2]
    assert sorted(i["InstanceId"] for p in pages for r in p["Reservations"] for i in r["Instances"]) == sorted(wanted)
    first_token = pages[0]["NextToken"]
    assert code_of(ec2.describe_instances, MaxResults=5, NextToken=first_token,
                   InstanceIds=wanted[:1]) == "InvalidParameterCombination"
    assert code_of(ec2.describe_volumes, MaxResults=5, NextToken=first_token) == "InvalidNextToken"
    by_index = ec2.describe_instances(Filters=tagged + [{"Name": "launch-index", "Values": ["6"]}])
    assert [i["AmiLaunchIndex"] for r in by_index["Reservations"] for i in r["Instances"]] == [6]
    ec2.terminate_instances(InstanceIds=wanted)


def test_disable_api_termination_is_honoured(ec2, ami):
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, DisableApiTermination=True)["Instances"]
    assert code_of(ec2.terminate_instances, InstanceIds=[instance["InstanceId"]]) == "OperationNotPermitted"


def test_aws_cli_runs_and_terminates_with_a_client_token(proxy, ami):
    first = json.loads(proxy.aws("ec2", "run-instances", "--image-id", ami, "--count", "1",
                                 "--client-token", "cli-token-1").stdout)
    second = json.loads(proxy.aws("ec2", "run-instances", "--image-id", ami, "--count", "1",
                                  "--client-token", "cli-token-1").stdout)
    assert first["ReservationId"] == second["ReservationId"]
    iid = first["Instances"][0]["InstanceId"]
    proxy.aws("ec2", "wait", "instance-running", "--instance-ids", iid)
    listed = json.loads(proxy.aws("ec2", "describe-instances", "--filters",
                                  "Name=instance-state-name,Values=running", f"Name=instance-id,Values={iid}").stdout)
    assert listed["Reservations"][0]["Instances"][0]["InstanceId"] == iid
    proxy.aws("ec2", "terminate-instances", "--instance-ids", iid)
    proxy.aws("ec2", "wait", "instance-terminated", "--instance-ids", iid)


def test_failed_build_shows_terminated_with_a_reason(proxy, ec2, ami):
    import urllib.request

    accounts = json.loads((proxy.data_dir / "devcloud" / "accounts.json").read_text())
    admin = accounts["admin"]
    url = proxy.log.read_text().split("Embedded dev cloud: ", 1)[1].split("/identity/v3", 1)[0]
    body = json.dumps({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "password": admin["password"], "domain": {"name": "Default"}}}},
        "scope": {"project": {"id": admin["project_id"]}}}}).encode()
    request = urllib.request.Request(f"{url}/identity/v3/auth/tokens", data=body,
                                     headers={"Content-Type": "application/json"})
    token = urllib.request.urlopen(request).headers["X-Subject-Token"]
    urllib.request.urlopen(urllib.request.Request(
        f"{url}/_devcloud/fail-builds", data=b'{"count": 1}',
        headers={"X-Auth-Token": token, "Content-Type": "application/json"})).close()
    import time

    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    deadline = time.monotonic() + 30  # the instance_terminated waiter gives up on 'pending'
    while True:
        dead = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0]
        if dead["State"]["Name"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert dead["State"]["Name"] == "terminated"
    assert dead["StateReason"]["Code"] == "Server.InternalError"


def test_describe_written_from_kept_fragments_is_never_stale(ec2, ami):
    """An unfiltered DescribeInstances reuses each instance's XML while nothing it is made of changed: it
    parses exactly like the freshly built answer of a filtered one, and every change shows at once."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    every_state = [{"Name": "instance-state-name",
                    "Values": ["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]}]

    def shown(**kwargs) -> dict:
        return {i["InstanceId"]: i for r in ec2.describe_instances(**kwargs)["Reservations"] for i in r["Instances"]}

    for _ in range(2):  # the second one comes from kept fragments
        assert shown() == shown(Filters=every_state)
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "fresh", "Value": "1"}])
    assert shown()[iid]["Tags"] == [{"Key": "fresh", "Value": "1"}]
    ec2.delete_tags(Resources=[iid], Tags=[{"Key": "fresh"}])
    assert shown()[iid].get("Tags", []) == []
    ec2.stop_instances(InstanceIds=[iid])
    assert shown()[iid]["State"]["Name"] in ("stopping", "stopped")
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert shown() == shown(Filters=every_state)
    ec2.terminate_instances(InstanceIds=[iid])
    assert shown()[iid]["State"]["Name"] in ("shutting-down", "terminated")


def test_instances_being_built_never_vanish_from_describe(ec2, ami):
    """Nova's changes-since listing leaves out servers still being scheduled (the dev cloud does as the lab's
    Nova): every DescribeInstances answer while they build holds all of them."""
    launched = ec2.run_instances(ImageId=ami, MinCount=12, MaxCount=12)["Instances"]
    wanted = {i["InstanceId"] for i in launched}
    answers = 0
    while True:
        found = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"]
                 for i in r["Instances"] if i["InstanceId"] in wanted}
        answers += 1
        assert set(found) == wanted, f"answer {answers} is missing {sorted(wanted - set(found))}"
        if set(found.values()) == {"running"}:
            break
        time.sleep(0.1)
    assert answers > 1  # some answers came while they were still pending
    by_id = ec2.describe_instances(InstanceIds=sorted(wanted))["Reservations"]
    assert sum(len(r["Instances"]) for r in by_id) == 12
    ec2.terminate_instances(InstanceIds=sorted(wanted))


def test_ended_instances_stay_listed_with_one_nova_listing(proxy, ec2, ami):
    """A terminated instance stays in DescribeInstances for a while: one TerminateInstances ended is known from
    our row (one Nova listing per answer); one deleted in Nova directly is confirmed by Nova's changes-since
    listing, asked only then."""
    devcloud = DevCloudProcess(proxy.data_dir)
    read, clear = devcloud.request_log()
    ours, theirs = [i["InstanceId"] for i in ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2)["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=[ours, theirs], WaiterConfig=WAIT)
    ec2.terminate_instances(InstanceIds=[ours])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[ours], WaiterConfig=WAIT)

    def listed() -> dict[str, str]:
        return {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances()["Reservations"]
                for i in r["Instances"]}

    def changes_since_listings() -> int:
        """Nova's index (ids only): how the proxy asks the changes-since listing."""
        return sum(1 for c in read() if c["method"] == "GET" and c["raw_path"].endswith("/servers"))

    clear()
    assert listed()[ours] == "terminated"
    assert changes_since_listings() == 0
    sdk = devcloud.sdk("devcloud-demo")
    server = next(s for s in sdk.compute.servers() if ids.from_uuid("i", s.id) == theirs)
    sdk.compute.delete_server(server)
    deadline = time.monotonic() + 30
    while listed().get(theirs) != "terminated":
        assert time.monotonic() < deadline, "an instance deleted in Nova never showed terminated"
        time.sleep(0.3)
    assert changes_since_listings() > 0  # asked, since no row said it ended


def test_a_server_made_in_nova_directly_is_an_instance_of_its_own_reservation(proxy, ec2, ami):
    """Nova's own server, with no row of ours, then with the row StopInstances writes for it: its reservation
    has no groups (it was not launched through EC2), by id and in the listing."""
    sdk = DevCloudProcess(proxy.data_dir).sdk("devcloud-demo")
    server = sdk.compute.wait_for_server(sdk.compute.create_server(
        name="made-in-nova", image_id=ids.os_id_of(ami) or next(sdk.image.images()).id, flavor_id="1",
        networks="auto"), wait=60)
    iid = ids.from_uuid("i", server.id)

    def reservation() -> dict:
        (by_id,) = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
        listed = next(r for r in ec2.describe_instances()["Reservations"] if r["Instances"][0]["InstanceId"] == iid)
        assert by_id["ReservationId"] == listed["ReservationId"] and by_id["Groups"] == listed["Groups"]
        return by_id

    first = reservation()
    assert first["Groups"] == [] and first["Instances"][0]["State"]["Name"] == "running"
    ec2.stop_instances(InstanceIds=[iid])  # writes our row of it, in a reservation of its own
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    second = reservation()
    assert second["ReservationId"] == first["ReservationId"] and second["Groups"] == []
    ec2.terminate_instances(InstanceIds=[iid])


NOVA_SERVER = {  # the keys of a real Nova 2.96 servers/detail entry; an error with its fault, a volume, a floating IP
    "id": "0b5e6a8e-4f6c-4b8e-9d0e-2a1c3b4d5e6f", "name": "web", "status": "ERROR", "tenant_id": "p1",
    "user_id": "u1", "metadata": {"role": "web"}, "hostId": "abc", "created": "2026-11-30T10:00:00Z",
    "updated": "2026-11-30T10:00:05Z", "addresses": {"private": [
        {"OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01", "OS-EXT-IPS:type": "fixed", "addr": "10.0.0.5",
         "version": 4},
        {"OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01", "OS-EXT-IPS:type": "floating", "addr": "172.24.4.9",
         "version": 4}]},
    "accessIPv4": "", "accessIPv6": "", "links": [{"href": "http://nova/servers/0b5e", "rel": "self"}],
    "OS-DCF:diskConfig": "MANUAL", "progress": 0, "OS-EXT-AZ:availability_zone": "nova", "config_drive": "",
    "key_name": "k1", "OS-SRV-USG:launched_at": None, "OS-SRV-USG:terminated_at": None,
    "security_groups": [{"name": "default"}], "OS-EXT-SRV-ATTR:hostname": "web", "OS-EXT-STS:task_state": None,
    "OS-EXT-STS:vm_state": "error", "OS-EXT-STS:power_state": 0,
    "os-extended-volumes:volumes_attached": [{"id": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
                                              "delete_on_termination": True}],
    "fault": {"code": 500, "created": "2026-11-30T10:00:05Z", "message": "No valid host was found."},
    "locked": False, "locked_reason": None, "description": None, "tags": [], "trusted_image_certificates": None,
    "pinned_availability_zone": None, "scheduler_hints": {},
    "image": {"id": "06ba0ffc-87fa-4aa5-9108-30236dff74ba", "links": [{"href": "http://nova/images/06ba"}],
              "properties": {}},
    "flavor": {"vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0, "original_name": "m1.tiny",
               "extra_specs": {}},
}


@pytest.mark.parametrize("server", [NOVA_SERVER, {**NOVA_SERVER, "status": "ACTIVE", "OS-EXT-STS:vm_state": "active",
                                                  "fault": None, "image": ""}])
def test_a_listing_keeps_all_an_instance_is_made_of(server):
    """DescribeInstances keeps only SERVER_KEYS of each server Nova lists (memory at 10,000 servers): the
    instance built from what is kept is the one built from Nova's whole answer."""
    from ec2proxy.readmodels.instance_shapes import build_instance
    from ec2proxy.readmodels.instances import slim

    kept = slim(server)
    assert "links" not in kept and "metadata" not in kept and kept["flavor"] == {"original_name": "m1.tiny"}
    built = build_instance(kept, None, "p1", {"default": "sg-1"}, "RegionOne")
    assert built == build_instance(server, None, "p1", {"default": "sg-1"}, "RegionOne")
    assert built.shape["State"]["Name"] in ("terminated", "running") and built.shape["PublicIpAddress"] == "172.24.4.9"


def test_not_found_messages_say_what_aws_says(ec2):
    """AWS: "The instance ID 'i-...' does not exist" (the retired proxy said "The InstanceID ID ...")."""
    for call, kwargs, message in (
            (ec2.describe_instances, {"InstanceIds": ["i-0123456789abcdef0"]},
             "The instance ID 'i-0123456789abcdef0' does not exist"),
            (ec2.describe_network_interfaces, {"NetworkInterfaceIds": ["eni-0123456789abcdef0"]},
             "The networkInterface ID 'eni-0123456789abcdef0' does not exist")):
        with pytest.raises(ClientError) as caught:
            call(**kwargs)
        assert caught.value.response["Error"]["Message"] == message
