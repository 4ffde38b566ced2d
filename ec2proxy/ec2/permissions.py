"""EC2 IpPermissions <-> Neutron security group rules, both ways, as pure functions.

One Neutron rule is one (protocol, ports, one source) of EC2. A rule is
known by its *key* ``(egress, protocol, from, to, source)`` with the source
``("cidr", "10.0.0.0/8")``, ``("cidr6", "::/0")`` or ``("group", uuid)``; the
same key is what Authorize checks for duplicates and Revoke looks for, so
whatever Neutron stores ("all addresses" as null or as 0.0.0.0/0) EC2 sees
one rule.

Mapping, as data:
* protocol ``-1``/``all`` -> null (any); ``tcp``/``6``, ``udp``/``17``, ``icmp``/``1``, ``icmpv6``/``58`` by
  name; any other number 0-255 as the number.
* tcp/udp ports: 0-65535 -> null/null (Neutron's "all ports"), otherwise the range (Neutron does not
  take port 0: a range from 0 starts at 1).
* icmp: FromPort is the type, ToPort the code, -1 for any -> null.
* a group pair allows both address families: one IPv4 and one IPv6 rule, read back as one pair.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable

from ec2proxy.ec2 import errors, ids

NAMES = {"-1": None, "all": None, "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
         "icmpv6": "icmpv6", "58": "icmpv6"}
# Neutron's protocol names -> what EC2 shows
FROM_NEUTRON = {None: "-1", "any": "-1", "tcp": "tcp", "udp": "udp", "icmp": "icmp", "ipv6-icmp": "icmpv6",
                "icmpv6": "icmpv6", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "gre": "47", "esp": "50",
                "ah": "51", "sctp": "132", "vrrp": "112", "igmp": "2", "egp": "8", "ipip": "4", "ipv6-encap": "41",
                "ipv6-frag": "44", "ipv6-nonxt": "59", "ipv6-opts": "60", "ipv6-route": "43", "ospf": "89",
                "pgm": "113", "rsvp": "46", "dccp": "33", "udplite": "136", "encap": "98"}
TO_NEUTRON = {"icmpv6": "ipv6-icmp"}
ALL_V4, ALL_V6 = "0.0.0.0/0", "::/0"

Key = tuple  # (egress: bool, protocol: str, from: int | None, to: int | None, source: tuple[str, str])


def protocol(value: object) -> str:
    """EC2's protocol name for what the caller wrote: ``-1``, tcp, udp, icmp, icmpv6 or a number."""
    text = str(value if value is not None else "").strip().lower()
    if text in NAMES:
        return NAMES[text] or "-1"
    if text.isdigit() and 0 <= int(text) <= 255:
        return str(int(text))
    raise errors.InvalidParameterValue(f"Invalid value '{str(value)[:32]}' for IP protocol. Unknown protocol.")


def ports(proto: str, from_port: int | None, to_port: int | None) -> tuple[int | None, int | None]:
    """The (from, to) EC2 shows for a permission, checked as EC2 checks them."""
    if proto in ("tcp", "udp"):
        if from_port is None or to_port is None:
            raise errors.InvalidParameterValue("Invalid value for portRange. Must specify both from and to ports "
                                               "with TCP/UDP.")
        if not 0 <= from_port <= to_port <= 65535:
            raise errors.InvalidParameterValue(f"Invalid port range {from_port}-{to_port}: ports are 0 to 65535 "
                                               "and from must not exceed to.")
        return from_port, to_port
    if proto in ("icmp", "icmpv6"):
        icmp_type = -1 if from_port is None else from_port
        code = -1 if to_port is None else to_port
        if not -1 <= icmp_type <= 255 or not -1 <= code <= 255 or (icmp_type == -1 and code != -1):
            raise errors.InvalidParameterValue(f"Invalid ICMP type {icmp_type} / code {code}")
        return icmp_type, code
    return None, None


def _cidr(value: object, version: int) -> str:
    try:
        network = ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        network = None
    if network is None or network.version != version:
        suffix = "v6" if version == 6 else ""
        raise errors.InvalidParameterValue(f"Value ({str(value)[:64]}) for parameter cidrIp{suffix}"
                                           " is invalid. This is not a valid CIDR block.")
    return str(network)


def requested(permissions: Iterable[dict], egress: bool, group_uuid) -> list[tuple[Key, str]]:
    """(key, description) of every rule the IpPermissions ask for; ``group_uuid`` resolves a pair's group."""
    out = []
    for permission in permissions:
        if permission.get("PrefixListIds"):
            raise errors.UnsupportedOperation("Prefix lists do not exist in this cloud; use CIDR ranges or groups.")
        proto = protocol(permission.get("IpProtocol"))
        low, high = ports(proto, permission.get("FromPort"), permission.get("ToPort"))
        sources: list[tuple[tuple[str, str], str]] = []
        for item in permission.get("IpRanges") or []:
            sources.append((("cidr", _cidr(item.get("CidrIp"), 4)), item.get("Description") or ""))
        for item in permission.get("Ipv6Ranges") or []:
            sources.append((("cidr6", _cidr(item.get("CidrIpv6"), 6)), item.get("Description") or ""))
        for item in permission.get("UserIdGroupPairs") or []:
            sources.append((("group", group_uuid(item)), item.get("Description") or ""))
        if not sources:
            raise errors.MissingParameter("An IP permission needs a source: IpRanges, Ipv6Ranges or "
                                          "UserIdGroupPairs (CidrIp or SourceSecurityGroupName).")
        for source, description in sources:
            if len(description) > 255:
                raise errors.InvalidParameterValue("Rule descriptions are at most 255 characters")
            out.append(((egress, proto, low, high, source), description))
    return out


def from_rule(rule: dict) -> Key:
    """The EC2 key of one Neutron rule."""
    proto = FROM_NEUTRON.get(rule.get("protocol"), str(rule.get("protocol")))
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if proto in ("tcp", "udp"):
        low, high = (0, 65535) if low is None else (low, high if high is not None else low)
    elif proto in ("icmp", "icmpv6"):
        low, high = (-1 if low is None else low), (-1 if high is None else high)
    else:
        low = high = None
    six = rule.get("ethertype") == "IPv6"
    if rule.get("remote_group_id"):
        source = ("group", rule["remote_group_id"])
    else:
        prefix = rule.get("remote_ip_prefix") or (ALL_V6 if six else ALL_V4)
        source = ("cidr6" if six else "cidr", str(ipaddress.ip_network(prefix, strict=False)))
    return (rule.get("direction") == "egress", proto, low, high, source)


def to_rules(key: Key, description: str, group_os_id: str) -> list[dict]:
    """The Neutron rule bodies for one EC2 key (two for a group pair: IPv4 and IPv6)."""
    egress, proto, low, high, (kind, value) = key
    body: dict = {"security_group_id": group_os_id, "direction": "egress" if egress else "ingress",
                  "description": description}
    if proto != "-1":
        body["protocol"] = TO_NEUTRON.get(proto, proto)
    if proto in ("tcp", "udp") and (low, high) != (0, 65535):
        body["port_range_min"], body["port_range_max"] = max(low, 1), high
    elif proto in ("icmp", "icmpv6"):
        if low != -1:
            body["port_range_min"] = low
        if high != -1:
            body["port_range_max"] = high
    if kind == "group":
        return [{**body, "ethertype": family, "remote_group_id": value} for family in ("IPv4", "IPv6")]
    if value not in (ALL_V4, ALL_V6):
        body["remote_ip_prefix"] = value
    return [{**body, "ethertype": "IPv6" if kind == "cidr6" else "IPv4"}]


def permissions(rules: Iterable[dict], egress: bool, project_id: str, group_names: dict[str, str]) -> list[dict]:
    """EC2 IpPermissions from Neutron rules: one entry per (protocol, ports), its sources gathered."""
    grouped: dict[tuple, dict] = {}
    seen: set[Key] = set()
    for rule in sorted(rules, key=lambda r: (r.get("created_at") or "", r["id"])):
        key = from_rule(rule)
        if key[0] != egress or key in seen:
            continue
        seen.add(key)
        _, proto, low, high, (kind, value) = key
        entry = grouped.get((proto, low, high))
        if entry is None:
            entry = grouped[(proto, low, high)] = {"IpProtocol": proto, "IpRanges": [], "Ipv6Ranges": [],
                                                   "UserIdGroupPairs": [], "PrefixListIds": []}
            if low is not None:
                entry["FromPort"], entry["ToPort"] = low, high
        described = {"Description": rule["description"]} if rule.get("description") else {}
        if kind == "cidr":
            entry["IpRanges"].append({"CidrIp": value, **described})
        elif kind == "cidr6":
            entry["Ipv6Ranges"].append({"CidrIpv6": value, **described})
        else:
            pair = {"GroupId": ids.from_uuid("sg", value), "UserId": project_id, **described}
            if value in group_names:
                pair["GroupName"] = group_names[value]
            entry["UserIdGroupPairs"].append(pair)
    return list(grouped.values())


def rule_shape(rule: dict, project_id: str, rule_id: str) -> dict:
    """One Neutron rule as an EC2 SecurityGroupRule (DescribeSecurityGroupRules) whose id is ``rule_id``."""
    egress, proto, low, high, (kind, value) = from_rule(rule)
    out = {"SecurityGroupRuleId": rule_id,
           "GroupId": ids.from_uuid("sg", rule["security_group_id"]), "GroupOwnerId": project_id,
           "IsEgress": egress, "IpProtocol": proto, "FromPort": -1 if low is None else low,
           "ToPort": -1 if high is None else high, "Description": rule.get("description") or None}
    if kind == "cidr":
        out["CidrIpv4"] = value
    elif kind == "cidr6":
        out["CidrIpv6"] = value
    else:
        out["ReferencedGroupInfo"] = {"GroupId": ids.from_uuid("sg", value), "UserId": project_id}
    return out
