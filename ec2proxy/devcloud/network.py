"""Neutron v2.0: networks, subnets, ports, security groups and rules, floating IPs, routers.

One generic collection handler (list with field filters, ``fields`` and
marker paging; show; create; update; delete) over per-kind rules kept as data
(:data:`KINDS`), plus the helpers Nova uses to wire servers to ports.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Callable

from aiohttp import web

from ec2proxy.devcloud.common import (
    STATE,
    HTTPError,
    Matcher,
    auth,
    base_url,
    body_json,
    field_filters,
    iso,
    new_id,
    now,
    paged_reply,
    reply,
)
from ec2proxy.devcloud.ports import (
    add_rule,
    allocate_ip,
    allocate_port,
    ensure_default_group,
    free_floating_ips,
    mac,
    release_ip,
    stamp,
)
from ec2proxy.devcloud.subnets import check_name_servers, create_subnet, create_subnetpool

routes = web.RouteTableDef()
PREFIX = "/network/v2.0"


# -- per-kind rules --------------------------------------------------------------------


def _create_network(store, spec: dict, token) -> dict:
    external = bool(spec.get("router:external", False))
    if external and not token.admin:
        raise HTTPError(403, "Only admins may create external networks.")
    return stamp({"id": new_id(), "name": spec.get("name", ""), "admin_state_up": spec.get("admin_state_up", True),
                   "status": "ACTIVE", "subnets": [], "shared": bool(spec.get("shared", False)),
                   "router:external": external, "mtu": 1500, "port_security_enabled": True,
                   "availability_zones": ["nova"], "ipv4_address_scope": None, "ipv6_address_scope": None,
                   "is_default": False}, str(spec.get("project_id")) if token.admin and spec.get("project_id")
                  else token.project_id)


def _create_port(store, spec: dict, token) -> dict:
    network = store.get("network", spec.get("network_id", ""))
    if network is None:
        raise HTTPError(404, f"Network {spec.get('network_id')} could not be found.")
    fixed = (spec.get("fixed_ips") or [{}])[0]
    port = allocate_port(store, token.project_id, network["id"], fixed.get("ip_address"),
                         spec.get("security_groups") or [ensure_default_group(store, token.project_id)["id"]],
                         spec.get("device_id", ""), "nova", fixed.get("subnet_id"))
    port = {**port, "name": spec.get("name", ""), "device_owner": spec.get("device_owner", ""),
            "description": spec.get("description", ""),
            "extra_dhcp_opts": _dhcp_options([], spec.get("extra_dhcp_opts") or [])}
    try:
        if len(spec.get("fixed_ips") or []) > 1:  # the first is allocated: the others join it
            port["fixed_ips"] = _fixed_ips(store, port, [port["fixed_ips"][0], *spec["fixed_ips"][1:]])
    except BaseException:
        for held in port["fixed_ips"]:
            release_ip(store, held["subnet_id"], held["ip_address"])
        store.delete("port", port["id"])
        raise
    return port


def _fixed_ips(store, port: dict, wanted: list[dict]) -> list[dict]:
    """A port's new fixed IPs, as Neutron: an entry with an address it holds keeps it, one with a new address
    takes it (409 if another port holds it), one with a subnet alone keeps an address the port holds there and
    no entry names, else takes the next free one; the addresses not kept are released. Each subnet must be on
    the port's network. Listed by address as text, as Neutron lists them."""
    held = {f["ip_address"]: f for f in port["fixed_ips"]}
    kept = {w.get("ip_address") for w in wanted if w.get("ip_address") in held}
    out, taken = [], []
    try:
        for entry in wanted:
            address = entry.get("ip_address")
            if address is None:
                spare = next((a for a, f in held.items() if a not in kept and f["subnet_id"] == entry.get("subnet_id")),
                             None)
                if spare is not None:
                    kept.add(spare)
                    address = spare
            if address in held:
                out.append(held[address])
                continue
            subnet = store.get("subnet", entry.get("subnet_id") or "")
            if subnet is None and address:
                subnet = next((s for s in store.all("subnet").values() if s["network_id"] == port["network_id"]
                               and ipaddress.ip_address(address) in ipaddress.ip_network(s["cidr"])), None)
            if subnet is None or subnet["network_id"] != port["network_id"]:
                raise HTTPError(400, f"Invalid input for operation: Failed to create port on network "
                                     f"{port['network_id']}, because fixed_ips included invalid subnet "
                                     f"{entry.get('subnet_id')}.")
            new = {"subnet_id": subnet["id"], "ip_address": allocate_ip(store, subnet, address)}
            store.put("subnet", subnet)
            taken.append(new)
            out.append(new)
    except BaseException:
        for new in taken:
            release_ip(store, new["subnet_id"], new["ip_address"])
        raise
    for address, fixed in held.items():
        if address not in kept:
            release_ip(store, fixed["subnet_id"], address)
    return sorted(out, key=lambda f: f["ip_address"])


def _dhcp_options(held: list[dict], given: list[dict]) -> list[dict]:
    """Neutron's extra_dhcp_opts update: an option named again takes the new value, one given a null value
    is removed, the others stay."""
    out = {(o["opt_name"], int(o.get("ip_version") or 4)): o for o in held}
    for option in given:
        if not isinstance(option, dict) or not option.get("opt_name"):
            raise HTTPError(400, f"Invalid input for extra_dhcp_opts. Reason: '{option}' is not a valid option.")
        key = (option["opt_name"], int(option.get("ip_version") or 4))
        if option.get("opt_value") is None:
            out.pop(key, None)
        else:
            out[key] = {"opt_name": key[0], "opt_value": str(option["opt_value"]), "ip_version": key[1]}
    return list(out.values())


def _create_security_group(store, spec: dict, token) -> dict:
    group = store.put("security_group", stamp({"id": new_id(), "name": spec.get("name", ""),
                                                "description": spec.get("description", ""), "stateful": True,
                                                "shared": False}, token.project_id))
    for ethertype in ("IPv4", "IPv6"):
        add_rule(store, {"security_group_id": group["id"], "direction": "egress", "ethertype": ethertype},
                  token.project_id)
    return group


def _create_floatingip(store, spec: dict, token) -> dict:
    network = store.get("network", spec.get("floating_network_id", ""))
    if network is None or not network["router:external"]:
        raise HTTPError(404, f"Network {spec.get('floating_network_id')} could not be found.")
    subnet = store.get("subnet", network["subnets"][0])
    address = allocate_ip(store, subnet, spec.get("floating_ip_address"))
    store.put("subnet", subnet)
    fip = stamp({"id": new_id(), "floating_ip_address": address, "floating_network_id": network["id"],
                  "router_id": None, "port_id": None, "fixed_ip_address": None, "status": "DOWN",
                  "port_details": None, "qos_policy_id": None, "_subnet_id": subnet["id"],
                  "description": spec.get("description", "")}, token.project_id)
    if spec.get("port_id"):
        fip = _associate(store, fip, spec["port_id"], spec.get("fixed_ip_address"), token)
    return fip


def _associate(store, fip: dict, port_id: str | None, fixed_ip: str | None, token) -> dict:
    if port_id is None:
        return {**fip, "port_id": None, "fixed_ip_address": None, "status": "DOWN", "router_id": None}
    port = store.get("port", port_id)
    if port is None or port["project_id"] != fip["project_id"]:
        raise HTTPError(404, f"Port {port_id} could not be found.")
    for other in store.all("floatingip").values():
        if other["port_id"] == port_id and other["id"] != fip["id"]:
            raise HTTPError(409, f"Cannot associate floating IP {fip['floating_ip_address']} with port {port_id}: "
                                 f"it already has a floating IP.")
    subnet_ids = {f["subnet_id"] for f in port["fixed_ips"]}
    router = next((r for r in store.all("router").values()
                   if (r.get("external_gateway_info") or {}).get("network_id") == fip["floating_network_id"]
                   and any(s and s["id"] in subnet_ids for s in _router_subnets(store, r))), None)
    if router is None:  # as Neutron: a floating IP needs a router from its subnet to the external network
        raise HTTPError(404, f"External network {fip['floating_network_id']} is not reachable from subnet "
                             f"{sorted(subnet_ids)[0]}.  Therefore, cannot associate Port {port_id} with a "
                             "Floating IP.")
    return {**fip, "port_id": port_id, "fixed_ip_address": fixed_ip or port["fixed_ips"][0]["ip_address"],
            "status": "ACTIVE", "router_id": router["id"]}


def _update_floatingip(store, fip: dict, spec: dict, token) -> dict:
    if "port_id" in spec:
        return _associate(store, fip, spec["port_id"], spec.get("fixed_ip_address"), token)
    return {**fip, **{k: v for k, v in spec.items() if k == "description"}}


def _router_subnets(store, router: dict) -> list[dict]:
    return [store.get("subnet", f["subnet_id"]) for p in store.all("port").values()
            if p["device_id"] == router["id"] and p["device_owner"] == "network:router_interface"
            for f in p["fixed_ips"]]


def _update_router(store, router: dict, spec: dict) -> dict:
    """As Neutron: an external gateway gets an address on the external network; an extra route's next hop
    must be on a subnet the router has an interface on."""
    unknown = set(spec) - UPDATABLE["router"]
    if unknown:
        raise HTTPError(400, f"Cannot update read-only attribute {sorted(unknown)[0]}")
    changed = {**router, **spec}
    if "external_gateway_info" in spec:
        gateway = spec["external_gateway_info"] or {}
        old = router.get("external_gateway_info") or {}
        for fixed in old.get("external_fixed_ips") or []:
            release_ip(store, fixed["subnet_id"], fixed["ip_address"])
        if gateway.get("network_id"):
            external = store.get("network", gateway["network_id"])
            subnets = [s for s in store.all("subnet").values() if external and s["network_id"] == external["id"]]
            if external is None or not external["router:external"] or not subnets:
                raise HTTPError(400, f"Bad router request: Network {gateway['network_id']} is not an external "
                                     "network.")
            address = allocate_ip(store, subnets[0], None)
            store.put("subnet", subnets[0])
            changed["external_gateway_info"] = {"network_id": external["id"], "enable_snat": True,
                                                "external_fixed_ips": [{"subnet_id": subnets[0]["id"],
                                                                        "ip_address": address}]}
        else:
            changed["external_gateway_info"] = None
    if "routes" in spec:
        connected = [ipaddress.ip_network(s["cidr"]) for s in _router_subnets(store, router) if s]
        for route in spec["routes"] or []:
            if not any(ipaddress.ip_address(route["nexthop"]) in net for net in connected):
                raise HTTPError(400, f"Invalid format for routes: {spec['routes']}, the nexthop is not connected "
                                     "with router")
    return changed


def attach_interface(store, router: dict, subnet: dict) -> dict:
    """The router's port on the subnet, holding the subnet's gateway address."""
    return store.put("port", stamp({
        "id": new_id(), "name": "", "network_id": subnet["network_id"], "mac_address": mac(),
        "admin_state_up": True, "status": "ACTIVE", "device_id": router["id"],
        "device_owner": "network:router_interface",
        "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": subnet["gateway_ip"]}], "security_groups": [],
        "allowed_address_pairs": [], "extra_dhcp_opts": [], "binding:vnic_type": "normal",
        "port_security_enabled": False}, router["project_id"]))


@routes.put(PREFIX + "/routers/{id}/{verb:add_router_interface|remove_router_interface}")
async def router_interface(request: web.Request) -> web.Response:
    """A port on the subnet holding its gateway address, owned by the router (or that port removed)."""
    token = auth(request)
    store = request.app[STATE].store
    router = store.get("router", request.match_info["id"])
    if router is None or not _visible("router", router, token, store):
        raise HTTPError(404, f"Router {request.match_info['id']} could not be found.")
    subnet_id = ((await body_json(request)) or {}).get("subnet_id", "")
    subnet = store.get("subnet", subnet_id)
    if subnet is None:
        raise HTTPError(404, f"Subnet {subnet_id} could not be found.")
    existing = next((p for p in store.all("port").values() if p["device_id"] == router["id"]
                     and any(f["subnet_id"] == subnet_id for f in p["fixed_ips"])), None)
    if request.match_info["verb"].startswith("add"):
        if existing is not None:
            raise HTTPError(400, f"Bad router request: Router already has a port on subnet {subnet_id}.")
        with store.batch():
            port = attach_interface(store, router, subnet)
    else:
        if existing is None:
            raise HTTPError(404, f"Router {router['id']} has no interface on subnet {subnet_id}")
        store.delete("port", existing["id"])
        port = existing
    return reply({"id": router["id"], "project_id": router["project_id"], "port_id": port["id"],
                  "network_id": subnet["network_id"], "subnet_id": subnet_id, "subnet_ids": [subnet_id]})


def _create_router(store, spec: dict, token) -> dict:
    return stamp({"id": new_id(), "name": spec.get("name", ""), "admin_state_up": True, "status": "ACTIVE",
                   "external_gateway_info": spec.get("external_gateway_info"), "routes": [],
                   "distributed": False, "ha": False, "availability_zones": ["nova"]}, token.project_id)


def _delete_check(store, kind: str, obj: dict) -> None:
    if kind == "security_group":
        if obj["name"] == "default":
            raise HTTPError(409, "Insufficient rights for removing default security group.")
        if any(obj["id"] in p["security_groups"] for p in store.all("port").values()):
            raise HTTPError(409, f"Security Group {obj['id']} in use.")
    if kind == "network" and any(p["network_id"] == obj["id"] for p in store.all("port").values()):
        raise HTTPError(409, f"Unable to complete operation on network {obj['id']}. There are one or more ports "
                             f"still in use on the network.")
    if kind == "subnet" and any(f["subnet_id"] == obj["id"] for p in store.all("port").values()
                                for f in p["fixed_ips"]):
        raise HTTPError(409, f"Unable to complete operation on subnet {obj['id']}: One or more ports have an IP "
                             "allocation from this subnet.")
    if kind == "router":
        attached = [p["id"] for p in store.all("port").values() if p["device_id"] == obj["id"]]
        if attached:
            raise HTTPError(409, f"Router {obj['id']} has ports still attached: {', '.join(attached)}")


def _after_delete(store, kind: str, obj: dict) -> None:
    if kind == "security_group":
        for rule in [r for r in store.all("security_group_rule").values() if r["security_group_id"] == obj["id"]]:
            store.delete("security_group_rule", rule["id"])
    if kind == "floatingip":
        release_ip(store, obj["_subnet_id"], obj["floating_ip_address"])
    if kind == "port":
        free_floating_ips(store, obj["id"])
        for fixed in obj["fixed_ips"]:
            release_ip(store, fixed["subnet_id"], fixed["ip_address"])
    if kind == "network":  # Neutron deletes a network's subnets with it
        for subnet in [s for s in store.all("subnet").values() if s["network_id"] == obj["id"]]:
            store.delete("subnet", subnet["id"])
    if kind == "subnet":
        network = store.get("network", obj["network_id"])
        if network is not None:
            store.put("network", {**network, "subnets": [s for s in network["subnets"] if s != obj["id"]]})


UPDATABLE = {
    "network": {"name", "admin_state_up", "description", "shared", "is_default"},
    "subnet": {"name", "description", "dns_nameservers", "enable_dhcp", "gateway_ip", "host_routes"},
    "port": {"name", "description", "security_groups", "admin_state_up", "device_id", "device_owner",
             "allowed_address_pairs", "port_security_enabled", "fixed_ips", "extra_dhcp_opts"},
    "security_group": {"name", "description"},
    "router": {"name", "description", "external_gateway_info", "admin_state_up", "routes"},
}

Creator = Callable[[Any, dict, Any], dict]
KINDS: dict[str, tuple[str, Creator]] = {
    # collection -> (singular, creator)
    "networks": ("network", _create_network),
    "subnets": ("subnet", create_subnet),
    "ports": ("port", _create_port),
    "security-groups": ("security_group", _create_security_group),
    "security-group-rules": ("security_group_rule", lambda store, spec, token: add_rule(store, spec,
                                                                                         token.project_id)),
    "floatingips": ("floatingip", _create_floatingip),
    "routers": ("router", _create_router),
    "subnetpools": ("subnetpool", create_subnetpool),
}
SHARED_VISIBLE = {"network": lambda obj: obj["shared"] or obj["router:external"],
                  "subnetpool": lambda obj: obj["shared"],
                  "subnet": lambda obj: False}


def _public(kind: str, obj: dict, store, rules_of: dict[str, list[dict]] | None = None) -> dict:
    """The object as Neutron shows it; a listing of groups passes their rules indexed by group once."""
    body = {k: v for k, v in obj.items() if not k.startswith("_")}
    if kind == "security_group":
        rules = rules_of.get(obj["id"], []) if rules_of is not None else [
            r for r in store.all("security_group_rule").values() if r["security_group_id"] == obj["id"]]
        body["security_group_rules"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rules]
    return body


def _rules_by_group(store) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for rule in store.all("security_group_rule").values():
        out.setdefault(rule["security_group_id"], []).append(rule)
    return out


def _visible(kind: str, obj: dict, token, store) -> bool:
    if token.admin or obj["project_id"] == token.project_id:
        return True
    if kind == "subnet":
        network = store.get("network", obj["network_id"])
        return bool(network) and (network["shared"] or network["router:external"])
    return SHARED_VISIBLE.get(kind, lambda o: False)(obj)


def _kind(request: web.Request) -> tuple[str, str]:
    collection = request.match_info["collection"]
    if collection not in KINDS:
        raise HTTPError(404, "The resource could not be found.")
    return collection, KINDS[collection][0]


def _fields(request: web.Request, body: dict) -> dict:
    wanted = request.query.getall("fields", [])
    return {k: v for k, v in body.items() if k in wanted} if wanted else body


@routes.get("/network")
@routes.get("/network/")
async def versions(request: web.Request) -> web.Response:
    return reply({"versions": [{"id": "v2.0", "status": "CURRENT",
                                "links": [{"href": f"{base_url(request)}{PREFIX}/", "rel": "self"}]}]})


QUOTA = {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50, "security_group": 10,
         "security_group_rule": 100}


@routes.get(PREFIX + "/quotas/{project_id}")
async def show_quota(request: web.Request) -> web.Response:
    token = auth(request)
    if request.match_info["project_id"] != token.project_id and not token.admin:
        raise HTTPError(403, "Not authorized.")
    return reply({"quota": dict(QUOTA)})


@routes.put(PREFIX + "/{collection}/{id}/tags/{tag}")
@routes.delete(PREFIX + "/{collection}/{id}/tags/{tag}")
async def one_tag(request: web.Request) -> web.Response:
    """Neutron's tag extension: one tag added (201) or removed (204; 404 if the object lacks it)."""
    store = request.app[STATE].store
    _, kind = _kind(request)
    obj = _find(request, kind)
    tag, tags = request.match_info["tag"], list(obj.get("tags") or [])
    if request.method == "PUT":
        store.put(kind, {**obj, "tags": tags + [tag] if tag not in tags else tags})
        return reply(None, 201)
    if tag not in tags:
        raise HTTPError(404, f"Tag {tag} could not be found.")
    store.put(kind, {**obj, "tags": [t for t in tags if t != tag]})
    return reply(None, 204)


@routes.get(PREFIX + "/auto-allocated-topology/{project_id}")
async def auto_allocated_topology(request: web.Request) -> web.Response:
    """As Neutron's auto-allocate extension: the project's network, a subnet from the default IPv4 subnet pool
    and a router to the default external network, made on the first call; 409 when the cloud has no default
    external network or no default subnet pool."""
    token = auth(request)
    store = request.app[STATE].store
    project_id = request.match_info["project_id"]
    if project_id != token.project_id and not token.admin:
        raise HTTPError(403, "Not authorized.")
    made = next((n for n in store.all("network").values() if n["project_id"] == project_id
                 and n["name"] == "auto_allocated_network"), None)
    if made is None:
        external = next((n for n in store.all("network").values() if n["router:external"] and n.get("is_default")),
                        None)
        if external is None:
            raise HTTPError(409, "Deployment error: No default router:external network.")
        pool = next((p for p in store.all("subnetpool").values() if p["is_default"] and p["ip_version"] == 4), None)
        if pool is None:
            raise HTTPError(409, "Deployment error: No default subnetpools defined.")
        owner = type("T", (), {"admin": False, "project_id": project_id})()
        with store.batch():
            made = store.put("network", _create_network(store, {"name": "auto_allocated_network"}, owner))
            subnet = store.put("subnet", create_subnet(store, {"network_id": made["id"], "subnetpool_id": pool["id"],
                                                                "name": "auto_allocated_subnet_v4"}, owner))
            router = store.put("router", _create_router(store, {"name": "auto_allocated_router"}, owner))
            router = store.put("router", _update_router(store, router, {
                "external_gateway_info": {"network_id": external["id"]}}))
            attach_interface(store, router, subnet)
    return reply({"auto_allocated_topology": {"id": made["id"], "tenant_id": project_id,
                                              "project_id": project_id}})


def _fixed_ip_matcher(key: str, value: str) -> Matcher:
    """Neutron's fixed_ips filter: an address, a subnet, or part of an address."""
    if key == "ip_address_substr":
        return lambda o: any(value in f["ip_address"] for f in o.get("fixed_ips") or [])
    return lambda o: any(f.get(key) == value for f in o.get("fixed_ips") or [])


@routes.get(PREFIX + "/{collection}")
async def list_collection(request: web.Request) -> web.Response:
    token = auth(request)
    store = request.app[STATE].store
    collection, kind = _kind(request)
    ensure_default_group(store, token.project_id)
    if "changed_since" in request.query:  # as the lab's Neutron (its filter validation on, as by default)
        raise HTTPError(400, "['changed_since'] is invalid attribute for filtering")
    reserved = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse", "fixed_ips"}
    matchers = field_filters(request, [k for k in request.query.keys() if k not in reserved])
    for wanted in request.query.getall("fixed_ips", []):  # Neutron's fixed_ips=ip_address=X / subnet_id=Y
        key, _, value = wanted.partition("=")
        if key not in ("ip_address", "subnet_id", "ip_address_substr"):
            raise HTTPError(400, f"Invalid fixed_ips filter {wanted}")
        matchers.append(_fixed_ip_matcher(key, value))
    items = [o for o in store.all(kind).values()
             if _visible(kind, o, token, store) and all(m(o) for m in matchers)]
    rules_of = _rules_by_group(store) if kind == "security_group" else None
    return paged_reply(request, items, collection.replace("-", "_"),
                       lambda obj: _fields(request, _public(kind, obj, store, rules_of)))


def _find(request: web.Request, kind: str) -> dict:
    token = auth(request)
    store = request.app[STATE].store
    obj = store.get(kind, request.match_info["id"])
    if obj is None or not _visible(kind, obj, token, store):
        raise HTTPError(404, f"{kind.replace('_', ' ').title()} {request.match_info['id']} could not be found.")
    return obj


@routes.get(PREFIX + "/{collection}/{id}")
async def show(request: web.Request) -> web.Response:
    collection, kind = _kind(request)
    return reply({kind: _fields(request, _public(kind, _find(request, kind), request.app[STATE].store))})


@routes.post(PREFIX + "/{collection}")
async def create(request: web.Request) -> web.Response:
    token = auth(request)
    store = request.app[STATE].store
    collection, kind = _kind(request)
    creator = KINDS[collection][1]
    body = (await body_json(request)) or {}
    plural = collection.replace("-", "_")
    if isinstance(body.get(plural), list):  # bulk create: all or nothing, like Neutron
        made: list[dict] = []
        try:
            with store.batch():
                for spec in body[plural]:
                    if not isinstance(spec, dict):
                        raise HTTPError(400, f"Resource body required: {kind}")
                    made.append(store.put(kind, creator(store, spec, token)))
        except BaseException:
            for obj in made:
                store.all(kind).pop(obj["id"], None)
            raise
        return reply({plural: [_public(kind, obj, store) for obj in made]}, 201)
    spec = body.get(kind)
    if not isinstance(spec, dict):
        raise HTTPError(400, f"Resource body required: {kind}")
    with store.batch():
        obj = store.put(kind, creator(store, spec, token))
    return reply({kind: _public(kind, obj, store)}, 201)


@routes.put(PREFIX + "/{collection}/{id}")
async def update(request: web.Request) -> web.Response:
    token = auth(request)
    store = request.app[STATE].store
    collection, kind = _kind(request)
    obj = _find(request, kind)
    spec = ((await body_json(request)) or {}).get(kind) or {}
    if kind == "floatingip":
        changed = _update_floatingip(store, obj, spec, token)
    elif kind == "router":
        changed = _update_router(store, obj, spec)
    else:
        allowed = UPDATABLE.get(kind, set())
        unknown = set(spec) - allowed
        if unknown:
            raise HTTPError(400, f"Cannot update read-only attribute {sorted(unknown)[0]}")
        changed = {**obj, **spec}
        if kind == "subnet":
            check_name_servers(spec.get("dns_nameservers") or [])
        if kind == "network" and "is_default" in spec and not (token.admin and obj["router:external"]):
            raise HTTPError(403, "Only an admin may set is_default, on an external network.")
        if kind == "port" and "fixed_ips" in spec:
            with store.batch():
                changed["fixed_ips"] = _fixed_ips(store, obj, spec["fixed_ips"] or [])
        if kind == "port" and "extra_dhcp_opts" in spec:
            changed["extra_dhcp_opts"] = _dhcp_options(obj.get("extra_dhcp_opts") or [], spec["extra_dhcp_opts"] or [])
    changed = {**changed, "updated_at": iso(now()), "revision_number": obj["revision_number"] + 1}
    return reply({kind: _public(kind, store.put(kind, changed), store)})


@routes.delete(PREFIX + "/{collection}/{id}")
async def delete(request: web.Request) -> web.Response:
    store = request.app[STATE].store
    collection, kind = _kind(request)
    obj = _find(request, kind)
    _delete_check(store, kind, obj)
    with store.batch():
        store.delete(kind, obj["id"])
        _after_delete(store, kind, obj)
    return reply(None, 204)
