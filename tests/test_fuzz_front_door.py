"""Hostile input against a running proxy: never a 500, never a traceback.

Random bodies, random query strings and random parameter trees, both unsigned
and correctly signed (so they get past authentication into the parser and
the handlers). EC2PROXY_FUZZ_EXAMPLES sets the number of cases per test.
"""

from __future__ import annotations

import http.client
import pathlib
import random
import re
import string
import urllib.parse

import pytest
import xmltodict
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzzing import HEADER_CHARS, PYTHON_NAMES, fuzz

ACTIONS = ["DescribeRegions", "DescribeAvailabilityZones", "RunInstances", "DescribeInstances",
           "CreateTags", "DescribeImages", "Nope", "", "describeregions"]
NAMES = ["Action", "Version", "DryRun", "RegionName", "ZoneName", "ZoneId", "AllRegions", "Filter",
         "MaxResults", "NextToken", "ImageId", "MinCount", "MaxCount", "UserData", "Tag", "member", "item"]
_piece = st.one_of(st.sampled_from(NAMES), st.integers(-2, 100000).map(str), st.text(max_size=6))
KEYS = st.lists(_piece, min_size=1, max_size=5).map(".".join)
VALUES = st.one_of(st.text(max_size=40), st.sampled_from(["true", "false", "1", "-1", "99999999999999999999",
                                                          "2016-11-15", "", "*", "\x00", "%", "é"]))
PARAMS = st.lists(st.tuples(KEYS, VALUES), max_size=12)


class Client:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, server):
        self.server = server
        self.keys = server.demo_keys()
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def signed(self, body: bytes) -> tuple[int, bytes]:
        request = AWSRequest(method="POST", url=f"{self.server.endpoint}/", data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        SigV4Auth(Credentials(*self.keys), "ec2", "RegionOne").add_auth(request)
        prepared = request.prepare()
        return self.request("POST", "/", prepared.body, dict(prepared.headers))


def rss_mb(server) -> float:
    status = pathlib.Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


@pytest.fixture(scope="module")
def client(server):
    return Client(server)


def check(status: int, body: bytes) -> None:
    assert status != 500 and status < 600, body
    assert not PYTHON_NAMES.search(body), body
    document = xmltodict.parse(body)
    if status == 200:
        (root,) = document.values()
        assert root["requestId"]
    else:
        assert document["Response"]["Errors"]["Error"]["Code"]
        assert document["Response"]["RequestID"]




@fuzz
@given(action=st.sampled_from(ACTIONS), params=PARAMS)
def test_signed_random_parameters(client, action, params):
    body = urllib.parse.urlencode([("Action", action), ("Version", "2016-11-15"), *params]).encode()
    check(*client.signed(body))


@fuzz
@given(body=st.binary(max_size=300))
def test_signed_random_bytes(client, body):
    check(*client.signed(body))


@fuzz
@given(query=st.text(max_size=200), body=st.binary(max_size=200),
       authorization=st.one_of(st.none(), st.text(HEADER_CHARS, max_size=120),
                               st.text(HEADER_CHARS, max_size=80).map(lambda t: "AWS4-HMAC-SHA256 " + t)),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
def test_unsigned_garbage(client, query, body, authorization, method):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if authorization is not None:
        headers["Authorization"] = authorization
    path = "/?" + urllib.parse.quote(query, safe="=&.%+")
    check(*client.request(method, path, body if method in ("POST", "PUT") else None, headers))


def _random_bodies(seed: int, count: int):
    """Signed-request bodies of random parameter trees, the same for the same seed."""
    rng = random.Random(seed)
    for _ in range(count):
        params = [(".".join(rng.choice(NAMES) for _ in range(rng.randint(1, 3))) + f".{rng.randint(1, 60)}",
                   "".join(rng.choices(string.printable + "é\x00", k=rng.randint(0, 40))))
                  for _ in range(rng.randint(0, 12))]
        yield urllib.parse.urlencode([("Action", rng.choice(ACTIONS)), ("Version", "2016-11-15"), *params]).encode()


def test_memory_stayed_bounded(server, client):
    """Thousands of hostile requests leave the proxy's memory where a warm-up of the same kind left it.

    The baseline is taken after the warm-up, in this test, so the check measures the campaign it runs."""
    for body in _random_bodies(1, 500):
        check(*client.signed(body))
    before = rss_mb(server)
    sent = 0
    for body in _random_bodies(2, 5000):
        check(*client.signed(body))
        sent += 1
    grown = rss_mb(server) - before
    print(f"fuzz: proxy RSS {before:.0f} MB after warm-up, grew {grown:.1f} MB over {sent} more requests")
    assert sent == 5000
    assert grown < 12  # about 2.4 KB per request would show
