"""EC2 ids: ``i-`` + 17 hex digits, one per OpenStack UUID.

Ids are derived from the UUID (a keyed hash would add nothing: UUIDs are not
secret), so anything created outside the proxy has a stable id the first
time it is seen and a Describe never writes. New EC2-only objects
(reservations) get random ids.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from ec2proxy.ec2 import errors

# EC2 id prefix -> the name EC2 uses in its error codes (InvalidInstanceID.Malformed...)
KINDS = {
    "i": "InstanceID", "r": "ReservationID", "ami": "AMIID", "vol": "VolumeID", "snap": "SnapshotID",
    "sg": "GroupId", "eipalloc": "AllocationID", "key": "KeyPair", "vpc": "VpcID", "subnet": "SubnetID",
    "eni": "NetworkInterfaceID", "sgr": "SecurityGroupRuleId", "eipassoc": "AssociationID", "aki": "AMIID",
    "ari": "AMIID", "igw": "InternetGatewayID", "rtb": "RouteTableID", "rtbassoc": "AssociationID",
    "eni-attach": "AttachmentID", "dopt": "DhcpOptionID", "vgw": "VpnGatewayID", "cgw": "CustomerGatewayID",
    "vpn": "VpnConnectionID", "acl": "NetworkAclID", "aclassoc": "AssociationID", "pg": "PlacementGroupId",
    "lt": "LaunchTemplateId",
}
_SHAPE = re.compile(r"([a-z]+(?:-[a-z]+)?)-([0-9a-f]{8}|[0-9a-f]{17})")  # eni-attach-0123...
_ACCOUNT = re.compile(r"[A-Za-z0-9_-]{1,64}")  # an owner id is a Keystone project id


# Ids this process has computed, both ways: an EC2 id is a digest, so the OpenStack id behind one is
# known only once seen. Bounded: cleared whole when full (it refills from the next listings).
_FORWARD: dict[tuple[str, str], str] = {}
_BACK: dict[str, str] = {}
_LIMIT = 1 << 17


def from_uuid(prefix: str, os_id: str) -> str:
    key = (prefix, os_id)
    ec2_id = _FORWARD.get(key)
    if ec2_id is None:
        if len(_FORWARD) >= _LIMIT:
            _FORWARD.clear()
            _BACK.clear()
        ec2_id = _FORWARD[key] = f"{prefix}-{hashlib.sha256(f'{prefix}:{os_id}'.encode()).hexdigest()[:17]}"
        _BACK[ec2_id] = os_id
    return ec2_id


def os_id_of(ec2_id: str) -> str | None:
    """The OpenStack id behind ``ec2_id`` if this process has seen it (None: ask a listing)."""
    return _BACK.get(ec2_id)


def new(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def check(prefix: str, value: str) -> str:
    """The id if it is well formed for ``prefix``, else ``Invalid<Kind>.Malformed``."""
    match = _SHAPE.fullmatch(value or "")
    if match is None or match.group(1) != prefix:
        raise errors.malformed(KINDS[prefix], value[:64] if value else "")
    return value


def account(value: str) -> str:
    """An account (owner, user) id as EC2 shows it, a Keystone project id, else ``InvalidUserID.Malformed``."""
    if not isinstance(value, str) or _ACCOUNT.fullmatch(value) is None:
        raise errors.InvalidUserIDMalformed(f"Invalid user id: \"{str(value)[:64]}\"")
    return value
