"""EC2 pagination: MaxResults within a range, an opaque NextToken bound to the question asked."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Sequence, TypeVar

from ec2proxy import errors

T = TypeVar("T")


def _digest(params: dict) -> str:
    question = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults", "DryRun")}
    return hashlib.sha256(json.dumps(question, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _token(offset: int, digest: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "h": digest}).encode()).decode()


def _offset(token: str, digest: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.EC2Error("The NextToken is not valid.", code="InvalidNextToken") from None
    if data.get("h") != digest or offset < 0:
        raise errors.EC2Error("The NextToken does not belong to this request's filters.", code="InvalidNextToken")
    return offset


def check_max_results(params: dict, low: int = 5, high: int = 1000, ids_member: str | None = None) -> None:
    max_results = params.get("MaxResults")
    if ids_member and params.get(ids_member) and max_results is not None:
        raise errors.InvalidParameterCombination(
            f"The parameter {ids_member} cannot be used with the parameter maxResults")
    if max_results is not None and not low <= max_results <= high:
        raise errors.InvalidParameterValue(f"Value for parameter MaxResults must be between {low} and {high}")


def page(items: Sequence[T], params: dict) -> tuple[Sequence[T], str | None]:
    """The page of ``items`` the request asks for, and the token of the next one (None: last page)."""
    digest = _digest(params)
    start = _offset(params["NextToken"], digest) if params.get("NextToken") else 0
    size = params.get("MaxResults")
    if size is None:
        return items[start:], None
    end = start + size
    return items[start:end], (_token(end, digest) if end < len(items) else None)


def answer(member: str, items: Sequence[T], params: dict) -> dict:
    """The output of a paged Describe: the page under ``member``, and the NextToken while more follow."""
    chosen, next_token = page(items, params)
    return {member: chosen, **({"NextToken": next_token} if next_token else {})}
