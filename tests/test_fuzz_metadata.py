"""Hostile input against the metadata service: random paths, versions, identity headers and IMDSv2 tokens,
sent with and without Neutron's valid signature. Never a 500, never a Python name in a body, and never
another instance's data. EC2PROXY_FUZZ_EXAMPLES sets the cases per test (the CI seed set: 3,400)."""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metadata import callers
from tests.fuzzing import HEADER_CHARS, PYTHON_NAMES, fuzz
from tests.support import WAIT

PROXY_ENV = {"EC2PROXY_DEVCLOUD_DELAY": "0.1"}
SEGMENTS = ["latest", "2009-04-04", "2021-01-03", "1.0", "meta-data", "user-data", "dynamic", "instance-identity",
            "document", "signature", "pkcs7", "public-keys", "0", "openssh-key", "network", "interfaces", "macs",
            "tags", "instance", "placement", "api", "token", "..", ".", "", "%00", "%2e%2e", "block-device-mapping"]
PATHS = st.lists(st.one_of(st.sampled_from(SEGMENTS), st.text(HEADER_CHARS, max_size=12)), max_size=7).map(
    lambda parts: "/" + "/".join(urllib.parse.quote(p, safe="%") for p in parts))
OK_STATUSES = {200, 301, 400, 401, 403, 404, 405, 411}


@pytest.fixture(scope="module")
def instance(proxy, ami):
    ec2 = proxy.client()
    (launched,) = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[launched["InstanceId"]], WaiterConfig=WAIT)
    record = json.loads(proxy.ec2proxy("instances", "show", launched["InstanceId"], "--json").stdout)
    secret = (proxy.data_dir / "metadata" / "shared_secret").read_text().strip().encode()
    headers = {"X-Instance-ID": record["os_id"], "X-Tenant-ID": record["project_id"],
               "X-Forwarded-For": record["private_ip"],
               "X-Instance-ID-Signature": callers.sign(secret, record["os_id"])}
    yield record, headers
    ec2.terminate_instances(InstanceIds=[launched["InstanceId"]])


class Connection:
    def __init__(self, port: int):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def request(self, method: str, path: str, headers: dict) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.connection.request(method, path, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def connection(proxy):
    return Connection(proxy.metadata_port)


def check(status: int, body: bytes, others: tuple[str, ...] = ()) -> None:
    assert status in OK_STATUSES, (status, body)
    assert not PYTHON_NAMES.search(body), body
    assert not any(other.encode() in body for other in others if other), body


@fuzz
@given(path=PATHS, method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]))
def test_signed_random_paths(connection, instance, path, method):
    _, headers = instance
    check(*connection.request(method, path, headers))


@fuzz
@given(path=PATHS, instance_id=st.text(HEADER_CHARS, max_size=40), tenant=st.text(HEADER_CHARS, max_size=40),
       forwarded=st.text(HEADER_CHARS, max_size=40), signature=st.text(HEADER_CHARS, max_size=70),
       drop=st.sets(st.sampled_from(["X-Instance-ID", "X-Tenant-ID", "X-Forwarded-For", "X-Instance-ID-Signature"])))
def test_forged_identity_headers(connection, instance, path, instance_id, tenant, forwarded, signature, drop):
    record, _ = instance
    headers = {"X-Instance-ID": instance_id, "X-Tenant-ID": tenant, "X-Forwarded-For": forwarded,
               "X-Instance-ID-Signature": signature}
    for name in drop:
        headers.pop(name)
    status, body = connection.request("GET", path, headers)
    check(status, body, others=(record["os_id"], record["ec2_id"], record["private_ip"]))
    # only the version list needs no identity; '/%2F' is '//' once decoded, the version list too
    assert status != 200 or urllib.parse.unquote(path.split("?", 1)[0]).strip("/") == ""


@fuzz
@given(ttl=st.one_of(st.integers(-10, 30000).map(str), st.text(HEADER_CHARS, max_size=12)),
       token=st.text(HEADER_CHARS, max_size=80), path=PATHS)
def test_imdsv2_tokens(connection, instance, ttl, token, path):
    _, headers = instance
    check(*connection.request("PUT", "/latest/api/token", {**headers, "X-aws-ec2-metadata-token-ttl-seconds": ttl}))
    check(*connection.request("GET", path, {**headers, "X-aws-ec2-metadata-token": token}))
