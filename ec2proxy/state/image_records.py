"""What the proxy records of images it makes or removes: their tags (Glance keeps no EC2 tags) and the
operations log that says when a new image's data is in."""

from __future__ import annotations

from typing import Any

from ec2proxy.state import oplog, tag_writes


async def tagged(session, project_id: str, operation_id: int, tags: dict[str, list[dict]]) -> None:
    """A new image's tags (and its snapshots'), replacing any an earlier attempt left; its operation closes."""
    for resource_id, resource_tags in tags.items():
        await tag_writes.replace(session, project_id, resource_id, resource_tags)
    await oplog.close(session, operation_id)


async def deregistered(session, ctx: Any, image_id: str) -> None:
    """The image's tags go; the operations log keeps the deregistration, so asking for it again is
    ``InvalidAMIID.Unavailable``, as on AWS."""
    await tag_writes.forget(session, ctx.project_id, image_id)
    await oplog.record(session, ctx, [image_id], state="succeeded")


async def copying(session, create: Any, source_id: str, image_id: str, details: dict, tags: list[dict]) -> None:
    """CopyImage's log entry (its job copies the data) and the new image's tags."""
    await create.log([source_id, image_id], session, details=details)
    await tag_writes.replace(session, create.ctx.project_id, image_id, tags)
