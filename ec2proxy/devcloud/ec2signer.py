"""Keystone's check of an EC2 signature (``/v3/ec2tokens``), computed by botocore's signers.

The stand-in shares no code with what it stands in for: a signing bug in the
proxy's verifier (``ec2proxy.auth.signatures``) must show as a refusal here,
not be mirrored. Like Keystone, it recomputes the signature from what the
caller relays (verb, host, path, parameters, headers, the body's hash) and
compares; it checks no clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote

from botocore.auth import SigV2Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials


class _RelayedV4(SigV4Auth):
    """SigV4 over the headers the client signed and the body hash Keystone is given (not the body)."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: list[str], body_hash: str):
        super().__init__(credentials, service, region)
        self._signed, self._body_hash = signed, body_hash

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        out = HTTPHeaders()
        for name in self._signed:
            out[name] = request.headers.get(name, "")
        return out

    def payload(self, request: AWSRequest) -> str:
        return self._body_hash


def _v4(credentials: dict, secret: str) -> str:
    headers = {str(k): str(v) for k, v in (credentials.get("headers") or {}).items()}
    lower = {k.lower(): v for k, v in headers.items()}
    params = {str(k): str(v) for k, v in (credentials.get("params") or {}).items()}
    if "X-Amz-Credential" in params:  # presigned: the scope and signed headers travel in the query
        scope, signed, stamp = params["X-Amz-Credential"], params["X-Amz-SignedHeaders"], params["X-Amz-Date"]
    else:
        fields = dict(part.strip().split("=", 1) for part in lower.get("authorization", "").split(" ", 1)[1]
                      .split(",") if "=" in part)
        scope, signed, stamp = fields["Credential"], fields["SignedHeaders"], lower["x-amz-date"]
    access, _date, region, service, _ = scope.split("/")
    names = signed.split(";")
    request = AWSRequest(method=credentials.get("verb", "POST"),
                         url=f"http://{credentials.get('host', '')}{credentials.get('path') or '/'}",
                         headers={name: (credentials.get("host", "") if name == "host" else lower.get(name, ""))
                                  for name in names},
                         params=params)
    request.context["timestamp"] = stamp
    auth = _RelayedV4(Credentials(access, secret), service, region, names,
                      credentials.get("body_hash") or lower.get("x-amz-content-sha256", ""))
    return auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)


def _v2(credentials: dict, secret: str) -> str:
    params = {str(k): str(v) for k, v in (credentials.get("params") or {}).items() if k != "Signature"}
    request = AWSRequest(method=credentials.get("verb", "GET"),
                         url=f"http://{credentials.get('host', '')}{credentials.get('path') or '/'}")
    if params.get("SignatureMethod") == "HmacSHA1":  # botocore signs SHA-256 only; Keystone takes both
        query = "&".join(f"{quote(k, safe='')}={quote(params[k], safe='-_~')}" for k in sorted(params))
        text = f"{request.method}\n{credentials.get('host', '').lower()}\n{credentials.get('path') or '/'}\n{query}"
        return base64.b64encode(hmac.digest(secret.encode(), text.encode(), hashlib.sha1)).decode()
    return SigV2Auth(Credentials(params.get("AWSAccessKeyId", ""), secret)).calc_signature(request, params)[1]


def verify(credentials: dict[str, Any], secret: str) -> bool:
    """Does the relayed EC2 signature match ``secret``? Malformed relays are simply no."""
    params = credentials.get("params") or {}
    headers = {str(k).lower() for k in (credentials.get("headers") or {})}
    try:
        version4 = "authorization" in headers or "X-Amz-Algorithm" in params
        expected = _v4(credentials, secret) if version4 else _v2(credentials, secret)
    except (KeyError, ValueError, IndexError, TypeError):
        return False
    return hmac.compare_digest(expected.encode(), str(credentials.get("signature", "")).encode())
