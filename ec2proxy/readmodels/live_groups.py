"""Security groups from the live view (issue 29): DescribeSecurityGroups naming group ids (a Terraform refresh of
an ``aws_security_group``) answered from the groups as Neutron's notifications (or our last direct read) left them
in ``view_objects``, with their rules, asking nothing of Neutron.

A group's notification, and a direct read of it, carry all its rules; a rule changed since comes as a
notification of its own (a row linked to its group), and Neutron says nothing of the group then. So the view
answers for a group whose rules it holds as of a moment no rule of it changed after: a rule's change applied
after that moment, or a group read without its rules (for an instance's group names), is read directly, and that
read refreshes the view. Else as for instances: the feed on time, every object seen since it connected, none
changed by our own writes since. A listing, or groups named by name, is always read directly.
"""

from __future__ import annotations

import datetime

from sqlalchemy import select

from ec2proxy import db
from ec2proxy.cloud import notifications
from ec2proxy.context import RequestContext
from ec2proxy.db.models import ViewMark, ViewObject
from ec2proxy.ec2 import timestamps
from ec2proxy.readmodels.live_instances import (
    Unanswered,
    by_ec2_ids,
    current,
    marked,
    remember_neutron,
    rows_of,
    swept,
    trusted,
)

RULES = "security_group_rules"


async def _rules_changed(session, os_ids: list[str]) -> dict[str, str]:
    """When a rule of each of these groups was last changed as the view holds it: the stamp of the rule's
    notification (when it was sent), the latest of each group."""
    out: dict[str, str] = {}
    for chunk in db.chunks(os_ids):
        for link, order in (await session.execute(select(ViewObject.link, ViewObject.order_key).where(
                ViewObject.kind == "security_group_rule", ViewObject.link.in_(chunk)))).all():
            out[link] = max(out.get(link, ""), _stamp(order))
    return out


def _stamp(order: str) -> str:
    """When a change was sent, or read: the stamp its order ends with."""
    return order.partition("|")[2]


async def _rules_written(session, found: list, read_at: dict[str, str]) -> bool:
    """Whether our own writes changed a rule of these groups since their rules were read (a revoke names only
    the rule; an authorize names the group, whose mark the view checks as any object's)."""
    rules = {rule["id"]: read_at[g.os_id] for g in found for rule in g.data[RULES]}
    for chunk in db.chunks(sorted(rules)):
        for os_id, when in (await session.execute(select(ViewMark.os_id, ViewMark.marked_at).where(
                ViewMark.kind == "security_group_rule", ViewMark.os_id.in_(chunk)))).all():
            if notifications.stamp_of(timestamps.aware(when)) > rules[os_id]:
                return True
    return False


async def groups(ctx: RequestContext, group_ids: list[str]) -> tuple[list[dict], dict[str, str]]:
    """The groups of these ids (as Neutron's API shows them, with their rules), and the names of the groups
    their rules name, from the view; Unanswered when it cannot vouch for them."""
    live = ctx.services.live
    current(live)
    async with ctx.services.sessions() as session:
        await swept(session, ctx)
        os_ids, found = await by_ec2_ids(session, ctx, "security_group", "sg", group_ids)
        if any(RULES not in g.data for g in found):
            raise Unanswered("unknown")  # held without its rules
        read_at = {g.os_id: _stamp(g.order) for g in found}
        changed = await _rules_changed(session, os_ids)
        if any(not read_at[g.os_id] or changed.get(g.os_id, "") > read_at[g.os_id] for g in found):
            raise Unanswered("unknown")  # a rule changed since its rules were read (or held without them)
        if await marked(session, [(g.kind, g.os_id) for g in found]) or await _rules_written(session, found, read_at):
            raise Unanswered("written")
        named = sorted({r["remote_group_id"] for g in found for r in g.data[RULES] if r.get("remote_group_id")}
                       - set(os_ids))
        others = trusted(ctx, await rows_of(session, ctx, "security_group", ViewObject.os_id, named))
        if len(others) < len(named):
            raise Unanswered("unknown")
    return [g.data for g in found], {g.os_id: g.data.get("name") or "" for g in (*found, *others)}


async def remember(ctx: RequestContext, read: list[dict], since: datetime.datetime) -> None:
    """What a direct read of groups with their rules (begun at ``since``) found, into the view."""
    await remember_neutron(ctx, [("security_group", [g for g in read if RULES in g])], since)
