"""CreateTags, DeleteTags, DescribeTags on every resource type we expose: limits, filters, paging."""

from __future__ import annotations

import json

import pytest

from tests.support import code_of

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


@pytest.fixture(scope="module")
def resources(ec2, ami):
    """One resource of each kind this proxy can tag so far."""
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    group = ec2.create_security_group(GroupName="tagged", Description="t")["GroupId"]
    key = ec2.create_key_pair(KeyName="tagged")["KeyPairId"]
    yield {"instance": instance["InstanceId"], "security-group": group, "key-pair": key, "image": ami}
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])


def tags_of(ec2, resource_id: str) -> dict:
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def test_every_resource_type_is_tagged_and_described(ec2, resources):
    ec2.create_tags(Resources=list(resources.values()), Tags=[{"Key": "env", "Value": "test"}, {"Key": "empty"}])
    for kind, resource_id in resources.items():
        found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [resource_id]}])["Tags"]
        assert {(t["Key"], t["Value"], t["ResourceType"]) for t in found} == {("env", "test", kind),
                                                                            ("empty", "", kind)}
    by_type = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["security-group"]},
                                         {"Name": "key", "Values": ["env"]}])["Tags"]
    assert [t["ResourceId"] for t in by_type] == [resources["security-group"]]
    described = ec2.describe_instances(InstanceIds=[resources["instance"]])["Reservations"][0]["Instances"][0]
    assert {"Key": "env", "Value": "test"} in described["Tags"]
    assert ec2.describe_images(ImageIds=[resources["image"]])["Images"][0]["Tags"] != []


def test_create_tags_overwrites_and_delete_tags_matches_values(ec2, resources):
    group = resources["security-group"]
    ec2.create_tags(Resources=[group], Tags=[{"Key": "colour", "Value": "red"}, {"Key": "size", "Value": "L"}])
    ec2.create_tags(Resources=[group], Tags=[{"Key": "colour", "Value": "blue"}])
    assert tags_of(ec2, group)["colour"] == "blue"
    ec2.delete_tags(Resources=[group], Tags=[{"Key": "colour", "Value": "red"}])  # another value: kept
    assert tags_of(ec2, group)["colour"] == "blue"
    ec2.delete_tags(Resources=[group], Tags=[{"Key": "colour"}])  # no value: whatever it is
    assert "colour" not in tags_of(ec2, group) and tags_of(ec2, group)["size"] == "L"
    ec2.delete_tags(Resources=[group])  # no tags named: all of them
    assert tags_of(ec2, group) == {}


@pytest.mark.parametrize("tags, code", [
    ([{"Key": "k" * 129, "Value": "v"}], "InvalidParameterValue"),
    ([{"Key": "k", "Value": "v" * 257}], "InvalidParameterValue"),
    ([{"Key": "aws:reserved", "Value": "v"}], "InvalidParameterValue"),
    ([{"Key": "", "Value": "v"}], "InvalidParameterValue"),
    ([{"Key": f"k{i}", "Value": "v"} for i in range(51)], "TagLimitExceeded"),
])
def test_tag_limits(ec2, resources, tags, code):
    assert code_of(ec2.create_tags, Resources=[resources["security-group"]], Tags=tags) == code


def test_fifty_tags_per_resource_counting_those_it_has(ec2, resources):
    key = resources["key-pair"]
    ec2.create_tags(Resources=[key], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(48)])
    ec2.create_tags(Resources=[key], Tags=[{"Key": "k0", "Value": "again"}])  # overwriting does not count
    assert code_of(ec2.create_tags, Resources=[key], Tags=[{"Key": f"new{i}", "Value": "v"} for i in range(5)]) == \
        "TagLimitExceeded"
    assert len(tags_of(ec2, key)) <= 50 and not any(k.startswith("new") for k in tags_of(ec2, key))
    ec2.delete_tags(Resources=[key])


@pytest.mark.parametrize("resource_id, code", [
    ("i-0123456789abcdef0", "InvalidInstanceID.NotFound"),
    ("sg-0123456789abcdef0", "InvalidGroupId.NotFound"),
    ("ami-0123456789abcdef0", "InvalidAMIID.NotFound"),
    ("i-nothex", "InvalidInstanceID.Malformed"),
    ("bogus-0123456789abcdef0", "InvalidID"),
])
def test_tags_need_an_existing_resource_of_the_caller(ec2, resource_id, code):
    assert code_of(ec2.create_tags, Resources=[resource_id], Tags=[{"Key": "a", "Value": "b"}]) == code


def test_another_project_can_neither_tag_nor_see_our_resources(ec2, alt, resources):
    ec2.create_tags(Resources=[resources["instance"]], Tags=[{"Key": "mine", "Value": "yes"}])
    assert code_of(alt.create_tags, Resources=[resources["instance"]], Tags=[{"Key": "a", "Value": "b"}]) == \
        "InvalidInstanceID.NotFound"
    assert code_of(alt.create_tags, Resources=[resources["security-group"]], Tags=[{"Key": "a", "Value": "b"}]) == \
        "InvalidGroupId.NotFound"
    assert alt.describe_tags(Filters=[{"Name": "resource-id", "Values": [resources["instance"]]}])["Tags"] == []
    alt.delete_tags(Resources=[resources["instance"]])  # touches only alt's own tags
    assert tags_of(ec2, resources["instance"])["mine"] == "yes"


def test_more_than_a_thousand_tags_page_and_filter(ec2):
    groups = [ec2.create_security_group(GroupName=f"many-{i}", Description="m")["GroupId"] for i in range(24)]
    ec2.create_tags(Resources=groups, Tags=[{"Key": f"key-{k:02d}", "Value": f"value-{k % 7}"} for k in range(50)])
    seen, token, pages = [], None, 0
    while True:
        page = ec2.describe_tags(MaxResults=100, Filters=[{"Name": "resource-type", "Values": ["security-group"]},
                                                          {"Name": "key", "Values": ["key-*"]}],
                                 **({"NextToken": token} if token else {}))
        seen += [(t["ResourceId"], t["Key"]) for t in page["Tags"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 24 * 50 and pages == 12
    sevens = ec2.describe_tags(Filters=[{"Name": "value", "Values": ["value-3"]},
                                        {"Name": "resource-id", "Values": groups[:2]}])["Tags"]
    assert len(sevens) == 2 * len([k for k in range(50) if k % 7 == 3])
    by_tag = ec2.describe_security_groups(Filters=[{"Name": "tag:key-49", "Values": ["value-0"]}])["SecurityGroups"]
    assert sorted(g["GroupId"] for g in by_tag) == sorted(groups)
    assert code_of(ec2.describe_tags, MaxResults=2) == "InvalidParameterValue"
    assert code_of(ec2.describe_tags, NextToken="garbage") == "InvalidNextToken"


def test_aws_cli_tags(proxy, resources):
    proxy.aws("ec2", "create-tags", "--resources", resources["security-group"], "--tags", "Key=cli,Value=yes")
    listed = json.loads(proxy.aws("ec2", "describe-tags", "--filters", "Name=key,Values=cli").stdout)
    assert [(t["ResourceId"], t["Value"]) for t in listed["Tags"]] == [(resources["security-group"], "yes")]
    proxy.aws("ec2", "delete-tags", "--resources", resources["security-group"], "--tags", "Key=cli")
    assert json.loads(proxy.aws("ec2", "describe-tags", "--filters", "Name=key,Values=cli").stdout)["Tags"] == []
