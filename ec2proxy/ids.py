"""EC2 ids: ``i-`` + 17 hex digits, one per OpenStack UUID.

Ids are derived from the UUID (a keyed hash would add nothing: UUIDs are not
secret), so anything created outside the proxy has a stable id the first
time it is seen and a Describe never writes. New EC2-only objects
(reservations) get random ids.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets

from ec2proxy import errors

# EC2 id prefix -> the name EC2 uses in its error codes (InvalidInstanceID.Malformed...)
KINDS = {
    "i": "InstanceID", "r": "ReservationID", "ami": "AMIID", "vol": "VolumeID", "snap": "SnapshotID",
    "sg": "GroupId", "eipalloc": "AllocationID", "key": "KeyPair", "vpc": "VpcID", "subnet": "SubnetID",
    "eni": "NetworkInterfaceID", "sgr": "SecurityGroupRuleId", "eipassoc": "AssociationID", "aki": "AMIID",
    "ari": "AMIID",
}
_SHAPE = re.compile(r"([a-z]+)-([0-9a-f]{8}|[0-9a-f]{17})")


@functools.lru_cache(maxsize=1 << 16)
def from_uuid(prefix: str, os_id: str) -> str:
    return f"{prefix}-{hashlib.sha256(f'{prefix}:{os_id}'.encode()).hexdigest()[:17]}"


def new(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def check(prefix: str, value: str) -> str:
    """The id if it is well formed for ``prefix``, else ``Invalid<Kind>.Malformed``."""
    match = _SHAPE.fullmatch(value or "")
    if match is None or match.group(1) != prefix:
        raise errors.malformed(KINDS[prefix], value[:64] if value else "")
    return value
