"""Security group rule descriptions and kept rule ids, where Neutron cannot hold them.

Neutron rules cannot be updated (PUT answers 500 on the lab's Neutron) and a
rule that differs from another only in its description is a duplicate (409),
so a description set by UpdateSecurityGroupRuleDescriptions* or
ModifySecurityGroupRules lives here, over the rule's own. A rule whose
traffic ModifySecurityGroupRules changed is a new Neutron rule (made before
the old one goes, so nothing the group allowed is refused in between) that
keeps the sgr- id the caller knows.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ec2proxy import db
from ec2proxy.db.models import RuleOverlay
from ec2proxy.ec2 import ids


@dataclasses.dataclass(frozen=True)
class Overlay:
    ec2_id: str | None
    description: str | None


async def load(sessions, project_id: str) -> dict[str, Overlay]:
    """The project's overlays by Neutron rule id: one query."""
    async with sessions() as session:
        return await read(session, project_id)


async def read(session, project_id: str) -> dict[str, Overlay]:
    """``load`` in a session the caller holds."""
    rows = (await session.execute(select(RuleOverlay.os_id, RuleOverlay.ec2_id, RuleOverlay.description).where(
        RuleOverlay.project_id == project_id))).all()
    return {os_id: Overlay(ec2_id, description) for os_id, ec2_id, description in rows}


def apply(groups: list[dict], overlays: dict[str, Overlay]) -> None:
    """Show the descriptions set through EC2 on the Neutron rules they belong to."""
    for group in groups:
        for rule in group.get("security_group_rules") or []:
            overlay = overlays.get(rule["id"])
            if overlay is not None and overlay.description is not None:
                rule["description"] = overlay.description


def described(overlays: dict[str, Overlay], os_id: str, description: str) -> Overlay:
    """The rule's overlay with a new description, keeping the sgr- id it may carry."""
    known = overlays.get(os_id)
    return Overlay(known.ec2_id if known is not None else None, description)


def rule_id(rule: dict, overlays: dict[str, Overlay]) -> str:
    """The sgr- id EC2 shows for a Neutron rule."""
    overlay = overlays.get(rule["id"])
    return overlay.ec2_id if overlay is not None and overlay.ec2_id else ids.from_uuid("sgr", rule["id"])


async def put(sessions, project_id: str, changes: dict[str, Overlay], gone: Sequence[str] = ()) -> None:
    """Write the overlays of ``changes`` (by Neutron rule id) and forget those of ``gone``, in one transaction.

    Two callers writing one rule at once: the second's insert meets the first's row and runs again."""
    for attempt in range(3):
        try:
            async with sessions() as session, session.begin():
                doomed = [*changes, *gone]
                for chunk in db.chunks(doomed):
                    await session.execute(delete(RuleOverlay).where(RuleOverlay.project_id == project_id,
                                                                    RuleOverlay.os_id.in_(chunk)))
                session.add_all([RuleOverlay(os_id=os_id, project_id=project_id, ec2_id=overlay.ec2_id,
                                             description=overlay.description)
                                 for os_id, overlay in changes.items()])
            return
        except IntegrityError:
            if attempt == 2:
                raise
