"""What every real-cloud run must leave as it found it.

The lab keeps its data between runs (CI runs on the session's machine) and
its quotas are small (10 volumes a project): what one run leaves behind in
the demo project makes a later run fail far from its cause, as a leaked root
volume once did. So the run ends by checking that the demo project holds no
server, volume, snapshot or image it did not hold when the run began.
"""

from __future__ import annotations

import pytest

from tests.realcloud.test_lab_instances import LAB, as_demo
from tests.support import until


def _census() -> set[tuple[str, str]]:
    async def read(view):
        held = {("server", s["id"]) for s in await view.nova.list_server_ids()}
        held |= {("volume", v["id"]) for v in await view.cinder.list_volumes()} if view.cinder else set()
        held |= {("snapshot", s["id"]) for s in await view.cinder.list_snapshots()} if view.cinder else set()
        images = await view.glance.list_images({"owner": view.project_id}) if view.glance else []
        return held | {("image", i["id"]) for i in images}

    return as_demo(read)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    if not LAB:
        yield
        return
    before = _census()
    yield
    left: set = set()

    def clean() -> bool:
        left.clear()
        left.update(_census() - before)
        return not left

    try:  # what the tests delete goes a moment later: Nova's and Cinder's deletes finish in the background
        until(clean, 120, 2)
    except AssertionError:
        raise AssertionError(f"the run left these in the lab's demo project: {sorted(left)}") from None
