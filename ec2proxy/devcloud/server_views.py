"""A Nova server as the API shows it, at the request's microversion: its addresses from its ports (and their
floating IPs), its flavor, volumes, host id and the extended attributes."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from aiohttp import web

from ec2proxy.devcloud import ports as neutron_ports
from ec2proxy.devcloud.common import TOKEN, VERSION, base_url, iso

PREFIX = "/compute/v2.1"

FLAVORS = [
    # id, name, vcpus, ram MiB, disk GB
    ("1", "m1.tiny", 1, 512, 1), ("2", "m1.small", 1, 2048, 20), ("3", "m1.medium", 2, 4096, 40),
    ("4", "m1.large", 4, 8192, 80), ("5", "m1.xlarge", 8, 16384, 160),
    ("t2.nano", "t2.nano", 1, 512, 8), ("t2.micro", "t2.micro", 1, 1024, 8), ("t2.small", "t2.small", 1, 2048, 8),
    ("t2.medium", "t2.medium", 2, 4096, 8), ("t3.micro", "t3.micro", 2, 1024, 8),
    ("t3.small", "t3.small", 2, 2048, 8), ("t3.medium", "t3.medium", 2, 4096, 8),
    ("m5.large", "m5.large", 2, 8192, 8), ("m5.xlarge", "m5.xlarge", 4, 16384, 8),
    ("c5.large", "c5.large", 2, 4096, 8), ("r5.large", "r5.large", 2, 16384, 8),
]


def flavor_by_id(flavor_id: str) -> dict | None:
    for fid, name, vcpus, ram, disk in FLAVORS:
        if fid == flavor_id or name == flavor_id:
            return {"id": fid, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk}
    return None



@functools.lru_cache(maxsize=1024)
def _host_id(project_id: str) -> str:
    """Nova's hostId: a per-project hash of the host (one host here)."""
    return hashlib.sha224((project_id + "lab-compute").encode()).hexdigest()


def render(request: web.Request, cloud, server: dict, floating: dict[str, dict] | None = None) -> dict:
    version_ = request[VERSION]
    token = request[TOKEN]
    base = base_url(request)
    flavor = flavor_by_id(server["flavor_id"]) or {"id": server["flavor_id"], "name": server["flavor_id"],
                                               "vcpus": 0, "ram": 0, "disk": 0}
    addresses: dict[str, list] = {}
    for port in neutron_ports.ports_of(cloud.store, server):
        net = cloud.store.get("network", port["network_id"]) or {"name": port["network_id"]}
        entries = addresses.setdefault(net["name"], [])
        for fixed in port["fixed_ips"]:
            entries.append({"OS-EXT-IPS-MAC:mac_addr": port["mac_address"], "OS-EXT-IPS:type": "fixed",
                            "addr": fixed["ip_address"], "version": 4})
        fip = (floating or {}).get(port["id"])
        if fip is not None:
            entries.append({"OS-EXT-IPS-MAC:mac_addr": port["mac_address"], "OS-EXT-IPS:type": "floating",
                            "addr": fip["floating_ip_address"], "version": 4})
    body: dict[str, Any] = {
        "id": server["id"], "name": server["name"], "status": server["status"],
        "tenant_id": server["project_id"], "user_id": server["user_id"], "metadata": server["metadata"],
        "hostId": _host_id(server["project_id"]),
        "image": "" if not server["image_id"] else {
            "id": server["image_id"], "links": [{"href": f"{base}/images/{server['image_id']}", "rel": "bookmark"}]},
        "created": iso(server["created"]), "updated": iso(server["updated"]),
        "addresses": addresses, "accessIPv4": "", "accessIPv6": "",
        "links": [{"href": f"{base}{PREFIX}/servers/{server['id']}", "rel": "self"},
                  {"href": f"{base}/compute/servers/{server['id']}", "rel": "bookmark"}],
        "OS-DCF:diskConfig": "MANUAL", "progress": 0, "config_drive": "",
        # Until scheduled, Nova knows no zone unless one was asked for.
        "OS-EXT-AZ:availability_zone": "" if server["status"] == "BUILD" and not server.get("zone_requested")
        else server["availability_zone"],
        "OS-EXT-STS:power_state": server["power_state"], "OS-EXT-STS:task_state": server["task_state"],
        "OS-EXT-STS:vm_state": server["vm_state"],
        "OS-SRV-USG:launched_at": iso(server["launched_at"], micro=True),
        "OS-SRV-USG:terminated_at": iso(server["terminated_at"], micro=True),
        "key_name": server["key_name"],
        "security_groups": [{"name": name} for name in server["security_groups"]],
        "os-extended-volumes:volumes_attached": [
            {"id": vol_id, "delete_on_termination": dot} for vol_id, dot in server.get("volumes", [])],
    }
    if version_ >= (2, 47):
        body["flavor"] = {"disk": flavor["disk"], "ephemeral": 0, "extra_specs": {}, "original_name": flavor["name"],
                          "ram": flavor["ram"], "swap": 0, "vcpus": flavor["vcpus"]}
    else:
        body["flavor"] = {"id": flavor["id"], "links": [{"href": f"{base}/flavors/{flavor['id']}", "rel": "bookmark"}]}
    if version_ >= (2, 19):
        body["description"] = server.get("description")
    if version_ >= (2, 26):
        body["tags"] = []
    if version_ >= (2, 9):
        body["locked"] = False
    if server.get("fault"):
        body["fault"] = server["fault"]
    if version_ >= (2, 90):
        body["OS-EXT-SRV-ATTR:hostname"] = server["hostname"]
    if token.admin:
        body.update({"OS-EXT-SRV-ATTR:host": "lab-compute", "OS-EXT-SRV-ATTR:hypervisor_hostname": "lab-compute",
                     "OS-EXT-SRV-ATTR:instance_name": f"instance-{server['seq']:08x}"})
        if version_ >= (2, 3):
            body.update({"OS-EXT-SRV-ATTR:reservation_id": server["reservation_id"],
                         "OS-EXT-SRV-ATTR:launch_index": server["launch_index"],
                         "OS-EXT-SRV-ATTR:hostname": server["hostname"],
                         "OS-EXT-SRV-ATTR:kernel_id": server["kernel_id"],
                         "OS-EXT-SRV-ATTR:ramdisk_id": server["ramdisk_id"],
                         "OS-EXT-SRV-ATTR:root_device_name": server["root_device_name"],
                         "OS-EXT-SRV-ATTR:user_data": server["user_data"]})
    return body
