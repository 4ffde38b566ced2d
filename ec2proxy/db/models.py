"""The proxy's own tables. Schema changes go through Alembic revisions only."""

from __future__ import annotations

import datetime
import json
from typing import Iterable

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    cast,
    or_,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# MariaDB/MySQL keep whole seconds unless asked (migration 0006); elsewhere, time zone aware.
Timestamp = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Base(DeclarativeBase):
    pass


class Credential(Base):
    """An EC2 access key of the ``local`` credential source.

    The secret is kept as given: SigV4/SigV2 verification needs the secret
    itself, not a hash of it.
    """

    __tablename__ = "credentials"

    access_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    # Comma-separated role names, as Keystone would grant them in the project (ec2proxy.auth.policy).
    roles: Mapped[str] = mapped_column(String(255), default="member", server_default="member")
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class Reservation(Base):
    """An EC2 reservation: one RunInstances call, one Nova multi-create."""

    __tablename__ = "reservations"

    reservation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    nova_reservation_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    groups: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class Instance(Base):
    """What Nova does not keep for EC2, per instance; ``generation`` guards every update."""

    __tablename__ = "instances"
    __table_args__ = (UniqueConstraint("os_id", name="uq_instances_os_id"),)

    ec2_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    os_id: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    reservation_id: Mapped[str] = mapped_column(String(32), index=True)
    launch_index: Mapped[int] = mapped_column(Integer, default=0)
    image_id: Mapped[str] = mapped_column(String(32))
    instance_type: Mapped[str] = mapped_column(String(64))
    key_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # Nova keeps key pairs per user, out of the metadata service's reach: the key as it was at launch.
    public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_data: Mapped[str | None] = mapped_column(Text, nullable=True)
    client_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    root_device_name: Mapped[str] = mapped_column(String(64), default="/dev/sda1")
    kernel_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ramdisk_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    block_device_mappings: Mapped[list] = mapped_column(JSON, default=list)
    metadata_options: Mapped[dict] = mapped_column(JSON, default=dict)
    disable_api_termination: Mapped[bool] = mapped_column(Boolean, default=False)
    shutdown_behavior: Mapped[str] = mapped_column(String(16), default="stop")
    launched_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    terminated_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    # the placement group it was launched into, as DescribeInstances shows it after the group is gone
    placement_group_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    placement_group_name: Mapped[str | None] = mapped_column(String(255), nullable=True)


class PlacementGroup(Base):
    """A placement group: Nova has the server group (``os_id``) that holds the policy and the members; the
    EC2 id, name, strategy and tags are ours."""

    __tablename__ = "placement_groups"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_placement_groups_name"),)

    group_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(255))
    strategy: Mapped[str] = mapped_column(String(16))
    spread_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    os_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class LaunchTemplate(Base):
    """A launch template: Nova has no counterpart, so it lives here whole (its versions below)."""

    __tablename__ = "launch_templates"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_launch_templates_name"),)

    template_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    default_version: Mapped[int] = mapped_column(Integer, default=1)
    latest_version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class LaunchTemplateVersion(Base):
    """One version of a launch template: its LaunchTemplateData as given (botocore's member names)."""

    __tablename__ = "launch_template_versions"

    template_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    marker: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the ClientToken's, for its replay


class ViewObject(Base):
    """One OpenStack object as its services' notifications last showed it (the live view, issue 29): written
    only by a change whose ``order_key`` sorts after the one held, so the view never goes backwards."""

    __tablename__ = "view_objects"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)  # server, port, floatingip, volume...
    os_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    order_key: Mapped[str] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    applied_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    link: Mapped[str | None] = mapped_column(String(255), nullable=True)  # a port's server, a floating IP's port

    __table_args__ = (Index("ix_view_objects_link", "kind", "link"),)


class ViewMark(Base):
    """An object the proxy itself changed (a call to Nova, Neutron or Cinder other than a read), and when: its
    view rows are not read until a direct read after that time replaced them (read your writes, issue 29)."""

    __tablename__ = "view_marks"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    os_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255))
    marked_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class ViewProject(Base):
    """A project the proxy has served a request of: the live view keeps its objects' changes; the services'
    notifications of other projects are counted and dropped (the view holds the part of a cloud EC2 users use,
    and a project's part is built by a direct read when it is first asked for)."""

    __tablename__ = "view_projects"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    served_since: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    # when a worker last swept it (changes-since against the view), and when a sweep last found a change the
    # feed had missed (its view is not read for a while after)
    swept_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, nullable=True)
    missed_at: Mapped[datetime.datetime | None] = mapped_column(Timestamp, nullable=True)


class ClientToken(Base):
    """The idempotency ledger: a row is INSERTed before any backend call, under a UNIQUE key."""

    __tablename__ = "client_tokens"
    __table_args__ = (
        UniqueConstraint("project_id", "region", "zone", "action", "token", name="uq_client_tokens_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(64))
    zone: Mapped[str] = mapped_column(String(64))  # "" when the action has no zone
    action: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64))
    params_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # pending, succeeded, failed
    resource_id: Mapped[str] = mapped_column(String(64))  # chosen before the backend call
    error_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class Operation(Base):
    """Every mutating call, recorded before it acts: crash recovery and the operators' view."""

    __tablename__ = "operations"
    __table_args__ = (Index("ix_operations_state", "state", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    resource_ids: Mapped[list] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # what a background job (ec2proxy.state.jobs) needs to carry the operation on after a restart
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)

    @staticmethod
    def naming(resource_ids: Iterable[str]) -> ColumnElement[bool]:
        """Operations whose JSON list of ids holds any of ``resource_ids``, on every database we run on; keep
        the list short (a few dozen): each id is one LIKE."""
        return or_(*(cast(Operation.resource_ids, Text).contains(json.dumps(i)) for i in resource_ids))


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_project_key", "project_id", "key"),)

    resource_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    project_id: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(32))


class KeyPair(Base):
    """What Nova's os-keypairs does not keep for EC2: the fingerprint AWS shows and the creation time.

    A key created by CreateKeyPair is fingerprinted from its private key,
    which only exists during that request. ``public_key_sha256`` tells our
    row from a same-named key made again outside the proxy.
    """

    __tablename__ = "key_pairs"
    __table_args__ = (UniqueConstraint("user_id", "project_id", "name", name="uq_key_pairs_user_project_name"),)

    key_pair_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    key_type: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(128))
    public_key_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class RuleOverlay(Base):
    """What Neutron cannot change about a security group rule: its description (Neutron rules cannot be
    updated, and one differing only in description is a duplicate), and, for a rule that
    ModifySecurityGroupRules replaced, the sgr- id the caller knows it by."""

    __tablename__ = "rule_overlays"
    __table_args__ = (Index("ix_rule_overlays_project", "project_id"),)

    os_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Neutron rule
    project_id: Mapped[str] = mapped_column(String(64))
    ec2_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    description: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Vpc(Base):
    """A VPC made through EC2: its Neutron network and router, and what Neutron has no field for.

    Networks without a row are the project's own networks, shown as VPCs as they are.
    """

    __tablename__ = "vpcs"

    os_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Neutron network
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    router_id: Mapped[str] = mapped_column(String(64))
    cidr: Mapped[str] = mapped_column(String(64))
    enable_dns_support: Mapped[bool] = mapped_column(Boolean, default=True)
    enable_dns_hostnames: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)
    dhcp_options_id: Mapped[str | None] = mapped_column(String(32), nullable=True)  # None: "default"
    # the project this VPC is the default VPC of, when the proxy made it (unique: one per project, however many
    # workers make one at once)
    default_for: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)


class DhcpOptions(Base):
    """A DHCP options set: realised on the subnets (name servers) and ports (extra DHCP options) of the VPCs
    associated with it."""

    __tablename__ = "dhcp_options"

    dhcp_options_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    configurations: Mapped[list] = mapped_column(JSON)  # [{"Key": ..., "Values": [...]}], as EC2 gives them
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class CustomerGateway(Base):
    """A customer gateway: on AWS too only a record of the other end of a VPN (its address and BGP ASN), kept
    until a VPN connection uses it; this cloud makes no VPN connection."""

    __tablename__ = "customer_gateways"

    customer_gateway_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(16))
    ip_address: Mapped[str] = mapped_column(String(64))
    bgp_asn: Mapped[int] = mapped_column(BigInteger)
    device_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class SubnetSetting(Base):
    """Subnet attributes Neutron has no field for (MapPublicIpOnLaunch)."""

    __tablename__ = "subnet_settings"

    os_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Neutron subnet
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    map_public_ip_on_launch: Mapped[bool] = mapped_column(Boolean, default=False)
    availability_zone: Mapped[str] = mapped_column(String(255), default="")  # "" : the default zone


class InternetGateway(Base):
    """An internet gateway: attached, it is the VPC router's external gateway in Neutron."""

    __tablename__ = "internet_gateways"

    gateway_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    vpc_os_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class RouteTable(Base):
    __tablename__ = "route_tables"

    route_table_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    vpc_os_id: Mapped[str] = mapped_column(String(64), index=True)
    main: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime.datetime] = mapped_column(Timestamp, default=utcnow)


class Route(Base):
    """A route of a route table; the local route of the VPC's CIDR is implicit."""

    __tablename__ = "routes"

    route_table_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    target_kind: Mapped[str] = mapped_column(String(32))  # GatewayId, InstanceId, NetworkInterfaceId
    target_id: Mapped[str] = mapped_column(String(64))


class RouteTableAssociation(Base):
    """A subnet's route table (subnets without one use their VPC's main table)."""

    __tablename__ = "route_table_associations"

    association_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    route_table_id: Mapped[str] = mapped_column(String(32), index=True)
    subnet_os_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)  # None: main


class VpcGroup(Base):
    """A security group of a VPC made through EC2 (groups without a row are the default VPC's). Neutron allows
    one group named "default" per project, so a VPC's default group has a name of its own there, shown as
    "default"."""

    __tablename__ = "vpc_groups"

    os_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the Neutron security group
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    vpc_os_id: Mapped[str] = mapped_column(String(64), index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
