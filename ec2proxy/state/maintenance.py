"""What operators ask of the proxy's database: which Nova server is ``i-...``, what failed, what to purge."""

from __future__ import annotations

import datetime

from keystoneauth1 import exceptions as ks_exceptions
from sqlalchemy import delete, select

from ec2proxy.cloud import BackendError, BackendNotFound
from ec2proxy.context import Services
from ec2proxy.db.models import ClientToken, Instance, Operation, utcnow
from ec2proxy.ec2 import ids, states, timestamps
from ec2proxy.ec2.servers import addresses


async def instance_record(services: Services, ec2_id: str) -> dict | None:
    """Our row of ``ec2_id`` plus its live state and address from Nova (None: not in our database)."""
    async with services.sessions() as session:
        row = await session.get(Instance, ec2_id)
    if row is None:
        return None
    record = {"ec2_id": row.ec2_id, "os_id": row.os_id, "project_id": row.project_id,
              "reservation_id": row.reservation_id, "launch_index": row.launch_index, "image_id": row.image_id,
              "instance_type": row.instance_type, "key_name": row.key_name, "client_token": row.client_token,
              "metadata_options": row.metadata_options, "generation": row.generation,
              "launched_at": row.launched_at.isoformat() if row.launched_at else None,
              "terminated_at": row.terminated_at.isoformat() if row.terminated_at else None,
              "private_ip": None, "public_ip": None, "state": None, "nova_status": None}
    if services.cloud is None:
        record["state_error"] = "no cloud configured or reachable"
        return record
    try:
        view = await services.cloud.reader_view(row.project_id)
        server = await view.nova.get_server(row.os_id)
    except BackendNotFound:
        record["state"], record["nova_status"] = "terminated", "gone"
        return record
    except (BackendError, ks_exceptions.ClientException) as exc:
        record["state_error"] = f"{type(exc).__name__}: {exc}"
        return record
    private_ip, public_ip, _ = addresses(server)
    record.update(private_ip=private_ip, public_ip=public_ip, state=states.ec2_state(server)[1],
                  nova_status=server.get("status"))
    return record


def operation_record(operation: Operation) -> dict:
    return {"id": operation.id, "request_id": operation.request_id, "action": operation.action,
            "project_id": operation.project_id, "resource_ids": operation.resource_ids, "state": operation.state,
            "error": operation.error, "created_at": operation.created_at.isoformat(),
            "updated_at": operation.updated_at.isoformat()}


async def operations(services: Services, *, state: str | None = None, resource_id: str | None = None,
                     project_id: str | None = None, limit: int = 100) -> list[dict]:
    """Newest first. ``resource_id`` is matched inside the JSON list of ids, on SQLite and PostgreSQL alike."""
    query = select(Operation).order_by(Operation.id.desc())
    if state:
        query = query.where(Operation.state == state)
    if project_id:
        query = query.where(Operation.project_id == project_id)
    if resource_id:
        query = query.where(Operation.naming([resource_id]))
    async with services.sessions() as session:
        return [operation_record(o) for o in (await session.scalars(query.limit(limit))).all()]


async def purge(services: Services, now: datetime.datetime | None = None) -> dict:
    """Forget ClientTokens whose instances all terminated longer ago than the retention, and old operations."""
    now = now or utcnow()
    cutoff = now - datetime.timedelta(seconds=services.config.api.client_token_retention)
    async with services.sessions() as session, session.begin():
        live = select(Instance.reservation_id).where(
            (Instance.terminated_at.is_(None)) | (Instance.terminated_at > cutoff))
        ended = select(Instance.reservation_id).where(Instance.terminated_at <= cutoff)
        tokens = await session.execute(delete(ClientToken).where(
            ClientToken.action == "RunInstances", ClientToken.resource_id.in_(ended),
            ClientToken.resource_id.not_in(live)))
        failed = await session.execute(delete(ClientToken).where(
            ClientToken.state == "failed", ClientToken.updated_at <= cutoff))
        done = await session.execute(delete(Operation).where(
            Operation.state == "succeeded", Operation.updated_at <= cutoff))
    return {"client_tokens": tokens.rowcount + failed.rowcount, "operations": done.rowcount}


async def stuck_images(services: Services, project_id: str | None = None, remove: bool = False) -> list[dict]:
    """Images queued or saving in Glance for longer than ``[api] image_stuck_after`` (DescribeImages shows
    them ``failed``), as the proxy's own project sees them (an admin sees all) or ``project_id``; ``remove``
    deletes them."""
    view = await (services.backend.reader_view(project_id) if project_id else services.backend.view())
    if view.glance is None:
        return []
    limit = datetime.timedelta(seconds=float(services.config.api.image_stuck_after))
    now = utcnow()
    out = []
    for image in await view.glance.list_images({"member_status": "all"}):
        stamp = image.get("updated_at") or image.get("created_at")
        if image.get("status") not in ("queued", "saving", "importing", "uploading") or not stamp:
            continue
        if now - (timestamps.parse(stamp) or now) <= limit:
            continue
        record = {"image_id": ids.from_uuid("ami", image["id"]), "os_id": image["id"], "name": image.get("name"),
                  "status": image["status"], "owner": image.get("owner"), "since": stamp, "deleted": False}
        if remove:
            try:
                await view.glance.delete_image(image["id"])
            except BackendNotFound:
                pass
            record["deleted"] = True
        out.append(record)
    return out
