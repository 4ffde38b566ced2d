"""EC2 pagination: MaxResults within a range, an opaque NextToken bound to the caller and the question.

A token is ``<payload>.<mac>``: the payload (the offset) is MAC'd with a
server key together with the caller's project and a digest of the question
(the action and what it names, filters aside), so a token cannot be forged,
altered, or replayed by another project or for another action. Anything else
is ``InvalidNextToken``, never a 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Protocol, Sequence, TypeVar

from ec2proxy.ec2 import errors


class _Keys(Protocol):
    @property
    def page_key(self) -> bytes: ...


class RequestContext(Protocol):
    """What paging knows of a request (``ec2proxy.context.RequestContext`` is one): who asks what, and the key
    its tokens are MAC'd with."""

    @property
    def project_id(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def action(self) -> str: ...

    @property
    def services(self) -> _Keys: ...

T = TypeVar("T")
MAX_OFFSET = 1 << 31
_MAX_TOKEN = 1024


def _binding(ctx: RequestContext, params: dict) -> bytes:
    # Filters are left out: AWS goes on from a token's place when the next page asks with other filters (the
    # retired ec2-api's suite checks it against AWS), so the offset counts in the listing those filters give.
    question = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults", "DryRun", "Filters")}
    text = json.dumps([ctx.project_id, ctx.region, ctx.action, question], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).digest()


def _mac(ctx: RequestContext, payload: str, binding: bytes) -> str:
    digest = hmac.new(ctx.services.page_key, payload.encode() + b"|" + binding, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def _token(ctx: RequestContext, offset: int, binding: bytes) -> str:
    payload = base64.urlsafe_b64encode(str(offset).encode()).decode()
    return f"{payload}.{_mac(ctx, payload, binding)}"


def _offset(ctx: RequestContext, token: str, binding: bytes) -> int:
    payload, _, mac = token.partition(".") if len(token) <= _MAX_TOKEN else ("", "", "")
    if not mac or not hmac.compare_digest(_mac(ctx, payload, binding).encode(), mac.encode("utf-8", "replace")):
        raise errors.InvalidNextToken()
    offset = int(base64.urlsafe_b64decode(payload))  # ours, since the MAC holds
    if not 0 <= offset < MAX_OFFSET:
        raise errors.InvalidNextToken()
    return offset


def check_max_results(params: dict, low: int = 5, high: int = 1000, ids_member: str | None = None) -> None:
    """Below ``low`` is refused; above ``high`` AWS answers ``high`` items, not an error (the AWS CLI v1 sends
    MaxResults=1000 to DescribeVolumes, whose maximum is 500): ``params`` then asks for ``high``."""
    max_results = params.get("MaxResults")
    if ids_member and params.get(ids_member) and max_results is not None:
        raise errors.InvalidParameterCombination(
            f"The parameter {ids_member} cannot be used with the parameter maxResults")
    if max_results is not None and max_results < low:
        raise errors.InvalidParameterValue(f"Value for parameter MaxResults must be between {low} and {high}")
    if max_results is not None and max_results > high:
        params["MaxResults"] = high


def page(ctx: RequestContext, items: Sequence[T], params: dict) -> tuple[Sequence[T], str | None]:
    """The page of ``items`` the request asks for, and the token of the next one (None: last page)."""
    binding = _binding(ctx, params)
    start = _offset(ctx, params["NextToken"], binding) if params.get("NextToken") else 0
    size = params.get("MaxResults")
    if size is None:
        return items[start:], None
    end = start + size
    return items[start:end], (_token(ctx, end, binding) if end < len(items) else None)


def answer(ctx: RequestContext, member: str, items: Sequence[T], params: dict) -> dict:
    """The output of a paged Describe: the page under ``member``, and the NextToken while more follow."""
    chosen, next_token = page(ctx, items, params)
    return {member: chosen, **({"NextToken": next_token} if next_token else {})}
