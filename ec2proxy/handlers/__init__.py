"""Action handlers, one module per resource family; each reads like the EC2 docs.

A handler is ``async def f(ctx, params) -> dict`` where ``params`` is the
parsed input (botocore member names) and the dict is the action's output
shape. ``@action("Name")`` registers it; ``ec2proxy.frontdoor.actions`` imports every
handler module, so the table is complete. Actions known to EC2 but absent
here answer ``UnsupportedOperation``.
"""

from __future__ import annotations

import dataclasses
from typing import Awaitable, Callable

from ec2proxy.frontdoor.context import RequestContext

HandlerFn = Callable[[RequestContext, dict], Awaitable[dict | None]]


@dataclasses.dataclass(frozen=True)
class Handler:
    fn: HandlerFn
    # True when the handler itself raises DryRunOperation after its own
    # checks; otherwise dispatch answers DryRun before calling it.
    checks_dry_run: bool = False


_REGISTRY: dict[str, Handler] = {}


def action(name: str, *, checks_dry_run: bool = False) -> Callable[[HandlerFn], HandlerFn]:
    def register(fn: HandlerFn) -> HandlerFn:
        if name in _REGISTRY:
            raise RuntimeError(f"{name} registered twice")
        _REGISTRY[name] = Handler(fn, checks_dry_run)
        return fn

    return register


def handler_for(name: str) -> Handler | None:
    return _REGISTRY.get(name)


def implemented() -> frozenset[str]:
    return frozenset(_REGISTRY)
