"""Elastic IPs: Neutron floating IPs, always in the VPC domain.

An association id names one (floating IP, port) pairing, so associating the
address again elsewhere gives a new ``eipassoc-`` id, as in EC2.
"""

from __future__ import annotations

import ipaddress

from ec2proxy.cloud import BackendError, BackendNotFound, CloudView
from ec2proxy.context import RequestContext
from ec2proxy.db.models import utcnow
from ec2proxy.ec2 import errors, filters, ids, paging, tagging
from ec2proxy.ec2.records import Described, shapes
from ec2proxy.ec2.vpcs import association_id, gone_with_instance
from ec2proxy.handlers import action
from ec2proxy.readmodels import live_addresses, live_instances, tag_reads
from ec2proxy.readmodels.instances import lookup
from ec2proxy.readmodels.networks import external_network, neutron_of, port_of
from ec2proxy.state import public_addresses, tag_writes, write

_get = filters.path
# AWS's answer when a VPC address is named by PublicIp where its id is needed (DisassociateAddress, ReleaseAddress)
VPC_ADDRESS_NEEDS = "You must specify %s when %s"
FILTERS = {
    "allocation-id": _get("AllocationId"), "association-id": _get("AssociationId"), "domain": _get("Domain"),
    "instance-id": _get("InstanceId"), "network-interface-id": _get("NetworkInterfaceId"),
    "network-interface-owner-id": _get("NetworkInterfaceOwnerId"), "private-ip-address": _get("PrivateIpAddress"),
    "public-ip": _get("PublicIp"), "network-border-group": _get("NetworkBorderGroup"),
    **tagging.FILTERS,
}


def build_address(fip: dict, ports: dict[str, dict], networks: dict[str, str], region: str) -> Described:
    port = ports.get(fip.get("port_id") or "")
    if port is not None and gone_with_instance(port):  # its interface went with its instance (AWS deleted it and
        # DescribeNetworkInterfaces no longer shows it) though Neutron holds it a moment longer: so did the address
        fip, port = {**fip, "port_id": None, "fixed_ip_address": None}, None
    shape = {"PublicIp": fip["floating_ip_address"], "AllocationId": ids.from_uuid("eipalloc", fip["id"]),
             "Domain": "vpc", "PublicIpv4Pool": networks.get(fip.get("floating_network_id") or "", ""),
             "NetworkBorderGroup": region}
    if fip.get("port_id"):
        shape.update(AssociationId=association_id(fip), NetworkInterfaceId=ids.from_uuid("eni", fip["port_id"]),
                     PrivateIpAddress=fip.get("fixed_ip_address"),
                     NetworkInterfaceOwnerId=(port or {}).get("project_id") or fip.get("project_id"))
        if port and (port.get("device_owner") or "").startswith("compute:") and port.get("device_id"):
            shape["InstanceId"] = ids.from_uuid("i", port["device_id"])
    return Described(shape, fip)


async def describe(ctx: RequestContext, remember: bool = False) -> list[Described]:
    """The project's addresses, read from Neutron; ``remember``: what was read refreshes the live view."""
    since = utcnow()
    neutron = neutron_of(await ctx.cloud())
    fips = [f for f in await neutron.list("floatingip")
            if f.get("project_id", f.get("tenant_id")) in (None, ctx.project_id)]
    port_ids = sorted({f["port_id"] for f in fips if f.get("port_id")})
    ports = {p["id"]: p for p in await neutron.list("port", {"id": port_ids})} if port_ids else {}
    external = await neutron.list("network", {"router:external": "true"})
    if remember and ctx.services.live.configured:
        await live_addresses.remember(ctx, fips, list(ports.values()), external, since)
    return await _shaped(ctx, fips, ports, {n["id"]: n.get("name") or n["id"] for n in external})


async def _shaped(ctx: RequestContext, fips: list[dict], ports: dict[str, dict],
                  networks: dict[str, str]) -> list[Described]:
    shapes = [build_address(f, ports, networks, ctx.region)
              for f in fips if not public_addresses.automatic(f)]  # an instance's automatic public IP is no EIP
    return await tag_reads.tagged(ctx, shapes, "AllocationId")


async def _from_view(ctx: RequestContext, allocation_ids: list[str], public_ips: list[str]) -> list[Described] | None:
    """The addresses of these allocation ids and public IPs from the live view, or None when it cannot vouch for
    them (counted)."""
    found = await live_instances.answered(ctx, live_addresses.addresses(ctx, allocation_ids, public_ips))
    return await _shaped(ctx, *found) if found is not None else None


@tag_reads.exists("eipalloc")
async def _existing(ctx: RequestContext, allocation_ids: list[str]) -> set[str]:
    return {a.shape["AllocationId"] for a in await describe(ctx)} & set(allocation_ids)


def _find(addresses: list[Described], allocation_id: str | None, public_ip: str | None) -> Described:
    if allocation_id:
        ids.check("eipalloc", allocation_id)
        found = [a for a in addresses if a.shape["AllocationId"] == allocation_id]
        if not found:
            raise errors.not_found("AllocationID", allocation_id)
        return found[0]
    if public_ip:
        try:
            ipaddress.IPv4Address(public_ip)
        except ValueError:
            raise errors.InvalidParameterValue(f"Invalid value '{public_ip[:64]}' for PublicIp") from None
        found = [a for a in addresses if a.shape["PublicIp"] == public_ip]
        if not found:
            raise errors.InvalidAddressNotFound(f"The address '{public_ip[:64]}' does not belong to you.")
        return found[0]
    raise errors.MissingParameter("The request must contain the parameter AllocationId or PublicIp")


@action("DescribeAddresses")
async def describe_addresses(ctx: RequestContext, params: dict) -> dict:
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    allocation_ids, public_ips = params.get("AllocationIds"), params.get("PublicIps")
    viewed = None
    if (allocation_ids or public_ips) and ctx.services.live.configured:
        for allocation_id in allocation_ids or []:
            ids.check("eipalloc", allocation_id)
        viewed = await _from_view(ctx, allocation_ids or [], public_ips or [])
    addresses = _named(viewed if viewed is not None else await describe(ctx, remember=True), allocation_ids,
                       public_ips)
    return {"Addresses": filters.apply(shapes(addresses), compiled)}


def _named(addresses: list[Described], allocation_ids: list[str] | None,
           public_ips: list[str] | None = None) -> list[Described]:
    """The addresses a Describe names, each once (all of them when it names none); an unknown one is NotFound."""
    if not allocation_ids and not public_ips:
        return addresses
    chosen = [_find(addresses, allocation_id, None) for allocation_id in allocation_ids or []]
    chosen += [_find(addresses, None, ip) for ip in public_ips or []]
    return list({a.shape["AllocationId"]: a for a in chosen}.values())


@action("AllocateAddress", checks_dry_run=True)
async def allocate_address(ctx: RequestContext, params: dict) -> dict:
    if params.get("Domain") not in (None, "vpc", "standard"):
        raise errors.InvalidParameterValue(f"Invalid domain: {str(params['Domain'])[:32]}")
    for member in ("PublicIpv4Pool", "CustomerOwnedIpv4Pool", "IpamPoolId"):
        if params.get(member):
            raise errors.UnsupportedOperation(f"{member} is not supported: addresses come from the cloud's external "
                                              "network.")
    tags = tagging.from_specs(params, ("elastic-ip",)).get("elastic-ip", [])
    address = params.get("Address")
    if address:
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise errors.InvalidParameterValue(f"Invalid address: {address[:64]}") from None
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    network = await external_network(ctx.services.config, view)
    fields = {"floating_network_id": network["id"]}
    if address:
        fields["floating_ip_address"] = address
    try:
        fip = await neutron_of(view).create("floatingip", fields)
    except BackendError as exc:
        message = exc.message.lower()
        if exc.status in (403, 409) and "quota" in message:
            raise errors.AddressLimitExceeded("The maximum number of addresses has been reached.") from None
        if exc.status in (400, 409) and address:
            raise errors.InvalidAddressNotFound(
                f"The address {address} is not available: {exc.message[:200]}") from None
        raise
    shape = build_address(fip, {}, {network["id"]: network.get("name") or network["id"]}, ctx.region)
    try:
        await write(ctx, tag_writes.write, ctx.project_id, {shape.shape["AllocationId"]: tags})
    except BaseException:
        await neutron_of(view).remove("floatingip", fip["id"])
        raise
    return dict(shape.shape)


async def _port_of(ctx: RequestContext, view: CloudView, params: dict) -> tuple[dict, str | None]:
    """The Neutron port (and instance os id) the address goes to: the instance's first port or the eni."""
    if params.get("NetworkInterfaceId"):
        port, _ = await port_of(view, ctx.project_id, params["NetworkInterfaceId"])
        return port, port.get("device_id") or None
    if not params.get("InstanceId"):
        raise errors.MissingParameter("The request must contain the parameter InstanceId or NetworkInterfaceId")
    (instance,) = await lookup(ctx, [params["InstanceId"]])
    if instance.shape["State"]["Name"] in ("shutting-down", "terminated"):
        raise errors.IncorrectInstanceState(
            f"The instance '{instance.shape['InstanceId']}' is not in a valid state for this operation.")
    ports = await neutron_of(view).list("port", {"device_id": instance.os_id})
    if not ports:
        raise errors.IncorrectInstanceState(
            f"The instance '{instance.shape['InstanceId']}' has no network interface yet")
    if len(ports) > 1:  # AWS will not guess which: the caller names the interface
        raise errors.multiple_interfaces(instance.shape["InstanceId"])
    return ports[0], instance.os_id


@action("AssociateAddress", checks_dry_run=True)
async def associate_address(ctx: RequestContext, params: dict) -> dict:
    """An address already associated moves only with AllowReassociation; the instance's previous address
    (on the same private IP) is disassociated, as EC2 replaces it."""
    addresses = await describe(ctx)
    address = _find(addresses, params.get("AllocationId"), params.get("PublicIp"))
    view = await ctx.cloud()
    port, _ = await _port_of(ctx, view, params)
    fixed_ips = [f["ip_address"] for f in port.get("fixed_ips") or [] if ":" not in f["ip_address"]]
    private_ip = params.get("PrivateIpAddress") or (fixed_ips[0] if fixed_ips else None)
    if private_ip not in fixed_ips:
        raise errors.InvalidParameterValue(f"The private IP address {str(private_ip)[:64]} is not on the interface")
    fip = address.os
    if fip.get("port_id") and (fip["port_id"], fip.get("fixed_ip_address")) != (port["id"], private_ip) and \
            not params.get("AllowReassociation"):
        raise errors.ResourceAlreadyAssociated(f"The address {address.shape['PublicIp']} is already associated")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    for other in addresses:  # what the interface had on that address before
        os_other = other.os
        if os_other["id"] != fip["id"] and os_other.get("port_id") == port["id"] and \
                os_other.get("fixed_ip_address") == private_ip:
            await neutron_of(view).update("floatingip", os_other["id"], {"port_id": None})
    await public_addresses.give_way(view, port["id"])
    try:
        updated = await neutron_of(view).update("floatingip", fip["id"], {"port_id": port["id"],
                                                                       "fixed_ip_address": private_ip})
    except BackendError as exc:
        if exc.status in (400, 404, 409):
            unreachable = "router" in exc.message.lower() or "not reachable" in exc.message.lower()
            raise (errors.GatewayNotAttached if unreachable else errors.InvalidParameterValue)(
                f"The address cannot reach this interface: {exc.message[:200]}") from None
        raise
    if port.get("device_id"):
        ctx.services.instance_changed(port["device_id"])
    return {"AssociationId": association_id(updated)}


@action("DisassociateAddress", checks_dry_run=True)
async def disassociate_address(ctx: RequestContext, params: dict) -> dict:
    addresses = await describe(ctx)
    if params.get("AssociationId"):
        ids.check("eipassoc", params["AssociationId"])
        found = [a for a in addresses if a.shape.get("AssociationId") == params["AssociationId"]]
        if not found:
            raise errors.not_found("AssociationID", params['AssociationId'])
        address = found[0]
    else:  # PublicIp is EC2-Classic's (deprecated): every address here is a VPC one
        _find(addresses, None, params.get("PublicIp"))
        raise errors.InvalidParameterValue(VPC_ADDRESS_NEEDS % ("an association id", "unmapping an address from a "
                                                                 "VPC instance"))
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    await neutron_of(view).update("floatingip", address.os["id"], {"port_id": None})
    if address.shape.get("InstanceId"):
        port = await neutron_of(view).show("port", address.os["port_id"])
        ctx.services.instance_changed(port.get("device_id") or "")
    return {}


@action("ReleaseAddress", checks_dry_run=True)
async def release_address(ctx: RequestContext, params: dict) -> dict:
    if params.get("AllocationId") and params.get("PublicIp"):
        raise errors.InvalidParameterCombination("Specify either PublicIp or AllocationId, not both")
    address = _find(await describe(ctx), params.get("AllocationId"), params.get("PublicIp"))
    if not params.get("AllocationId"):  # PublicIp is EC2-Classic's (deprecated): every address here is a VPC one
        raise errors.InvalidParameterValue(VPC_ADDRESS_NEEDS % ("an allocation id", "releasing a VPC elastic IP "
                                                                 "address"))
    if address.shape.get("AssociationId"):
        raise errors.InvalidIPAddressInUse(f"The address {address.shape['PublicIp']} is in use (associated).")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    try:
        await neutron_of(view).remove("floatingip", address.os["id"])
    except BackendNotFound:
        pass
    await write(ctx, tag_writes.forget, ctx.project_id, address.shape["AllocationId"])
    return {}


def _attribute_shape(address: Described) -> dict:
    """The address's reverse DNS as Neutron's DNS extension keeps it (a floating IP's dns_name in dns_domain,
    set when it is made); none where the cloud has no such extension."""
    fip = address.os
    shape = {"PublicIp": address.shape["PublicIp"], "AllocationId": address.shape["AllocationId"]}
    if fip.get("dns_name") and fip.get("dns_domain"):
        shape["PtrRecord"] = f"{fip['dns_name']}.{fip['dns_domain'].rstrip('.')}."
    return shape


def _domain_name_only(attribute: object) -> None:
    if attribute != "domain-name":
        raise errors.InvalidParameterValue(f"Value ({str(attribute)[:64]}) for parameter attribute is invalid; "
                                           "domain-name is the one address attribute")


@action("DescribeAddressesAttribute")
async def describe_addresses_attribute(ctx: RequestContext, params: dict) -> dict:
    """Terraform's aws_eip reads it on every refresh (for ptr_record) and stops when it fails."""
    _domain_name_only(params.get("Attribute"))
    paging.check_max_results(params, low=1, high=1000)
    addresses = _named(await describe(ctx), params.get("AllocationIds"))
    return paging.answer(ctx, "Addresses", [_attribute_shape(a) for a in addresses], params)


@action("ModifyAddressAttribute", checks_dry_run=True)
async def modify_address_attribute(ctx: RequestContext, params: dict) -> dict:
    _find(await describe(ctx), params["AllocationId"], None)
    raise errors.UnsupportedOperation("Neutron gives a floating IP its DNS name only when it is made: the reverse "
                                      "DNS of an address cannot be changed on this cloud.")


@action("ResetAddressAttribute", checks_dry_run=True)
async def reset_address_attribute(ctx: RequestContext, params: dict) -> dict:
    """Nothing to reset on an address with no reverse DNS (every address where the cloud has no DNS extension)."""
    _domain_name_only(params.get("Attribute"))
    shape = _attribute_shape(_find(await describe(ctx), params["AllocationId"], None))
    if "PtrRecord" in shape:
        raise errors.UnsupportedOperation("Neutron keeps a floating IP's DNS name for its life: the reverse DNS of "
                                          "an address cannot be reset on this cloud.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    return {"Address": shape}
