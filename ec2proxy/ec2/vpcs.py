"""The default-VPC view of Neutron: a network is a VPC, a subnet a subnet, a port a network interface.

Neutron security groups belong to a project, not to a network; EC2 shows
each in the project's default VPC, the network an instance gets when it is
booted without a subnet (Nova's ``networks: auto``: the project's own
network, else the shared one).
"""

from __future__ import annotations

import itertools
import re
from typing import Collection

from ec2proxy.ec2 import ids


def usable(networks: list[dict], project_id: str) -> list[dict]:
    """Networks a project can put instances on: its own and shared ones, never the external ones."""
    return [n for n in networks if not n.get("router:external")
            and (n.get("project_id", n.get("tenant_id")) == project_id or n.get("shared"))]


def default_network(networks: list[dict], project_id: str, made: Collection[str] = ()) -> dict | None:
    """The network Nova gives an instance by default: the project's oldest own network (a shared one if it has
    none); never a VPC made through EC2 (``made``) other than a default VPC (``ec2proxy.state.default_vpc``)."""
    candidates = [n for n in usable(networks, project_id) if n["id"] not in made]
    own = [n for n in candidates if n.get("project_id", n.get("tenant_id")) == project_id]
    chosen = sorted(own or candidates, key=lambda n: (n.get("created_at") or "", n["id"]))
    return chosen[0] if chosen else None


# Source/destination checking off: the port may send and receive for any address (a NAT or router instance),
# while its security groups still apply, which turning Neutron's port security off would drop.
ANY_ADDRESS = ({"ip_address": "0.0.0.0/0"}, {"ip_address": "::/0"})


def source_dest_check(port: dict) -> bool:
    """EC2's SourceDestCheck of a Neutron port."""
    if port.get("port_security_enabled") is False:
        return False
    return not any(pair.get("ip_address") in ("0.0.0.0/0", "::/0") for pair in port.get("allowed_address_pairs") or [])


def address_pairs(port: dict, check: bool) -> list[dict]:
    """The port's allowed address pairs with source/destination checking ``check``."""
    kept = [p for p in port.get("allowed_address_pairs") or [] if p.get("ip_address") not in ("0.0.0.0/0", "::/0")]
    return kept if check else kept + [dict(pair) for pair in ANY_ADDRESS]


# Neutron lists a port's fixed IPs in its own order (by address, as text), never in the order they were taken:
# the primary address of an interface with secondary ones is named by a tag on the port.
PRIMARY_TAG = "ec2-primary-ip:"


def primary_fixed_ip(port: dict) -> dict | None:
    """The port's primary IPv4 fixed IP: the one its tag names, else its only (or first) one."""
    v4 = [f for f in port.get("fixed_ips") or [] if ":" not in f["ip_address"]]
    named = next((t[len(PRIMARY_TAG):] for t in port.get("tags") or [] if t.startswith(PRIMARY_TAG)), None)
    return next((f for f in v4 if f["ip_address"] == named), v4[0] if v4 else None)


def primary_first(fixed: list[dict], primary: dict | None = None) -> list[dict]:
    """A port's IPv4 fixed IPs as EC2 lists an interface's private addresses: the primary first."""
    v4 = [f for f in fixed if ":" not in f["ip_address"]]
    if primary is None:
        return v4
    return [primary, *(f for f in v4 if f is not primary)]


# An attached interface (which Nova keeps when the instance goes) whose attachment has DeleteOnTermination set
# carries this tag on its port (ec2proxy.state.interface_removal deletes it after the instance).
DELETE_ON_TERMINATION = "ec2-delete-on-termination"


# The device index AttachNetworkInterface gave an interface, as a tag on its port: Neutron and Nova keep no order
# of a server's ports (an interface made before Nova made the instance's own port is older than it).
DEVICE_INDEX = "ec2-device-index:"


def device_indexes(ports: list[dict]) -> dict[str, int]:
    """Each attached port's place on its instance: the index it was attached at; the others (the ports Nova
    made at launch, or ports attached outside EC2) in the order they were made, on the first free indexes."""
    by_device: dict[str, list[dict]] = {}
    for port in ports:
        if port.get("device_id"):
            by_device.setdefault(port["device_id"], []).append(port)
    out: dict[str, int] = {}
    for held in by_device.values():
        given = {p["id"]: int(t[len(DEVICE_INDEX):]) for p in held for t in p.get("tags") or []
                 if t.startswith(DEVICE_INDEX) and t[len(DEVICE_INDEX):].isdigit()}
        free = (i for i in itertools.count() if i not in given.values())
        for port in sorted((p for p in held if p["id"] not in given),
                           key=lambda p: (p.get("created_at") or "", p["id"])):
            out[port["id"]] = next(free)
        out.update(given)
    return out


# The interface we made for an instance before its boot (ec2proxy.state.launch_ports): Nova keeps it, so whether
# it goes with the instance is its DELETE_ON_TERMINATION tag, as for any attached interface.
LAUNCH_PORT = "ec2-launch-port"


def goes_with_instance(port: dict) -> bool:
    return DELETE_ON_TERMINATION in (port.get("tags") or [])


def deletes_with_instance(port: dict, index: int) -> bool:
    """EC2's DeleteOnTermination of an attached interface: the tag's, but for the port Nova made for the instance
    (index 0), which Nova always deletes with it."""
    return goes_with_instance(port) or (index == 0 and LAUNCH_PORT not in (port.get("tags") or []))


def condemned(port: dict) -> bool:
    """An interface whose instance has ended and that goes with it, not yet deleted by the job that deletes it
    (``ec2proxy.state.interface_removal``): it holds its subnet and groups a moment longer, but is no dependency
    a DeleteSubnet or DeleteSecurityGroup should answer DependencyViolation for; they delete it first."""
    return not port.get("device_id") and goes_with_instance(port)


def gone_with_instance(port: dict) -> bool:
    """A condemned interface that was attached after its instance's launch: AWS deletes it as the instance
    terminates, so DescribeNetworkInterfaces no longer shows it, though the job deletes it a moment later. (The
    interface made for an instance before its boot looks the same until Nova binds it, so it is shown until
    the job deletes it.)"""
    return condemned(port) and LAUNCH_PORT not in (port.get("tags") or [])


# A VPC's default security group in Neutron, which allows one group named "default" per project.
VPC_DEFAULT_GROUP = re.compile(r"vpc-[0-9a-f]{8,17}-default")


def group_name(neutron_name: str) -> str:
    """The name EC2 shows for a Neutron security group's: a VPC's default group is "default"."""
    return "default" if VPC_DEFAULT_GROUP.fullmatch(neutron_name) else neutron_name


def vpc_id(network: dict | None) -> str | None:
    return ids.from_uuid("vpc", network["id"]) if network else None


NETWORK_FIELDS = ["id", "project_id", "tenant_id", "shared", "router:external", "created_at"]


def default_dhcp_options_id(project_id: str) -> str:
    """The id of the project's default DHCP options set (AWS: one per region and account, which every VPC has
    until another set is associated): derived from the project, so it is stable and never stored."""
    return ids.from_uuid("dopt", f"default:{project_id}")


def association_id(fip: dict) -> str | None:
    return ids.from_uuid("eipassoc", f"{fip['id']}/{fip['port_id']}") if fip.get("port_id") else None


