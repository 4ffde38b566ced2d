"""Network interfaces: Neutron ports. Created in a subnet, attached to and detached from instances through
Nova's os-interface (Nova keeps, on the instance's termination, a port it did not make), their description,
groups and source/destination checking changed on the port."""

from __future__ import annotations

import asyncio
import functools
import ipaddress

from ec2proxy.cloud import BackendError, BackendNotFound, address_failure, removed
from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors, ids, tagging, vpcs
from ec2proxy.handlers import action
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.instances import lookup
from ec2proxy.readmodels.networks import (
    ENI_FILTERS,
    answer,
    build_interface,
    existing,
    network_state,
    neutron_of,
    subnet_state,
    vpc_default_group,
    vpc_state,
    zone,
)
from ec2proxy.state import dhcp_options, ledger, port_tags, tag_writes, write


def _shapes(state: dict, default_zone: str, region: str) -> list[dict]:
    indexes = vpcs.device_indexes(state["ports"])
    shapes = []
    for port in state["ports"]:
        if (port.get("device_owner") or "").startswith(("network:", "neutron:")) or vpcs.gone_with_instance(port):
            continue
        shape = build_interface(port, state["fips"], state["groups"], default_zone, region)
        if "Attachment" in shape:
            shape["Attachment"]["DeviceIndex"] = indexes.get(port["id"], 0)
            shape["Attachment"]["DeleteOnTermination"] = vpcs.deletes_with_instance(port,
                                                                                    indexes.get(port["id"], 0))
        shapes.append(shape)
    return shapes


@action("DescribeNetworkInterfaces")
async def describe_network_interfaces(ctx: RequestContext, params: dict) -> dict:
    state, default_zone = await asyncio.gather(network_state(ctx, with_ports=True), zone(ctx))
    return {"NetworkInterfaces": await answer(ctx, params, _shapes(state, default_zone, ctx.region),
                                              "NetworkInterfaceId", "eni", ENI_FILTERS, "TagSet")}


async def _interface(ctx: RequestContext, eni: str) -> tuple[dict, dict]:
    """(the Neutron port behind ``eni``, the state of its VPC): by GET when this process knows the port, else
    from the project's ports."""
    ids.check("eni", eni)
    os_id = ids.os_id_of(eni)
    if os_id is not None:
        try:
            port = await neutron_of(await ctx.cloud()).show("port", os_id)
        except BackendNotFound:
            raise errors.not_found("NetworkInterfaceID", eni) from None
        if port.get("project_id", port.get("tenant_id")) != ctx.project_id:
            raise errors.not_found("NetworkInterfaceID", eni)
        return port, await vpc_state(ctx, ids.from_uuid("vpc", port["network_id"]), with_ports=True)
    state = await network_state(ctx, with_ports=True)
    listed = [p for p in state["ports"] if ids.from_uuid("eni", p["id"]) == eni]
    if not listed:
        raise errors.not_found("NetworkInterfaceID", eni)
    port = listed[0]
    return port, state


async def _group_os_ids(ctx: RequestContext, neutron, group_ids: list[str]) -> list[str]:
    """The caller's Neutron groups behind ``group_ids``: asked by id where this process knows them, else from
    the project's groups; one missing is ``InvalidGroup.NotFound``."""
    wanted = [ids.check("sg", g) for g in group_ids]
    if not wanted:
        return []
    known_ids = [ids.os_id_of(g) for g in wanted]
    query: dict = {"fields": ["id", "project_id"]}
    if None not in known_ids:
        query["id"] = known_ids
    known = {ids.from_uuid("sg", g["id"]): g["id"] for g in await neutron.list("security_group", query)
             if g.get("project_id") == ctx.project_id}
    missing = [g for g in wanted if g not in known]
    if missing:
        raise errors.InvalidGroupNotFound(f"The security group '{missing[0]}' does not exist")
    return [known[g] for g in wanted]


async def _default_groups(ctx: RequestContext, network_id: str) -> list[str]:
    default = await vpc_default_group(ctx, network_id)
    return [default] if default else []  # else Neutron's: the project's default group


@action("CreateNetworkInterface", checks_dry_run=True)
async def create_network_interface(ctx: RequestContext, params: dict) -> dict:
    for member in ("Ipv4Prefixes", "Ipv4PrefixCount", "Ipv6Prefixes", "Ipv6PrefixCount", "Ipv6Addresses",
                   "Ipv6AddressCount", "EnablePrimaryIpv6", "ConnectionTrackingSpecification", "Operator"):
        if params.get(member):
            raise errors.UnsupportedOperation(f"CreateNetworkInterface with {member} is not supported by this cloud.")
    if params.get("InterfaceType") not in (None, "interface"):
        raise errors.UnsupportedOperation("Only interfaces of type 'interface' exist in this cloud.")
    listed = params.get("PrivateIpAddresses") or []
    if sum(1 for p in listed if p.get("Primary")) > 1 or (params.get("PrivateIpAddress") and any(
            p.get("Primary") and p.get("PrivateIpAddress") != params["PrivateIpAddress"] for p in listed)):
        raise errors.InvalidParameterValue("An interface has one primary private IP address")
    subnet, _ = await subnet_state(ctx, params["SubnetId"])
    address = params.get("PrivateIpAddress") or next(
        (p["PrivateIpAddress"] for p in listed if p.get("Primary")), None)
    secondary = [p["PrivateIpAddress"] for p in listed if not p.get("Primary") and p.get("PrivateIpAddress")
                 and p["PrivateIpAddress"] != address]
    for value in [address, *secondary]:
        if value:
            _check_in_subnet(value, subnet)
    first = {"subnet_id": subnet["id"], **({"ip_address": address} if address else {})}
    more = [*({"subnet_id": subnet["id"], "ip_address": a} for a in secondary),
            *({"subnet_id": subnet["id"]} for _ in range(_count(params)))]
    view = await ctx.cloud()
    neutron = neutron_of(view)
    group_ids = await _group_os_ids(ctx, neutron, params.get("Groups") or []) or \
        await _default_groups(ctx, subnet["network_id"])
    tags = tagging.from_specs(params, ("network-interface",)).get("network-interface", [])
    options = (await dhcp_options.of_networks(ctx.services.sessions, ctx.project_id, [subnet["network_id"]])
               ).get(subnet["network_id"])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    create = await ledger.Create.begin(ctx, params, ids.new("eni"))
    marker = create.marker  # the port's name: what a retry finds it by
    found = await neutron.list("port", {"name": marker}) if not create.owner or create.adopting else []
    if not create.owner:
        if not found:
            raise errors.IdempotentParameterMismatch("The interface created with this client token no longer "
                                                     "exists.")
        port = found[0]
    else:
        await create.log([marker])
        try:
            port = found[0] if found else await neutron.create("port", {
                "network_id": subnet["network_id"], "name": marker, "description": params.get("Description") or "",
                "fixed_ips": [first],
                **({"security_groups": group_ids} if group_ids else {}),
                **({"extra_dhcp_opts": [o for o in dhcp_options.port_options(options) if o["opt_value"]]}
                   if options else {})})
            if more and len(port.get("fixed_ips") or []) == 1:  # the primary first, named, then the others
                port = await _with_secondaries(neutron, port, more)
        except BackendError as exc:
            failure = address_failure(exc, params["SubnetId"])
            await create.failed(failure, str(exc))
            raise failure from None
        except BaseException:
            await create.interrupted()
            raise
        await create.record(tag_writes.write, ctx.project_id, {ids.from_uuid("eni", port["id"]): tags})
    held = port.get("security_groups") or []
    names = {g["id"]: g["name"] for g in await neutron.list("security_group", {"id": held, "fields": ["id", "name"]})
             } if held else {}
    shape = build_interface(port, [], names, await zone(ctx), ctx.region)
    return {"NetworkInterface": {**shape, "TagSet": tags},
            **({"ClientToken": params["ClientToken"]} if params.get("ClientToken") else {})}


async def _with_secondaries(neutron, port: dict, more: list[dict]) -> dict:
    """The new port with its secondary addresses; if they cannot be had, the port is removed (all or nothing)."""
    try:
        await port_tags.name_primary(neutron, port)
        return await neutron.update("port", port["id"], {"fixed_ips": [*port["fixed_ips"], *more]})
    except BaseException:
        await removed(lambda: neutron.remove("port", port["id"]))
        raise


@action("DeleteNetworkInterface", checks_dry_run=True)
async def delete_network_interface(ctx: RequestContext, params: dict) -> dict:
    port, _ = await _interface(ctx, params["NetworkInterfaceId"])
    if port.get("device_id"):  # AWS answers a delete so (its error codes allow InvalidNetworkInterface.InUse too)
        raise errors.InvalidParameterValue(f"Network interface '{params['NetworkInterfaceId']}' is currently in "
                                           "use.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    neutron = neutron_of(await ctx.cloud())
    await removed(lambda: neutron.remove("port", port["id"]))
    await write(ctx, tag_writes.forget, ctx.project_id, params["NetworkInterfaceId"])
    return {}


@action("AttachNetworkInterface", checks_dry_run=True)
async def attach_network_interface(ctx: RequestContext, params: dict) -> dict:
    port, state = await _interface(ctx, params["NetworkInterfaceId"])
    (instance,) = await lookup(ctx, [params["InstanceId"]])
    if port.get("device_id"):
        raise errors.InvalidNetworkInterfaceInUse(f"Interface {params['NetworkInterfaceId']} in use.")
    if instance.shape.get("VpcId") and instance.shape["VpcId"] != ids.from_uuid("vpc", port["network_id"]):
        raise errors.InvalidParameterValue("The instance and the network interface are in different VPCs")
    index = params.get("DeviceIndex")
    held = vpcs.device_indexes([p for p in state["ports"] if p.get("device_id") == instance.os_id])
    if index is None or index < 1:
        raise errors.InvalidParameterValue("DeviceIndex must be 1 or more: index 0 is the instance's own")
    if index in held.values():
        raise errors.InvalidParameterValue(f"Instance {instance.shape['InstanceId']} already has an interface at "
                                           f"device index {index}")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    neutron = neutron_of(view)
    await _untag(neutron, port)  # an earlier attachment's
    await neutron.add_tag("port", port["id"], f"{vpcs.DEVICE_INDEX}{index}")
    try:
        await view.nova.attach_interface(instance.os_id, port["id"])
    except BaseException as exc:
        await _untag(neutron, {**port, "tags": [f"{vpcs.DEVICE_INDEX}{index}"]})
        if isinstance(exc, BackendError) and exc.status == 409:
            raise errors.IncorrectInstanceState(f"{instance.shape['InstanceId']} cannot take an interface now: "
                                                f"{exc.message[:200]}") from None
        raise
    ctx.services.instance_changed(instance.os_id)
    return {"AttachmentId": ids.from_uuid("eni-attach", port["id"]), "NetworkCardIndex": 0}


@action("DetachNetworkInterface", checks_dry_run=True)
async def detach_network_interface(ctx: RequestContext, params: dict) -> dict:
    attachment = ids.check("eni-attach", params["AttachmentId"])
    state = await network_state(ctx, with_ports=True)
    port = next((p for p in state["ports"] if p.get("device_id")
                 and ids.from_uuid("eni-attach", p["id"]) == attachment), None)
    if port is None:
        raise errors.not_found("AttachmentID", attachment)
    if vpcs.device_indexes(state["ports"])[port["id"]] == 0:
        raise errors.OperationNotPermitted("The network interface at device index 0 cannot be detached.")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    view = await ctx.cloud()
    await view.nova.detach_interface(port["device_id"], port["id"])
    await _untag(neutron_of(view), port)  # the attachment's index and DeleteOnTermination go with it
    ctx.services.instance_changed(port["device_id"])
    return {}


async def _untag(neutron, port: dict) -> None:
    """The port's attachment tags removed (each one already gone counts as removed)."""
    await removed(*(functools.partial(neutron.remove_tag, "port", port["id"], tag)
                         for tag in port.get("tags") or []
                         if tag.startswith(vpcs.DEVICE_INDEX) or tag == vpcs.DELETE_ON_TERMINATION))


MAX_SECONDARY = 49  # the most secondary addresses AWS gives one interface of its largest types


def _count(params: dict) -> int:
    count = params.get("SecondaryPrivateIpAddressCount") or 0
    if not 0 <= count <= MAX_SECONDARY:
        raise errors.PrivateIpAddressLimitExceeded(
            f"Number of private addresses {count} is out of range: at most {MAX_SECONDARY} "
            "secondary addresses per interface")
    return count


def _check_in_subnet(address: str, subnet: dict) -> None:
    try:
        inside = ipaddress.IPv4Address(address) in ipaddress.IPv4Network(subnet["cidr"])
    except ValueError:
        raise errors.InvalidParameterValue(f"Value ({address[:64]}) for parameter privateIpAddress is invalid. "
                                           "It must be an IPv4 address") from None
    if not inside:
        raise errors.InvalidParameterValue(f"Address {address} does not fall within the subnet's address range")


@action("AssignPrivateIpAddresses", checks_dry_run=True)
async def assign_private_ip_addresses(ctx: RequestContext, params: dict) -> dict:
    """Secondary addresses are more fixed IPs of the port, in the subnet of its primary one. With
    AllowReassignment an address another interface holds as a secondary moves here."""
    if params.get("Ipv4Prefixes") or params.get("Ipv4PrefixCount"):
        raise errors.UnsupportedOperation("IPv4 prefixes on interfaces are not supported by this cloud.")
    asked, count = list(params.get("PrivateIpAddresses") or []), _count(params)
    if bool(asked) == bool(count):
        raise errors.InvalidParameterCombination("Give either PrivateIpAddresses or SecondaryPrivateIpAddressCount")
    port, state = await _interface(ctx, params["NetworkInterfaceId"])
    primary = vpcs.primary_fixed_ip(port)
    if primary is None:
        raise errors.InvalidParameterValue(f"{params['NetworkInterfaceId']} has no IPv4 address")
    subnet = next(s for s in state["subnets"] if s["id"] == primary["subnet_id"])
    held = {f["ip_address"] for f in port.get("fixed_ips") or []}
    if len(held) - 1 + len(asked) + count > MAX_SECONDARY:
        raise errors.PrivateIpAddressLimitExceeded(f"At most {MAX_SECONDARY} secondary addresses per interface")
    moved: list[tuple[dict, list[dict]]] = []  # (another port, its fixed IPs without the address)
    for address in asked:
        _check_in_subnet(address, subnet)
        holder = next((p for p in state["ports"] if p["id"] != port["id"]
                       and any(f["ip_address"] == address for f in p.get("fixed_ips") or [])), None)
        if holder is None:
            continue
        if not params.get("AllowReassignment") or vpcs.primary_fixed_ip(holder) == next(
                f for f in holder["fixed_ips"] if f["ip_address"] == address):
            raise errors.InvalidIPAddressInUse(f"Address {address} is in use by another interface")
        moved.append((holder, [f for f in holder["fixed_ips"] if f["ip_address"] != address]))
    if ctx.dry_run:
        raise errors.DryRunOperation()
    neutron = neutron_of(await ctx.cloud())
    await port_tags.name_primary(neutron, port)
    for holder, kept in moved:
        await neutron.update("port", holder["id"], {"fixed_ips": kept})
    try:
        updated = await neutron.update("port", port["id"], {"fixed_ips": [
            *port["fixed_ips"], *({"subnet_id": subnet["id"], "ip_address": a} for a in asked if a not in held),
            *({"subnet_id": subnet["id"]} for _ in range(count))]})
    except BackendError as exc:
        for holder, _ in moved:  # the addresses go back where they were
            await neutron.update("port", holder["id"], {"fixed_ips": holder["fixed_ips"]})
        raise address_failure(exc, ids.from_uuid("subnet", subnet["id"])) from None
    if port.get("device_id"):
        ctx.services.instance_changed(port["device_id"])
    assigned = [f["ip_address"] for f in updated.get("fixed_ips") or [] if f["ip_address"] not in held]
    return {"NetworkInterfaceId": params["NetworkInterfaceId"],
            "AssignedPrivateIpAddresses": [{"PrivateIpAddress": a} for a in assigned]}


@action("UnassignPrivateIpAddresses", checks_dry_run=True)
async def unassign_private_ip_addresses(ctx: RequestContext, params: dict) -> dict:
    """An elastic IP on an address unassigned is disassociated, as on AWS."""
    if params.get("Ipv4Prefixes"):
        raise errors.UnsupportedOperation("IPv4 prefixes on interfaces are not supported by this cloud.")
    asked = set(params.get("PrivateIpAddresses") or [])
    if not asked:
        raise errors.MissingParameter("The request must contain the parameter PrivateIpAddresses")
    port, state = await _interface(ctx, params["NetworkInterfaceId"])
    primary = vpcs.primary_fixed_ip(port)
    held = {f["ip_address"] for f in port.get("fixed_ips") or []}
    if not asked <= held or (primary and primary["ip_address"] in asked):
        raise errors.InvalidParameterValue(f"Some of the specified addresses are not assigned to interface "
                                           f"{params['NetworkInterfaceId']} as secondary addresses")
    if ctx.dry_run:
        raise errors.DryRunOperation()
    neutron = neutron_of(await ctx.cloud())
    for fip in state["fips"]:
        if fip.get("port_id") == port["id"] and fip.get("fixed_ip_address") in asked:
            await neutron.update("floatingip", fip["id"], {"port_id": None})
    await neutron.update("port", port["id"], {"fixed_ips": [f for f in port["fixed_ips"]
                                                            if f["ip_address"] not in asked]})
    if port.get("device_id"):
        ctx.services.instance_changed(port["device_id"])
    return {}


ATTRIBUTES = {"description": "Description", "groupSet": "Groups", "sourceDestCheck": "SourceDestCheck",
              "attachment": "Attachment"}


@action("DescribeNetworkInterfaceAttribute")
async def describe_network_interface_attribute(ctx: RequestContext, params: dict) -> dict:
    if not params.get("Attribute"):  # the model leaves it optional; AWS asks for exactly one
        raise errors.InvalidParameterCombination("Exactly one attribute must be described per request")
    member = ATTRIBUTES.get(params["Attribute"])
    if member is None:
        raise errors.InvalidParameterValue(f"Value ({str(params.get('Attribute'))[:64]}) for parameter attribute "
                                           "is invalid.")
    port, state = await _interface(ctx, params["NetworkInterfaceId"])
    shape = next(s for s in _shapes(state, await zone(ctx), ctx.region) if s["NetworkInterfaceId"] ==
                 params["NetworkInterfaceId"])
    value = shape.get(member)
    if member in ("Description", "SourceDestCheck"):
        value = {"Value": value}
    return {"NetworkInterfaceId": params["NetworkInterfaceId"], **({member: value} if value is not None else {})}


@action("ModifyNetworkInterfaceAttribute", checks_dry_run=True)
async def modify_network_interface_attribute(ctx: RequestContext, params: dict) -> dict:
    asked = [k for k in ("Description", "Groups", "SourceDestCheck", "Attachment", "EnaSrdSpecification",
                         "EnablePrimaryIpv6", "ConnectionTrackingSpecification", "AssociatePublicIpAddress",
                         "AssociatedSubnetIds") if params.get(k) not in (None, [])]
    if len(asked) != 1:
        raise errors.InvalidParameterCombination("Exactly one attribute must be modified per request")
    if asked[0] not in ("Description", "Groups", "SourceDestCheck", "Attachment"):
        raise errors.UnsupportedOperation(f"ModifyNetworkInterfaceAttribute {asked[0]} is not supported by this "
                                          "cloud.")
    port, state = await _interface(ctx, params["NetworkInterfaceId"])
    neutron = neutron_of(await ctx.cloud())
    if asked[0] == "Attachment":
        await _delete_on_termination(ctx, neutron, port, state, params["Attachment"])
        return {}
    if asked[0] == "Description":
        change: dict = {"description": str(params["Description"].get("Value") or "")}
    elif asked[0] == "SourceDestCheck":
        change = {"allowed_address_pairs": vpcs.address_pairs(port, bool(params["SourceDestCheck"].get("Value")))}
    else:
        change = {"security_groups": await _group_os_ids(ctx, neutron, params["Groups"])}
    if ctx.dry_run:
        raise errors.DryRunOperation()
    await neutron.update("port", port["id"], change)
    if port.get("device_id"):
        ctx.services.instance_changed(port["device_id"])
    return {}


async def _delete_on_termination(ctx: RequestContext, neutron, port: dict, state: dict, attachment: dict) -> None:
    """An attached interface (index 1 and up, which Nova keeps) goes with its instance when its port carries
    ``vpcs.DELETE_ON_TERMINATION``, and so does the interface made for the instance before its boot
    (``vpcs.LAUNCH_PORT``); one Nova made for it (index 0) always goes: Nova deletes the ports it made."""
    if not port.get("device_id") or ids.from_uuid("eni-attach", port["id"]) != attachment.get("AttachmentId"):
        raise errors.not_found("AttachmentID", str(attachment.get("AttachmentId"))[:64])
    wanted = bool(attachment.get("DeleteOnTermination"))
    index = vpcs.device_indexes(state["ports"]).get(port["id"], 0)
    if index == 0 and vpcs.LAUNCH_PORT not in (port.get("tags") or []):
        if not wanted:
            raise errors.UnsupportedOperation("This instance's interface (device index 0) was made by Nova, which "
                                              "deletes it with the instance: it cannot be kept. An instance "
                                              "launched alone into a subnet has an interface that can.")
        return
    if ctx.dry_run:
        raise errors.DryRunOperation()
    if wanted and not vpcs.goes_with_instance(port):
        await neutron.add_tag("port", port["id"], vpcs.DELETE_ON_TERMINATION)
    elif not wanted and vpcs.goes_with_instance(port):
        await neutron.remove_tag("port", port["id"], vpcs.DELETE_ON_TERMINATION)
    ctx.services.instance_changed(port["device_id"])


@action("ResetNetworkInterfaceAttribute", checks_dry_run=True)
async def reset_network_interface_attribute(ctx: RequestContext, params: dict) -> dict:
    """Only sourceDestCheck can be reset, as on AWS: back to checked."""
    if params.get("SourceDestCheck") not in (None, "sourceDestCheck") or params.get("SourceDestCheck") is None:
        raise errors.InvalidParameterValue(f"Value ({str(params.get('SourceDestCheck'))[:64]}) for parameter "
                                           "attribute is invalid: only sourceDestCheck can be reset")
    port, _ = await _interface(ctx, params["NetworkInterfaceId"])
    if ctx.dry_run:
        raise errors.DryRunOperation()
    if not vpcs.source_dest_check(port):
        await neutron_of(await ctx.cloud()).update("port", port["id"], {
            "allowed_address_pairs": vpcs.address_pairs(port, True)})
        if port.get("device_id"):
            ctx.services.instance_changed(port["device_id"])
    return {}


@tag_reads.exists("eni")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    return await existing(ctx, "port", resource_ids)
