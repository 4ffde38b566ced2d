"""Who may change what: the caller's roles in its project decide, through oslo.policy rules an operator can
override in a policy.yaml. The table of every action by role is in test_isolation; here the credential
sources, the policy file and the tools around it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys

import aiohttp
import pytest
from botocore.exceptions import ClientError

from ec2proxy import db
from tests.devclouds import server_for
from tests.support import ROOT, Server, changes_a_reader_tries, ec2proxy_command, nothing_a_reader_tried_shows


def _code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def _ec2_credential(devcloud, user: str) -> dict:
    """An EC2 credential in the dev cloud's Keystone, made by the user itself (as `openstack ec2 credentials
    create` does)."""
    from ec2proxy.cloud import Cloud
    from ec2proxy.cloud.auth import Authenticator

    account = devcloud.accounts[user]

    async def make() -> dict:
        async with aiohttp.ClientSession() as session:
            cloud = Cloud(session, Authenticator({
                "auth_url": f"{devcloud.url}/identity/v3", "auth_type": "password", "username": user,
                "password": account["password"], "project_name": account["project_name"],
                "user_domain_name": "Default", "project_domain_name": "Default"}))
            view = await cloud.view()
            return await view.keystone.create_ec2_credential(view.scoped.user_id, view.project_id)

    return asyncio.run(make())


def test_a_keystone_reader_reads_and_changes_nothing(devcloud, tmp_path):
    """credential_source = keystone: the roles come from the signer's token. The dev cloud's auditor holds only
    Keystone's reader role in demo; what only the proxy keeps (tags, termination protection) stays as it was."""
    member = _ec2_credential(devcloud, "demo")
    auditor = _ec2_credential(devcloud, "auditor")
    server = server_for(devcloud, tmp_path, auth={"credential_source": "keystone"})
    try:
        ec2 = server.client(member["access"], member["secret"])
        reader = server.client(auditor["access"], auditor["secret"])
        image = ec2.describe_images()["Images"][0]["ImageId"]
        (instance,) = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "a"}]}])["Instances"]
        iid = instance["InstanceId"]
        seen = reader.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        assert seen["Tags"] == [{"Key": "team", "Value": "a"}]
        for change in changes_a_reader_tries(reader, iid, image, seen["Placement"]["AvailabilityZone"]):
            assert _code(change) == "UnauthorizedOperation"
        assert _code(lambda: ec2.create_tags(Resources=[iid], Tags=[{"Key": "x", "Value": "y"}],
                                             DryRun=True)) == "DryRunOperation"
        nothing_a_reader_tried_shows(ec2, iid, image)
        assert ec2.describe_volumes()["Volumes"] == []
        ec2.terminate_instances(InstanceIds=[iid])  # the members were not locked out
    finally:
        server.stop()


def test_a_policy_file_lets_a_custom_role_tag_and_keeps_members_from_allocating(tmp_path):
    """The operator's policy.yaml overrides single rules; the rest keep their defaults."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "policy.yaml").write_text(
        '"ec2:CreateTags": "role:tagger or rule:project_member"\n'
        '"ec2:DeleteTags": "role:tagger or rule:project_member"\n'
        '"ec2:AllocateAddress": "role:admin"\n')
    config = tmp_path / "etc" / "ec2proxy.conf"
    config.write_text("[auth]\npolicy_file = policy.yaml\n")  # beside the configuration file
    server = Server(tmp_path / "data", config=config, env={"EC2PROXY_DEVCLOUD_DELAY": "0.1"}).start()
    try:
        accounts = json.loads((server.data_dir / "devcloud" / "accounts.json").read_text())
        demo = accounts["demo"]

        def key(*roles: str):
            flags = [flag for role in roles for flag in ("--role", role)]
            made = json.loads(server.ec2proxy("credentials", "create", "--project", demo["project_id"],
                                              "--user", demo["user_id"], *flags).stdout)
            return server.client(made["access_key"], made["secret"])

        tagger, member, admin = key("reader", "tagger"), key("member"), key("admin")
        image = member.describe_images()["Images"][0]["ImageId"]
        tagger.create_tags(Resources=[image], Tags=[{"Key": "checked", "Value": "yes"}])
        assert member.describe_tags()["Tags"][0]["Key"] == "checked"
        tagger.delete_tags(Resources=[image])
        assert _code(lambda: tagger.create_security_group(GroupName="g", Description="d")) == \
            "UnauthorizedOperation"
        assert _code(lambda: member.allocate_address(Domain="vpc")) == "UnauthorizedOperation"
        assert _code(lambda: member.allocate_address(Domain="vpc", DryRun=True)) == "UnauthorizedOperation"
        assert _code(lambda: admin.allocate_address(Domain="vpc", DryRun=True)) == "DryRunOperation"
        assert member.describe_addresses()["Addresses"] == []
        # the AWS CLI, with a reader's key: reads, is refused a change, and DryRun answers the policy's question
        made = json.loads(server.ec2proxy("credentials", "create", "--project", demo["project_id"], "--user",
                                          demo["user_id"], "--role", "reader").stdout)
        env = {**server.aws_env(), "AWS_ACCESS_KEY_ID": made["access_key"], "AWS_SECRET_ACCESS_KEY": made["secret"]}

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["aws", "ec2", *args], env=env, capture_output=True, text=True, timeout=120)

        assert cli("describe-images").returncode == 0
        for args in (("create-tags", "--resources", image, "--tags", "Key=k,Value=v"),
                     ("create-tags", "--resources", image, "--tags", "Key=k,Value=v", "--dry-run"),
                     ("allocate-address", "--domain", "vpc")):
            refused = cli(*args)
            assert refused.returncode != 0 and "(UnauthorizedOperation)" in refused.stderr, refused.stderr
        assert member.describe_tags()["Tags"] == []
    finally:
        server.stop()


@pytest.mark.parametrize("rules, says", [
    ('"ec2:CreateTags": "role:tagger or ("\n', "rule 'ec2:CreateTags': 'role:tagger or (' does not parse"),
    ('"ec2:CreateTag": "role:tagger"\n', "rule 'ec2:CreateTag' names no action of this proxy"),
    ('"ec2:CreateTags": "rule:taggers"\n', "refers to rule:taggers, which is not defined"),
    ('"a": "rule:b"\n"b": "rule:a"\n"ec2:CreateTags": "rule:a"\n', "refer to each other in a circle: a, b"),
    ('"ec2:CreateTags": [\n', "not YAML"),
    ('- role:member\n', "expected a mapping of rule names to rules"),
])
def test_a_policy_file_that_does_not_parse_stops_serve_in_one_line(tmp_path, rules, says):
    policy = tmp_path / "policy.yaml"
    policy.write_text(rules)
    data = tmp_path / "data"
    result = subprocess.run([*ec2proxy_command(), "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0"],
                            env={"EC2PROXY_AUTH_POLICY_FILE": str(policy), "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"ec2proxy: policy file {policy}: ") and says in result.stderr
    assert not data.exists()  # stopped before anything was written


def test_a_missing_policy_file_stops_serve(tmp_path):
    result = subprocess.run([*ec2proxy_command(), "serve", "--data-dir", str(tmp_path / "data")],
                            env={"EC2PROXY_AUTH_POLICY_FILE": str(tmp_path / "nowhere.yaml"), "PATH": "/usr/bin"},
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (
        2, f"ec2proxy: policy file {tmp_path / 'nowhere.yaml'}: cannot be read (No such file or directory)\n")


def test_keys_made_before_roles_existed_are_members(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'ec2proxy.sqlite'}"
    db.upgrade(url, "0010")
    with sqlite3.connect(tmp_path / "ec2proxy.sqlite") as connection:
        connection.execute("INSERT INTO credentials (access_key, secret, project_id, user_id, created_at) "
                           "VALUES ('AKIAOLD', 's', 'p', 'u', '2026-01-01 00:00:00')")
    result = subprocess.run([*ec2proxy_command(), "credentials", "list", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout)["roles"] == ["member", "reader"]


def test_credentials_create_refuses_what_is_no_role_name(tmp_path):
    result = subprocess.run([*ec2proxy_command(), "credentials", "create", "--data-dir", str(tmp_path),
                             "--project", "p", "--user", "u", "--role", "read er"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not a role name: 'read er'" in result.stderr


def test_the_sample_policy_file_is_the_generated_one_and_lists_every_action():
    """etc/ec2proxy/policy.yaml.sample comes from oslopolicy-sample-generator --namespace ec2proxy (the
    entry points an installed package registers), and the policy generator shows the defaults in force."""
    from ec2proxy.frontdoor.actions import implemented

    generator = [sys.executable, "-c", "from oslo_policy.generator import generate_sample; generate_sample()"]
    sample = subprocess.run([*generator, "--namespace", "ec2proxy"], capture_output=True, text=True,
                            timeout=120, check=True).stdout
    assert sample == (ROOT / "etc" / "ec2proxy" / "policy.yaml.sample").read_text(), \
        "regenerate: oslopolicy-sample-generator --namespace ec2proxy --output-file etc/ec2proxy/policy.yaml.sample"
    for action in implemented():
        rule = "project_reader" if action.startswith(("Describe", "Get")) else "project_member"
        assert f'#"ec2:{action}": "rule:{rule}"' in sample
    effective = subprocess.run([sys.executable, "-c", "from oslo_policy.generator import generate_policy; "
                                "generate_policy()", "--namespace", "ec2proxy"], capture_output=True, text=True,
                               timeout=120, check=True).stdout
    assert '"ec2:CreateTags": "rule:project_member"' in effective
    assert '"sts:GetCallerIdentity": "rule:project_reader"' in effective
