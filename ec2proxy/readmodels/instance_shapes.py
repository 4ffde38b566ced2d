"""An instance as EC2 shows it, built from what the cloud and our database hold of it: our row (``InstanceRow``),
the record handlers work with (``InstanceRecord``), its network interfaces and block devices, its reservation,
and the DescribeInstances filters. No I/O: ``ec2proxy.readmodels.instances`` reads what this builds from."""

from __future__ import annotations

import dataclasses
import datetime
import operator
from typing import Any, Callable, Sequence

from ec2proxy import protocol
from ec2proxy.ec2 import devices, filters, ids, states, tagging, timestamps, vpcs
from ec2proxy.ec2.servers import addresses, hostname


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
    block_device_mappings: list[devices.DeviceRecord]
    metadata_options: dict
    disable_api_termination: bool
    shutdown_behavior: str
    launched_at: datetime.datetime
    terminated_at: datetime.datetime | None
    generation: int
    placement_group_id: str | None
    placement_group_name: str | None

    @classmethod
    def of(cls, row: Any) -> "InstanceRow":
        """From a Core row of ``instances`` (``STORED``), or the values just inserted."""
        values = row if isinstance(row, dict) else row._mapping
        return cls(**{name: values[name] for name in _FIELDS})


_FIELDS = tuple(field.name for field in dataclasses.fields(InstanceRow))
ROW_VALUES = operator.attrgetter(*_FIELDS)


@dataclasses.dataclass(slots=True)
class InstanceRecord:
    """An instance: its EC2 ``Instance`` shape (``shape``: all that is ever serialized or filtered on), and what
    we know of it behind that shape."""

    shape: dict
    os_id: str
    nova_status: str | None
    row: InstanceRow | None
    reservation_id: str
    owner: str
    leaving_ports: tuple[str, ...] = ()  # ports Nova keeps that go with the instance (ours to delete)


class RenderedInstance(protocol.Prerendered):
    """An instance whose XML was written from kept fragments; the reservation it belongs to, for grouping."""

    __slots__ = ("reservation_id",)

    def __init__(self, xml: str, instance_id: str, reservation_id: str):
        super().__init__(xml, InstanceId=instance_id)
        self.reservation_id = reservation_id

_get = filters.path


_SHAPE_FILTERS = {
    "instance-id": _get("InstanceId"), "instance-state-name": _get("State.Name"),
    "instance-state-code": _get("State.Code"),
    "client-token": _get("ClientToken"), "image-id": _get("ImageId"), "instance-type": _get("InstanceType"),
    "key-name": _get("KeyName"), "availability-zone": _get("Placement.AvailabilityZone"),
    "launch-index": _get("AmiLaunchIndex"), "private-ip-address": _get("PrivateIpAddress"),
    "ip-address": _get("PublicIpAddress"), "private-dns-name": _get("PrivateDnsName"),
    "dns-name": _get("PublicDnsName"), "group-id": _get("SecurityGroups.GroupId"),
    "group-name": _get("SecurityGroups.GroupName"), "instance.group-id": _get("SecurityGroups.GroupId"),
    "instance.group-name": _get("SecurityGroups.GroupName"), "subnet-id": _get("SubnetId"), "vpc-id": _get("VpcId"),
    **tagging.FILTERS,
    "launch-time": lambda i: timestamps.ec2_text(i["LaunchTime"]), "root-device-type": _get("RootDeviceType"),
    "root-device-name": _get("RootDeviceName"),
    "requester-id": lambda i: [], "architecture": _get("Architecture"), "hypervisor": _get("Hypervisor"),
    "virtualization-type": _get("VirtualizationType"), "platform": _get("Platform"),
    "monitoring-state": _get("Monitoring.State"), "state-reason-code": _get("StateReason.Code"),
    "state-reason-message": _get("StateReason.Message"), "tenancy": _get("Placement.Tenancy"),
    "placement-group-name": _get("Placement.GroupName"),
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
        "operator.principal", "outpost-arn", "placement-partition-number",
        "private-dns-name-options.enable-resource-name-dns-a-record",
        "private-dns-name-options.enable-resource-name-dns-aaaa-record", "private-dns-name-options.hostname-type",
        "spot-instance-request-id", "tpm-support", "usage-operation-update-time"), filters.absent),
}


def _on_shape(getter: Callable[..., Any]) -> Callable[..., Any]:
    """A getter of the EC2 shape, asked of an instance record."""
    return lambda record, *more: getter(record.shape, *more)


# DescribeInstances' filters, each asked of an InstanceRecord: the shape's members, and what the record knows
FILTERS = {**{name: _on_shape(getter) for name, getter in _SHAPE_FILTERS.items()},
           "reservation-id": lambda record: record.reservation_id, "owner-id": lambda record: record.owner,
           "network-interface.attachment.instance-owner-id": lambda record: record.owner}


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
    floating: dict | None = None  # Neutron's floating IP on the port

    @property
    def public_ip(self) -> str | None:
        return self.floating.get("floating_ip_address") if self.floating else None


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


def reservation_of(server: dict, row: InstanceRow | None) -> str:
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
        "Placement": {"AvailabilityZone": server.get("OS-EXT-AZ:availability_zone") or "",
                      "GroupName": (row.placement_group_name if row else None) or "", "Tenancy": "default",
                      **({"GroupId": row.placement_group_id} if row and row.placement_group_id else {})},
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
    }, os_id=server["id"], nova_status=server.get("status"), row=row, reservation_id=reservation_of(server, row),
        owner=project_id)
    interfaces = network_interfaces(server, ports or [], project_id, region)
    instance.leaving_ports = tuple(p.neutron["id"] for p in ports or () if vpcs.goes_with_instance(p.neutron))
    if interfaces:
        instance.shape.update(NetworkInterfaces=interfaces, VpcId=interfaces[0]["VpcId"],
                              SubnetId=interfaces[0]["SubnetId"], SourceDestCheck=interfaces[0]["SourceDestCheck"])
        public = next((i["Association"]["PublicIp"] for i in interfaces if i.get("Association")), None)
        if ports is not None and public != public_ip:
            instance.shape.update(PublicIpAddress=public, PublicDnsName=hostname(public, region))
        for interface in interfaces:
            names = {g["GroupId"]: g["GroupName"] for g in instance.shape["SecurityGroups"]}
            for group in interface["Groups"]:
                group["GroupName"] = names.get(group["GroupId"], "")
    return instance


def group_reservations(instances: Sequence[InstanceRecord | RenderedInstance], project_id: str) -> list[dict]:
    by_id: dict[str, dict] = {}
    for instance in instances:
        rid = instance.reservation_id
        reservation = by_id.get(rid)
        if reservation is None:
            # Reservation.Groups is "Not supported" in the EC2 API reference: AWS answers it empty, whatever
            # groups the launch named (they are on each instance and interface).
            reservation = by_id[rid] = {"ReservationId": rid, "OwnerId": project_id, "Groups": [], "Instances": []}
        reservation["Instances"].append(instance.shape if isinstance(instance, InstanceRecord) else instance)
    return list(by_id.values())
