"""One cloud object by its EC2 id, without listing the project's objects each time.

EC2 ids are digests of OpenStack ids, so the way back is known only for ids
this process has computed (``ids.os_id_of``). A known id is one GET, which the
service answers 404 for an object the project cannot see; an unknown one is
one listing, which teaches the process every id in it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, TypeVar

from ec2proxy.cloud import BackendNotFound
from ec2proxy.ec2 import ids
from ec2proxy.readmodels import tag_reads

FEW = 20  # up to this many known ids are asked one by one (concurrently) rather than by a listing


async def by_ec2_id(ec2_id: str, id_of: Callable[[dict], str], get: Callable[[str], Awaitable[dict]],
                    listing: Callable[[], Awaitable[list[dict]]]) -> dict | None:
    os_id = ids.os_id_of(ec2_id)
    if os_id is not None:
        try:
            found: Any = await get(os_id)
        except BackendNotFound:
            return None
        return found if id_of(found) == ec2_id else None
    return next((item for item in await listing() if id_of(item) == ec2_id), None)


async def few_with_tags(ctx, ec2_ids: list[str], get: Callable[[str], Awaitable[dict | None]]) -> tuple[
        list[dict], dict[str, list[dict]]] | None:
    """A few ids this process knows, each by ``get`` (None: not there, or not the caller's), and their tags,
    read while the backend answers; None: ask the listing, which also says which are missing. An id asked
    twice is one object."""
    ec2_ids = list(dict.fromkeys(ec2_ids))
    if not 0 < len(ec2_ids) <= FEW or any(ids.os_id_of(ec2_id) is None for ec2_id in ec2_ids):
        return None
    found, tags = await asyncio.gather(asyncio.gather(*(get(ec2_id) for ec2_id in ec2_ids)),
                                       tag_reads.load(ctx, ec2_ids))
    if any(item is None for item in found):
        return None
    return [item for item in found if item is not None], tags


Shape = TypeVar("Shape")


async def shape_by_ec2_id(ec2_id: str, prefix: str, get: Callable[[str], Awaitable[dict]],
                          listing: Callable[[], Awaitable[list[dict]]],
                          describe: Callable[[list[dict]], Awaitable[list[Shape]]],
                          missing: Callable[[str], Exception]) -> Shape:
    """The EC2 shape of one object whose id is ``prefix``-digest of its OpenStack id; ``describe`` makes
    shapes (leaving out deleted objects), ``missing`` is the caller's NotFound error."""
    found = await by_ec2_id(ec2_id, lambda item: ids.from_uuid(prefix, item["id"]), get, listing)
    shapes = await describe([found]) if found is not None else []
    if not shapes:
        raise missing(ec2_id)
    return shapes[0]


async def existing(ec2_ids: list[str], id_of: Callable[[dict], str], get: Callable[[str], Awaitable[dict]],
                   listing: Callable[[], Awaitable[list[dict]]],
                   kept: Callable[[dict], bool] = lambda item: True) -> set[str]:
    """Which of ``ec2_ids`` name objects the project has (``kept``: not deleted): a few known ids are
    asked by GET, anything else by one listing."""
    if len(ec2_ids) <= FEW and all(ids.os_id_of(i) for i in ec2_ids):
        found = await asyncio.gather(*(by_ec2_id(i, id_of, get, listing) for i in ec2_ids))
        return {id_of(item) for item in found if item is not None and kept(item)}
    return {id_of(item) for item in await listing() if kept(item)} & set(ec2_ids)
