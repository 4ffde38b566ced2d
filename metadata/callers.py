"""Who is calling: the Neutron metadata proxy's signed headers (as Nova's metadata API reads them)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re

HEADERS = ("X-Instance-ID", "X-Tenant-ID", "X-Instance-ID-Signature")
_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_PROJECT = re.compile(r"[A-Za-z0-9_-]{1,64}")


class CallerError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    instance_id: str  # Nova UUID
    tenant_id: str


def sign(secret: bytes, instance_id: str) -> str:
    return hmac.new(secret, instance_id.encode(), hashlib.sha256).hexdigest()


def forwarded(headers) -> list[str]:
    """Every X-Forwarded-For address, over all header lines (haproxy adds a line, others append)."""
    return [part.strip() for value in headers.getall("X-Forwarded-For", []) for part in value.split(",")
            if part.strip()]


def from_headers(headers, secret: bytes) -> Caller | None:
    """The caller the proxy headers name; None when there are none at all (the IP fallback may apply)."""
    present = [h for h in HEADERS if headers.get(h)]
    if not present and not headers.get("X-Forwarded-For"):
        return None
    if len(present) != len(HEADERS):
        missing = ", ".join(h for h in HEADERS if not headers.get(h))
        raise CallerError(400, f"Missing metadata proxy header(s): {missing}")
    instance_id = headers["X-Instance-ID"]
    if not hmac.compare_digest(sign(secret, instance_id).encode("utf-8", "replace"),
                               headers["X-Instance-ID-Signature"].encode("utf-8", "replace")):
        raise CallerError(403, "Invalid proxy request signature.")
    # Signed is not enough: the id is used to look the instance up, so it is a UUID or nothing at all.
    if not _UUID.fullmatch(instance_id) or not _PROJECT.fullmatch(headers["X-Tenant-ID"]):
        raise CallerError(404, "Not Found")
    return Caller(instance_id, headers["X-Tenant-ID"])
