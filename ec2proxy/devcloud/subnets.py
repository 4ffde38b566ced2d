"""Neutron subnets and subnet pools as the dev cloud makes them: a block given or taken from a pool, its
allocation pools and gateway, its name servers within Neutron's limit."""

from __future__ import annotations

import ipaddress

from ec2proxy.devcloud.common import HTTPError, new_id
from ec2proxy.devcloud.ports import stamp


def create_subnet(store, spec: dict, token) -> dict:
    network = store.get("network", spec.get("network_id", ""))
    if network is None:
        raise HTTPError(404, f"Network {spec.get('network_id')} could not be found.")
    pool = store.get("subnetpool", spec.get("subnetpool_id") or "") if spec.get("subnetpool_id") else None
    if spec.get("subnetpool_id") and pool is None:
        raise HTTPError(404, f"Subnet pool {spec['subnetpool_id']} could not be found.")
    try:
        cidr = ipaddress.ip_network(spec["cidr"], strict=False) if spec.get("cidr") or pool is None else \
            from_pool(store, pool, int(spec.get("prefixlen") or pool["default_prefixlen"]))
    except (KeyError, ValueError):
        raise HTTPError(400, "Invalid input for cidr.") from None
    for other in store.all("subnet").values():
        if other["network_id"] == network["id"] and cidr.overlaps(ipaddress.ip_network(other["cidr"])):
            raise HTTPError(400, f"Invalid input for operation: Requested subnet with cidr: {cidr} for network: "
                                 f"{network['id']} overlaps with another subnet.")
    check_name_servers(spec.get("dns_nameservers") or [])
    hosts = list(host_bounds(cidr))
    gateway = spec.get("gateway_ip", str(ipaddress.ip_address(hosts[0])))
    pools = spec.get("allocation_pools") or [{"start": str(ipaddress.ip_address(hosts[0] + 1)),
                                              "end": str(ipaddress.ip_address(hosts[1]))}]
    subnet = stamp({"id": new_id(), "name": spec.get("name", ""), "network_id": network["id"],
                     "cidr": str(cidr), "ip_version": cidr.version, "gateway_ip": gateway,
                     "allocation_pools": pools, "enable_dhcp": spec.get("enable_dhcp", True),
                     "dns_nameservers": spec.get("dns_nameservers", []),
                     "host_routes": spec.get("host_routes") or [],
                     "ipv6_address_mode": None, "ipv6_ra_mode": None,
                     "subnetpool_id": pool["id"] if pool else None,
                     "service_types": [], "segment_id": None}, network["project_id"])
    store.put("network", {**network, "subnets": network["subnets"] + [subnet["id"]]})
    return subnet


MAX_NAME_SERVERS = 5  # Neutron's max_dns_nameservers default


def check_name_servers(servers: list[str]) -> None:
    if len(servers) > MAX_NAME_SERVERS:
        raise HTTPError(400, f"Number of DNS nameservers exceeds the limit {MAX_NAME_SERVERS}.")
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise HTTPError(400, f"Invalid input for dns_nameservers. Reason: '{server}' is not a valid nameserver."
                            ) from None


def from_pool(store, pool: dict, prefixlen: int):
    """The first block of ``prefixlen`` in the pool's prefixes that no subnet of the pool overlaps (Neutron's
    subnet allocation); 409 when the pool is full."""
    taken = [ipaddress.ip_network(s["cidr"]) for s in store.all("subnet").values()
             if s.get("subnetpool_id") == pool["id"]]
    for prefix in pool["prefixes"]:
        network = ipaddress.ip_network(prefix)
        if prefixlen < network.prefixlen:
            continue
        for block in network.subnets(new_prefix=prefixlen):
            if not any(block.overlaps(t) for t in taken):
                return block
    raise HTTPError(409, f"Insufficient prefix space to allocate subnet size /{prefixlen}.")


def create_subnetpool(store, spec: dict, token) -> dict:
    """A subnet pool (Neutron's subnet_allocation); only an admin makes a shared or default one."""
    if (spec.get("is_default") or spec.get("shared")) and not token.admin:
        raise HTTPError(403, "Only an admin may make a shared or default subnet pool.")
    try:
        prefixes = [str(ipaddress.ip_network(p)) for p in spec.get("prefixes") or []]
    except ValueError:
        raise HTTPError(400, "Invalid input for prefixes.") from None
    if not prefixes:
        raise HTTPError(400, "Invalid input for operation: prefixes is required.")
    version = ipaddress.ip_network(prefixes[0]).version
    return stamp({"id": new_id(), "name": spec.get("name", ""), "prefixes": prefixes, "ip_version": version,
                   "default_prefixlen": int(spec.get("default_prefixlen") or (26 if version == 4 else 64)),
                   "min_prefixlen": int(spec.get("min_prefixlen") or 8), "max_prefixlen": 32 if version == 4 else 128,
                   "is_default": bool(spec.get("is_default")), "shared": bool(spec.get("shared")),
                   "address_scope_id": None}, token.project_id)


def host_bounds(cidr) -> tuple[int, int]:
    return int(cidr.network_address) + 1, int(cidr.broadcast_address) - 1
