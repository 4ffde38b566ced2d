"""Instances: RunInstances and DescribeInstances (their state changes: ec2proxy.handlers.instance_states)."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import re
from typing import Sequence

from ec2proxy.cloud import BackendError, BackendNotFound, CloudView, placement
from ec2proxy.context import RequestContext
from ec2proxy.db.models import PlacementGroup
from ec2proxy.ec2 import devices, errors, filters, ids, launch_requests, launch_templates, paging, tagging
from ec2proxy.ec2.records import Described
from ec2proxy.handlers import action
from ec2proxy.readmodels import keypairs, reservations
from ec2proxy.readmodels import launch_templates as launch_template_reads
from ec2proxy.readmodels import placement_groups as placement_group_reads
from ec2proxy.readmodels.images import glance_image, image_not_found
from ec2proxy.readmodels.instance_shapes import (
    FILTERS,
    InstanceRecord,
    InstanceRow,
    RenderedInstance,
    group_reservations,
    metadata_options,
)
from ec2proxy.readmodels.instances import describe, find_flavor, lookup, resolve_groups
from ec2proxy.readmodels.networks import (
    default_vpc_id,
    external_network,
    maps_public_ip,
    neutron_of,
    port_of,
    subnet_zone,
    vpc_default_group,
)
from ec2proxy.readmodels.reservations import Launched
from ec2proxy.state import (
    default_vpc,
    dhcp_options,
    launch_ports,
    launch_tags,
    launches,
    ledger,
    port_tags,
    public_addresses,
    shutdown_behavior,
)
from ec2proxy.state import placement_groups as placement_group_changes


@action("DescribeInstances")
async def describe_instances(ctx: RequestContext, params: dict) -> dict:
    wanted = [ids.check("i", i) for i in params.get("InstanceIds") or []]
    paging.check_max_results(params, ids_member="InstanceIds")
    compiled = filters.compile_filters(params.get("Filters"), FILTERS, ctx.action)
    found: Sequence[InstanceRecord | RenderedInstance]
    if wanted:
        found = await lookup(ctx, wanted)
    elif compiled:  # the filters read the instances' fields: built as records
        found = await describe(ctx, params)
    else:  # the listing's XML, from kept fragments
        found = await describe(ctx, params, render=True)
    chosen: list[InstanceRecord | RenderedInstance] = filters.apply(found, compiled)
    page, next_token = paging.page(ctx, chosen, params)
    result: dict = {"NextToken": next_token} if next_token else {}
    result["Reservations"] = group_reservations(list(page), ctx.project_id)
    return result


# -- RunInstances -------------------------------------------------------------------------


async def _find_image(view: CloudView, ami: str) -> dict:
    image = await glance_image(view, ami)
    if image is None:
        raise image_not_found(ami)
    if image["status"] != "active":
        raise errors.InvalidAMIIDUnavailable(f"Image {ami} is not available (state {image['status']})")
    return image


async def _public_key(ctx: RequestContext, view: CloudView, name: str | None) -> str | None:
    """The public key of the caller's key pair ``name`` (its EC2 name: Nova's may carry a prefix)."""
    if not name:
        return None
    try:
        return (await view.nova.get_keypair(keypairs.nova_name(ctx, view, name)))["public_key"]
    except BackendNotFound:
        raise errors.KeyPairNotFound(name) from None


def _in_subnet(address: str, subnet: dict) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(subnet["cidr"])
    except ValueError:
        raise errors.InvalidParameterValue(f"Invalid value '{address[:64]}' for PrivateIpAddress") from None


async def _resolve_subnet(view: CloudView, subnet_id: str | None) -> tuple[dict | None, bool]:
    """The subnet, and whether its network has other IPv4 subnets (then Nova cannot be asked for it by network:
    ``ec2proxy.cloud.placement``)."""
    if subnet_id is None:
        return None, False
    ids.check("subnet", subnet_id)
    subnets = await neutron_of(view).list("subnet")
    for subnet in subnets:
        if ids.from_uuid("subnet", subnet["id"]) == subnet_id:
            siblings = [s for s in subnets if s["network_id"] == subnet["network_id"] and s.get("ip_version") == 4]
            return subnet, len(siblings) > 1
    raise errors.not_found("SubnetID", subnet_id)


async def _public_on_launch(ctx: RequestContext, params: dict, subnet: dict | None) -> bool:
    """Whether the instances get a public IP: the first interface's AssociatePublicIpAddress says, else the
    subnet's MapPublicIpOnLaunch."""
    asked = next((n.get("AssociatePublicIpAddress") for n in params.get("NetworkInterfaces") or []
                  if (n.get("DeviceIndex") or 0) == 0), None)
    if asked is not None:
        return bool(asked)
    if subnet is None:
        return False
    return await maps_public_ip(ctx, [subnet["id"]])


async def _default_networks(ctx: RequestContext) -> tuple[list[dict], bool, dict | None]:
    """Where an instance launched without a subnet goes: the default VPC's network, as AWS launches into the
    default VPC (one is made for a project that has none: ``ec2proxy.state.default_vpc``); whether the
    instances get public IPs there (a default VPC made by the proxy maps them, as AWS's default subnets do);
    and its subnet when it has one."""
    vpc_id = await default_vpc_id(ctx)
    network = ids.os_id_of(vpc_id) if vpc_id else None
    if network is None:
        network, _ = await default_vpc.ensure(ctx)
    subnets = [s for s in await neutron_of(await ctx.cloud()).list("subnet", {"network_id": network,
                                                                           "fields": ["id", "ip_version"]})
               if s.get("ip_version", 4) == 4]
    mapped = await maps_public_ip(ctx, [s["id"] for s in subnets], default_vpc=network)
    return [{"uuid": network}], mapped, subnets[0] if len(subnets) == 1 else None


async def _block_devices(ctx: RequestContext, view: CloudView, params: dict,
                         image: dict) -> tuple[list[dict], list[devices.DeviceRecord]]:
    mappings = params.get("BlockDeviceMappings") or []
    if not mappings and not devices.image_mappings(image):
        return [], []
    snapshots = await devices.snapshots(view.cinder, devices.snapshot_ids(mappings))
    return devices.to_nova(mappings, image, devices.type_map(ctx.services.config), snapshots)


NIC_UNSUPPORTED = ("SecondaryPrivateIpAddressCount", "Ipv6AddressCount", "Ipv6Addresses",
                   "AssociateCarrierIpAddress", "NetworkCardIndex", "Ipv4Prefixes", "Ipv6Prefixes", "InterfaceType")


async def _network_interfaces(ctx: RequestContext, view: CloudView, params: dict,
                              max_count: int) -> tuple[list, list, dict[str, int]]:
    """Nova ``networks`` for RunInstances' NetworkInterfaces, the security group ids they name, and the device
    index of each existing interface (by port id: tagged on it before the boot)."""
    nics = sorted(params.get("NetworkInterfaces") or [], key=lambda n: n.get("DeviceIndex") or 0)
    if not nics:
        return [], [], {}
    if any(params.get(k) for k in ("SubnetId", "PrivateIpAddress", "SecurityGroupIds", "SecurityGroups")):
        raise errors.InvalidParameterCombination("Network interfaces and an instance-level subnet, private IP or "
                                                 "security groups may not be specified on the same request")
    launch_requests.check_device_indexes(nics)
    networks, group_sets, indexes = [], [], {}
    ports = None
    for nic in nics:
        for member in NIC_UNSUPPORTED:
            if nic.get(member) not in (None, False, 0, [], "interface"):
                raise errors.UnsupportedOperation(f"NetworkInterfaces with {member} is not supported by this cloud.")
        if nic.get("DeleteOnTermination") and nic.get("NetworkInterfaceId"):  # AWS keeps what it did not make
            raise errors.InvalidParameterCombination("A network interface may not specify a network interface ID "
                                                     "and delete on termination as true")
        if nic.get("DeleteOnTermination") is False and not nic.get("NetworkInterfaceId"):
            raise errors.UnsupportedOperation("A new network interface is deleted with its instance in this cloud.")
        primary = [p["PrivateIpAddress"] for p in nic.get("PrivateIpAddresses") or [] if p.get("Primary")]
        fixed_ip = nic.get("PrivateIpAddress") or (primary[0] if primary else None)
        if nic.get("NetworkInterfaceId"):
            if max_count > 1:
                raise errors.InvalidParameterCombination("An existing network interface can go to one instance only")
            port, ports = await port_of(view, ctx.project_id, nic["NetworkInterfaceId"], ports)
            if port.get("device_id"):
                raise errors.InvalidNetworkInterfaceInUse(f"Interface {nic['NetworkInterfaceId']} is in use.")
            networks.append({"port": port["id"]})
            indexes[port["id"]] = nic.get("DeviceIndex", 0)
            continue
        if not nic.get("SubnetId"):
            raise errors.MissingParameter("A new network interface needs a SubnetId")
        if fixed_ip and max_count > 1:
            raise errors.InvalidParameterCombination("A private IP address can go to one instance only")
        subnet, placed = await _resolve_subnet(view, nic["SubnetId"])
        assert subnet is not None  # a SubnetId was given
        if placed and not fixed_ip:  # Nova takes a network: one of its several subnets is asked by address
            if max_count > 1:
                raise errors.UnsupportedOperation("Several instances with an interface in one subnet of a VPC that "
                                                  "has several: launch them with SubnetId instead.")
            free = await placement.free_addresses(view.neutron, subnet)
            if not free:
                raise errors.InsufficientFreeAddressesInSubnet(f"Subnet {nic['SubnetId']} has no free address")
            fixed_ip = free[0]
        entry = {"uuid": subnet["network_id"]}
        if fixed_ip:
            entry["fixed_ip"] = fixed_ip
        networks.append(entry)
        if nic.get("Groups"):
            group_sets.append(sorted(nic["Groups"]))
    if len({tuple(g) for g in group_sets}) > 1:
        raise errors.UnsupportedOperation("Nova gives all of an instance's interfaces the same security groups.")
    return networks, group_sets[0] if group_sets else [], indexes


def _boot_files(image: dict, params: dict) -> tuple[str | None, str | None]:
    """(aki-, ari-) ids the instance boots with: Glance's kernel_id/ramdisk_id of the image.

    Nova boots an image with the kernel and ramdisk registered on it and has
    no per-server override, so asking for another one is refused, not ignored.
    """
    chosen = []
    for member, prefix, prop in (("KernelId", "aki", "kernel_id"), ("RamdiskId", "ari", "ramdisk_id")):
        own = ids.from_uuid(prefix, image[prop]) if image.get(prop) else None
        asked = params.get(member)
        if asked and ids.check(prefix, asked) != own:
            raise errors.UnsupportedOperation(f"{member} {asked} differs from the one registered on the image "
                                              f"({own or 'none'}); this cloud cannot boot an image with another.")
        chosen.append(own)
    return chosen[0], chosen[1]


def _nova_failure(exc: BackendError, ami: str, key_name: str) -> errors.EC2Error:
    message = exc.message.lower()
    if exc.status == 403 and "quota" in message:
        return errors.InstanceLimitExceeded(
            f"You have requested more instances than your current instance limit allows: "
            f"{exc.message[:200]}")
    if exc.status == 400 and "key_name" in message:
        return errors.KeyPairNotFound(key_name)
    if exc.status == 400 and re.search(r"image \S+ (could not be found|is not active)|invalid imageref", message):
        return image_not_found(ami)
    if exc.status == 400 and "availability zone" in message:
        return errors.InvalidParameterValue(f"Invalid availability zone: {exc.message[:200]}")
    if exc.status == 409 and ("ip" in message or "network" in message):
        return errors.InsufficientFreeAddressesInSubnet(exc.message[:200])
    return exc.ec2()


@dataclasses.dataclass
class Launch:
    """A RunInstances request checked and resolved against the cloud: what the boot, the record and the answer
    need, nothing made yet."""

    params: dict
    ami: str
    min_count: int
    max_count: int
    user_data: str | None
    tags: list[dict]
    later: dict[str, list[dict]]  # the TagSpecifications of what Nova makes (volumes, interfaces)
    behavior: str
    options: dict
    image: dict = dataclasses.field(default_factory=dict)
    flavor: dict = dataclasses.field(default_factory=dict)
    groups: list[Described] = dataclasses.field(default_factory=list)
    subnet: dict | None = None
    placed: bool = False  # a VPC network of several subnets: Nova is asked per instance, by address
    public_key: str | None = None
    kernel: str | None = None
    ramdisk: str | None = None
    zone: str = ""
    nics: list = dataclasses.field(default_factory=list)
    nic_indexes: dict[str, int] = dataclasses.field(default_factory=dict)
    bdms: list = dataclasses.field(default_factory=list)
    recorded: list[devices.DeviceRecord] = dataclasses.field(default_factory=list)
    group: PlacementGroup | None = None  # the placement group, a Nova server group

    @property
    def hints(self) -> dict | None:
        """Nova's scheduler hints: the server group of the placement group."""
        return {"group": self.group.os_id} if self.group is not None else None


def _checked(params: dict) -> Launch:
    """The request's own consistency, before anything is asked of the cloud."""
    refused = launch_requests.refused(params)
    if refused:
        raise errors.UnsupportedOperation(f"RunInstances with {refused} is not supported by this cloud yet.")
    if not params.get("ImageId"):  # optional in the model only for launch templates
        raise errors.MissingParameter("The request must contain the parameter ImageId")
    min_count, max_count = params["MinCount"], params["MaxCount"]
    if min_count < 1 or max_count < 1:
        raise errors.InvalidParameterValue("MinCount and MaxCount must be at least 1")
    if min_count > max_count:
        raise errors.InvalidParameterValue("MinCount must be less than or equal to MaxCount")
    if max_count > launch_requests.MAX_COUNT:
        raise errors.InvalidParameterValue(f"MaxCount cannot exceed {launch_requests.MAX_COUNT}")
    specs = tagging.from_specs(params, ("instance", *launch_tags.KINDS))
    options = params.get("MetadataOptions") or {}
    if options.get("HttpTokens") not in (None, "optional", "required") or \
            options.get("HttpEndpoint") not in (None, "enabled", "disabled") or \
            options.get("InstanceMetadataTags") not in (None, "enabled", "disabled"):
        raise errors.InvalidParameterValue("Invalid MetadataOptions")
    if options.get("InstanceMetadataTags") == "enabled":
        tagging.check_metadata_keys("the instance", [t["Key"] for t in specs.get("instance") or []])
    return Launch(params=params, ami=ids.check("ami", params["ImageId"]), min_count=min_count,
                  max_count=max_count, user_data=launch_requests.user_data(params), tags=specs.pop("instance", []),
                  later={kind: given for kind, given in specs.items() if given}, options=options,
                  behavior=shutdown_behavior.checked(params.get("InstanceInitiatedShutdownBehavior") or "stop",
                                                     "InstanceInitiatedShutdownBehavior"),
                  zone=(params.get("Placement") or {}).get("AvailabilityZone") or "")


async def _resolved(ctx: RequestContext, view: CloudView, launch: Launch) -> Launch:
    """The image, type, groups, subnet, zone, interfaces and devices the request names, each checked."""
    params = launch.params
    launch.image, launch.flavor, launch.groups, (launch.subnet, launch.placed), launch.public_key = \
        await asyncio.gather(_find_image(view, launch.ami),
                             find_flavor(view, params.get("InstanceType") or "m1.small"),
                             resolve_groups(view, params.get("SecurityGroups") or [],
                                            params.get("SecurityGroupIds") or []),
                             _resolve_subnet(view, params.get("SubnetId")),
                             _public_key(ctx, view, params.get("KeyName")))
    launch.kernel, launch.ramdisk = _boot_files(launch.image, params)
    launch.zone = await _zone(ctx, launch.zone, launch.subnet, params.get("SubnetId"))
    address = params.get("PrivateIpAddress")
    if address and (launch.subnet is None or not _in_subnet(address, launch.subnet)):  # AWS: not in the subnet
        raise errors.InvalidParameterValue(f"Address {str(address)[:64]} does not fall within the subnet's address "
                                           "range" + ("" if launch.subnet is not None else ": give its SubnetId"))
    launch.nics, nic_groups, launch.nic_indexes = await _network_interfaces(ctx, view, params, launch.max_count)
    if nic_groups:
        launch.groups = await resolve_groups(view, [], nic_groups)
    elif launch.subnet is not None and not (params.get("SecurityGroups") or params.get("SecurityGroupIds")):
        default = await vpc_default_group(ctx, launch.subnet["network_id"])
        if default is not None:
            launch.groups = await resolve_groups(view, [], [ids.from_uuid("sg", default)])
    if launch.placed and address and launch.max_count > 1:
        raise errors.InvalidParameterCombination("A private IP address can go to one instance only")
    launch.bdms, launch.recorded = await _block_devices(ctx, view, params, launch.image)
    launch.group = await _placement_group(ctx, view, launch)
    return launch


async def _placement_group(ctx: RequestContext, view: CloudView, launch: Launch) -> PlacementGroup | None:
    """Placement.GroupName or GroupId: the project's group, with room for the launch."""
    placement = launch.params.get("Placement") or {}
    name, group_id = placement.get("GroupName") or None, placement.get("GroupId") or None
    if name is None and group_id is None:
        return None
    group = await placement_group_reads.named(ctx, name, group_id)
    await placement_group_changes.check_room(view, group, launch.max_count, launch.flavor["name"], launch.zone)
    return group


async def _from_template(ctx: RequestContext, params: dict) -> tuple[dict, list[dict]]:
    """The launch a LaunchTemplate (id or name, Version: a number, $Latest or $Default) and the call make
    together (the call's members win), and the tags naming the template and the version taken."""
    spec = params["LaunchTemplate"]
    template = await launch_template_reads.template(ctx, spec)
    version = await launch_template_reads.version(ctx, template, spec.get("Version"))
    named = dict(zip(launch_templates.INSTANCE_TAGS, (template.template_id, str(version.version)), strict=True))
    return launch_templates.run_params(version.data, params), [{"Key": k, "Value": v} for k, v in named.items()]


async def _zone(ctx: RequestContext, asked: str, subnet: dict | None, subnet_id: str | None) -> str:
    """The zone the instances go to: the subnet's (a Placement zone that contradicts it is refused, as AWS
    refuses it), else the one asked, else the default; AWS always names it, Nova would choose only later."""
    offered = await ctx.services.availability_zones()
    if asked and asked not in offered:
        raise errors.InvalidParameterValue(f"Invalid availability zone: [{asked[:64]}]")
    if subnet is not None:  # an instance lives in its subnet's zone
        home = await subnet_zone(ctx, subnet["id"]) or ctx.services.default_zone(offered)
        if asked and home and asked != home:
            raise errors.InvalidParameterValue(f"Value ({asked[:64]}) for parameter availabilityZone is invalid. "
                                               f"Subnet '{subnet_id}' is in the availability zone {home}")
        asked = home or asked
    return asked or ctx.services.default_zone(offered)


def _nova_spec(ctx: RequestContext, view: CloudView, launch: Launch, reservation_id: str,
               default_networks: list[dict]) -> dict:
    params = launch.params
    spec: dict = {"name": reservation_id, "imageRef": launch.image["id"], "flavorRef": launch.flavor["id"],
                  "security_groups": [{"name": g.os["id"]} for g in launch.groups],
                  "metadata": {"ec2_reservation_id": reservation_id}, "networks": default_networks}
    if params.get("KeyName"):
        spec["key_name"] = keypairs.nova_name(ctx, view, params["KeyName"])
    if launch.user_data is not None:
        spec["user_data"] = launch.user_data
    if launch.zone:
        spec["availability_zone"] = launch.zone
    if launch.subnet is not None:
        nic = {"uuid": launch.subnet["network_id"]}
        if params.get("PrivateIpAddress"):
            nic["fixed_ip"] = params["PrivateIpAddress"]
        spec["networks"] = [nic]
    if launch.nics:
        spec["networks"] = launch.nics
    if not spec["networks"]:
        del spec["networks"]
    if launch.bdms:
        spec["block_device_mapping_v2"] = launch.bdms
        if any(b.get("boot_index") == 0 for b in launch.bdms):
            del spec["imageRef"]  # the boot volume is made of the image
    return spec


async def _servers_of(view: CloudView, reservation_id: str) -> list[dict]:
    """The servers a reservation created: their name is the reservation id (the crash-safety marker)."""
    pattern = f"^{reservation_id}(-[0-9]+)?$"
    return await view.nova.list_servers({"name": pattern})


async def _boot(view: CloudView, launch: Launch, spec: dict, create: ledger.Create) -> tuple[list[dict], str | None]:
    """(the servers, Nova's reservation id): what an earlier attempt of this ClientToken made, else made now,
    alone into a subnet on an interface of ours (``ec2proxy.state.launch_ports``), per instance by address in
    a VPC of several subnets, or by one create."""
    subnet, params = launch.subnet, launch.params
    servers = await _servers_of(view, spec["name"]) if create.adopting else []
    if servers:
        return servers, servers[0].get("OS-EXT-SRV-ATTR:reservation_id")
    if subnet is not None and not launch.nics and launch.max_count == 1:
        port = await launch_ports.made(view, spec["name"], subnet, [g.os["id"] for g in launch.groups],
                                       params.get("PrivateIpAddress"), adopting=create.adopting)
        try:
            created = await view.nova.create_servers({**spec, "networks": [{"port": port["id"]}]}, 1, 1,
                                                     launch.hints)
        except BackendError:
            await launch_ports.discard(view, port["id"])
            raise
    elif launch.placed and subnet is not None and not launch.nics:
        nova_reservation = await placement.boot_in_subnet(view.nova, view.neutron, spec, subnet, launch.max_count,
                                                          params.get("PrivateIpAddress"), launch.hints)
        return await _servers_of(view, spec["name"]), nova_reservation
    else:
        for port_id, index in launch.nic_indexes.items():  # what DescribeInstances shows as its device index
            await port_tags.tag_device_index(neutron_of(view), port_id, index)
        created = await view.nova.create_servers(spec, launch.min_count, launch.max_count, launch.hints)
    return await view.nova.list_servers({"reservation_id": created["reservation_id"]}), created["reservation_id"]


async def _claimed_boot(ctx: RequestContext, view: CloudView, launch: Launch, create: ledger.Create,
                        reservation_id: str) -> tuple[list[dict], str | None, dict, tuple[bool, dict | None]]:
    """The boot under the claim: (servers, Nova's reservation, the spec, (public by default, the default
    subnet)). A launch without a subnet goes to the default VPC, made now if the project has none (never for a
    request that does not go ahead); a failure closes the claim with the error the caller gets."""
    try:
        default_networks, public_by_default, default_subnet = await _default_networks(ctx) \
            if launch.subnet is None and not launch.nics else ([], False, None)
        spec = _nova_spec(ctx, view, launch, reservation_id, default_networks)
        servers, nova_reservation = await _boot(view, launch, spec, create)
        if launch.group is not None:
            await placement_group_changes.scheduled(ctx, view, launch.group, servers, reservation_id,
                                                    launch.flavor["name"], launch.zone)
    except BackendError as exc:
        failure = _nova_failure(exc, launch.ami, launch.params.get("KeyName") or "")
        await create.failed(failure, f"{failure.code}: {exc}")
        raise failure from None
    except errors.EC2Error as exc:  # the interface could not be made (its address is taken, the subnet full)
        await create.failed(exc, f"{exc.code}: {exc.message}")
        raise
    except BaseException:
        await create.interrupted()
        raise
    return servers, nova_reservation, spec, (public_by_default, default_subnet)


@action("RunInstances", checks_dry_run=True)
async def run_instances(ctx: RequestContext, params: dict) -> dict:
    """Check and resolve, claim the ClientToken, boot, record, schedule what follows the boot, answer."""
    view = await ctx.cloud()
    asked, template_tags = await _from_template(ctx, params) if params.get("LaunchTemplate") else (params, [])
    launch = _checked(asked)
    launch.tags += template_tags  # the instances say which template and version launched them
    launch = await _resolved(ctx, view, launch)
    if ctx.dry_run:
        raise errors.DryRunOperation()
    create = await ledger.Create.begin(ctx, params, ids.new("r"))  # the call as made: its retry is the same
    reservation_id = create.marker  # the servers' name: what a retry after a crash finds them by
    if not create.owner:
        return await reservations.replayed(ctx, reservation_id)
    await create.log([reservation_id])
    servers, nova_reservation, spec, (public_by_default, default_subnet) = await _claimed_boot(
        ctx, view, launch, create, reservation_id)
    group_set = [{"GroupName": g.shape["GroupName"], "GroupId": g.shape["GroupId"]} for g in launch.groups]
    rows, tagged = await launches.record(ctx, create, reservation_id, nova_reservation, servers, group_set, dict(
        image_id=launch.ami, instance_type=launch.flavor["name"], key_name=params.get("KeyName"),
        public_key=launch.public_key, user_data=launch.user_data, client_token=params.get("ClientToken"),
        root_device_name=devices.root_device(launch.image), block_device_mappings=launch.recorded,
        metadata_options=metadata_options(launch.options), kernel_id=launch.kernel, ramdisk_id=launch.ramdisk,
        disable_api_termination=bool(params.get("DisableApiTermination")), shutdown_behavior=launch.behavior,
        placement_group_id=launch.group.group_id if launch.group else None,
        placement_group_name=launch.group.name if launch.group else None),
        launch.tags)
    networks = [n["uuid"] for n in spec.get("networks") or [] if isinstance(n, dict) and n.get("uuid")]
    await _after_boot(ctx, view, launch, reservation_id, nova_reservation, [s["id"] for s in servers], networks,
                      public_by_default)
    launched_on = launch.subnet or default_subnet
    return await reservations.launched(ctx, Launched(
        reservation_id, servers, {row["os_id"]: InstanceRow.of(row) for row in rows}, tagged,
        {g["GroupName"]: g["GroupId"] for g in group_set}, networks[0] if networks else None,
        launched_on["id"] if launched_on is not None and networks and
        launched_on.get("network_id", networks[0]) == networks[0] else None))


async def _after_boot(ctx: RequestContext, view: CloudView, launch: Launch, reservation_id: str,
                      nova_reservation: str | None, server_ids: list[str], networks: list[str],
                      public_by_default: bool) -> None:
    """Jobs for what Nova makes after answering: the tags of its volumes and ports, the VPC's DHCP options on
    the ports, the public addresses of a subnet that maps them."""
    if launch.later:
        await launch_tags.schedule(ctx, view, reservation_id, nova_reservation, server_ids, launch.later)
    options = await dhcp_options.of_networks(ctx.services.sessions, ctx.project_id, networks)
    if options:
        await dhcp_options.schedule(ctx, view, reservation_id, server_ids, options)
    params = launch.params
    if await _public_on_launch(ctx, params, launch.subnet) or (public_by_default and
                                                               not params.get("NetworkInterfaces")):
        external = await external_network(ctx.services.config, view)
        await public_addresses.schedule(ctx, view, reservation_id, server_ids, external["id"])
