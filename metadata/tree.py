"""The EC2 metadata tree of one instance, built once per cache fill from Nova, Neutron and our row.

A directory is a dict, a leaf is text (or bytes for user data). Listings
follow EC2: one entry per line, sub-directories with a trailing ``/`` (but
the version level lists ``dynamic``, ``meta-data``, ``user-data`` bare, as
EC2 does), ``public-keys/`` as ``0=name``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from ec2proxy.ec2 import ids
from ec2proxy.ec2.servers import addresses, hostname

VERSIONS = ("1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15", "2008-02-01",
            "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01", "2012-01-12", "2014-02-25", "2014-11-05",
            "2015-10-20", "2016-04-19", "2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17", "2018-09-24",
            "2019-10-01", "2020-10-27", "2021-01-03", "2021-03-23", "2021-07-15", "2022-09-24", "2024-04-11",
            "latest")
DATED = re.compile(r"^\d{4}-\d{2}-\d{2}$")
LISTING = "__listing__"  # a directory whose listing is not its keys (public-keys/)


def known_version(name: str) -> bool:
    return name in VERSIONS or DATED.match(name) is not None


def versions_listing() -> str:
    return "\n".join(VERSIONS)


def _user_data(row, server: dict) -> bytes | None:
    encoded = row.user_data if row is not None else server.get("OS-EXT-SRV-ATTR:user_data")
    if not encoded:
        return None
    try:
        return base64.b64decode(encoded)
    except (binascii.Error, ValueError):
        return None


def _interfaces(ports: list[dict], subnets: dict[str, dict], public_ip: str | None, owner: str, groups: list[str],
                region: str) -> dict[str, dict]:
    """network/interfaces/macs: each port by its MAC; the public address is the first interface's."""
    interfaces = {}
    for index, port in enumerate(ports):
        port_ips = [f["ip_address"] for f in port.get("fixed_ips") or [] if ":" not in f["ip_address"]]
        subnet = subnets.get((port.get("fixed_ips") or [{}])[0].get("subnet_id", ""), {})
        port_public = [public_ip] if public_ip and port_ips and index == 0 else []
        entry = {
            "device-number": str(index), "interface-id": ids.from_uuid("eni", port["id"]),
            "local-hostname": hostname(port_ips[0] if port_ips else None, region),
            "local-ipv4s": "\n".join(port_ips), "mac": port["mac_address"], "owner-id": owner,
            "security-group-ids": "\n".join(ids.from_uuid("sg", g) for g in port.get("security_groups") or []),
            "security-groups": "\n".join(groups),
            "subnet-id": ids.from_uuid("subnet", subnet["id"]) if subnet else "",
            "subnet-ipv4-cidr-block": subnet.get("cidr", ""),
            "vpc-id": ids.from_uuid("vpc", port["network_id"]),
            "vpc-ipv4-cidr-block": subnet.get("cidr", ""), "vpc-ipv4-cidr-blocks": subnet.get("cidr", ""),
        }
        if port_public:
            entry["public-hostname"] = hostname(port_public[0], region)
            entry["public-ipv4s"] = "\n".join(port_public)
        interfaces[port["mac_address"]] = entry
    return interfaces


def _block_devices(server: dict, row, root: str) -> dict[str, str]:
    """block-device-mapping: the root, the flavor's ephemeral and swap disks, and the EBS volumes recorded."""
    block_devices = {"ami": root, "root": root}
    flavor = server.get("flavor") or {}
    if flavor.get("ephemeral"):
        block_devices["ephemeral0"] = "sdb"
    if flavor.get("swap"):
        block_devices["swap"] = "sdc"
    for n, mapping in enumerate(m for m in (row.block_device_mappings if row is not None else []) if "Ebs" in m):
        block_devices[f"ebs{n + 1}"] = mapping["DeviceName"]
    return block_devices


def build(server: dict, row, tags: list[tuple[str, str]], ports: list[dict], subnets: dict[str, dict],
          region: str) -> dict:
    """Everything one instance's metadata requests can ask for, as a tree plus its options."""
    private_ip, public_ip, mac = addresses(server)
    mac = mac or ""
    image = server.get("image") or {}
    ec2_id = row.ec2_id if row is not None else ids.from_uuid("i", server["id"])
    ami = row.image_id if row is not None else (ids.from_uuid("ami", image["id"]) if image else "")
    instance_type = (server.get("flavor") or {}).get("original_name") or (row.instance_type if row else "")
    zone = server.get("OS-EXT-AZ:availability_zone") or ""
    groups = [g["name"] for g in server.get("security_groups") or []]
    private_name, public_name = hostname(private_ip, region), hostname(public_ip, region)
    owner = server.get("tenant_id") or ""
    root = row.root_device_name if row is not None else "/dev/sda1"

    interfaces = _interfaces(ports, subnets, public_ip, owner, groups, region)
    if not interfaces and mac:
        interfaces[mac] = {"device-number": "0", "local-hostname": private_name, "local-ipv4s": private_ip or "",
                           "mac": mac, "owner-id": owner, "security-groups": "\n".join(groups)}

    block_devices = _block_devices(server, row, root)

    meta = {
        "ami-id": ami, "ami-launch-index": str(row.launch_index if row is not None else 0),
        "ami-manifest-path": "(unknown)", "block-device-mapping": block_devices,
        "hostname": private_name, "instance-action": "none", "instance-id": ec2_id,
        "instance-life-cycle": "on-demand", "instance-type": instance_type,
        "local-hostname": private_name, "local-ipv4": private_ip or "", "mac": mac,
        "network": {"interfaces": {"macs": interfaces}},
        "placement": {"availability-zone": zone, "region": region},
        "profile": "default-hvm",
        "reservation-id": row.reservation_id if row is not None else ids.from_uuid("r", server["id"]),
        "security-groups": "\n".join(groups),
        "services": {"domain": "amazonaws.com", "partition": "aws"},
    }
    if row is not None and row.kernel_id:
        meta["kernel-id"] = row.kernel_id
    if row is not None and row.ramdisk_id:
        meta["ramdisk-id"] = row.ramdisk_id
    if public_ip:
        meta["public-hostname"], meta["public-ipv4"] = public_name, public_ip
    key = row.public_key if row is not None else None
    key_name = (row.key_name if row is not None else None) or server.get("key_name")
    if key and key_name:
        meta["public-keys"] = {"0": {"openssh-key": key.strip() + "\n"}, LISTING: f"0={key_name}"}
    options = dict(row.metadata_options) if row is not None and row.metadata_options else {}
    if options.get("InstanceMetadataTags") == "enabled":
        meta["tags"] = {"instance": {k: v for k, v in tags}}

    document = json.dumps({
        "accountId": owner, "architecture": "x86_64", "availabilityZone": zone, "billingProducts": None,
        "devpayProductCodes": None, "marketplaceProductCodes": None, "imageId": ami, "instanceId": ec2_id,
        "instanceType": instance_type, "kernelId": meta.get("kernel-id"),
        "pendingTime": (server.get("created") or "").replace("+00:00", "Z"), "privateIp": private_ip,
        "ramdiskId": meta.get("ramdisk-id"), "region": region, "version": "2017-09-30",
    }, indent=2)
    return {"meta": meta, "user_data": _user_data(row, server), "document": document, "options": options,
            "tenant_id": owner, "os_id": server["id"]}


def listing(directory: dict, bare: bool = False) -> str:
    if LISTING in directory:
        return directory[LISTING]
    return "\n".join(name if bare or not isinstance(value, dict) else f"{name}/"
                     for name, value in sorted(directory.items()) if name != LISTING)


def lookup(tree: dict, parts: list[str]):
    """The node at ``parts`` below ``tree`` (a dict or a leaf), or None."""
    node = tree
    for part in parts:
        if not isinstance(node, dict) or part == LISTING or part not in node:
            return None
        node = node[part]
    return node
