"""Security groups through boto3 and the AWS CLI: rule sets round-trip exactly, errors as EC2 names them."""

from __future__ import annotations

import json

import pytest

from tests.devclouds import DevCloudProcess
from tests.support import code_of

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.2"}


@pytest.fixture(scope="module")
def ec2(proxy):
    return proxy.client()


def default_vpc(ec2) -> str:
    (attribute,) = ec2.describe_account_attributes(AttributeNames=["default-vpc"])["AccountAttributes"]
    return attribute["AttributeValues"][0]["AttributeValue"]


def canonical(permissions: list[dict]) -> list[tuple]:
    """A permission list as a sorted set of (protocol, from, to, kind, source, description)."""
    out = []
    for p in permissions:
        head = (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"))
        out += [(*head, "cidr", r["CidrIp"], r.get("Description")) for r in p.get("IpRanges", [])]
        out += [(*head, "cidr6", r["CidrIpv6"], r.get("Description")) for r in p.get("Ipv6Ranges", [])]
        out += [(*head, "group", r["GroupId"], r.get("Description")) for r in p.get("UserIdGroupPairs", [])]
    return sorted(out, key=str)


def group(ec2, group_id: str) -> dict:
    return ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]


def test_default_group_is_there_in_the_default_vpc(ec2):
    (default,) = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert default["VpcId"] == default_vpc(ec2) and default["VpcId"].startswith("vpc-")
    assert canonical(default["IpPermissions"]) == [("-1", None, None, "group", default["GroupId"], None)]
    assert canonical(default["IpPermissionsEgress"]) == [("-1", None, None, "cidr", "0.0.0.0/0", None),
                                                         ("-1", None, None, "cidr6", "::/0", None)]


def test_a_rule_set_round_trips_exactly(ec2):
    created = ec2.create_security_group(GroupName="web", Description="web servers", VpcId=default_vpc(ec2))
    gid = created["GroupId"]
    peer = ec2.create_security_group(GroupName="peer", Description="peers")["GroupId"]
    ingress = [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh from the office"}, {"CidrIp": "192.0.2.0/24"}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "172.16.0.0/12"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": peer, "Description": "the peers"}]},
        {"IpProtocol": "50", "IpRanges": [{"CidrIp": "198.51.100.7/32"}]},
    ]
    answer = ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=ingress)
    assert answer["Return"] is True and all(r["SecurityGroupRuleId"].startswith("sgr-")
                                            for r in answer["SecurityGroupRules"])
    egress = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]
    ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=egress)
    shown = group(ec2, gid)
    assert canonical(shown["IpPermissions"]) == canonical(ingress)
    assert canonical(shown["IpPermissionsEgress"]) == canonical(
        egress + [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    names = {p["GroupId"]: p.get("GroupName") for e in shown["IpPermissions"] for p in e["UserIdGroupPairs"]}
    assert names == {peer: "peer"}
    # protocol numbers come back by name, as EC2 shows them
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "6", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    assert ("tcp", 8080, 8080, "cidr", "10.0.0.0/8", None) in canonical(group(ec2, gid)["IpPermissions"])

    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=[ingress[0], ingress[5]])
    ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=egress)
    after = group(ec2, gid)
    expected = [r for r in canonical(ingress) if r[:3] != ("tcp", 22, 22) and r[3] != "group"]
    assert canonical(after["IpPermissions"]) == sorted(expected + [("tcp", 8080, 8080, "cidr", "10.0.0.0/8", None)],
                                                       key=str)
    assert ("tcp", 5432, 5432) not in [r[:3] for r in canonical(after["IpPermissionsEgress"])]


def test_duplicates_and_missing_rules_change_nothing(ec2):
    gid = ec2.create_security_group(GroupName="dups", Description="d")["GroupId"]
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[ssh])
    web = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    assert code_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[web, ssh]) == \
        "InvalidPermission.Duplicate"
    assert canonical(group(ec2, gid)["IpPermissions"]) == canonical([ssh])  # web was not half-added
    assert code_of(ec2.revoke_security_group_ingress, GroupId=gid, IpPermissions=[ssh, web]) == \
        "InvalidPermission.NotFound"
    assert canonical(group(ec2, gid)["IpPermissions"]) == canonical([ssh])  # ssh was not half-revoked
    assert code_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[web], DryRun=True) == \
        "DryRunOperation"
    assert canonical(group(ec2, gid)["IpPermissions"]) == canonical([ssh])


def test_legacy_flat_parameters(ec2):
    ec2.create_security_group(GroupName="legacy", Description="old tools")
    source = ec2.create_security_group(GroupName="legacy-src", Description="source")["GroupId"]
    ec2.authorize_security_group_ingress(GroupName="legacy", IpProtocol="tcp", FromPort=22, ToPort=22,
                                         CidrIp="203.0.113.0/24")
    ec2.authorize_security_group_ingress(GroupName="legacy", SourceSecurityGroupName="legacy-src")
    rules = canonical(ec2.describe_security_groups(GroupNames=["legacy"])["SecurityGroups"][0]["IpPermissions"])
    assert ("tcp", 22, 22, "cidr", "203.0.113.0/24", None) in rules
    assert ("-1", None, None, "group", source, None) in rules
    ec2.revoke_security_group_ingress(GroupName="legacy", IpProtocol="tcp", FromPort=22, ToPort=22,
                                      CidrIp="203.0.113.0/24")
    rules = canonical(ec2.describe_security_groups(GroupNames=["legacy"])["SecurityGroups"][0]["IpPermissions"])
    assert rules == [("-1", None, None, "group", source, None)]


@pytest.mark.parametrize("permission, code", [
    ({"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 90, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 1, "ToPort": 70000, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "carrier-pigeon", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "256", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "icmp", "FromPort": -1, "ToPort": 3, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.300/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "::/0"}]}, "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "10.0.0.0/8"}]},
     "InvalidParameterValue"),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}, "MissingParameter"),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": "pl-12345678"}]},
     "UnsupportedOperation"),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": "sg-0123456789abcdef0"}]},
     "InvalidGroup.NotFound"),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "UserIdGroupPairs": [{"GroupId": "sg-nope"}]},
     "InvalidGroupId.Malformed"),
])
def test_bad_permissions_get_ec2_errors(ec2, permission, code):
    gid = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    assert code_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=[permission]) == code


def test_create_and_delete_errors(ec2, ami):
    vpc = default_vpc(ec2)
    assert code_of(ec2.create_security_group, GroupName="default", Description="x") == "InvalidParameterValue"
    assert code_of(ec2.create_security_group, GroupName="sg-like", Description="x") == "InvalidParameterValue"
    assert code_of(ec2.create_security_group, GroupName="ok", Description="x",
                   VpcId="vpc-0123456789abcdef0") == "InvalidVpcID.NotFound"
    ec2.create_security_group(GroupName="once", Description="x", VpcId=vpc)
    assert code_of(ec2.create_security_group, GroupName="once", Description="x") == "InvalidGroup.Duplicate"
    assert code_of(ec2.create_security_group, GroupName="dry", Description="x", DryRun=True) == "DryRunOperation"
    assert code_of(ec2.describe_security_groups, GroupNames=["dry"]) == "InvalidGroup.NotFound"
    assert code_of(ec2.describe_security_groups, GroupIds=["sg-0123456789abcdef0"]) == "InvalidGroup.NotFound"
    assert code_of(ec2.delete_security_group, GroupName="default") == "CannotDelete"
    assert code_of(ec2.delete_security_group, GroupId="sg-0123456789abcdef0") == "InvalidGroup.NotFound"
    busy = ec2.create_security_group(GroupName="busy", Description="in use")["GroupId"]
    (instance,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, SecurityGroupIds=[busy])["Instances"]
    assert code_of(ec2.delete_security_group, GroupId=busy) == "DependencyViolation"
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance["InstanceId"]],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert ec2.delete_security_group(GroupId=busy)["Return"] is True
    ec2.delete_security_group(GroupName="once")
    assert code_of(ec2.describe_security_groups, GroupIds=[busy]) == "InvalidGroup.NotFound"


def test_filters_tags_and_paging(ec2):
    gid = ec2.create_security_group(GroupName="filtered", Description="find me", TagSpecifications=[
        {"ResourceType": "security-group", "Tags": [{"Key": "tier", "Value": "db"}]}])["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}])

    def found(*filters) -> list[str]:
        return [g["GroupId"] for g in ec2.describe_security_groups(Filters=list(filters))["SecurityGroups"]]

    assert found({"Name": "tag:tier", "Values": ["db"]}) == [gid]
    assert found({"Name": "ip-permission.from-port", "Values": ["5432"]}) == [gid]
    assert found({"Name": "ip-permission.cidr", "Values": ["10.9.*"]}) == [gid]
    assert found({"Name": "description", "Values": ["find me"]}, {"Name": "group-name", "Values": ["filt*"]}) == [gid]
    assert gid in found({"Name": "vpc-id", "Values": [default_vpc(ec2)]})
    assert code_of(ec2.describe_security_groups, Filters=[{"Name": "colour", "Values": ["x"]}]) == \
        "InvalidParameterValue"
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    ingress = [r for r in rules if not r["IsEgress"]]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"], r["CidrIpv4"]) for r in ingress] == [
        ("tcp", 5432, 5432, "10.9.0.0/16")]
    by_id = ec2.describe_security_group_rules(SecurityGroupRuleIds=[ingress[0]["SecurityGroupRuleId"]])
    assert by_id["SecurityGroupRules"][0]["GroupId"] == gid
    assert code_of(ec2.describe_security_group_rules, SecurityGroupRuleIds=["sgr-0123456789abcdef0"]) == \
        "InvalidSecurityGroupRuleId.NotFound"
    everything = {g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    paged, token = set(), None
    while True:
        page = ec2.describe_security_groups(MaxResults=5, **({"NextToken": token} if token else {}))
        paged |= {g["GroupId"] for g in page["SecurityGroups"]}
        token = page.get("NextToken")
        if not token:
            break
    assert paged == everything and len(everything) > 5


def test_account_attributes(ec2):
    attributes = {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
                  for a in ec2.describe_account_attributes()["AccountAttributes"]}
    assert attributes["supported-platforms"] == ["VPC"]
    assert attributes["default-vpc"][0].startswith("vpc-")
    assert attributes["max-elastic-ips"] == ["50"]
    assert attributes["max-instances"][0] in ("unlimited",) or attributes["max-instances"][0].isdigit()
    assert code_of(ec2.describe_account_attributes, AttributeNames=["colour"]) == "InvalidParameterValue"


def test_aws_cli_round_trip(proxy):
    created = json.loads(proxy.aws("ec2", "create-security-group", "--group-name", "cli", "--description",
                                   "from the cli").stdout)
    proxy.aws("ec2", "authorize-security-group-ingress", "--group-id", created["GroupId"], "--protocol", "tcp",
              "--port", "22", "--cidr", "10.0.0.0/8")
    shown = json.loads(proxy.aws("ec2", "describe-security-groups", "--group-ids", created["GroupId"]).stdout)
    assert canonical(shown["SecurityGroups"][0]["IpPermissions"]) == [("tcp", 22, 22, "cidr", "10.0.0.0/8", None)]
    failed = proxy.aws("ec2", "authorize-security-group-ingress", "--group-id", created["GroupId"], "--protocol",
                       "tcp", "--port", "22", "--cidr", "10.0.0.0/8", check=False)
    assert failed.returncode != 0 and "InvalidPermission.Duplicate" in failed.stderr
    proxy.aws("ec2", "delete-security-group", "--group-id", created["GroupId"])


def _rules(ec2, group_id: str) -> dict[str, dict]:
    found = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group_id]}])
    return {r["SecurityGroupRuleId"]: r for r in found["SecurityGroupRules"]}


def test_rule_descriptions_change_in_place(ec2):
    """As Ansible's ec2_security_group does when only descriptions differ: nothing about the traffic changes."""
    group = ec2.create_security_group(GroupName="described-rules", Description="d")["GroupId"]
    ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
    created = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {**ssh, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "old"}]}])["SecurityGroupRules"]
    (rule_id,) = [r["SecurityGroupRuleId"] for r in created]
    ec2.update_security_group_rule_descriptions_ingress(GroupId=group, IpPermissions=[
        {**ssh, "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "new"}]}])
    (shown,) = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert shown["IpRanges"] == [{"CidrIp": "10.0.0.0/8", "Description": "new"}]
    assert _rules(ec2, group)[rule_id]["Description"] == "new"  # the same rule, under the same id
    ec2.update_security_group_rule_descriptions_ingress(GroupId=group, SecurityGroupRuleDescriptions=[
        {"SecurityGroupRuleId": rule_id, "Description": "by id"}])
    assert _rules(ec2, group)[rule_id]["Description"] == "by id"
    egress_id = next(r for r in _rules(ec2, group).values() if r["IsEgress"] and "CidrIpv4" in r)[
        "SecurityGroupRuleId"]
    ec2.update_security_group_rule_descriptions_egress(GroupId=group, SecurityGroupRuleDescriptions=[
        {"SecurityGroupRuleId": egress_id, "Description": "out"}])
    assert _rules(ec2, group)[egress_id]["Description"] == "out"
    assert code_of(ec2.update_security_group_rule_descriptions_ingress, GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 23, "ToPort": 23, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]) == \
        "InvalidPermission.NotFound"
    assert code_of(ec2.update_security_group_rule_descriptions_ingress, GroupId=group,
                   SecurityGroupRuleDescriptions=[{"SecurityGroupRuleId": egress_id, "Description": "x"}]) == \
        "InvalidSecurityGroupRuleId.NotFound"  # an egress rule is not an ingress rule
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[{**ssh, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    ec2.delete_security_group(GroupId=group)


def test_modify_security_group_rules_keeps_the_rule_id_and_never_opens_a_gap(ec2, proxy):
    read, clear = DevCloudProcess(proxy.data_dir).request_log()
    group = ec2.create_security_group(GroupName="modified-rules", Description="d")["GroupId"]
    (rule,) = ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}])[
        "SecurityGroupRules"]
    rule_id = rule["SecurityGroupRuleId"]
    ec2.create_tags(Resources=[rule_id], Tags=[{"Key": "keep", "Value": "me"}])
    clear()
    ec2.modify_security_group_rules(GroupId=group, SecurityGroupRules=[{"SecurityGroupRuleId": rule_id,
        "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv4": "10.2.0.0/16",
                              "Description": "https now"}}])
    calls = [(c["method"], c["raw_path"]) for c in read() if "security-group-rules" in c["raw_path"]]
    assert [m for m, _ in calls] == ["POST", "DELETE"], calls  # the new rule is in place before the old goes
    shown = _rules(ec2, group)[rule_id]
    assert (shown["FromPort"], shown["ToPort"], shown["CidrIpv4"], shown["Description"]) == \
        (443, 443, "10.2.0.0/16", "https now")
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [rule_id]}])["Tags"][0]["Value"] == "me"
    ec2.modify_security_group_rules(GroupId=group, SecurityGroupRules=[{"SecurityGroupRuleId": rule_id,
        "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIpv4": "10.2.0.0/16",
                              "Description": "only the words"}}])
    assert _rules(ec2, group)[rule_id]["Description"] == "only the words"
    assert code_of(ec2.modify_security_group_rules, GroupId=group, SecurityGroupRules=[
        {"SecurityGroupRuleId": "sgr-0123456789abcdef0", "SecurityGroupRule": {"IpProtocol": "-1",
                                                                               "CidrIpv4": "1.2.3.4/32"}}]) == \
        "InvalidSecurityGroupRuleId.NotFound"
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.2.0.0/16"}]}])
    assert rule_id not in _rules(ec2, group)
    ec2.delete_security_group(GroupId=group)
