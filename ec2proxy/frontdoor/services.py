"""What the front door uses of the process, beyond what every layer below it uses (``ec2proxy.context``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ec2proxy.context import Services

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ec2proxy.auth.credentials import CredentialStore
    from ec2proxy.auth.policy import Policy
    from ec2proxy.frontdoor.accesslog import AccessLog
    from ec2proxy.frontdoor.metrics import Metrics
    from ec2proxy.frontdoor.ratelimit import RateLimiter


class FrontDoorServices(Services, Protocol):
    @property
    def engine(self) -> AsyncEngine: ...

    @property
    def credentials(self) -> CredentialStore: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def limiter(self) -> RateLimiter: ...

    @property
    def metrics(self) -> Metrics: ...

    @property
    def access_log(self) -> AccessLog | None: ...

    @property
    def body_reads(self) -> set:  # request bodies being read, each its asyncio.timeout
        ...

    @property
    def stopping(self) -> bool: ...

    def stop_reading(self, grace: float = 0.2) -> None: ...
