"""VPCs and subnets made in Neutron and our tables, all or nothing.

``async with Making(...) as making:`` remembers each Neutron object as it is
made and the rows that will describe them; leaving the block writes the rows
(and tags) in one transaction, and a failure anywhere, that write included,
removes the Neutron objects made, in reverse. CreateVpc, CreateSubnet and the
default VPC a project gets when it first needs one (``ec2proxy.state.default_vpc``)
are each one ``Making``.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
from typing import Any, Iterable

from sqlalchemy import delete, select, update

from ec2proxy.cloud import removed
from ec2proxy.db.models import Route, RouteTable, RouteTableAssociation, SubnetSetting, Vpc, VpcGroup, utcnow
from ec2proxy.ec2 import ids
from ec2proxy.state import port_tags, tag_writes


@dataclasses.dataclass
class Making:
    neutron: Any
    project_id: str
    sessions: Any
    made: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    rows: list[Any] = dataclasses.field(default_factory=list)
    tags: dict[str, list[dict]] = dataclasses.field(default_factory=dict)
    main_table: str = ""

    async def vpc(self, block: ipaddress.IPv4Network, tags: list[dict],
                  default_for: str | None = None) -> tuple[dict, Vpc]:
        """A network and a router (the VPC's local route between its subnets), the VPC's default security group
        (a default VPC's is the project's own "default" group in Neutron, as for the networks Nova gives by
        default); rows: the VPC, its main route table, the group."""
        marker = ids.new("vpc")  # the Neutron objects' name until the VPC id (the network's) is known
        network = await self._create("network", {"name": marker})
        router = await self._create("router", {"name": marker})
        vpc_id = ids.from_uuid("vpc", network["id"])
        if default_for is None:
            group = await self._create("security_group", {"name": f"{vpc_id}-default",
                                                           "description": "default VPC security group"})
            # as AWS's: traffic from the group's own members is allowed in (Neutron adds the allow-all egress)
            await self.neutron.create_many("security_group_rule", [
                {"security_group_id": group["id"], "direction": "ingress", "ethertype": family,
                 "remote_group_id": group["id"]} for family in ("IPv4", "IPv6")])
            await port_tags.drop_ipv6_egress(self.neutron, group)
            self.rows.append(VpcGroup(os_id=group["id"], project_id=self.project_id, vpc_os_id=network["id"],
                                      is_default=True))
        row = Vpc(os_id=network["id"], project_id=self.project_id, router_id=router["id"], cidr=str(block),
                  enable_dns_support=True, enable_dns_hostnames=default_for is not None, created_at=utcnow(),
                  default_for=default_for)
        table = self.main_table = ids.new("rtb")
        self.rows += [row, RouteTable(route_table_id=table, project_id=self.project_id, vpc_os_id=network["id"],
                                      main=True, created_at=utcnow()),
                      RouteTableAssociation(association_id=ids.new("rtbassoc"), project_id=self.project_id,
                                            route_table_id=table, subnet_os_id=None)]
        self.tags[vpc_id] = tags
        return network, row

    async def subnet(self, vpc: Vpc, block: ipaddress.IPv4Network, zone: str, tags: list[dict],
                     name_servers: list[str], map_public_ip_on_launch: bool = False) -> dict:
        """A subnet of the VPC's network, the VPC router's interface on it; row: its settings."""
        hosts = list(block.hosts())  # as AWS: the first four addresses and the last are the network's
        subnet = await self._create("subnet", {
            "network_id": vpc.os_id, "cidr": str(block), "ip_version": 4, "gateway_ip": str(hosts[0]),
            "allocation_pools": [{"start": str(hosts[3]), "end": str(hosts[-1])}], "dns_nameservers": name_servers})
        await self.neutron.router_interface(vpc.router_id, subnet["id"])
        self.made.append(("router_interface", (vpc.router_id, subnet["id"])))
        self.rows.append(SubnetSetting(os_id=subnet["id"], project_id=self.project_id,
                                       map_public_ip_on_launch=map_public_ip_on_launch, availability_zone=zone))
        self.tags[ids.from_uuid("subnet", subnet["id"])] = tags
        return subnet

    async def _create(self, kind: str, body: dict) -> dict:
        made = await self.neutron.create(kind, body)
        self.made.append((kind, made["id"]))
        return made

    async def __aenter__(self) -> Making:
        return self

    async def __aexit__(self, kind, exc, traceback) -> None:
        try:
            if exc is None:
                async with self.sessions() as session, session.begin():
                    session.add_all(self.rows)
                    await session.flush()
                    await tag_writes.write(session, self.project_id, self.tags)
        except BaseException:
            await self._undo()
            raise
        if exc is not None:
            await self._undo()

    async def _undo(self) -> None:
        await remove(self.neutron, reversed(self.made))
        self.made.clear()


async def remove(neutron, objects: Iterable[tuple[str, Any]]) -> None:
    """Neutron objects removed in the order given (a ``("router_interface", (router, subnet))`` is a router's
    interface on a subnet); one already gone counts as removed."""
    await removed(*(functools.partial(neutron.router_interface, *os_id, add=False)
                         if kind == "router_interface" else functools.partial(neutron.remove, kind, os_id)
                         for kind, os_id in objects))



async def forget_vpc(session, project_id: str, vpc_id: str, network_id: str) -> None:
    """Our rows of a VPC Neutron no longer has: its route tables (routes, associations, tags), its groups'
    rows, its own row and tags."""
    tables = (await session.scalars(select(RouteTable.route_table_id).where(
        RouteTable.vpc_os_id == network_id))).all()
    await session.execute(delete(Route).where(Route.route_table_id.in_(tables)))
    await session.execute(delete(RouteTableAssociation).where(RouteTableAssociation.route_table_id.in_(tables)))
    await session.execute(delete(RouteTable).where(RouteTable.vpc_os_id == network_id))
    await session.execute(delete(Vpc).where(Vpc.os_id == network_id))
    await session.execute(delete(VpcGroup).where(VpcGroup.vpc_os_id == network_id))
    for resource_id in (vpc_id, *tables):
        await tag_writes.forget(session, project_id, resource_id)


async def set_attribute(session, network_id: str, column: str, value: bool) -> None:
    """ModifyVpcAttribute's DNS settings, which are ours to keep."""
    await session.execute(update(Vpc).where(Vpc.os_id == network_id).values({column: value}))


async def forget_subnet(session, project_id: str, subnet_id: str, subnet_os_id: str) -> None:
    """Our rows of a subnet Neutron no longer has: its settings, its route table association, its tags."""
    await session.execute(delete(SubnetSetting).where(SubnetSetting.os_id == subnet_os_id))
    await session.execute(delete(RouteTableAssociation).where(RouteTableAssociation.subnet_os_id == subnet_os_id))
    await tag_writes.forget(session, project_id, subnet_id)


async def map_public_ip_on_launch(session, project_id: str, subnet_os_id: str, value: bool) -> None:
    found = (await session.scalars(select(SubnetSetting).where(SubnetSetting.os_id == subnet_os_id))).first()
    if found is None:
        session.add(SubnetSetting(os_id=subnet_os_id, project_id=project_id, map_public_ip_on_launch=value,
                                  availability_zone=""))
    else:
        found.map_public_ip_on_launch = value
