"""Raw signed requests for cases boto3 will not send (unknown actions, bad parameters)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import xmltodict
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def send(url: str, method: str = "POST", body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def signed(
    endpoint: str,
    params: list[tuple[str, str]] | str | bytes,
    access_key: str,
    secret: str,
    region: str = "RegionOne",
    method: str = "POST",
):
    """Sign with botocore's own SigV4 signer and send; returns (status, body)."""
    if isinstance(params, list):
        encoded = urllib.parse.urlencode(params).encode()
    else:
        encoded = params.encode() if isinstance(params, str) else params
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if method == "GET":
        request = AWSRequest(method="GET", url=f"{endpoint}/?{encoded.decode()}", headers={})
    else:
        request = AWSRequest(method="POST", url=f"{endpoint}/", data=encoded, headers=headers)
    SigV4Auth(Credentials(access_key, secret), "ec2", region).add_auth(request)
    prepared = request.prepare()
    return send(prepared.url, method, prepared.body, dict(prepared.headers))


def error_code(body: bytes) -> str:
    return xmltodict.parse(body)["Response"]["Errors"]["Error"]["Code"]
