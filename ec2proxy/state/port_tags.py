"""What the proxy writes on Neutron objects it made for EC2: the tags that keep what Neutron has no field for
(a port's device index and primary address, ``ec2proxy.ec2.vpcs`` names them), and the default rules a new
group of an EC2 VPC should not have."""

from __future__ import annotations

from ec2proxy.ec2.vpcs import DEVICE_INDEX, PRIMARY_TAG, primary_fixed_ip


async def drop_ipv6_egress(neutron, group: dict) -> None:
    """Remove the allow-all IPv6 egress rule Neutron gives every new group: a group of a VPC made through EC2
    (IPv4 subnets only) starts, as on AWS without an IPv6 block, with the one rule "all IPv4 out"; Terraform
    revokes exactly that rule and would otherwise find ``::/0`` left over on every plan."""
    for rule in group.get("security_group_rules") or []:
        if rule.get("direction") == "egress" and rule.get("ethertype") == "IPv6" and not rule.get(
                "remote_ip_prefix") and not rule.get("remote_group_id") and rule.get("protocol") is None:
            await neutron.remove("security_group_rule", rule["id"])


async def tag_device_index(neutron_client, port_id: str, index: int) -> None:
    """The port's device index on the instance it goes to, replacing one an earlier attachment left."""
    port = await neutron_client.show("port", port_id)
    for tag in port.get("tags") or []:
        if tag.startswith(DEVICE_INDEX) and tag != f"{DEVICE_INDEX}{index}":
            await neutron_client.remove_tag("port", port_id, tag)
    await neutron_client.add_tag("port", port_id, f"{DEVICE_INDEX}{index}")


async def name_primary(neutron_client, port: dict) -> None:
    """Tag the port's primary address before it gets a second one (it is the only one yet)."""
    primary = primary_fixed_ip(port)
    if primary is not None and not any(t.startswith(PRIMARY_TAG) for t in port.get("tags") or []):
        await neutron_client.add_tag("port", port["id"], PRIMARY_TAG + primary["ip_address"])
