"""Our row of an instance changed under its generation: a change made meanwhile by another request is never
overwritten (the loser is told, as AWS answers a concurrent change)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from ec2proxy.context import RequestContext
from ec2proxy.db.models import Instance, utcnow
from ec2proxy.ec2 import errors
from ec2proxy.readmodels.instance_shapes import InstanceRecord


async def update_row(ctx: RequestContext, instance: InstanceRecord, **values) -> None:
    """Change our row of ``instance`` conditionally on the generation it was read at.

    A server created directly in Nova gets its row now, from what Describe
    showed. A lost race is ``IncorrectInstanceState`` (someone else changed
    the instance in between): the caller retries with fresh eyes.
    """
    row = instance.row
    async with ctx.services.sessions() as session, session.begin():
        if row is None:
            session.add(Instance(
                ec2_id=instance.shape["InstanceId"], os_id=instance.os_id, project_id=ctx.project_id,
                reservation_id=instance.reservation_id, launch_index=instance.shape["AmiLaunchIndex"],
                image_id=instance.shape["ImageId"], instance_type=instance.shape["InstanceType"],
                key_name=instance.shape.get("KeyName"), root_device_name=instance.shape["RootDeviceName"],
                block_device_mappings=[], metadata_options=instance.shape["MetadataOptions"],
                launched_at=instance.shape["LaunchTime"] or utcnow(), generation=1, **values))
            try:
                await session.flush()
            except IntegrityError:
                raise _lost_race(instance) from None
        else:
            done = await session.execute(update(Instance).where(
                Instance.ec2_id == instance.shape["InstanceId"], Instance.project_id == ctx.project_id,
                Instance.generation == row.generation).values(generation=row.generation + 1, **values))
            if done.rowcount != 1:
                raise _lost_race(instance)
    ctx.services.instance_changed(instance.os_id)


def _lost_race(instance: InstanceRecord) -> errors.EC2Error:
    return errors.IncorrectInstanceState(
        f"The instance '{instance.shape['InstanceId']}' was changed by another request; retry.")
