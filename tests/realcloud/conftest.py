"""What every real-cloud run must leave as it found it.

The lab keeps its data between runs (CI runs on the session's machine) and
its quotas are small (10 volumes a project): what one run leaves behind in
the demo project makes a later run fail far from its cause, as a leaked root
volume once did. So the run ends by checking that the demo project holds no
server, volume, snapshot, image, network, subnet, router, port, security
group or floating IP it did not hold when the run began.
"""

from __future__ import annotations

import pytest

from tests.realcloud.census import census, left_behind
from tests.realcloud.test_lab_instances import LAB


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind():
    if not LAB:
        yield
        return
    before = census()
    yield
    left = left_behind(before)  # what the tests delete goes a moment later: deletes finish in the background
    if left:
        raise AssertionError(f"the run left these in the lab's demo project: {left}")
