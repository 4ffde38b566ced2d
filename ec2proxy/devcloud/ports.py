"""Neutron's ports and addresses as the dev cloud keeps them, and what Nova asks of them: a server's networks,
its ports made and bound, released with it; the project's default security group; floating IPs by port."""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from ec2proxy.devcloud.common import HTTPError, iso, new_id, now


def stamp(obj: dict, project_id: str) -> dict:
    stamp = iso(now())
    return {"project_id": project_id, "tenant_id": project_id, "created_at": stamp, "updated_at": stamp,
            "revision_number": 1, "description": "", "tags": [], **obj}


# -- derived indexes (memory only) ----------------------------------------------------


def used_ips(store, subnet_id: str) -> set[str]:
    indexes = store.__dict__.setdefault("indexes", {})
    key = ("ips", subnet_id)
    if key not in indexes:
        used: set[str] = set()
        for port in store.all("port").values():
            used.update(f["ip_address"] for f in port["fixed_ips"] if f["subnet_id"] == subnet_id)
        for fip in store.all("floatingip").values():
            if fip.get("_subnet_id") == subnet_id:
                used.add(fip["floating_ip_address"])
        indexes[key] = used
    return indexes[key]


def allocate_ip(store, subnet: dict, wanted: str | None = None) -> str:
    used = used_ips(store, subnet["id"])
    network = ipaddress.ip_network(subnet["cidr"])
    if wanted is not None:
        try:
            address = ipaddress.ip_address(wanted)
        except ValueError:
            raise HTTPError(400, f"Invalid IP address {wanted}") from None
        if address not in network or wanted == subnet["gateway_ip"]:
            raise HTTPError(400, f"IP address {wanted} is not a valid IP for the specified subnet.")
        if wanted in used:
            raise HTTPError(409, f"IP address {wanted} already allocated in subnet {subnet['id']}")
        used.add(wanted)
        return wanted
    for pool in subnet["allocation_pools"]:
        start, end = int(ipaddress.ip_address(pool["start"])), int(ipaddress.ip_address(pool["end"]))
        cursor = subnet.get("_cursor", start)
        for offset in range(end - start + 1):
            candidate = str(ipaddress.ip_address(start + (cursor - start + offset) % (end - start + 1)))
            if candidate not in used:
                used.add(candidate)
                subnet["_cursor"] = int(ipaddress.ip_address(candidate)) + 1
                return candidate
    raise HTTPError(409, f"No more IP addresses available on network {subnet['network_id']}.")


def release_ip(store, subnet_id: str, address: str) -> None:
    used_ips(store, subnet_id).discard(address)


def mac() -> str:
    return "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))


# -- helpers used by Nova -------------------------------------------------------------


def ensure_default_group(store, project_id: str) -> dict:
    """Every project has a ``default`` group, made on first use like Neutron does."""
    for group in store.all("security_group").values():
        if group["project_id"] == project_id and group["name"] == "default":
            return group
    group = store.put("security_group", stamp({"id": new_id(), "name": "default",
                                                "description": "Default security group", "stateful": True,
                                                "shared": False}, project_id))
    for ethertype in ("IPv4", "IPv6"):
        add_rule(store, {"security_group_id": group["id"], "direction": "ingress", "ethertype": ethertype,
                          "remote_group_id": group["id"]}, project_id)
        add_rule(store, {"security_group_id": group["id"], "direction": "egress", "ethertype": ethertype},
                  project_id)
    return group


def resolve_security_groups(store, project_id: str, names: list[str]) -> list[str]:
    ensure_default_group(store, project_id)
    groups = [g for g in store.all("security_group").values() if g["project_id"] == project_id]
    ids = []
    for name in names:
        match = [g for g in groups if g["name"] == name or g["id"] == name]
        if not match:
            raise HTTPError(400, f"Security group {name} not found for project {project_id}.")
        if len(match) > 1:
            raise HTTPError(409, f"Multiple security_group matches found for name '{name}', use an ID.")
        ids.append(match[0]["id"])
    return ids


def choose_networks(store, project_id: str, requested: Any) -> list[tuple[str, str | None, str | None]]:
    """(network id, fixed IP, pre-created port id) for each NIC; Nova's 'auto' picks the project's only network."""
    if requested == "none":
        return []
    if isinstance(requested, str) and requested != "auto":
        raise HTTPError(400, f"Invalid input for field/attribute networks. Value: {requested}.")
    if isinstance(requested, list) and requested:
        out: list[tuple[str, str | None, str | None]] = []
        for nic in requested:
            if nic.get("port"):  # as Nova: the project's own, unbound port
                port = store.get("port", nic["port"])
                if port is None or port["project_id"] != project_id:
                    raise HTTPError(400, f"Port id {nic['port']} could not be found.")
                if port["device_id"]:
                    raise HTTPError(409, f"Port {nic['port']} is still in use.")
                out.append((port["network_id"], None, port["id"]))
                continue
            net = store.get("network", nic.get("uuid", ""))
            if net is None or not (net["project_id"] == project_id or net["shared"]):
                raise HTTPError(400, f"Network {nic.get('uuid')} could not be found.")
            out.append((net["id"], nic.get("fixed_ip"), None))
        return out
    own = [n for n in store.all("network").values() if n["project_id"] == project_id and not n["router:external"]]
    if not own:
        own = [n for n in store.all("network").values() if n["shared"] and not n["router:external"]]
    if len(own) != 1:
        raise HTTPError(409, "Multiple possible networks found, use a Network ID to be more specific."
                        if own else "No network is available for this project.")
    return [(own[0]["id"], None, None)]


def allocate_port(store, project_id: str, network_id: str, fixed_ip: str | None, group_ids: list[str],
                  device_id: str, zone: str, subnet_id: str | None = None) -> dict:
    subnets = [s for s in store.all("subnet").values() if s["network_id"] == network_id and s["ip_version"] == 4]
    if not subnets:
        raise HTTPError(400, f"Network {network_id} has no IPv4 subnet.")
    subnet = subnets[0]
    if subnet_id is not None:
        subnet = next((s for s in subnets if s["id"] == subnet_id), None)
        if subnet is None:
            raise HTTPError(400, f"Invalid input for operation: Failed to create port on network {network_id}, "
                                 f"because fixed_ips included invalid subnet {subnet_id}.")
    elif fixed_ip is not None:
        subnet = next((s for s in subnets if ipaddress.ip_address(fixed_ip) in ipaddress.ip_network(s["cidr"])),
                      subnet)
    address = allocate_ip(store, subnet, fixed_ip)
    store.put("subnet", subnet)
    return store.put("port", stamp({
        "id": new_id(), "name": "", "network_id": network_id, "mac_address": mac(), "admin_state_up": True,
        "status": "ACTIVE", "device_id": device_id, "device_owner": f"compute:{zone}",
        "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": address}], "security_groups": group_ids,
        "allowed_address_pairs": [], "extra_dhcp_opts": [], "binding:vnic_type": "normal",
        "port_security_enabled": True}, project_id))


def bind_port(store, port_id: str, device_id: str, zone: str) -> dict:
    """A pre-created port given to a new server: Nova binds it, and unbinds (keeps) it when the server goes."""
    port = store.get("port", port_id)
    return store.put("port", {**port, "device_id": device_id, "device_owner": f"compute:{zone}", "_preserve": True,
                              "updated_at": iso(now()), "revision_number": port.get("revision_number", 1) + 1})


def _revised(obj: dict) -> dict:
    """An object as Neutron writes every change of it: a new revision, updated now."""
    return {**obj, "updated_at": iso(now()), "revision_number": obj.get("revision_number", 1) + 1}


def free_floating_ips(store, port_id: str) -> None:
    """As Neutron, when a port is deleted: its floating IPs are disassociated (kept, free)."""
    for fip in store.all("floatingip").values():
        if fip["port_id"] == port_id:
            store.put("floatingip", _revised({**fip, "port_id": None, "fixed_ip_address": None, "status": "DOWN",
                                              "router_id": None}))


def release_ports(store, device_id: str) -> None:
    for port in [p for p in store.all("port").values() if p["device_id"] == device_id]:
        if port.get("_preserve"):  # attached, not made, by Nova: unbound and kept (its floating IP too)
            store.put("port", _revised({**port, "device_id": "", "device_owner": "", "_preserve": False}))
            continue
        free_floating_ips(store, port["id"])
        for fixed in port["fixed_ips"]:
            release_ip(store, fixed["subnet_id"], fixed["ip_address"])
        store.delete("port", port["id"])


def ports_of(store, server: dict) -> list[dict]:
    return [p for p in (store.get("port", pid) for pid in server.get("ports", [])) if p is not None]


def floating_by_port(store) -> dict[str, dict]:
    return {fip["port_id"]: fip for fip in store.all("floatingip").values() if fip.get("port_id")}


def add_rule(store, spec: dict, project_id: str) -> dict:
    group = store.get("security_group", spec.get("security_group_id", ""))
    if group is None:
        raise HTTPError(404, f"Security group {spec.get('security_group_id')} does not exist")
    if spec.get("direction") not in ("ingress", "egress"):
        raise HTTPError(400, "Invalid input for direction.")
    protocol = spec.get("protocol")
    low, high = spec.get("port_range_min"), spec.get("port_range_max")
    if protocol in ("tcp", "udp", "6", "17") and low is not None:
        if low == 0 or (high is not None and (high == 0 or low > high)) or max(low, high or 0) > 65535:
            raise HTTPError(400, f"Invalid value for port {0 if 0 in (low, high) else low}")
    if spec.get("ethertype", "IPv4") == "IPv6" and spec.get("remote_ip_prefix") and \
            ":" not in spec["remote_ip_prefix"]:
        raise HTTPError(400, "Conflicting value ethertype IPv6 for CIDR " + spec["remote_ip_prefix"])
    rule = stamp({"id": new_id(), "security_group_id": group["id"], "direction": spec["direction"],
                   "ethertype": spec.get("ethertype", "IPv4"), "protocol": protocol,
                   "port_range_min": spec.get("port_range_min"), "port_range_max": spec.get("port_range_max"),
                   "remote_ip_prefix": spec.get("remote_ip_prefix"), "remote_group_id": spec.get("remote_group_id"),
                   "remote_address_group_id": None, "normalized_cidr": spec.get("remote_ip_prefix"),
                   "description": spec.get("description", "")}, group["project_id"])
    identity = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
                "remote_group_id")
    for existing in store.all("security_group_rule").values():
        if existing["security_group_id"] == group["id"] and all(existing[k] == rule[k] for k in identity):
            raise HTTPError(409, f"Security group rule already exists. Rule id is {existing['id']}.")
    return store.put("security_group_rule", rule)
