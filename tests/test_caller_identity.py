"""STS GetCallerIdentity on the EC2 endpoint (issue 20), as boto3 and the AWS CLI ask it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

pytestmark = pytest.mark.e2e


def sts(proxy, access_key=None, secret=None):
    if access_key is None:
        access_key, secret = proxy.demo_keys()
    return boto3.session.Session().client("sts", endpoint_url=proxy.endpoint, region_name="RegionOne",
                                          aws_access_key_id=access_key, aws_secret_access_key=secret)


def test_caller_identity_names_the_owner_every_ec2_answer_shows(proxy, accounts):
    ec2 = proxy.client()
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    identity = sts(proxy).get_caller_identity()
    assert identity["Account"] == group["OwnerId"] == accounts["demo"]["project_id"]
    assert identity["UserId"] == accounts["demo"]["user_id"]
    assert identity["Arn"] == f"arn:aws:iam::{identity['Account']}:user/{identity['UserId']}"
    assert identity["ResponseMetadata"]["RequestId"]


def test_each_signer_is_told_its_own_identity(proxy, accounts):
    created = json.loads(proxy.ec2proxy("credentials", "create", "--project", accounts["alt"]["project_id"],
                                        "--user", accounts["alt"]["user_id"]).stdout)
    identity = sts(proxy, created["access_key"], created["secret"]).get_caller_identity()
    assert (identity["Account"], identity["UserId"]) == (accounts["alt"]["project_id"], accounts["alt"]["user_id"])


def test_aws_cli_with_the_files_the_proxy_writes(proxy, accounts):
    answer = json.loads(proxy.aws("sts", "get-caller-identity").stdout)
    assert answer["Account"] == accounts["demo"]["project_id"]


def test_sts_errors_come_in_the_query_protocol_envelope(proxy):
    client = sts(proxy)
    with pytest.raises(ClientError) as caught:
        client.get_session_token()
    assert caught.value.response["Error"]["Code"] == "UnsupportedOperation"
    assert caught.value.response["Error"]["Type"] == "Sender"  # only the ErrorResponse document has a Type
    assert caught.value.response["ResponseMetadata"]["RequestId"]
    with pytest.raises(ClientError) as caught:
        sts(proxy, "AKIANOSUCHKEY000", "x" * 40).get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "AuthFailure"


def test_ec2_actions_are_not_sts_actions_and_other_services_are_refused(proxy):
    access_key, secret = proxy.demo_keys()
    for service, action, status, expected in (("sts", "DescribeRegions", 400, "InvalidAction"),
                                              ("iam", "GetUser", 403, "SignatureDoesNotMatch")):
        request = AWSRequest(method="POST", url=f"{proxy.endpoint}/", data=f"Action={action}&Version=2011-06-15",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials(access_key, secret), service, "RegionOne").add_auth(request)
        prepared = request.prepare()
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(urllib.request.Request(prepared.url, data=prepared.body.encode(),
                                                          headers=dict(prepared.headers)), timeout=30)
        body = caught.value.read().decode()
        assert caught.value.code == status and f"<Code>{expected}</Code>" in body, body
