"""Instance attributes, metadata options, status, console and types, through boto3 and the AWS CLI."""

from __future__ import annotations

import base64
import json
import time

import pytest

from ec2proxy.ec2 import ids
from tests.devclouds import DevCloudProcess
from tests.support import WAIT, code_of

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.3"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


@pytest.fixture(scope="module")
def running(ec2, ami):
    """One running instance with user data, shared by the read-only tests."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t2.micro",
                                    UserData="#cloud-config\n")["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[instance["InstanceId"]], WaiterConfig=WAIT)
    yield instance["InstanceId"]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def attribute(ec2, iid: str, name: str) -> dict:
    return ec2.describe_instance_attribute(InstanceId=iid, Attribute=name)


def test_describe_instance_attribute_reads_each_attribute(ec2, running):
    assert attribute(ec2, running, "instanceType")["InstanceType"] == {"Value": "t2.micro"}
    user_data = attribute(ec2, running, "userData")["UserData"]["Value"]
    assert base64.b64decode(user_data) == b"#cloud-config\n"
    assert attribute(ec2, running, "disableApiTermination")["DisableApiTermination"] == {"Value": False}
    assert attribute(ec2, running, "instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"] == {"Value": "stop"}
    assert attribute(ec2, running, "rootDeviceName")["RootDeviceName"] == {"Value": "/dev/sda1"}
    assert [g["GroupName"] for g in attribute(ec2, running, "groupSet")["Groups"]] == ["default"]
    # an instance booted with no kernel or ramdisk of its own answers an empty one, where an image answers none
    # (the retired ec2-api suite checks both against AWS)
    assert attribute(ec2, running, "kernel")["KernelId"] == {} and attribute(ec2, running, "ramdisk")[
        "RamdiskId"] == {}
    assert code_of(ec2.describe_instance_attribute, InstanceId=running, Attribute="colour") == \
        "InvalidParameterValue"
    assert code_of(ec2.describe_instance_attribute, InstanceId="i-0000000000000000a",
                   Attribute="instanceType") == "InvalidInstanceID.NotFound"


def test_termination_protection_is_honoured_and_lifted(ec2, ami):
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, DisableApiTermination=True)["Instances"]
    iid = instance["InstanceId"]
    assert attribute(ec2, iid, "disableApiTermination")["DisableApiTermination"] == {"Value": True}
    assert code_of(ec2.terminate_instances, InstanceIds=[iid]) == "OperationNotPermitted"
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid, DisableApiTermination={"Value": False},
                   DryRun=True) == "DryRunOperation"
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=WAIT)


def _resize_job(proxy, iid: str) -> dict:
    """The operation that follows the instance's resize, once it has closed."""
    for _ in range(120):
        listed = [json.loads(line) for line in proxy.ec2proxy("operations", "list", "--resource-id", iid,
                                                               "--json").stdout.splitlines()]
        jobs = [o for o in listed if o["action"] == "ModifyInstanceAttribute.Resize"]
        if jobs and jobs[0]["state"] != "pending":
            return jobs[0]
        time.sleep(0.25)
    raise AssertionError(f"the resize of {iid} never closed")


def test_user_data_and_type_change_only_while_stopped(ec2, ami, proxy):
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid,
                   UserData={"Value": b"new"}) == "IncorrectInstanceState"
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid,
                   InstanceType={"Value": "t2.small"}) == "IncorrectInstanceState"
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"#!/bin/sh\necho changed\n"})
    assert base64.b64decode(attribute(ec2, iid, "userData")["UserData"]["Value"]) == b"#!/bin/sh\necho changed\n"
    assert code_of(ec2.modify_instance_attribute, InstanceId=iid,
                   InstanceType={"Value": "no.such.type"}) == "InvalidParameterValue"
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t2.small"})
    described = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert described["State"]["Name"] == "stopped"  # a resize of a stopped instance keeps it stopped
    assert described["InstanceType"] == "t2.small"  # shown as soon as the call succeeded, as on EC2
    assert _resize_job(proxy, iid)["state"] == "succeeded"  # followed to Nova's confirmation without a start
    described = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert (described["State"]["Name"], described["InstanceType"]) == ("stopped", "t2.small")
    ec2.start_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    described = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert described["InstanceType"] == "t2.small"
    assert attribute(ec2, iid, "instanceType")["InstanceType"] == {"Value": "t2.small"}
    ec2.terminate_instances(InstanceIds=[iid])


def test_a_failed_resize_is_reported_and_the_type_nova_kept_shown(ec2, ami, proxy):
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    DevCloudProcess(proxy.data_dir).admin_post("/_devcloud/fail-resizes", {"count": 1})
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t2.small"})
    job = _resize_job(proxy, iid)
    assert job["state"] == "failed" and "No valid host" in job["error"], job
    described = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert (described["State"]["Name"], described["InstanceType"]) == ("stopped", "t2.micro")
    ec2.terminate_instances(InstanceIds=[iid])


def test_unmodifiable_attributes_fail_loudly(ec2, running):
    assert code_of(ec2.modify_instance_attribute, InstanceId=running,
                   EbsOptimized={"Value": True}) == "UnsupportedOperation"
    assert code_of(ec2.modify_instance_attribute, InstanceId=running, Attribute="kernel",
                   Value="aki-00000001") == "UnsupportedOperation"
    assert code_of(ec2.modify_instance_attribute, InstanceId=running) == "InvalidParameterCombination"
    assert code_of(ec2.modify_instance_attribute, InstanceId=running, Attribute="instanceInitiatedShutdownBehavior",
                   Value="explode") == "InvalidParameterValue"


def test_shutdown_behaviour_through_the_attribute_value_spelling(ec2, running):
    ec2.modify_instance_attribute(InstanceId=running, Attribute="instanceInitiatedShutdownBehavior",
                                  Value="terminate")
    assert attribute(ec2, running, "instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"] == {"Value": "terminate"}


def test_group_set_follows_neutron(proxy, ec2, running):
    devcloud = DevCloudProcess(proxy.data_dir)
    sdk = devcloud.sdk()
    group = sdk.network.create_security_group(name="web-attr")
    web = ids.from_uuid("sg", group.id)
    default = attribute(ec2, running, "groupSet")["Groups"][0]["GroupId"]
    ec2.modify_instance_attribute(InstanceId=running, Groups=[default, web])
    assert sorted(g["GroupName"] for g in attribute(ec2, running, "groupSet")["Groups"]) == ["default", "web-attr"]
    ec2.modify_instance_attribute(InstanceId=running, Groups=[web])
    described = ec2.describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]
    assert [(g["GroupName"], g["GroupId"]) for g in described["SecurityGroups"]] == [("web-attr", web)]
    assert code_of(ec2.modify_instance_attribute, InstanceId=running,
                   Groups=["sg-0000000000000000a"]) == "InvalidGroup.NotFound"
    ec2.modify_instance_attribute(InstanceId=running, Groups=[default])


def test_metadata_options_are_kept_and_filterable(ec2, proxy, running):
    answer = ec2.modify_instance_metadata_options(InstanceId=running, HttpTokens="required",
                                                  InstanceMetadataTags="enabled")
    assert answer["InstanceMetadataOptions"]["HttpTokens"] == "required"
    assert answer["InstanceMetadataOptions"]["InstanceMetadataTags"] == "enabled"
    assert answer["InstanceMetadataOptions"]["HttpEndpoint"] == "enabled"  # untouched members keep their value
    found = ec2.describe_instances(Filters=[{"Name": "metadata-options.http-tokens", "Values": ["required"]}])
    assert running in [i["InstanceId"] for r in found["Reservations"] for i in r["Instances"]]
    assert code_of(ec2.modify_instance_metadata_options, InstanceId=running,
                   HttpTokens="sometimes") == "InvalidParameterValue"
    assert code_of(ec2.modify_instance_metadata_options, InstanceId=running,
                   HttpPutResponseHopLimit=65) == "InvalidParameterValue"
    out = json.loads(proxy.aws("ec2", "modify-instance-metadata-options", "--instance-id", running,
                               "--http-tokens", "optional").stdout)
    assert out["InstanceMetadataOptions"]["HttpTokens"] == "optional"


def test_console_output_is_base64_of_novas_console(ec2, proxy, running):
    output = ec2.get_console_output(InstanceId=running)  # botocore decodes Output itself
    assert output["InstanceId"] == running and "Linux version" in output["Output"]
    cli = json.loads(proxy.aws("ec2", "get-console-output", "--instance-id", running).stdout)
    assert "Linux version" in cli["Output"]


def test_instance_status_lists_running_and_optionally_all(ec2, ami, running):
    (stopped,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    sid = stopped["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[sid], WaiterConfig=WAIT)
    ec2.stop_instances(InstanceIds=[sid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[sid], WaiterConfig=WAIT)
    statuses = {s["InstanceId"]: s for s in ec2.describe_instance_status()["InstanceStatuses"]}
    assert running in statuses and sid not in statuses
    assert statuses[running]["InstanceStatus"]["Status"] == "ok"
    assert statuses[running]["SystemStatus"]["Details"] == [{"Name": "reachability", "Status": "passed"}]
    everything = ec2.describe_instance_status(IncludeAllInstances=True,
                                              Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}])
    assert sid in [s["InstanceId"] for s in everything["InstanceStatuses"]]
    ec2.get_waiter("instance_status_ok").wait(InstanceIds=[running], WaiterConfig=WAIT)
    assert code_of(ec2.describe_instance_status, Filters=[{"Name": "mood", "Values": ["x"]}]) == \
        "InvalidParameterValue"
    ec2.terminate_instances(InstanceIds=[sid])


def test_instance_types_come_from_flavors(ec2, proxy):
    micro = ec2.describe_instance_types(InstanceTypes=["t2.micro"])["InstanceTypes"]
    assert len(micro) == 1 and micro[0]["VCpuInfo"]["DefaultVCpus"] >= 1 and micro[0]["MemoryInfo"]["SizeInMiB"] > 0
    names = [t["InstanceType"] for page in ec2.get_paginator("describe_instance_types").paginate(
        PaginationConfig={"PageSize": 5}) for t in page["InstanceTypes"]]
    assert len(names) == len(set(names)) > 5 and "m1.small" in names
    one_cpu = ec2.describe_instance_types(Filters=[{"Name": "vcpu-info.default-vcpus", "Values": ["1"]}])
    assert one_cpu["InstanceTypes"] and all(t["VCpuInfo"]["DefaultVCpus"] == 1 for t in one_cpu["InstanceTypes"])
    assert code_of(ec2.describe_instance_types, InstanceTypes=["x9.huge"]) == "InvalidInstanceType"
    cli = json.loads(proxy.aws("ec2", "describe-instance-types", "--instance-types", "t2.micro").stdout)
    assert cli["InstanceTypes"][0]["InstanceType"] == "t2.micro"


def test_describe_paging_token_goes_on_under_other_filters(ec2, ami):
    """A token is bound to its caller and action, not to the filters: asked with others, the next page goes on
    from its place in their listing, as AWS does (the retired ec2-api's suite checks it against AWS)."""
    reservation = ec2.run_instances(ImageId=ami, MinCount=7, MaxCount=7)
    page = ec2.describe_instances(MaxResults=5, Filters=[{"Name": "reservation-id",
                                                          "Values": [reservation["ReservationId"]]}])
    assert sum(len(r["Instances"]) for r in page["Reservations"]) == 5 and page["NextToken"]
    rest = ec2.describe_instances(MaxResults=5, NextToken=page["NextToken"],
                                  Filters=[{"Name": "reservation-id", "Values": [reservation["ReservationId"]]}])
    assert sum(len(r["Instances"]) for r in rest["Reservations"]) == 2 and "NextToken" not in rest
    unfiltered = ec2.describe_instances(MaxResults=5, NextToken=page["NextToken"])
    everything = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert [i["InstanceId"] for r in unfiltered["Reservations"] for i in r["Instances"]] == everything[5:10]
    assert code_of(ec2.describe_instances, NextToken="garbage!") == "InvalidNextToken"
    ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in reservation["Instances"]])


def test_source_dest_check_is_the_ports_and_can_be_turned_off(ec2, running):
    """A NAT or router instance: Neutron lets its ports carry any address (allowed address pairs), its
    security groups still applying."""
    assert attribute(ec2, running, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    ec2.modify_instance_attribute(InstanceId=running, SourceDestCheck={"Value": False})
    assert attribute(ec2, running, "sourceDestCheck")["SourceDestCheck"] == {"Value": False}
    shown = ec2.describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]
    assert shown["SourceDestCheck"] is False
    eni = shown["NetworkInterfaces"][0]["NetworkInterfaceId"]
    (interface,) = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"]
    assert interface["SourceDestCheck"] is False and interface["Groups"]  # the groups still apply
    ec2.modify_instance_attribute(InstanceId=running, Attribute="sourceDestCheck", Value="true")
    assert attribute(ec2, running, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    for name, expected in (("ebsOptimized", {"Value": False}), ("productCodes", []),
                           ("disableApiStop", {"Value": False}), ("enaSupport", {"Value": True})):
        member = {"ebsOptimized": "EbsOptimized", "productCodes": "ProductCodes", "disableApiStop": "DisableApiStop",
                  "enaSupport": "EnaSupport"}[name]
        assert attribute(ec2, running, name).get(member, []) == expected, name


def test_password_data_is_novas_server_password(ec2, running):
    """A Linux guest posts none: PasswordData is empty, as AWS answers."""
    answer = ec2.get_password_data(InstanceId=running)
    assert answer["InstanceId"] == running and answer["PasswordData"] == "" and answer["Timestamp"]
    assert code_of(ec2.get_password_data, InstanceId="i-0123456789abcdef0") == "InvalidInstanceID.NotFound"


def test_a_guest_that_shuts_down_is_terminated_when_set_so(ec2, ami, proxy):
    """InstanceInitiatedShutdownBehavior ``terminate``: a guest powering itself off (Nova stops the server,
    nobody called EC2) terminates its instance, as on AWS. The default behaviour stops it, and StopInstances
    stops an instance set to terminate."""
    launched = {behaviour: ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1,
                                             InstanceInitiatedShutdownBehavior=behaviour)["Instances"][0]["InstanceId"]
                for behaviour in ("terminate", "stop")}
    (stopped,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    stopped = stopped["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[*launched.values(), stopped], WaiterConfig=WAIT)
    proxy.aws("ec2", "modify-instance-attribute", "--instance-id", stopped,
              "--instance-initiated-shutdown-behavior", "terminate")
    assert ec2.describe_instance_attribute(InstanceId=stopped, Attribute="instanceInitiatedShutdownBehavior")[
        "InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[stopped], WaiterConfig=WAIT)

    cloud = DevCloudProcess(proxy.data_dir)
    nova = {ids.from_uuid("i", s.id): s.id for s in cloud.sdk().compute.servers()}
    for instance_id in launched.values():
        assert cloud.admin_post("/_devcloud/guest-shutdown", {"server_id": nova[instance_id]})["status"] == "SHUTOFF"
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[launched["terminate"]],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 40})
    # the look that terminated it saw the other two as well
    shown = {i["InstanceId"]: i["State"]["Name"] for r in ec2.describe_instances(
        InstanceIds=[launched["stop"], stopped])["Reservations"] for i in r["Instances"]}
    assert shown == {launched["stop"]: "stopped", stopped: "stopped"}
    ec2.terminate_instances(InstanceIds=[launched["stop"], stopped])


def test_reset_instance_attribute_resets_what_aws_resets(ec2, running, proxy):
    """ResetInstanceAttribute: sourceDestCheck back on (boto3 and the AWS CLI), kernel, ramdisk and
    disableApiStop as they always are here; what AWS does not reset is InvalidParameterValue."""
    ec2.modify_instance_attribute(InstanceId=running, SourceDestCheck={"Value": False})
    ec2.reset_instance_attribute(InstanceId=running, Attribute="sourceDestCheck")
    assert attribute(ec2, running, "sourceDestCheck")["SourceDestCheck"] == {"Value": True}
    ec2.modify_instance_attribute(InstanceId=running, SourceDestCheck={"Value": False})
    proxy.aws("ec2", "reset-instance-attribute", "--instance-id", running, "--attribute", "sourceDestCheck")
    shown = ec2.describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]
    assert shown["SourceDestCheck"] is True and shown["NetworkInterfaces"][0]["SourceDestCheck"] is True
    for name in ("kernel", "ramdisk", "disableApiStop"):
        ec2.reset_instance_attribute(InstanceId=running, Attribute=name)
    for name in ("disableApiTermination", "groupSet", "instanceType", "userData"):
        assert code_of(ec2.reset_instance_attribute, InstanceId=running, Attribute=name) == "InvalidParameterValue"
    assert code_of(ec2.reset_instance_attribute, InstanceId="i-0123456789abcdef0",
                   Attribute="sourceDestCheck") == "InvalidInstanceID.NotFound"
    assert code_of(ec2.reset_instance_attribute, InstanceId=running, Attribute="sourceDestCheck",
                   DryRun=True) == "DryRunOperation"


def test_a_start_right_after_a_type_change_races_the_resize_job_and_both_win(ec2, ami, proxy):
    """StartInstances and the job that follows the resize both find Nova waiting for the confirmation; whichever
    confirms second is told "Instance has not been resized" (real Nova's 400), which is no failure: the start
    goes on and the job closes succeeded. Before, the start failed about every other time."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"]
    iid = instance["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
    for size in ("t2.small", "t2.medium", "t2.small", "t2.medium"):
        ec2.stop_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=WAIT)
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": size})
        ec2.start_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=WAIT)
        assert attribute(ec2, iid, "instanceType")["InstanceType"] == {"Value": size}
    assert _resize_job(proxy, iid)["state"] == "succeeded"
    ec2.terminate_instances(InstanceIds=[iid])


def test_instance_type_offerings_by_region_and_zone(ec2, proxy):
    """DescribeInstanceTypeOfferings (Terraform's aws_ec2_instance_type_offering): every flavor, in the region
    and in each zone Nova offers, found by instance-type and location."""
    types = sorted(t["InstanceType"] for page in ec2.get_paginator("describe_instance_types").paginate()
                   for t in page["InstanceTypes"])
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    region = [o for page in ec2.get_paginator("describe_instance_type_offerings").paginate()
              for o in page["InstanceTypeOfferings"]]
    assert sorted(o["InstanceType"] for o in region) == types
    assert {(o["LocationType"], o["Location"]) for o in region} == {("region", "RegionOne")}
    in_zones = ec2.describe_instance_type_offerings(LocationType="availability-zone", Filters=[
        {"Name": "instance-type", "Values": ["t2.micro"]}])["InstanceTypeOfferings"]
    assert sorted(o["Location"] for o in in_zones) == sorted(zones)
    one = ec2.describe_instance_type_offerings(LocationType="availability-zone", Filters=[
        {"Name": "location", "Values": [zones[0]]}, {"Name": "instance-type", "Values": ["t3.*"]}])[
        "InstanceTypeOfferings"]
    assert sorted(o["InstanceType"] for o in one) == [t for t in types if t.startswith("t3.")]
    by_id = ec2.describe_instance_type_offerings(LocationType="availability-zone-id")["InstanceTypeOfferings"]
    zone_ids = {z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    assert {o["Location"] for o in by_id} == zone_ids
    assert code_of(ec2.describe_instance_type_offerings, LocationType="outpost") == "InvalidParameterValue"
    assert code_of(ec2.describe_instance_type_offerings, Filters=[{"Name": "colour", "Values": ["x"]}]) == \
        "InvalidParameterValue"
    listed = json.loads(proxy.aws("ec2", "describe-instance-type-offerings", "--filters",
                                  "Name=instance-type,Values=t2.micro").stdout)
    assert listed["InstanceTypeOfferings"] == [{"InstanceType": "t2.micro", "LocationType": "region",
                                                "Location": "RegionOne"}]
