"""Attaching an internet gateway (ours) to a VPC: the row and the VPC router's external gateway in Neutron
change together."""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ec2proxy.context import RequestContext
from ec2proxy.db.models import InternetGateway
from ec2proxy.ec2 import errors


async def attach(ctx: RequestContext, gateway: InternetGateway, vpc_id: str, network_id: str,
                 route: Callable[[], Awaitable[Any]]) -> None:
    """The gateway to the VPC, then ``route`` (the router's external gateway) in the same transaction: a
    Neutron refusal leaves the gateway detached; the unique index settles two attachments at once."""
    try:
        async with ctx.services.sessions() as session, session.begin():
            taken = await session.execute(update(InternetGateway).where(
                InternetGateway.gateway_id == gateway.gateway_id,
                InternetGateway.vpc_os_id.is_(None)).values(vpc_os_id=network_id))
            if taken.rowcount != 1:
                raise errors.ResourceAlreadyAssociated(f"resource {gateway.gateway_id} is already attached")
            await route()
    except IntegrityError:
        raise errors.ResourceAlreadyAssociated(
            f"Network {vpc_id} already has an internet gateway attached") from None


async def detach(session, gateway_id: str) -> None:
    await session.execute(update(InternetGateway).where(InternetGateway.gateway_id == gateway_id).values(
        vpc_os_id=None))
