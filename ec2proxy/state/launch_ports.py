"""An instance's own network interface, made by us before the boot.

Nova deletes, with a server, the ports it made for it, whatever the caller
asks later; it keeps a port it was given. So an instance launched alone into a
subnet gets its interface (device index 0) made here first, in that subnet,
with its address and groups, and tagged ``vpcs.LAUNCH_PORT``: its
``DeleteOnTermination`` is then ours to keep, as AWS lets it be set at launch
or changed later (ModifyNetworkInterfaceAttribute). It carries
``vpcs.DELETE_ON_TERMINATION`` unless asked otherwise, and goes with its
instance by ``ec2proxy.state.interface_removal`` like any interface set so.

The port is named after the reservation, so a ClientToken retry after a crash
takes the port the first attempt made instead of making a second.
"""

from __future__ import annotations

from ec2proxy.cloud import BackendError, CloudView, address_failure, removed
from ec2proxy.ec2 import ids, vpcs
from ec2proxy.readmodels.networks import neutron_of


async def made(view: CloudView, reservation_id: str, subnet: dict, group_os_ids: list[str], address: str | None,
               delete_on_termination: bool = True, adopting: bool = False) -> dict:
    """The unbound port the instance boots with (one a crashed attempt left, when ``adopting``)."""
    neutron = neutron_of(view)
    if adopting:
        left = [p for p in await neutron.list("port", {"name": reservation_id}) if not p.get("device_id")]
        if left:
            return left[0]
    fixed: dict = {"subnet_id": subnet["id"], **({"ip_address": address} if address else {})}
    try:
        port = await neutron.create("port", {"network_id": subnet["network_id"], "name": reservation_id,
                                             "fixed_ips": [fixed], "security_groups": group_os_ids})
    except BackendError as exc:
        raise address_failure(exc, ids.from_uuid("subnet", subnet["id"])) from None
    try:
        await neutron.add_tag("port", port["id"], vpcs.LAUNCH_PORT)
        if delete_on_termination:
            await neutron.add_tag("port", port["id"], vpcs.DELETE_ON_TERMINATION)
    except BaseException:
        await discard(view, port["id"])
        raise
    return port


async def discard(view: CloudView, port_id: str) -> None:
    """The launch failed: the port goes, unless a server took it after all (Nova answered late)."""
    neutron = neutron_of(view)
    try:
        port = await neutron.show("port", port_id)
    except BackendError:
        return
    if not port.get("device_id"):
        await removed(lambda: neutron.remove("port", port_id))
