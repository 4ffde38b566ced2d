"""The EC2 front door as real clients see it: boto3, the AWS CLI, boto2 (SigV2)."""

from __future__ import annotations

import datetime
import json
import time
import urllib.parse

import botocore.auth
import pytest
import xmltodict
from botocore.exceptions import ClientError

from tests.signing import error_code, send, signed


def client_error(call, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value


def test_aws_cli_describe_regions_with_only_the_files_the_proxy_wrote(server):
    result = server.aws("ec2", "describe-regions")
    regions = json.loads(result.stdout)["Regions"]
    assert [r["RegionName"] for r in regions] == ["RegionOne"]
    assert regions[0]["Endpoint"] == server.endpoint


def test_aws_cli_describe_availability_zones(server):
    zones = json.loads(server.aws("ec2", "describe-availability-zones").stdout)["AvailabilityZones"]
    assert zones and all(zone["State"] == "available" and zone["RegionName"] == "RegionOne" for zone in zones)
    assert all(zone["ZoneId"].startswith("regionone-az") for zone in zones)


def test_boto3_describe_regions_filters_and_names(ec2):
    assert ec2.describe_regions(RegionNames=["RegionOne"])["Regions"][0]["RegionName"] == "RegionOne"
    assert ec2.describe_regions(Filters=[{"Name": "region-name", "Values": ["Reg*"]}])["Regions"]
    assert ec2.describe_regions(Filters=[{"Name": "region-name", "Values": ["us-?ast-1"]}])["Regions"] == []
    error = client_error(ec2.describe_regions, RegionNames=["mars-1"])
    assert error.response["Error"]["Code"] == "InvalidParameterValue"


def test_unknown_filter_is_invalid_parameter_value_not_500(ec2):
    error = client_error(ec2.describe_availability_zones, Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert error.response["Error"]["Code"] == "InvalidParameterValue"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_zone_names_and_ids_select_zones(ec2):
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    first = zones[0]
    by_id = ec2.describe_availability_zones(ZoneIds=[first["ZoneId"]])["AvailabilityZones"]
    assert [z["ZoneName"] for z in by_id] == [first["ZoneName"]]
    error = client_error(ec2.describe_availability_zones, ZoneNames=["nowhere"])
    assert error.response["Error"]["Code"] == "InvalidParameterValue"


def test_wrong_secret_is_signature_does_not_match(server):
    access_key, secret = server.demo_keys()
    error = client_error(server.client(access_key, secret + "x").describe_regions)
    assert error.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["ResponseMetadata"]["RequestId"]


def test_unknown_access_key_is_auth_failure(server):
    error = client_error(server.client("AKIANOSUCHKEY0000000", "secret").describe_regions)
    assert error.response["Error"]["Code"] == "AuthFailure"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 401


def test_scope_for_another_region_or_service_is_refused(server):
    access_key, secret = server.demo_keys()
    error = client_error(server.client(access_key, secret, region="us-east-1").describe_regions)
    assert error.response["Error"]["Code"] == "SignatureDoesNotMatch"
    status, body = signed(server.endpoint, [("Action", "DescribeRegions"), ("Version", "2016-11-15")],
                          access_key, secret)
    assert status == 200
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=f"{server.endpoint}/", data=b"Action=DescribeRegions&Version=2016-11-15",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(access_key, secret), "s3", "RegionOne").add_auth(request)
    prepared = request.prepare()
    status, body = send(prepared.url, "POST", prepared.body, dict(prepared.headers))
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_timestamp_outside_15_minutes_is_request_expired(server, monkeypatch, minutes):
    skewed = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed.replace(tzinfo=None))
    error = client_error(server.client().describe_regions)
    assert error.response["Error"]["Code"] == "RequestExpired"


def test_clock_skew_inside_15_minutes_is_accepted(server, monkeypatch):
    skewed = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed.replace(tzinfo=None))
    assert server.client().describe_regions()["Regions"]


def test_dry_run_is_dry_run_operation_412(ec2):
    error = client_error(ec2.describe_availability_zones, DryRun=True)
    assert error.response["Error"]["Code"] == "DryRunOperation"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_dry_run_with_a_bad_parameter_reports_the_parameter(server):
    access_key, secret = server.demo_keys()
    status, body = signed(server.endpoint, [("Action", "DescribeRegions"), ("DryRun", "true"), ("Bogus", "1")],
                          access_key, secret)
    assert (status, error_code(body)) == (400, "UnknownParameter")


def test_unsigned_request_is_missing_authentication_token(server):
    status, body = send(f"{server.endpoint}/", "POST", b"Action=DescribeRegions&Version=2016-11-15",
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, error_code(body)) == (403, "MissingAuthenticationToken")


@pytest.mark.parametrize(
    "params, status, code",
    [
        ([("Action", "DescribeUnicorns"), ("Version", "2016-11-15")], 400, "InvalidAction"),
        ([("Version", "2016-11-15")], 400, "MissingAction"),
        ([("Action", "DescribeRegions"), ("Unicorn", "1")], 400, "UnknownParameter"),
        ([("Action", "DescribeRegions"), ("RegionName.x", "1")], 400, "UnknownParameter"),
        ([("Action", "DescribeRegions"), ("AllRegions", "maybe")], 400, "InvalidParameterValue"),
        ([("Action", "DescribeRegions"), ("RegionName", "RegionOne")], 400, "InvalidParameterValue"),
        ([("Action", "DescribeRegions"), ("Filter.1.Name", "endpoint")], 400, "InvalidParameterValue"),
        ([("Action", "DescribeImageAttribute"), ("Attribute", "description")], 400, "MissingParameter"),
        ([("Action", "RunInstances"), ("ImageId", "ami-1"), ("MinCount", "x"), ("MaxCount", "1")],
         400, "InvalidParameterValue"),
        ([("Action", "DescribeRegions"), ("Version", "yesterday")], 400, "InvalidParameterValue"),
        ([("Action", "CreateVpnGateway"), ("Type", "ipsec.1")], 400, "UnsupportedOperation"),
    ],
)
def test_bad_requests_get_the_ec2_error(server, params, status, code):
    access_key, secret = server.demo_keys()
    got_status, body = signed(server.endpoint, params, access_key, secret)
    assert (got_status, error_code(body)) == (status, code)
    document = xmltodict.parse(body)["Response"]
    assert document["RequestID"]
    assert "Traceback" not in body.decode() and "Exception" not in body.decode()


def test_invalid_utf8_body_is_malformed_query_string(server):
    status, body = send(f"{server.endpoint}/", "POST", b"Action=Describe%ffRegions",
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, error_code(body)) == (404, "MalformedQueryString")


def test_oversized_body_is_refused_before_it_is_read(server):
    status, body = send(f"{server.endpoint}/", "POST", b"A=" + b"x" * (2 * 1024 * 1024),
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, error_code(body)) == (413, "RequestEntityTooLarge")


def test_too_many_parameters_are_refused(server):
    body = "&".join(f"P{i}=1" for i in range(6000)).encode()
    status, answer = send(f"{server.endpoint}/", "POST", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, error_code(answer)) == (400, "InvalidQueryParameter")


def test_get_request_with_sigv4_header(server):
    access_key, secret = server.demo_keys()
    status, body = signed(server.endpoint, [("Action", "DescribeRegions"), ("Version", "2016-11-15")],
                          access_key, secret, method="GET")
    assert status == 200
    assert xmltodict.parse(body)["DescribeRegionsResponse"]["regionInfo"]["item"]["regionName"] == "RegionOne"


def test_presigned_url_works_and_expires(ec2, server):
    url = ec2.generate_presigned_url("describe_regions", ExpiresIn=60)  # signed for EC2's POST
    status, body = send(url, "POST")
    assert status == 200, body
    get_url = ec2.generate_presigned_url("describe_regions", ExpiresIn=60, HttpMethod="GET")
    status, body = send(get_url, "GET")
    assert status == 200, body
    assert send(url, "GET")[0] == 403  # the method is part of the signature
    tampered = get_url.replace("DescribeRegions", "DescribeAvailabilityZones")
    status, body = send(tampered, "GET")
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")


def test_presigned_url_past_its_expiry_is_request_expired(server, monkeypatch):
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: past.replace(tzinfo=None))
    url = server.client().generate_presigned_url("describe_regions", ExpiresIn=60, HttpMethod="GET")
    status, body = send(url, "GET")
    assert (status, error_code(body)) == (400, "RequestExpired")


def test_response_namespace_echoes_the_request_version(server):
    access_key, secret = server.demo_keys()
    for version in ("2016-11-15", "2014-10-01", "2009-04-04"):
        status, body = signed(server.endpoint, [("Action", "DescribeRegions"), ("Version", version)],
                              access_key, secret)
        assert status == 200
        assert xmltodict.parse(body)["DescribeRegionsResponse"]["@xmlns"] == f"http://ec2.amazonaws.com/doc/{version}/"


def test_boto2_sigv2_hmac_sha256_and_sha1(server):
    boto2 = pytest.importorskip("boto.ec2.connection", reason="boto 2.49 is not installed")
    from boto.ec2.regioninfo import RegionInfo
    from boto.exception import EC2ResponseError

    class SigV2Connection(boto2.EC2Connection):
        def _required_auth_capability(self):
            return ["sign-v2"]

    access_key, secret = server.demo_keys()

    def connect(key, secret_key):
        return SigV2Connection(key, secret_key, is_secure=False, port=server.port, path="/",
                               region=RegionInfo(name="RegionOne", endpoint="127.0.0.1"))

    connection = connect(access_key, secret)
    assert [region.name for region in connection.get_all_regions()] == ["RegionOne"]
    connection._auth_handler._hmac_256 = None  # boto2 falls back to HmacSHA1
    assert connection._auth_handler.algorithm() == "HmacSHA1"
    assert {zone.name: zone.state for zone in connection.get_all_zones()} == {"nova": "available", "az-2": "available"}
    with pytest.raises(EC2ResponseError) as caught:
        connect(access_key, secret + "x").get_all_regions()
    assert (caught.value.status, caught.value.error_code) == (403, "SignatureDoesNotMatch")


def test_sigv2_expired_timestamp(server):
    import base64
    import hashlib
    import hmac

    from ec2proxy.auth.signatures import v2_string_to_sign

    access_key, secret = server.demo_keys()
    params = {"Action": "DescribeRegions", "Version": "2016-11-15", "AWSAccessKeyId": access_key,
              "SignatureVersion": "2", "SignatureMethod": "HmacSHA256",
              "Timestamp": (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
              .strftime("%Y-%m-%dT%H:%M:%SZ")}
    host = f"127.0.0.1:{server.port}"
    digest = hmac.new(secret.encode(), v2_string_to_sign("POST", host, "/", params).encode(), hashlib.sha256)
    params["Signature"] = base64.b64encode(digest.digest()).decode()
    status, body = send(f"{server.endpoint}/", "POST", urllib.parse.urlencode(params).encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, error_code(body)) == (400, "RequestExpired")


def test_access_log_has_one_line_per_request_and_no_secrets(server, ec2):
    ec2.describe_regions()
    access_key, secret = server.demo_keys()
    log = server.log.read_text()
    time.sleep(0.5)  # the access log is written in batches every quarter second
    log = server.log.read_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith('{"time"')]
    assert any(entry["action"] == "DescribeRegions" and entry["status"] == 200 for entry in lines)
    assert {"request_id", "action", "project", "status", "duration_ms"} <= set(lines[-1])
    assert secret not in log
    assert "Signature=" not in log and "Credential=" not in log


def test_healthz_and_metrics(server, ec2):
    ec2.describe_regions()
    status, body = send(f"{server.admin}/metrics", "GET")
    assert status == 200
    assert b'ec2proxy_requests_total{action="DescribeRegions",code="OK"}' in body
    assert send(f"{server.endpoint}/healthz", "GET")[0] == 200
    assert send(f"{server.admin}/healthz", "GET")[0] == 200


def _signed_parts(server, body: bytes = b"Action=DescribeRegions&Version=2016-11-15"):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=f"{server.endpoint}/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(*server.demo_keys()), "ec2", "RegionOne").add_auth(request)
    prepared = request.prepare()
    headers = [(k, v) for k, v in prepared.headers.items() if k.lower() not in ("content-length", "host")]
    return prepared.body, [("Host", f"127.0.0.1:{server.port}")] + headers  # the host botocore signed


def _raw(server, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    """One HTTP/1.1 request written byte for byte: repeated headers and odd hosts as an attacker sends them."""
    with _socket_to(server) as sock:
        sock.sendall(_head(headers, [f"Content-Length: {len(body)}"], target) + body)
        answer = _read_all(sock)
    head, _, payload = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload


@pytest.mark.parametrize("tamper", ["host", "second-date", "second-authorization", "body-appended",
                                    "query-added", "unsigned-action-header"])
def test_a_tampered_or_injected_signed_request_is_refused(server, tamper):
    """What a man in the middle or a confused proxy can add to a signed request never gets it through with
    a changed meaning: the signature covers it, or the request is refused as ambiguous."""
    body, headers = _signed_parts(server)
    status, _ = _raw(server, "/", headers, body)
    assert status == 200  # untouched, it goes through
    target, sent = "/", list(headers)
    if tamper == "host":
        sent = [(k, "evil.example:80" if k.lower() == "host" else v) for k, v in sent]
    elif tamper == "second-date":
        sent.append(("X-Amz-Date", "20300101T000000Z"))
    elif tamper == "second-authorization":
        sent.append(("Authorization", "AWS4-HMAC-SHA256 Credential=x/20300101/RegionOne/ec2/aws4_request, "
                                      "SignedHeaders=host, Signature=00"))
    elif tamper == "body-appended":
        body += b"&Action=TerminateInstances&InstanceId.1=i-0123456789abcdef0"
    elif tamper == "query-added":
        target = "/?Action=TerminateInstances&InstanceId.1=i-0123456789abcdef0"
    elif tamper == "unsigned-action-header":
        sent.append(("X-Amz-Target", "TerminateInstances"))  # not an EC2 input: must change nothing
    status, payload = _raw(server, target, sent, body)
    if tamper == "unsigned-action-header":
        assert status == 200 and b"DescribeRegionsResponse" in payload
        return
    assert status in (400, 401, 403), payload
    refusals = ("SignatureDoesNotMatch", "IncompleteSignature", "AuthFailure")
    if tamper in ("body-appended", "query-added"):  # they repeat Action: refused before the signature is read
        refusals += ("InvalidQueryParameter",)
    assert error_code(payload) in refusals


def _socket_to(server):
    import socket

    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def _read_all(sock) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def _head(headers: list[tuple[str, str]], extra: list[str], target: str = "/") -> bytes:
    """A POST's request line and headers, byte for byte, on a connection closed after the answer."""
    lines = [f"POST {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers] + extra + ["Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def test_a_chunked_signed_body_is_read_and_an_endless_one_refused(server):
    """A body without Content-Length (Transfer-Encoding: chunked) is read to its end, up to the size limit."""
    body, headers = _signed_parts(server)
    with _socket_to(server) as sock:
        sock.sendall(_head(headers, ["Transfer-Encoding: chunked"])
                     + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200") and b"DescribeRegionsResponse" in answer
    chunk = b"A=" + b"x" * (1024 * 1024)
    with _socket_to(server) as sock:
        sock.sendall(_head(headers, ["Transfer-Encoding: chunked"]))
        try:
            for _ in range(3):
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the proxy may answer and close before the whole body is sent
        answer = _read_all(sock)
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert int(head.split()[1]) == 413 and error_code(payload) == "RequestEntityTooLarge"


def test_expect_100_continue_gets_the_interim_answer_before_the_body(server):
    """curl and some SDKs send Expect: 100-continue and wait for the go-ahead before sending the body."""
    body, headers = _signed_parts(server)
    with _socket_to(server) as sock:
        sock.sendall(_head(headers, [f"Content-Length: {len(body)}", "Expect: 100-continue"]))
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
        sock.sendall(body)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200") and b"DescribeRegionsResponse" in answer


def test_a_body_cut_short_of_its_content_length_leaves_the_proxy_serving(server, ec2):
    body, headers = _signed_parts(server)
    with _socket_to(server) as sock:
        sock.sendall(_head(headers, [f"Content-Length: {len(body) + 100}"]) + body)
        sock.shutdown(1)  # the client gives up half-way through its body
        answer = _read_all(sock)
    if answer:  # an answer, if any, is an EC2 error, never a 500
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert int(head.split()[1]) < 500 and error_code(payload), answer
    assert ec2.describe_regions()["Regions"]
