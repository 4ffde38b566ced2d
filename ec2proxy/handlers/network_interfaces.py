"""Network interfaces: Neutron ports as EC2 shows them (DescribeNetworkInterfaces)."""

from __future__ import annotations

import asyncio

from ec2proxy.ec2 import ids, tagging
from ec2proxy.frontdoor.context import RequestContext
from ec2proxy.handlers import action
from ec2proxy.readmodels.networks import ENI_FILTERS, answer, build_interface, network_state, zone


@action("DescribeNetworkInterfaces")
async def describe_network_interfaces(ctx: RequestContext, params: dict) -> dict:
    state, default_zone = await asyncio.gather(network_state(ctx, with_ports=True), zone(ctx))
    shapes = [build_interface(p, state["fips"], state["groups"], default_zone, ctx.region) for p in state["ports"]
              if not (p.get("device_owner") or "").startswith(("network:", "neutron:"))]
    return {"NetworkInterfaces": await answer(ctx, params, shapes, "NetworkInterfaceId", "eni",
                                              "InvalidNetworkInterfaceID.NotFound", ENI_FILTERS, "TagSet")}


@tagging.exists("eni")
async def _existing(ctx: RequestContext, resource_ids: list[str]) -> set[str]:
    state = await network_state(ctx, with_ports=True)
    return {ids.from_uuid("eni", p["id"]) for p in state["ports"]} & set(resource_ids)
