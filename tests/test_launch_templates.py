"""Launch templates (issue 30) through boto3 and the AWS CLI on the embedded default: made exactly once per
ClientToken, versioned (SourceVersion merged as AWS merges it, $Latest/$Default, ranges, paging), the default
version moved and kept from deletion, read back from an instance, and launched from (the call's parameters win,
the template's tags apply, the instances say which template and version made them, what the cloud cannot do
refused at launch as the same direct call is)."""

from __future__ import annotations

import json

import pytest

from tests.support import WAIT, code_of

pytestmark = pytest.mark.e2e
PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def test_a_template_is_made_once_per_client_token_and_named_once(ec2, ami):
    data = {"ImageId": ami, "InstanceType": "t2.micro"}
    made = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData=data, ClientToken="lt-once",
                                      VersionDescription="first", TagSpecifications=[
                                          {"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "a"}]}
                                      ])["LaunchTemplate"]
    assert made["LaunchTemplateId"].startswith("lt-") and made["LaunchTemplateName"] == "web"
    assert made["DefaultVersionNumber"] == 1 and made["LatestVersionNumber"] == 1
    assert made["Tags"] == [{"Key": "team", "Value": "a"}] and made["CreatedBy"].startswith("arn:aws:iam::")
    again = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData=data, ClientToken="lt-once",
                                       VersionDescription="first", TagSpecifications=[
                                           {"ResourceType": "launch-template",
                                            "Tags": [{"Key": "team", "Value": "a"}]}])["LaunchTemplate"]
    assert again["LaunchTemplateId"] == made["LaunchTemplateId"]
    assert code_of(ec2.create_launch_template, LaunchTemplateName="web", LaunchTemplateData=data,
                   ClientToken="lt-once") == "IdempotentParameterMismatch"
    assert code_of(ec2.create_launch_template, LaunchTemplateName="web", LaunchTemplateData=data) == \
        "InvalidLaunchTemplateName.AlreadyExistsException"
    assert code_of(ec2.create_launch_template, LaunchTemplateName="no spaces allowed", LaunchTemplateData=data) == \
        "InvalidLaunchTemplateName.MalformedException"
    assert code_of(ec2.create_launch_template, LaunchTemplateName="bad-image",
                   LaunchTemplateData={"ImageId": "ami-nothex"}) == "InvalidAMIID.Malformed"
    listed = ec2.describe_launch_templates(Filters=[{"Name": "tag:team", "Values": ["a"]}])["LaunchTemplates"]
    assert [t["LaunchTemplateId"] for t in listed] == [made["LaunchTemplateId"]]
    assert code_of(ec2.describe_launch_templates, LaunchTemplateNames=["nope"]) == \
        "InvalidLaunchTemplateName.NotFoundException"
    assert code_of(ec2.describe_launch_templates, LaunchTemplateIds=["lt-0123456789abcdef0"]) == \
        "InvalidLaunchTemplateId.NotFound"
    deleted = ec2.delete_launch_template(LaunchTemplateName="web")["LaunchTemplate"]
    assert deleted["LaunchTemplateId"] == made["LaunchTemplateId"]
    assert code_of(ec2.describe_launch_templates, LaunchTemplateIds=[made["LaunchTemplateId"]]) == \
        "InvalidLaunchTemplateId.NotFound"


def test_versions_merge_their_source_and_the_default_moves(ec2, ami):
    template = ec2.create_launch_template(LaunchTemplateName="versions", LaunchTemplateData={
        "ImageId": ami, "InstanceType": "t2.micro", "KeyName": "none-yet",
        "MetadataOptions": {"HttpTokens": "required"}})["LaunchTemplate"]["LaunchTemplateId"]
    second = ec2.create_launch_template_version(LaunchTemplateId=template, SourceVersion="1",
                                                VersionDescription="bigger", ClientToken="v2-once",
                                                LaunchTemplateData={"InstanceType": "t2.small"})
    version = second["LaunchTemplateVersion"]
    assert version["VersionNumber"] == 2 and version["DefaultVersion"] is False
    assert version["LaunchTemplateData"] == {"ImageId": ami, "InstanceType": "t2.small", "KeyName": "none-yet",
                                             "MetadataOptions": {"HttpTokens": "required"}}
    replayed = ec2.create_launch_template_version(LaunchTemplateId=template, SourceVersion="1",
                                                  VersionDescription="bigger", ClientToken="v2-once",
                                                  LaunchTemplateData={"InstanceType": "t2.small"})
    assert replayed["LaunchTemplateVersion"]["VersionNumber"] == 2  # the same version, not a third
    ec2.create_launch_template_version(LaunchTemplateName="versions", LaunchTemplateData={"ImageId": ami})

    def numbers(**kw) -> list[int]:
        return [v["VersionNumber"] for v in ec2.describe_launch_template_versions(
            LaunchTemplateId=template, **kw)["LaunchTemplateVersions"]]

    assert numbers() == [3, 2, 1]
    assert numbers(Versions=["$Latest"]) == [3] and numbers(Versions=["$Default"]) == [1]
    assert numbers(MinVersion="2", MaxVersion="3") == [3, 2]
    assert numbers(Filters=[{"Name": "instance-type", "Values": ["t2.small"]}]) == [2]
    first_page = ec2.describe_launch_template_versions(LaunchTemplateId=template, MaxResults=2)
    assert len(first_page["LaunchTemplateVersions"]) == 2 and first_page["NextToken"]
    rest = ec2.describe_launch_template_versions(LaunchTemplateId=template, MaxResults=2,
                                                 NextToken=first_page["NextToken"])
    assert [v["VersionNumber"] for v in rest["LaunchTemplateVersions"]] == [1] and "NextToken" not in rest
    assert code_of(ec2.describe_launch_template_versions, LaunchTemplateId=template, Versions=["9"]) == \
        "InvalidLaunchTemplateId.VersionNotFound"

    moved = ec2.modify_launch_template(LaunchTemplateId=template, DefaultVersion="2")["LaunchTemplate"]
    assert moved["DefaultVersionNumber"] == 2 and moved["LatestVersionNumber"] == 3
    assert code_of(ec2.modify_launch_template, LaunchTemplateId=template, DefaultVersion="7") == \
        "InvalidLaunchTemplateId.VersionNotFound"
    outcome = ec2.delete_launch_template_versions(LaunchTemplateId=template, Versions=["1", "2", "8"])
    assert [v["VersionNumber"] for v in outcome["SuccessfullyDeletedLaunchTemplateVersions"]] == [1]
    refused = {v["VersionNumber"]: v["ResponseError"]["Code"]
               for v in outcome["UnsuccessfullyDeletedLaunchTemplateVersions"]}
    assert refused == {2: "unexpectedError", 8: "launchTemplateVersionDoesNotExist"}
    assert numbers() == [3, 2]
    ec2.delete_launch_template(LaunchTemplateId=template)


def test_instances_launch_from_a_template_the_call_winning(ec2, ami):
    template = ec2.create_launch_template(LaunchTemplateName="launcher", LaunchTemplateData={
        "ImageId": ami, "InstanceType": "t2.micro", "UserData": "IyEvYmluL3NoCmVjaG8gaGkK",
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "role", "Value": "web"},
                                                                  {"Key": "env", "Value": "test"}]}]}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=template, SourceVersion="1",
                                       LaunchTemplateData={"InstanceType": "t2.small"})
    launched = ec2.run_instances(MinCount=1, MaxCount=1, ClientToken="from-template",
                                 LaunchTemplate={"LaunchTemplateName": "launcher", "Version": "$Latest"},
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "env", "Value": "prod"}]}])
    (instance,) = launched["Instances"]
    assert instance["ImageId"] == ami and instance["InstanceType"] == "t2.small"  # version 2's type
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags == {"role": "web", "env": "prod", "aws:ec2launchtemplate:id": template,
                    "aws:ec2launchtemplate:version": "2"}
    again = ec2.run_instances(MinCount=1, MaxCount=1, ClientToken="from-template",
                              LaunchTemplate={"LaunchTemplateName": "launcher", "Version": "$Latest"},
                              TagSpecifications=[{"ResourceType": "instance",
                                                  "Tags": [{"Key": "env", "Value": "prod"}]}])
    assert again["ReservationId"] == launched["ReservationId"]  # ClientToken semantics unchanged
    overridden = ec2.run_instances(MinCount=1, MaxCount=1, InstanceType="t2.medium",
                                   LaunchTemplate={"LaunchTemplateId": template})["Instances"][0]
    assert overridden["InstanceType"] == "t2.medium"  # the call wins over version 1 (the default)
    assert {t["Key"]: t["Value"] for t in overridden["Tags"]}["aws:ec2launchtemplate:version"] == "1"
    ids = [instance["InstanceId"], overridden["InstanceId"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=WAIT)

    data = ec2.get_launch_template_data(InstanceId=instance["InstanceId"])["LaunchTemplateData"]
    assert data["ImageId"] == ami and data["InstanceType"] == "t2.small"
    assert data["UserData"] == "IyEvYmluL3NoCmVjaG8gaGkK"
    assert {t["Key"] for t in data["TagSpecifications"][0]["Tags"]} == {"role", "env"}  # never the aws: ones

    ec2.create_launch_template_version(LaunchTemplateId=template, LaunchTemplateData={
        "ImageId": ami, "EbsOptimized": True})
    assert code_of(ec2.run_instances, MinCount=1, MaxCount=1,
                   LaunchTemplate={"LaunchTemplateId": template, "Version": "3"}) == "UnsupportedOperation"
    assert code_of(ec2.run_instances, MinCount=1, MaxCount=1,
                   LaunchTemplate={"LaunchTemplateId": template, "Version": "4"}) == \
        "InvalidLaunchTemplateId.VersionNotFound"
    assert code_of(ec2.run_instances, MinCount=1, MaxCount=1,
                   LaunchTemplate={"LaunchTemplateName": "no-such-template"}) == \
        "InvalidLaunchTemplateName.NotFoundException"
    ec2.terminate_instances(InstanceIds=ids)
    ec2.delete_launch_template(LaunchTemplateId=template)


def test_aws_cli_templates(proxy, ami):
    data = json.dumps({"ImageId": ami, "InstanceType": "t2.micro"})
    made = json.loads(proxy.aws("ec2", "create-launch-template", "--launch-template-name", "cli",
                                "--launch-template-data", data).stdout)["LaunchTemplate"]
    proxy.aws("ec2", "create-launch-template-version", "--launch-template-id", made["LaunchTemplateId"],
              "--source-version", "1", "--launch-template-data", json.dumps({"InstanceType": "t2.small"}))
    proxy.aws("ec2", "modify-launch-template", "--launch-template-name", "cli", "--default-version", "2")
    versions = json.loads(proxy.aws("ec2", "describe-launch-template-versions", "--launch-template-name", "cli",
                                    "--versions", "$Default").stdout)["LaunchTemplateVersions"]
    assert [(v["VersionNumber"], v["LaunchTemplateData"]["InstanceType"]) for v in versions] == [(2, "t2.small")]
    proxy.aws("ec2", "delete-launch-template", "--launch-template-id", made["LaunchTemplateId"])
