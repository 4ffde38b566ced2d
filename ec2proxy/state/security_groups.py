"""What the proxy keeps of security groups beside Neutron's: which VPC made through EC2 a group belongs to,
the descriptions of its rules (``ec2proxy.state.rule_overlays``) and its tags."""

from __future__ import annotations

from sqlalchemy import delete

from ec2proxy.context import RequestContext
from ec2proxy.db.models import VpcGroup
from ec2proxy.readmodels import tag_reads
from ec2proxy.readmodels.networks import vpc_groups
from ec2proxy.state import rule_overlays, tag_writes


async def stored(ctx: RequestContext, group_ids: list[str] | None) -> tuple[
        dict[str, VpcGroup], dict[str, rule_overlays.Overlay], dict[str, list[dict]] | None]:
    """What our database keeps of the project's groups, in one session: the VPC groups, the rule descriptions
    set through EC2, and the tags of ``group_ids`` when they are named (None: read once a listing names them)."""
    async with ctx.services.sessions() as session:
        return (await vpc_groups(ctx, session), await rule_overlays.read(session, ctx.project_id),
                await tag_reads.read(session, ctx.project_id, group_ids) if group_ids else None)


async def record(session, project_id: str, group_id: str, os_id: str, vpc_os_id: str | None,
                 tags: list[dict]) -> None:
    """A group just made in Neutron: its tags, and its VPC when that is one made through EC2."""
    await tag_writes.write(session, project_id, {group_id: tags})
    if vpc_os_id is not None:
        session.add(VpcGroup(os_id=os_id, project_id=project_id, vpc_os_id=vpc_os_id, is_default=False))


async def forget(session, project_id: str, group_id: str, os_id: str) -> None:
    await tag_writes.forget(session, project_id, group_id)
    await session.execute(delete(VpcGroup).where(VpcGroup.os_id == os_id))
