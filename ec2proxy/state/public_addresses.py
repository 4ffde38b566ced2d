"""The public IPv4 address an instance gets at launch (a subnet's MapPublicIpOnLaunch, a network interface's
AssociatePublicIpAddress): a Neutron floating IP on the instance's first port, made by a background job once
Nova has made the port, and released when the instance terminates, as AWS does. It is not an elastic IP:
DescribeAddresses leaves it out."""

from __future__ import annotations

from ec2proxy.cloud import BackendError
from ec2proxy.state import jobs

JOB = "RunInstances.PublicAddresses"
WAIT = 60.0
MARK = "ec2proxy: public IP of an instance, released with it"


def automatic(fip: dict) -> bool:
    return fip.get("description") == MARK


async def schedule(ctx, view, reservation_id: str, server_ids: list[str], external_network_id: str) -> None:
    await jobs.schedule(ctx, view, JOB, [reservation_id], {"servers": server_ids, "network": external_network_id})


@jobs.runner(JOB)
async def _assign(services, operation, view) -> None:
    details = operation.details or {}
    servers = list(details.get("servers") or [])
    ports = await ports_of_servers(view, servers, WAIT, ["id", "device_id", "created_at"])
    fips = await view.neutron.list_where("floatingip", "port_id", [p["id"] for p in ports])
    holding = {f["port_id"] for f in fips}
    for server in servers:
        first = min((p for p in ports if p["device_id"] == server), key=lambda p: (p.get("created_at") or "", p["id"]))
        if first["id"] in holding:
            continue  # an earlier run, or the caller, gave it one
        try:
            await view.neutron.create("floatingip", {"floating_network_id": details["network"], "port_id": first["id"],
                                                     "description": MARK})
        except BackendError as exc:
            if exc.status in (400, 404):  # no internet gateway on the VPC: no route from the external network
                raise jobs.JobFailed(f"no public IP for server {server}: {exc.message[:200]}") from None
            raise


async def ports_of_servers(view, servers: list[str], wait: float, fields: list[str] | None = None) -> list[dict]:
    """The ports of servers being launched, once each server has one (Nova makes them while it builds); a job
    waits up to ``wait`` seconds, then is tried again after its lease."""
    async def made() -> list[dict] | None:
        ports = await view.neutron.list_where("port", "device_id", servers, {"fields": fields} if fields else None)
        return ports if {p["device_id"] for p in ports} >= set(servers) else None

    return await jobs.waited(made, wait, "network", "the instances' ports are not there yet")


async def give_way(view, port_id: str) -> None:
    """An elastic IP comes to the port: its automatic public IP goes, as on AWS."""
    for fip in await view.neutron.list("floatingip", {"port_id": port_id}):
        if automatic(fip):
            await view.neutron.remove("floatingip", fip["id"])


async def release(view, server_ids: list[str]) -> None:
    """The automatic public IPs of these servers, released (TerminateInstances)."""
    if not server_ids or view.neutron is None:
        return
    ports = await view.neutron.list_where("port", "device_id", server_ids, {"fields": ["id"]})
    for fip in await view.neutron.list_where("floatingip", "port_id", [p["id"] for p in ports]):
        if automatic(fip):
            await view.neutron.remove("floatingip", fip["id"])
