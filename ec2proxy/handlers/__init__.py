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

from ec2proxy.context import RequestContext

HandlerFn = Callable[[RequestContext, dict], Awaitable[dict | None]]


@dataclasses.dataclass(frozen=True)
class Handler:
    fn: HandlerFn
    # True when the handler itself raises DryRunOperation after its own
    # checks; otherwise dispatch answers DryRun before calling it.
    checks_dry_run: bool = False


_REGISTRY: dict[tuple[str, str], Handler] = {}  # (service, action)


def action(name: str, *, checks_dry_run: bool = False, service: str = "ec2") -> Callable[[HandlerFn], HandlerFn]:
    def register(fn: HandlerFn) -> HandlerFn:
        if (service, name) in _REGISTRY:
            raise RuntimeError(f"{service}:{name} registered twice")
        _REGISTRY[(service, name)] = Handler(fn, checks_dry_run)
        return fn

    return register


def handler_for(name: str, service: str = "ec2") -> Handler | None:
    return _REGISTRY.get((service, name))


def registered() -> frozenset[tuple[str, str]]:
    """Every (service, action) with a handler."""
    return frozenset(_REGISTRY)


def implemented(service: str = "ec2") -> frozenset[str]:
    return frozenset(name for (where, name) in _REGISTRY if where == service)
