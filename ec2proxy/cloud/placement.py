"""Servers placed in one subnet of a network that has several.

Nova places a server on a network, never on a subnet of it, and Neutron then
takes an address from whichever subnet it likes. An EC2 subnet of a VPC made
through EC2 is one of several subnets of the VPC's network, so a launch into it
asks Nova for each server with a fixed address taken from that subnet's free
ones (Nova then makes the port, and deletes it with the server, as for any
other launch). A multi-create cannot give each server its own address, so each
server is its own create, named as a multi-create names them; an address taken
meanwhile by someone else is replaced by the next free one.
"""

from __future__ import annotations

import asyncio
import ipaddress

from ec2proxy.cloud.failures import BackendError, BackendNotFound

ATTEMPTS = 5


async def free_addresses(neutron, subnet: dict) -> list[str]:
    """The subnet's allocation-pool addresses no port holds, in order (one port listing of the subnet)."""
    used = {f["ip_address"] for p in await neutron.list("port", {"fixed_ips": f"subnet_id={subnet['id']}",
                                                               "fields": ["id", "fixed_ips"]})
            for f in p.get("fixed_ips") or [] if f.get("subnet_id") == subnet["id"]}
    used.add(subnet.get("gateway_ip"))
    out = []
    for pool in subnet.get("allocation_pools") or []:
        start, end = int(ipaddress.IPv4Address(pool["start"])), int(ipaddress.IPv4Address(pool["end"]))
        out += [str(ipaddress.IPv4Address(n)) for n in range(start, end + 1)
                if str(ipaddress.IPv4Address(n)) not in used]
    return out


async def boot_in_subnet(nova, neutron, spec: dict, subnet: dict, count: int, fixed_ip: str | None,
                         hints: dict | None = None) -> str | None:
    """``count`` servers with their addresses on ``subnet``, named ``name`` (one) or ``name-1``, ``name-2``...;
    Nova's reservation id when there was one create. On failure the servers made are deleted."""
    free = [fixed_ip] if fixed_ip else await free_addresses(neutron, subnet)
    if len(free) < count:
        raise BackendError("network", 409, f"subnet {subnet['id']} has {len(free)} free addresses, {count} asked")
    taken = iter(free)
    names = [spec["name"]] if count == 1 else [f"{spec['name']}-{index + 1}" for index in range(count)]

    async def one(name: str) -> dict:
        for attempt in range(ATTEMPTS):
            address = next(taken, None)
            if address is None:
                raise BackendError("network", 409, f"subnet {subnet['id']} has no free address left")
            try:
                return await nova.create_servers({**spec, "name": name, "networks": [
                    {"uuid": subnet["network_id"], "fixed_ip": address}]}, 1, 1, hints)
            except BackendError as exc:  # the address went to someone else meanwhile: the next one
                if fixed_ip or attempt + 1 == ATTEMPTS or exc.status not in (400, 409) or \
                        "in use" not in exc.message.lower():
                    raise
        raise AssertionError("unreachable")

    results = await asyncio.gather(*(one(name) for name in names), return_exceptions=True)
    failure = next((r for r in results if isinstance(r, BaseException)), None)
    if failure is not None:
        for server in await nova.list_servers({"name": f"^{spec['name']}(-[0-9]+)?$"}):
            try:
                await nova.delete_server(server["id"])
            except BackendNotFound:
                pass
        raise failure
    return results[0].get("reservation_id") if count == 1 else None  # type: ignore[union-attr]
