"""Dev-cloud fault kinds and how a test provokes one and reads the EC2 error it becomes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

FAULTS = {
    "status-500": ({"kind": "status", "status": 500}, {"InternalError"}),
    "status-503": ({"kind": "status", "status": 503}, {"Unavailable"}),
    "status-429": ({"kind": "status", "status": 429}, {"RequestLimitExceeded"}),
    "hang": ({"kind": "hang", "seconds": 4}, {"Unavailable"}),
    "drop": ({"kind": "drop"}, {"Unavailable", "InternalError"}),
    "late": ({"kind": "late", "seconds": 4}, {"Unavailable"}),
}


def error_of(call, **kwargs) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def faulted(inject, clear, rule: dict, call, **kwargs) -> tuple[str, int, str]:
    """The EC2 error ``call`` fails with while ``rule`` is injected; the fault must have fired."""
    inject(rule)
    try:
        return error_of(call, **kwargs)
    finally:
        assert clear() > 0, f"the injected fault {rule} never fired"
