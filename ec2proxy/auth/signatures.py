"""Request signatures: SigV4 (header and presigned query) and SigV2, verified locally.

:func:`read_signature` looks at a request and returns a :class:`Signature`
that knows its access key and, given the secret, whether it matches
(constant-time). It never needs the network: the credential store decides
where the secret comes from.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import functools
import hashlib
import hmac
import re
from typing import Mapping, Sequence
from urllib.parse import quote, unquote_plus

from multidict import MultiMapping

from ec2proxy.ec2 import errors

V4_ALGORITHM = "AWS4-HMAC-SHA256"
_V4_PREFIX = V4_ALGORITHM + " "
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SERVICE = "ec2"
# the services a SigV4 scope may name: EC2, and STS for the caller's identity (ec2proxy.ec2.model)
SERVICES = frozenset({"ec2", "sts"})
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600

_V4_FIELDS = frozenset({"Credential", "SignedHeaders", "Signature"})
_ACCESS_KEY = re.compile(r"[A-Za-z0-9_\-]{3,128}")


@dataclasses.dataclass(slots=True)
class HttpRequest:
    """What signature checking needs of an HTTP request."""

    method: str
    host: str
    path: str
    raw_query: str
    headers: MultiMapping[str]  # case-insensitive (a multidict: repeated headers are seen)
    body: bytes
    params: Sequence[tuple[str, str]]  # decoded query + form parameters
    body_sha256: str | None = None  # when only the body's hash is known (Keystone's ec2tokens)

    def payload_hash(self) -> str:
        return self.body_sha256 or hashlib.sha256(self.body).hexdigest()


@dataclasses.dataclass(slots=True)
class Signature:
    """A parsed signature; ``matches(secret)`` checks it in constant time."""

    version: int
    access_key: str
    string_to_sign: str
    signature: str
    region: str | None  # SigV4 scope region
    date: str | None  # SigV4 scope date (YYYYMMDD)
    algorithm: str  # "HmacSHA256" / "HmacSHA1" for v2, V4_ALGORITHM for v4
    request: HttpRequest
    service: str = SERVICE  # SigV4 scope service; SigV2 requests are EC2's

    def expected(self, secret: str) -> str:
        if self.version == 4:
            signer = _v4_signer(secret, self.date, self.region, self.service).copy()
            signer.update(self.string_to_sign.encode("utf-8"))
            return signer.hexdigest()
        digest = "sha256" if self.algorithm == "HmacSHA256" else "sha1"
        raw = hmac.digest(secret.encode("utf-8"), self.string_to_sign.encode("utf-8"), digest)
        return base64.b64encode(raw).decode("ascii")

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.expected(secret).encode(), self.signature.encode())


def read_signature(
    request: HttpRequest, now: datetime.datetime, max_skew: int, regions: frozenset[str]
) -> Signature:
    """Parse and pre-check the request's signature (format, scope, time); no secret yet."""
    authorizations = request.headers.getall("Authorization", ())
    if len(authorizations) > 1:  # which one counts would be a guess
        raise errors.IncompleteSignature("The request carries more than one Authorization header")
    if authorizations:
        authorization = authorizations[0]
        if not authorization.startswith(_V4_PREFIX):
            raise errors.IncompleteSignature(
                f"Unsupported Authorization header: only {V4_ALGORITHM} is accepted"
            )
        return _read_v4_header(request, authorization, now, max_skew, regions)
    params = dict(reversed(request.params))  # the first of duplicates wins
    if "X-Amz-Algorithm" in params or "X-Amz-Signature" in params:
        return _read_v4_query(request, params, now, max_skew, regions)
    if "Signature" in params or "AWSAccessKeyId" in params:
        return _read_v2(request, params, now, max_skew)
    raise errors.MissingAuthenticationToken("Request is missing Authentication Token")


# -- SigV4 ----------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _v4_signer(secret: str, date: str, region: str, service: str) -> hmac.HMAC:
    """An HMAC keyed with the day's signing key; copying it is half the cost of keying a new one."""
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode("utf-8"), "sha256")
    return hmac.new(key, digestmod=hashlib.sha256)


def _uri_encode(text: str) -> str:
    return quote(text, safe="-_.~")


def canonical_query(raw_query: str, skip: str | None = None) -> str:
    if not raw_query:
        return ""
    pairs = []
    for item in raw_query.split("&") if raw_query else ():
        key, _, value = item.partition("=")
        # decoded exactly as the handler's parameters are ('+' is a space), so what is signed is what is read
        key, value = _uri_encode(unquote_plus(key)), _uri_encode(unquote_plus(value))
        if skip is not None and key == skip:
            continue
        pairs.append((key, value))
    pairs.sort()
    return "&".join(f"{key}={value}" for key, value in pairs)


def _canonical_path(path: str) -> str:
    if not path or path == "/":
        return "/"
    return quote(path, safe="/-_.~")


@functools.lru_cache(maxsize=1024)  # one credential scope per key and day
def _parse_scope(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise errors.IncompleteSignature(
            "Credential must have the form <access key>/<date>/<region>/<service>/aws4_request"
        )
    return parts[0], parts[1], parts[2], parts[3]


def _check_scope(access_key: str, date: str, region: str, service: str, amz_date: str, regions) -> None:
    _check_principal(access_key, region, service, regions)
    if amz_date[:8] != date:
        raise errors.SignatureDoesNotMatch("Credential should be scoped to the date of the request")


@functools.lru_cache(maxsize=1024)
def _check_principal(access_key: str, region: str, service: str, regions: frozenset[str]) -> None:
    if not _ACCESS_KEY.fullmatch(access_key):
        raise errors.InvalidClientTokenId("The security token included in the request is invalid")
    if service not in SERVICES:
        raise errors.SignatureDoesNotMatch(f"Credential should be scoped to correct service: '{SERVICE}'")
    if region not in regions:
        raise errors.SignatureDoesNotMatch("Credential should be scoped to a valid region")


_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")


@functools.lru_cache(maxsize=256)  # every request signed in the same second carries the same value
def _parse_amz_date(value: str | None) -> datetime.datetime:
    match = _AMZ_DATE.fullmatch(value or "")
    try:
        if match is None:
            raise ValueError(value)
        year, month, day, hour, minute, second = map(int, match.groups())
        return datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    except ValueError:
        raise errors.IncompleteSignature("X-Amz-Date must be in the form YYYYMMDD'T'HHMMSS'Z'") from None


def _check_skew(when: datetime.datetime, now: datetime.datetime, max_skew: int) -> None:
    if abs((now - when).total_seconds()) > max_skew:
        raise errors.RequestExpired(
            "Request has expired: the request time is more than "
            f"{max_skew // 60} minutes away from the server time"
        )


@functools.lru_cache(maxsize=256)  # clients sign the same few header sets
def _signed_header_names(signed_headers: str) -> tuple[str, ...]:
    names = signed_headers.split(";")
    if "host" not in names or names != sorted(names) or not all(names):
        raise errors.IncompleteSignature("SignedHeaders must be sorted, lower case and include host")
    return tuple(names)


def _canonical_headers(request: HttpRequest, signed_headers: str) -> str:
    lines = []
    for name in _signed_header_names(signed_headers):
        if name == "host":
            value = request.host
        else:
            values = request.headers.getall(name, None)
            if values is None:
                raise errors.SignatureDoesNotMatch(f"The signed header {name} is missing")
            value = ",".join([" ".join(v.split()) for v in values])
        lines.append(f"{name}:{value}\n")
    return "".join(lines)


def _v4_string_to_sign(
    request: HttpRequest, query: str, signed_headers: str, payload_hash: str, amz_date: str, scope: str
) -> str:
    canonical = "\n".join(
        (
            request.method,
            _canonical_path(request.path),
            query,
            _canonical_headers(request, signed_headers),
            signed_headers,
            payload_hash,
        )
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{V4_ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _payload_hash(request: HttpRequest) -> str:
    """The hash of the body as received, in every signing mode: a client's claim of it is checked, never used.

    ``UNSIGNED-PAYLOAD`` is refused: an EC2 request's parameters may travel in
    the body, and an unsigned body would let anyone on the way rewrite them.
    """
    body_hash = request.payload_hash()
    claimed = request.headers.get("X-Amz-Content-SHA256")
    if claimed == UNSIGNED_PAYLOAD:
        raise errors.SignatureDoesNotMatch("EC2 requests must sign their payload (UNSIGNED-PAYLOAD is not accepted)")
    if claimed is not None and claimed != body_hash:
        raise errors.SignatureDoesNotMatch("The provided X-Amz-Content-SHA256 does not match the body")
    return body_hash


def _read_v4_header(request, authorization, now, max_skew, regions) -> Signature:
    fields = {}
    for chunk in authorization[len(_V4_PREFIX) :].split(","):
        name, equals, value = chunk.strip().partition("=")
        if not equals or name not in _V4_FIELDS or not value or " " in value:
            raise errors.IncompleteSignature("Authorization header is malformed")
        fields[name] = value
    if len(fields) != len(_V4_FIELDS):
        missing = _V4_FIELDS - fields.keys()
        raise errors.IncompleteSignature(
            f"Authorization header requires {', '.join(sorted(missing))}"
        )
    access_key, date, region, service = _parse_scope(fields["Credential"])
    amz_date = request.headers.get("X-Amz-Date")
    if amz_date is None:
        raise errors.IncompleteSignature("Authorization header requires an X-Amz-Date header")
    _check_skew(_parse_amz_date(amz_date), now, max_skew)
    _check_scope(access_key, date, region, service, amz_date, regions)
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = _v4_string_to_sign(
        request, canonical_query(request.raw_query), fields["SignedHeaders"], _payload_hash(request), amz_date,
        scope
    )
    return Signature(4, access_key, to_sign, fields["Signature"], region, date, V4_ALGORITHM, request, service)


def _read_v4_query(request, params, now, max_skew, regions) -> Signature:
    required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature")
    missing = [name for name in required if name not in params]
    if missing:
        raise errors.IncompleteSignature(f"Presigned request requires {', '.join(missing)}")
    if params["X-Amz-Algorithm"] != V4_ALGORITHM:
        raise errors.IncompleteSignature(f"Unsupported X-Amz-Algorithm: only {V4_ALGORITHM} is accepted")
    access_key, date, region, service = _parse_scope(params["X-Amz-Credential"])
    amz_date = params["X-Amz-Date"]
    signed_at = _parse_amz_date(amz_date)
    expires = params.get("X-Amz-Expires", "")
    if not expires.isdigit() or not 1 <= int(expires) <= MAX_PRESIGN_EXPIRES:
        raise errors.IncompleteSignature(f"X-Amz-Expires must be between 1 and {MAX_PRESIGN_EXPIRES}")
    if (signed_at - now).total_seconds() > max_skew or now > signed_at + datetime.timedelta(
        seconds=int(expires)
    ):
        raise errors.RequestExpired("Request has expired")
    _check_scope(access_key, date, region, service, amz_date, regions)
    scope = f"{date}/{region}/{service}/aws4_request"
    query = canonical_query(request.raw_query, skip="X-Amz-Signature")
    # Presigned EC2 requests hash the (empty) body like header-signed ones: a body added later fails.
    to_sign = _v4_string_to_sign(request, query, params["X-Amz-SignedHeaders"], _payload_hash(request), amz_date,
                                 scope)
    return Signature(4, access_key, to_sign, params["X-Amz-Signature"], region, date, V4_ALGORITHM, request,
                     service)


# -- SigV2 ----------------------------------------------------------------------


def v2_string_to_sign(method: str, host: str, path: str, params: Mapping[str, str]) -> str:
    """The SigV2 string to sign: verb, host, path and the sorted, encoded parameters."""
    query = "&".join(
        f"{_uri_encode(key)}={_uri_encode(value)}"
        for key, value in sorted(params.items())
        if key != "Signature"
    )
    return f"{method}\n{host.lower()}\n{path or '/'}\n{query}"


def _parse_iso(value: str) -> datetime.datetime:
    try:
        stamp = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise errors.InvalidParameterValue(f"Invalid timestamp: {value[:40]}") from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=datetime.timezone.utc)


def _read_v2(request, params, now, max_skew) -> Signature:
    for name in ("AWSAccessKeyId", "Signature", "SignatureVersion", "SignatureMethod"):
        if name not in params:
            raise errors.IncompleteSignature(f"Request must contain the parameter {name}")
    if params["SignatureVersion"] != "2":
        raise errors.IncompleteSignature("Only SignatureVersion 2 and 4 are accepted")
    method = params["SignatureMethod"]
    if method not in ("HmacSHA256", "HmacSHA1"):
        raise errors.IncompleteSignature("SignatureMethod must be HmacSHA256 or HmacSHA1")
    if "Timestamp" in params and "Expires" in params:
        raise errors.InvalidParameterCombination("A request carries Timestamp or Expires, not both")
    if "Timestamp" in params:
        _check_skew(_parse_iso(params["Timestamp"]), now, max_skew)
    elif "Expires" in params:
        expires = _parse_iso(params["Expires"])
        if now > expires:
            raise errors.RequestExpired("Request has expired")
        if (expires - now).total_seconds() > max_skew:  # else a captured request is good for years
            raise errors.RequestExpired(f"Expires is more than {max_skew // 60} minutes away from the server time")
    else:
        raise errors.MissingParameter("Request must contain either a Timestamp or an Expires parameter")
    access_key = params["AWSAccessKeyId"]
    if not _ACCESS_KEY.fullmatch(access_key):
        raise errors.InvalidClientTokenId("The security token included in the request is invalid")
    to_sign = v2_string_to_sign(request.method, request.host, request.path, params)
    return Signature(2, access_key, to_sign, params["Signature"], None, None, method, request)
