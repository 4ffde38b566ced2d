"""What the lab's demo project holds, by kind and id: a run that ends holding more than it began with leaked.

Neutron's listings are asked with the demo user's project (a member sees its own and shared objects: only the
project's own are counted).
"""

from __future__ import annotations

import time

from tests.realcloud.test_lab_instances import as_demo
from tests.support import until

NEUTRON_KINDS = ("network", "subnet", "router", "port", "security_group", "floatingip")


def census() -> set[tuple[str, str]]:
    async def read(view):
        held = {("server", s["id"]) for s in await view.nova.list_server_ids()}
        held |= {("server_group", g["id"]) for g in await view.nova.server_groups()}
        held |= {("volume", v["id"]) for v in await view.cinder.list_volumes()} if view.cinder else set()
        held |= {("snapshot", s["id"]) for s in await view.cinder.list_snapshots()} if view.cinder else set()
        images = await view.glance.list_images({"owner": view.project_id}) if view.glance else []
        held |= {("image", i["id"]) for i in images}
        for kind in NEUTRON_KINDS:
            held |= {(kind, item["id"]) for item in await view.neutron.list(kind, {"project_id": view.project_id})}
        return held

    return as_demo(read)


def left_behind(before: set[tuple[str, str]], seconds: float = 120) -> list[tuple[str, str]]:
    """What the project holds now and did not hold ``before``, once deletes in flight had ``seconds`` to end."""
    left: set = set()

    def clean() -> bool:
        left.clear()
        left.update(census() - before)
        return not left

    try:
        until(clean, seconds, 2)
    except AssertionError:
        pass
    return sorted(left)


# What goes first: a router's interfaces hold its subnets, servers hold ports and volumes, snapshots hold volumes
SWEEP_ORDER = ("server", "server_group", "floatingip", "router", "port", "subnet", "network", "security_group", "image",
               "snapshot", "volume")


def sweep(leaked: list[tuple[str, str]], seconds: float = 120) -> list[tuple[str, str]]:
    """Delete what a run left behind, as the demo user (the next run must find the project as it was); answers
    what is still there after ``seconds``."""
    from ec2proxy.cloud import BackendError

    async def remove(view, kind: str, os_id: str) -> None:
        if kind == "server":
            await view.nova.delete_server(os_id)
        elif kind == "server_group":
            await view.nova.delete_server_group(os_id)
        elif kind == "router":
            router = await view.neutron.show("router", os_id)
            for port in await view.neutron.list("port", {"device_id": os_id,
                                                         "device_owner": "network:router_interface"}):
                for fixed in port.get("fixed_ips") or []:
                    await view.neutron.router_interface(os_id, fixed["subnet_id"], add=False)
            if router.get("external_gateway_info"):
                await view.neutron.update("router", os_id, {"external_gateway_info": {}})
            await view.neutron.remove("router", os_id)
        elif kind in NEUTRON_KINDS:
            await view.neutron.remove(kind, os_id)
        elif kind == "image":
            await view.glance.delete_image(os_id)
        elif kind == "snapshot":
            await view.cinder.delete_snapshot(os_id)
        elif kind == "volume":
            await view.cinder.delete_volume(os_id)

    async def run(view):
        for kind in SWEEP_ORDER:
            for found_kind, os_id in leaked:
                if found_kind == kind:
                    try:
                        await remove(view, kind, os_id)
                    except BackendError:
                        pass  # gone already, or held by what goes later: asked again below

    remaining = set(leaked)
    deadline = time.monotonic() + seconds
    while remaining and time.monotonic() < deadline:
        as_demo(run)
        time.sleep(3)
        remaining &= census()
        leaked = sorted(remaining)
    return sorted(remaining)
