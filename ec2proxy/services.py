"""The long-lived things handlers use, opened and closed with the application."""

from __future__ import annotations

import dataclasses

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from ec2proxy.accesslog import AccessLog
from ec2proxy.auth.credentials import CredentialStore
from ec2proxy.config import Config
from ec2proxy.metrics import Metrics
from ec2proxy.ratelimit import RateLimiter
from ec2proxy.requestids import RequestIds


@dataclasses.dataclass
class Services:
    config: Config
    engine: AsyncEngine
    sessions: async_sessionmaker
    credentials: CredentialStore
    limiter: RateLimiter
    metrics: Metrics
    access_log: AccessLog | None
    request_ids: RequestIds = dataclasses.field(default_factory=RequestIds)

    async def availability_zones(self) -> list[str]:
        """Zone names of this region (from the configuration until a cloud is attached)."""
        return [zone.strip() for zone in self.config.api.availability_zones.split(",") if zone.strip()]
