"""What a Nova server says in EC2 terms, the same for the API and the metadata service."""

from __future__ import annotations

import hashlib


def addresses(server: dict) -> tuple[str | None, str | None, str | None]:
    """(private IP, public IP, MAC) from Nova's addresses: the first fixed and floating IPv4 addresses."""
    private = public = mac = None
    for entries in (server.get("addresses") or {}).values():
        for entry in entries:
            if entry.get("version") != 4:
                continue
            if entry.get("OS-EXT-IPS:type") == "floating":
                public = public or entry["addr"]
            else:
                private = private or entry["addr"]
                mac = mac or entry.get("OS-EXT-IPS-MAC:mac_addr")
    return private, public, mac


def domain(region: str) -> str:
    """EC2's private DNS domain: ec2.internal in the default region, as in us-east-1, else REGION.compute.internal."""
    return "ec2.internal" if region in ("us-east-1", "RegionOne") else f"{region}.compute.internal"


def hostname(ip: str | None, region: str) -> str:
    """EC2's DNS name for an address ("" without one)."""
    if not ip:
        return ""
    return f"ip-{ip.replace('.', '-')}.{domain(region)}"


def zone_id(region: str, zone: str) -> str:
    """A stable zone id (DescribeAvailabilityZones' ZoneId): the same zone keeps its id when others come and go."""
    return f"{region.lower()}-az{int(hashlib.sha256(zone.encode()).hexdigest()[:6], 16) % 1000:03d}"
