"""The instance read model: Nova servers, our rows and Neutron ports as EC2 instances.

Describe of a project, of given servers, or of what was just launched; lookup by id; the conditional
update of our row. Handlers (instances, launch, attributes, status, volumes, addresses) build on it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import operator
from typing import Any, Callable, Literal, overload

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ec2proxy import db, protocol
from ec2proxy.cloud import BackendNotFound, CloudView
from ec2proxy.context import RequestContext
from ec2proxy.db.models import Instance, Tag, utcnow
from ec2proxy.ec2 import devices, errors, filters, fragments, ids, states, tagging, timestamps, vpcs
from ec2proxy.ec2.records import Described
from ec2proxy.ec2.servers import addresses, hostname
from ec2proxy.readmodels import keypairs, tag_reads

USER_DATA_LIMIT = 16 * 1024  # bytes of user data, as EC2 allows

@dataclasses.dataclass(slots=True, frozen=True)
class InstanceRow:
    """Our row of an instance as read (what Nova does not keep for EC2), typed; ``generation`` guards updates."""

    ec2_id: str
    os_id: str
    project_id: str
    reservation_id: str
    launch_index: int
    image_id: str
    instance_type: str
    key_name: str | None
    public_key: str | None
    user_data: str | None
    client_token: str | None
    root_device_name: str
    kernel_id: str | None
    ramdisk_id: str | None
    block_device_mappings: list
    metadata_options: dict
    disable_api_termination: bool
    shutdown_behavior: str
    launched_at: datetime.datetime
    terminated_at: datetime.datetime | None
    generation: int

    @classmethod
    def of(cls, row: Any) -> "InstanceRow":
        """From a Core row of ``instances`` (``STORED``), or the values just inserted."""
        values = row if isinstance(row, dict) else row._mapping
        return cls(**{name: values[name] for name in _FIELDS})


_FIELDS = tuple(field.name for field in dataclasses.fields(InstanceRow))
_ROW_VALUES = operator.attrgetter(*_FIELDS)


class InstanceRecord(dict):
    """An instance: its EC2 ``Instance`` shape (the items, all that is ever serialized), and what we know of it
    behind that shape (typed attributes)."""

    __slots__ = ("os_id", "nova_status", "row", "reservation_id", "owner", "leaving_ports")

    def __init__(self, shape: dict, *, os_id: str, nova_status: str | None, row: InstanceRow | None,
                 reservation_id: str, owner: str):
        super().__init__(shape)
        self.os_id, self.nova_status, self.row = os_id, nova_status, row
        self.reservation_id, self.owner = reservation_id, owner
        self.leaving_ports: tuple[str, ...] = ()  # ports Nova keeps that go with the instance (ours to delete)


class RenderedInstance(protocol.Prerendered):
    """An instance whose XML was written from kept fragments; the reservation it belongs to, for grouping."""

    __slots__ = ("reservation_id",)

    def __init__(self, xml: str, instance_id: str, reservation_id: str):
        super().__init__(xml, InstanceId=instance_id)
        self.reservation_id = reservation_id

_get = filters.path


FILTERS = {
    "instance-id": _get("InstanceId"), "instance-state-name": _get("State.Name"),
    "instance-state-code": _get("State.Code"), "reservation-id": lambda i: i.reservation_id,
    "client-token": _get("ClientToken"), "image-id": _get("ImageId"), "instance-type": _get("InstanceType"),
    "key-name": _get("KeyName"), "availability-zone": _get("Placement.AvailabilityZone"),
    "launch-index": _get("AmiLaunchIndex"), "private-ip-address": _get("PrivateIpAddress"),
    "ip-address": _get("PublicIpAddress"), "private-dns-name": _get("PrivateDnsName"),
    "dns-name": _get("PublicDnsName"), "group-id": _get("SecurityGroups.GroupId"),
    "group-name": _get("SecurityGroups.GroupName"), "instance.group-id": _get("SecurityGroups.GroupId"),
    "instance.group-name": _get("SecurityGroups.GroupName"), "subnet-id": _get("SubnetId"), "vpc-id": _get("VpcId"),
    **tagging.FILTERS,
    "launch-time": lambda i: timestamps.ec2_text(i["LaunchTime"]), "root-device-type": _get("RootDeviceType"),
    "root-device-name": _get("RootDeviceName"), "owner-id": lambda i: i.owner,
    "requester-id": lambda i: [], "architecture": _get("Architecture"), "hypervisor": _get("Hypervisor"),
    "virtualization-type": _get("VirtualizationType"), "platform": _get("Platform"),
    "monitoring-state": _get("Monitoring.State"), "state-reason-code": _get("StateReason.Code"),
    "state-reason-message": _get("StateReason.Message"), "tenancy": _get("Placement.Tenancy"),
    "metadata-options.http-tokens": _get("MetadataOptions.HttpTokens"),
    "metadata-options.http-endpoint": _get("MetadataOptions.HttpEndpoint"),
    "metadata-options.http-put-response-hop-limit": _get("MetadataOptions.HttpPutResponseHopLimit"),
    "metadata-options.instance-metadata-tags": _get("MetadataOptions.InstanceMetadataTags"),
    "metadata-options.http-protocol-ipv6": _get("MetadataOptions.HttpProtocolIpv6"),
    "metadata-options.http-protocol-ipv4": filters.constant("enabled"),
    "metadata-options.state": _get("MetadataOptions.State"),
    "block-device-mapping.attach-time": filters.times("BlockDeviceMappings.Ebs.AttachTime"),
    "block-device-mapping.delete-on-termination": _get("BlockDeviceMappings.Ebs.DeleteOnTermination"),
    "block-device-mapping.device-name": _get("BlockDeviceMappings.DeviceName"),
    "block-device-mapping.status": _get("BlockDeviceMappings.Ebs.Status"),
    "block-device-mapping.volume-id": _get("BlockDeviceMappings.Ebs.VolumeId"),
    "ebs-optimized": _get("EbsOptimized"), "ena-support": _get("EnaSupport"), "kernel-id": _get("KernelId"),
    "ramdisk-id": _get("RamdiskId"), "source-dest-check": _get("SourceDestCheck"),
    "reason": _get("StateTransitionReason"), "product-code": _get("ProductCodes.ProductCodeId"),
    "product-code.type": _get("ProductCodes.ProductCodeType"),
    "ipv6-address": _get("NetworkInterfaces.Ipv6Addresses.Ipv6Address"),
    "enclave-options.enabled": filters.constant(False), "hibernation-options.configured": filters.constant(False),
    "platform-details": lambda i: "Windows" if i.get("Platform") == "windows" else "Linux/UNIX",
    "usage-operation": lambda i: "RunInstances:0002" if i.get("Platform") == "windows" else "RunInstances",
    "network-interface.attachment.instance-id": _get("InstanceId"),
    "network-interface.attachment.instance-owner-id": lambda i: i.owner,
    "network-interface.availability-zone": _get("Placement.AvailabilityZone"),
    "network-interface.requester-managed": filters.constant(False),
    "network-interface.attachment.network-card-index": filters.constant(0),
    "network-interface.attachment.attach-time": filters.times("NetworkInterfaces.Attachment.AttachTime"),
    **{f"network-interface.{name}": _get(f"NetworkInterfaces.{member}") for name, member in {
        "addresses.association.allocation-id": "PrivateIpAddresses.Association.AllocationId",
        "addresses.association.association-id": "PrivateIpAddresses.Association.AssociationId",
        "addresses.association.ip-owner-id": "PrivateIpAddresses.Association.IpOwnerId",
        "addresses.association.public-dns-name": "PrivateIpAddresses.Association.PublicDnsName",
        "addresses.association.public-ip": "PrivateIpAddresses.Association.PublicIp",
        "addresses.primary": "PrivateIpAddresses.Primary",
        "addresses.private-dns-name": "PrivateIpAddresses.PrivateDnsName",
        "addresses.private-ip-address": "PrivateIpAddresses.PrivateIpAddress",
        "association.allocation-id": "Association.AllocationId", "association.association-id":
        "Association.AssociationId", "association.ip-owner-id": "Association.IpOwnerId",
        "association.public-dns-name": "Association.PublicDnsName", "association.public-ip": "Association.PublicIp",
        "attachment.attachment-id": "Attachment.AttachmentId",
        "attachment.delete-on-termination": "Attachment.DeleteOnTermination",
        "attachment.device-index": "Attachment.DeviceIndex", "attachment.status": "Attachment.Status",
        "description": "Description", "group-id": "Groups.GroupId", "group-name": "Groups.GroupName",
        "ipv6-address": "Ipv6Addresses.Ipv6Address", "ipv6-addresses.ipv6-address": "Ipv6Addresses.Ipv6Address",
        "mac-address": "MacAddress", "network-interface-id": "NetworkInterfaceId", "owner-id": "OwnerId",
        "private-dns-name": "PrivateDnsName", "private-ip-address": "PrivateIpAddresses.PrivateIpAddress",
        "public-dns-name": "Association.PublicDnsName", "source-dest-check": "SourceDestCheck",
        "status": "Status", "subnet-id": "SubnetId", "vpc-id": "VpcId"}.items()},
    # AWS features this cloud has no counterpart for: accepted, nothing matches
    **dict.fromkeys((
        "affinity", "availability-zone-id", "boot-mode", "current-instance-boot-mode", "capacity-reservation-id",
        "capacity-reservation-specification.capacity-reservation-preference",
        "capacity-reservation-specification.capacity-reservation-target.capacity-reservation-id",
        "capacity-reservation-specification.capacity-reservation-target.capacity-reservation-resource-group-arn",
        "host-id", "iam-instance-profile.arn", "iam-instance-profile.id", "instance-lifecycle",
        "maintenance-options.auto-recovery", "network-interface.addresses.association.carrier-ip",
        "network-interface.addresses.association.customer-owned-ip", "network-interface.association.carrier-ip",
        "network-interface.association.customer-owned-ip", "network-interface.deny-all-igw-traffic",
        "network-interface.ipv4-prefixes.ipv4-prefix", "network-interface.ipv6-addresses.is-primary-ipv6",
        "network-interface.ipv6-native", "network-interface.ipv6-prefixes.ipv6-prefix",
        "network-interface.operator.managed", "network-interface.operator.principal",
        "network-interface.outpost-arn", "network-interface.requester-id", "network-interface.tag-key",
        "network-interface.tag-value", "network-performance-options.bandwidth-weighting", "operator.managed",
        "operator.principal", "outpost-arn", "placement-group-name", "placement-partition-number",
        "private-dns-name-options.enable-resource-name-dns-a-record",
        "private-dns-name-options.enable-resource-name-dns-aaaa-record", "private-dns-name-options.hostname-type",
        "spot-instance-request-id", "tpm-support", "usage-operation-update-time"), filters.absent),
}


def metadata_options(options: dict | None) -> dict:
    options = options or {}
    return {"State": "applied", "HttpTokens": options.get("HttpTokens", "optional"),
            "HttpPutResponseHopLimit": options.get("HttpPutResponseHopLimit", 1),
            "HttpEndpoint": options.get("HttpEndpoint", "enabled"),
            "HttpProtocolIpv6": options.get("HttpProtocolIpv6", "disabled"),
            "InstanceMetadataTags": options.get("InstanceMetadataTags", "disabled")}


@dataclasses.dataclass(frozen=True, slots=True)
class Port:
    """A server's Neutron port and the floating IP on it.

    The public IP is Neutron's, not Nova's addresses: Nova's network cache
    learns of a new floating IP only later.
    """

    neutron: dict
    public_ip: str | None


def network_interfaces(server: dict, ports: list[Port], project_id: str, region: str) -> list[dict]:
    """The instance's Neutron ports as EC2 network interfaces."""
    out = []
    indexes = vpcs.device_indexes([p.neutron for p in ports])
    for held in sorted(ports, key=lambda p: indexes.get(p.neutron["id"], 0)):
        port, public, index = held.neutron, held.public_ip, indexes.get(held.neutron["id"], 0)
        fixed = [f for f in port.get("fixed_ips") or [] if ":" not in f["ip_address"]]
        primary = vpcs.primary_fixed_ip(port)
        association = {"PublicIp": public, "PublicDnsName": hostname(public, region), "IpOwnerId": project_id} \
            if public else None
        out.append({
            "NetworkInterfaceId": ids.from_uuid("eni", port["id"]),
            "SubnetId": ids.from_uuid("subnet", primary["subnet_id"]) if primary else None,
            "VpcId": ids.from_uuid("vpc", port["network_id"]), "MacAddress": port.get("mac_address"),
            "OwnerId": project_id, "Status": "in-use", "SourceDestCheck": vpcs.source_dest_check(port),
            "InterfaceType": "interface",
            "PrivateIpAddress": primary["ip_address"] if primary else None,
            "PrivateDnsName": hostname(primary["ip_address"], region) if primary else None,
            "Groups": [{"GroupId": ids.from_uuid("sg", g)} for g in port.get("security_groups") or []],
            "PrivateIpAddresses": [{"PrivateIpAddress": f["ip_address"], "Primary": f is primary,
                                    "PrivateDnsName": hostname(f["ip_address"], region),
                                    "Association": association if f is primary else None}
                                   for f in vpcs.primary_first(fixed, primary)],
            "Attachment": {"AttachmentId": ids.from_uuid("eni-attach", port["id"]), "DeviceIndex": index,
                           "Status": "attached",
                           "DeleteOnTermination": vpcs.deletes_with_instance(port, index)},
            **({"Association": association} if association else {}),
        })
    return out


def block_device_mappings(server: dict, row: InstanceRow | None) -> list[dict]:
    """Volumes Nova has attached, under the device names and with the attach times we recorded."""
    if row is None or not row.block_device_mappings:
        return []
    return devices.from_nova(server, row.block_device_mappings or [],
                             lambda m: timestamps.parse(m.get("AttachTime")) or row.launched_at)


def _instance_type(server: dict, row: InstanceRow | None) -> str:
    """Nova's flavor, except while Nova resizes to the type ModifyInstanceAttribute set (shown at once, as on
    EC2; ``ec2proxy.state.resizes`` puts Nova's back if the resize fails)."""
    nova = (server.get("flavor") or {}).get("original_name")
    resizing = server.get("OS-EXT-STS:task_state") in states.RESIZE_TASKS or server.get("status") == "RESIZE"
    if row is not None and row.instance_type and (resizing or not nova):
        return row.instance_type
    return nova or ""


def _ebs_root(server: dict, row: InstanceRow | None) -> bool:
    """Booted from a volume: Nova shows no image, or RunInstances mapped the root device to Ebs."""
    if not server.get("image"):
        return True
    return bool(row is not None and row.block_device_mappings and any(m.get("Root") for m in row.block_device_mappings))


def _reservation_of(server: dict, row: InstanceRow | None) -> str:
    """Ours, or for a server made in Nova directly one of its own (ids assigned on first sight)."""
    return row.reservation_id if row else ids.from_uuid("r", server["id"])


def build_instance(server: dict, row: InstanceRow | None, project_id: str, groups: dict[str, str], region: str,
                   ports: list[Port] | None = None) -> InstanceRecord:
    """The EC2 Instance shape of one Nova server plus what our database keeps for it (tags: ``tagging.attach``)."""
    code, name = states.ec2_state(server)
    private_ip, public_ip, _ = addresses(server)
    ec2_id = row.ec2_id if row else ids.from_uuid("i", server["id"])
    image = server.get("image") or {}
    launched = row.launched_at if row else timestamps.parse(server.get("created"))
    group_names = [g["name"] for g in server.get("security_groups") or []]
    instance = InstanceRecord({
        "InstanceId": ec2_id,
        "ImageId": row.image_id if row else (ids.from_uuid("ami", image["id"]) if image else ""),
        "State": {"Code": code, "Name": name},
        "PrivateDnsName": hostname(private_ip, region), "PublicDnsName": hostname(public_ip, region),
        "StateTransitionReason": "", "AmiLaunchIndex": row.launch_index if row else 0,
        "ProductCodes": [], "InstanceType": _instance_type(server, row),
        "LaunchTime": launched,
        "Placement": {"AvailabilityZone": server.get("OS-EXT-AZ:availability_zone") or "", "GroupName": "",
                      "Tenancy": "default"},
        "Monitoring": {"State": "disabled"}, "PrivateIpAddress": private_ip, "PublicIpAddress": public_ip,
        "Architecture": "x86_64", "RootDeviceType": "ebs" if _ebs_root(server, row) else "instance-store",
        "RootDeviceName": row.root_device_name if row else "/dev/sda1",
        "BlockDeviceMappings": block_device_mappings(server, row), "VirtualizationType": "hvm", "Hypervisor": "xen",
        "EbsOptimized": False,
        "EnaSupport": True, "SourceDestCheck": True,
        "SecurityGroups": [{"GroupName": vpcs.group_name(n), "GroupId": groups.get(n, "")} for n in group_names],
        "ClientToken": (row.client_token if row else None) or "",
        "KeyName": (row.key_name if row else None) or server.get("key_name") or None,
        "MetadataOptions": metadata_options(row.metadata_options if row else None),
        "StateReason": states.state_reason(server),
        "KernelId": row.kernel_id if row else None, "RamdiskId": row.ramdisk_id if row else None,
    }, os_id=server["id"], nova_status=server.get("status"), row=row, reservation_id=_reservation_of(server, row),
        owner=project_id)
    interfaces = network_interfaces(server, ports or [], project_id, region)
    instance.leaving_ports = tuple(p.neutron["id"] for p in ports or () if vpcs.goes_with_instance(p.neutron))
    if interfaces:
        instance.update(NetworkInterfaces=interfaces, VpcId=interfaces[0]["VpcId"], SubnetId=interfaces[0]["SubnetId"],
                        SourceDestCheck=interfaces[0]["SourceDestCheck"])
        public = next((i["Association"]["PublicIp"] for i in interfaces if i.get("Association")), None)
        if ports is not None and public != public_ip:
            instance.update(PublicIpAddress=public, PublicDnsName=hostname(public, region))
        for interface in interfaces:
            names = {g["GroupId"]: g["GroupName"] for g in instance["SecurityGroups"]}
            for group in interface["Groups"]:
                group["GroupName"] = names.get(group["GroupId"], "")
    return instance


def group_reservations(instances: list[InstanceRecord] | list[RenderedInstance], project_id: str) -> list[dict]:
    by_id: dict[str, dict] = {}
    for instance in instances:
        rid = instance.reservation_id
        reservation = by_id.get(rid)
        if reservation is None:
            # Reservation.Groups is "Not supported" in the EC2 API reference: AWS answers it empty, whatever
            # groups the launch named (they are on each instance and interface).
            reservation = by_id[rid] = {"ReservationId": rid, "OwnerId": project_id, "Groups": [], "Instances": []}
        reservation["Instances"].append(instance)
    return list(by_id.values())


# Our row of an instance.
STORED = select(Instance.__table__)


# The same with the instance's tags: a row per tag (one, with no tag, for an untagged instance).
STORED_TAGGED = STORED.add_columns(Tag.key.label("tag_key"), Tag.value.label("tag_value")).outerjoin(
    Tag, (Tag.resource_id == Instance.ec2_id) & (Tag.project_id == Instance.project_id))


async def _stored(ctx: RequestContext, os_ids: list[str]) -> tuple[dict[str, InstanceRow], dict[str, list[dict]]]:
    """Our rows of a few servers and their tags, by one statement (each database call is a round trip, and a
    thread hop for SQLite); tags only of the rows found (a server made in Nova directly has none here)."""
    rows: dict[str, InstanceRow] = {}
    tags: dict[str, list[dict]] = {}
    async with ctx.services.sessions() as session:
        for chunk in db.chunks(os_ids):
            query = STORED_TAGGED.where(Instance.project_id == ctx.project_id, Instance.os_id.in_(chunk))
            for row in (await session.execute(query)).all():
                values = dict(row._mapping)
                key, value = values.pop("tag_key"), values.pop("tag_value")
                if row.os_id not in rows:
                    rows[row.os_id] = InstanceRow.of(values)
                if key is not None:
                    tags.setdefault(row.ec2_id, []).append({"Key": key, "Value": value})
    return rows, tags


async def update_row(ctx: RequestContext, instance: InstanceRecord, **values) -> None:
    """Change our row of ``instance`` conditionally on the generation it was read at.

    A server created directly in Nova gets its row now, from what Describe
    showed. A lost race is ``IncorrectInstanceState`` (someone else changed
    the instance in between): the caller retries with fresh eyes.
    """
    row = instance.row
    async with ctx.services.sessions() as session, session.begin():
        if row is None:
            session.add(Instance(
                ec2_id=instance["InstanceId"], os_id=instance.os_id, project_id=ctx.project_id,
                reservation_id=instance.reservation_id, launch_index=instance["AmiLaunchIndex"],
                image_id=instance["ImageId"], instance_type=instance["InstanceType"],
                key_name=instance.get("KeyName"), root_device_name=instance["RootDeviceName"],
                block_device_mappings=[], metadata_options=instance["MetadataOptions"],
                launched_at=instance["LaunchTime"] or utcnow(), generation=1, **values))
            try:
                await session.flush()
            except IntegrityError:
                raise _lost_race(instance) from None
        else:
            done = await session.execute(update(Instance).where(
                Instance.ec2_id == instance["InstanceId"], Instance.project_id == ctx.project_id,
                Instance.generation == row.generation).values(generation=row.generation + 1, **values))
            if done.rowcount != 1:
                raise _lost_race(instance)
    ctx.services.instance_changed(instance.os_id)


def _lost_race(instance: InstanceRecord) -> errors.EC2Error:
    return errors.IncorrectInstanceState(
        f"The instance '{instance['InstanceId']}' was changed by another request; retry.")


async def _group_ids(view: CloudView) -> dict[str, str]:
    if view.neutron is None:
        return {}
    groups = await view.neutron.list("security_group", {"fields": ["id", "name"]})
    return {g["name"]: ids.from_uuid("sg", g["id"]) for g in groups}


FIP_FIELDS = ["id", "port_id", "floating_ip_address"]
PORT_FIELDS = ["id", "device_id", "network_id", "mac_address", "fixed_ips", "security_groups", "created_at",
               "port_security_enabled", "allowed_address_pairs", "tags"]


async def _ports(view: CloudView, server_ids: list[str] | None) -> dict[str, list[Port]]:
    """The project's ports by server: one listing, or for named servers (a reservation, a lookup) only theirs,
    asked 50 at a time, so a new reservation never lists the ports of a big project. A few servers' floating
    IPs are asked by their ports once those are known (in parallel with Nova's answer, which is slower);
    many servers' with one listing beside the ports'."""
    if view.neutron is None or (server_ids is not None and not server_ids):
        return {}
    fip_fields = {"fields": FIP_FIELDS}
    if server_ids is None or len(server_ids) > 1000:
        fips, ports = await asyncio.gather(view.neutron.list("floatingip", fip_fields),
                                           view.neutron.list("port", {"fields": PORT_FIELDS}))
    elif len(server_ids) <= 50:
        ports = await view.neutron.list_where("port", "device_id", server_ids, {"fields": PORT_FIELDS})
        fips = await view.neutron.list_where("floatingip", "port_id", [p["id"] for p in ports], fip_fields)
    else:
        fips, ports = await asyncio.gather(
            view.neutron.list("floatingip", fip_fields),
            view.neutron.list_where("port", "device_id", server_ids, {"fields": PORT_FIELDS}))
    public = {f["port_id"]: f["floating_ip_address"] for f in fips if f.get("port_id")}
    out: dict[str, list[Port]] = {}
    for port in ports:
        if port.get("device_id"):
            out.setdefault(port["device_id"], []).append(Port(port, public.get(port["id"])))
    return out


# What an instance is made of in Nova's server (``build_instance``, ``states``, ``devices.from_nova``): a
# listing keeps only these of each page as it comes, a third of the objects at 10,000 servers.
SERVER_KEYS = ("id", "status", "tenant_id", "created", "key_name", "addresses", "fault", "security_groups",
               "OS-EXT-STS:task_state", "OS-EXT-STS:vm_state", "OS-EXT-AZ:availability_zone",
               "os-extended-volumes:volumes_attached")


def slim(server: dict) -> dict:
    out = {key: server[key] for key in SERVER_KEYS if key in server}
    image, flavor = server.get("image"), server.get("flavor")
    out["image"] = {"id": image["id"]} if isinstance(image, dict) and "id" in image else image
    out["flavor"] = {"original_name": flavor.get("original_name")} if isinstance(flavor, dict) else flavor
    return out


async def _listed(view: CloudView, query: dict) -> list[dict]:
    servers: list[dict] = []
    async for page in view.nova.server_pages(query):
        servers += map(slim, page)
    return servers


async def _ended(view: CloudView, query: dict, since: datetime.datetime, live: list[dict],
                 rows: dict[str, "InstanceRow"]) -> list[dict]:
    """The servers of our rows that the plain listing lacks, and that ended since ``since``, as
    ``deleted_server``. Those TerminateInstances ended say so in their row; for the others (deleted in Nova
    directly) Nova's changes-since listing, asked only then and after the plain one, says whether they were
    deleted lately (a server made in between is in neither listing yet, never taken for deleted)."""
    seen = {s["id"] for s in live}
    missing = [row for os_id, row in rows.items() if os_id not in seen]
    recent = {s["id"] for s in await view.nova.list_server_ids({**query, "changes-since": nova_time(since)})} \
        if any(row.terminated_at is None for row in missing) else set()
    return [deleted_server(row.os_id) for row in missing if row.terminated_at is not None or row.os_id in recent]


def deleted_server(os_id: str) -> dict:
    """What is known of a deleted server without asking Nova (which answers 404 for it): what our row keeps
    of the instance fills the rest."""
    return {"id": os_id, "name": "", "status": "DELETED", "OS-EXT-STS:vm_state": "deleted"}


def changes_since(ctx: RequestContext) -> datetime.datetime:
    """How far back terminated instances stay visible."""
    return utcnow() - datetime.timedelta(seconds=ctx.services.config.api.terminated_visible)


def nova_time(stamp: datetime.datetime) -> str:
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


# EC2 filters Nova can answer itself (non-admin since microversion 2.83): one exact value, no wildcards.
# Nova's answer is only narrowed further by ours, so pushing a filter down never changes the result.
PUSH_DOWN: dict[str, tuple[str, tuple[int, int], Callable[[str], str]]] = {
    "key-name": ("key_name", (2, 83), str), "availability-zone": ("availability_zone", (2, 83), str),
    # Nova finds ports by the text as a substring in Neutron, then matches it as a regular expression: an escaped
    # or anchored address finds nothing on a real cloud; the address as it is finds it and a few more (ours
    # narrows them: 10.0.0.1 also finds 10.0.0.12).
    "private-ip-address": ("ip", (2, 1), str)}


def nova_filters(ctx: RequestContext, view: CloudView, params: dict) -> dict:
    query: dict = {}
    version = view.nova.microversion()
    for item in params.get("Filters") or []:
        rule = PUSH_DOWN.get(item.get("Name"))
        values = item.get("Values") or []
        if rule is None or len(values) != 1 or version < rule[1] or any(c in values[0] for c in "*?\\"):
            continue
        value = rule[2](values[0])
        # Nova knows our key pairs by their prefixed name (readmodels.keypairs); the caller by theirs.
        query[rule[0]] = keypairs.nova_name(ctx, view, value) if rule[0] == "key_name" else value
    return query


async def _known(ctx: RequestContext,
                 since: datetime.datetime) -> tuple[dict[str, InstanceRow], dict[str, list[dict]]]:
    """Our rows of the servers a listing since ``since`` can show (all but those we saw terminated
    before), and their tags: read while Nova answers, not after it."""
    async with ctx.services.sessions() as session:
        query = STORED.where(Instance.project_id == ctx.project_id,
                             Instance.terminated_at.is_(None) | (Instance.terminated_at >= since))
        rows = {row.os_id: InstanceRow.of(row) for row in (await session.execute(query)).all()}
        return rows, await tag_reads.read(session, ctx.project_id, [row.ec2_id for row in rows.values()])


@dataclasses.dataclass
class Made:
    """What RunInstances just wrote and asked for: its answer needs no second read of any of it."""

    rows: dict[str, InstanceRow]  # by Nova id
    tags: dict[str, list[dict]]
    groups: dict[str, str]  # name -> sg- id of the groups the servers were booted with


@overload
async def describe(ctx: RequestContext, params: dict | None = None, servers: list[dict] | None = None,
                   made: Made | None = None, render: Literal[False] = False) -> list[InstanceRecord]: ...
@overload
async def describe(ctx: RequestContext, params: dict | None = None, servers: list[dict] | None = None,
                   made: Made | None = None, *, render: Literal[True]) -> list[RenderedInstance]: ...


async def describe(ctx: RequestContext, params: dict | None = None, servers: list[dict] | None = None,
                   made: Made | None = None, render: bool = False) -> list[InstanceRecord] | list[RenderedInstance]:
    """Every instance of the project (terminated ones for a while), as EC2 Instance dicts.

    One paginated Nova listing (narrowed by the filters Nova understands), the
    security groups and ports, and, at the same time, our rows and tags: a
    constant number of backend calls whatever the instance count. ``render``:
    the instances come as ``Prerendered`` XML (from ``fragments`` when nothing
    they are made of changed), for an answer that only shows them.
    """
    view = await ctx.cloud()
    tags: dict[str, list[dict]] = {}
    covered: set[str] = set()
    if made is not None:
        ports = await _ports(view, [s["id"] for s in servers or []])
        rows, tags, groups = made.rows, made.tags, made.groups
        covered = {row.ec2_id for row in rows.values()}
    elif servers is None:
        since = changes_since(ctx)
        query = nova_filters(ctx, view, params or {})
        servers, groups, ports, (rows, tags) = await asyncio.gather(
            _listed(view, query), _group_ids(view), _ports(view, None), _known(ctx, since))
        servers += await _ended(view, query, since, servers, rows)
        covered = {row.ec2_id for row in rows.values()}
    else:
        os_ids = [s["id"] for s in servers]
        ports, rows, tags = await _around(ctx, view, os_ids)
        groups = await _groups_of(view, servers, ports)
        covered = {row.ec2_id for row in rows.values()}
    return await _assemble(ctx, servers or [], groups, ports, rows, tags, covered, render)


async def _around(ctx: RequestContext, view: CloudView, os_ids: list[str]) -> tuple[dict, dict, dict]:
    """What the instances of these servers are made of besides the servers and their groups: ports, rows,
    tags."""
    ports, (rows, tags) = await asyncio.gather(_ports(view, os_ids), _stored(ctx, os_ids))
    return ports, rows, tags


async def _groups_of(view: CloudView, servers: list[dict], ports: dict[str, list[Port]]) -> dict[str, str]:
    """Group name -> sg- id for a few servers. Nova names their groups, their ports hold the ids: one name and
    one id pair at once; else only those ids are asked of Neutron, not the project's every group."""
    names = {g["name"] for s in servers for g in s.get("security_groups") or []}
    held = {group for s in servers for port in ports.get(s["id"], [])
            for group in port.neutron.get("security_groups") or []}
    if not names:
        return {}
    if len(names) == 1 and len(held) == 1:
        return {names.pop(): ids.from_uuid("sg", held.pop())}
    if not held or view.neutron is None:
        return await _group_ids(view)
    groups = await view.neutron.list("security_group", {"id": sorted(held), "fields": ["id", "name"]})
    return {g["name"]: ids.from_uuid("sg", g["id"]) for g in groups}


async def _assemble(ctx: RequestContext, servers: list[dict], groups: dict, ports: dict, rows: dict, tags: dict,
                    covered: set[str], render: bool) -> list[Any]:
    mine = [s for s in servers if s.get("tenant_id") in (None, ctx.project_id)]  # never another project's
    unread = [i for i in (ids.from_uuid("i", s["id"]) for s in mine) if i not in covered]
    if unread:  # servers we have no row of (made in Nova directly)
        tags.update(await tag_reads.load(ctx, unread))
    instances: list[Any] = []
    for server in mine:
        row = rows.get(server["id"])
        own_ports = ports.get(server["id"])
        if render:
            ec2_id = ids.from_uuid("i", server["id"])
            key = fragments.digest(server, _row_values(row), own_ports, tags.get(ec2_id),
                                   [groups.get(g["name"]) for g in server.get("security_groups") or []],
                                   ctx.project_id, ctx.region)
            xml = fragments.INSTANCES.get(key)
            if xml is None:
                instance = tagging.attach([build_instance(server, row, ctx.project_id, groups, ctx.region,
                                                          own_ports)], "InstanceId", tags)[0]
                xml = protocol.render(_instance_shape(), instance)
                fragments.INSTANCES.put(key, xml)
            instances.append(RenderedInstance(xml, ec2_id, _reservation_of(server, row)))
            continue
        instances.append(build_instance(server, row, ctx.project_id, groups, ctx.region, own_ports))
    return instances if render else tagging.attach(instances, "InstanceId", tags)


def _row_values(row: InstanceRow | None) -> tuple | None:
    """What a read row holds, for a digest."""
    return None if row is None else _ROW_VALUES(row)


@functools.cache
def _instance_shape():
    return protocol.service_model().shape_for("Instance")


async def find_flavor(view: CloudView, instance_type: str) -> dict:
    for flavor in await view.nova.flavors():
        if flavor["name"] == instance_type:
            return flavor
    raise errors.InvalidParameterValue(f"Invalid value '{instance_type[:64]}' for InstanceType.")


async def resolve_groups(view: CloudView, names: list[str], group_ids: list[str]) -> list[Described]:
    """Security groups named by name or by sg- id, as (name, id) pairs."""
    if not names and not group_ids:
        names = ["default"]
    groups = await view.neutron.list("security_group") if view.neutron else []
    by_id = {ids.from_uuid("sg", g["id"]): g for g in groups}
    out = []
    for group_id in group_ids:
        group = by_id.get(ids.check("sg", group_id))
        if group is None:
            raise errors.InvalidGroupNotFound(f"The security group '{group_id}' does not exist")
        out.append(Described({"GroupName": vpcs.group_name(group["name"]), "GroupId": group_id}, group))
    for name in names:
        group = next((g for g in groups if g["name"] == name), None)
        if group is None:
            raise errors.InvalidGroupNotFound(f"The security group '{name[:64]}' does not exist")
        out.append(Described({"GroupName": name, "GroupId": ids.from_uuid("sg", group["id"])}, group))
    return out


async def lookup(ctx: RequestContext, instance_ids: list[str]) -> list[InstanceRecord]:
    """The named instances, in the order asked; unknown ones are ``InvalidInstanceID.NotFound``.

    Instances we launched are read one by one from Nova (the question is about
    these ids, not the tenant); only an id we have no row for, i.e. a server
    created directly in Nova, needs the listing.
    """
    wanted = list(dict.fromkeys(ids.check("i", i) for i in instance_ids))
    # Ids this process has seen need no query: whose server it is, Nova (the caller's scope) and the tenant
    # check below still say.
    known: dict[str, str] = {i: os_id for i in wanted if (os_id := ids.os_id_of(i)) is not None}
    if len(known) < len(wanted):
        async with ctx.services.sessions() as session:
            for chunk in db.chunks([i for i in wanted if i not in known]):
                known.update((await session.execute(select(Instance.ec2_id, Instance.os_id).where(
                    Instance.project_id == ctx.project_id, Instance.ec2_id.in_(chunk)))).tuples().all())
    if len(wanted) > 50 or any(i not in known for i in wanted):
        found = {i["InstanceId"]: i for i in await describe(ctx)}
    else:
        view = await ctx.cloud()
        semaphore = asyncio.Semaphore(16)

        async def server(os_id: str) -> dict | None:
            async with semaphore:
                try:
                    return slim(await view.nova.get_server(os_id))
                except BackendNotFound:
                    return None

        os_ids = [known[i] for i in wanted]
        # The servers and what they are made of at the same time: one Nova GET's time, not two round trips.
        servers, around = await asyncio.gather(asyncio.gather(*(server(os_id) for os_id in os_ids)),
                                               _around(ctx, view, os_ids))
        shown = [s for s in servers if s is not None]
        if len(shown) < len(servers):  # deleted servers are only listed (changes-since), never shown
            found = {i["InstanceId"]: i for i in await describe(ctx)}
        else:
            ports, rows, tags = around
            groups = await _groups_of(view, shown, ports)
            found = {i["InstanceId"]: i for i in await _assemble(ctx, shown, groups, ports, rows, tags,
                                                                 {row.ec2_id for row in rows.values()}, False)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise errors.not_found("InstanceID", ", ".join(missing))
    return [found[i] for i in wanted]


@tag_reads.exists("i")
async def _existing(ctx: RequestContext, instance_ids: list[str]) -> set[str]:
    try:
        return {i["InstanceId"] for i in await lookup(ctx, instance_ids)}
    except errors.EC2Error as exc:
        if exc.code != "InvalidInstanceID.NotFound":
            raise
    return {i["InstanceId"] for i in await describe(ctx)} & set(instance_ids)
