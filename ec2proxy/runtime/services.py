"""The long-lived things handlers use, opened and closed with the application."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from typing import Callable

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from ec2proxy.auth.credentials import CredentialStore
from ec2proxy.auth.policy import Policy
from ec2proxy.cloud import Cloud
from ec2proxy.frontdoor.accesslog import AccessLog
from ec2proxy.frontdoor.metrics import Metrics
from ec2proxy.frontdoor.ratelimit import RateLimiter
from ec2proxy.frontdoor.requestids import RequestIds
from ec2proxy.runtime import keys
from ec2proxy.runtime.config import Config


@dataclasses.dataclass
class Services:
    config: Config
    engine: AsyncEngine
    sessions: async_sessionmaker
    credentials: CredentialStore
    policy: Policy
    limiter: RateLimiter
    metrics: Metrics
    access_log: AccessLog | None
    cloud: Cloud | None
    secret: bytes  # the metadata shared secret; keys for other uses are derived from it (ec2proxy.runtime.keys)
    request_ids: RequestIds = dataclasses.field(default_factory=RequestIds)
    _zones: tuple[float, list[str]] | None = None
    # Called with a Nova server id whenever our own write changes what that instance shows
    # (the metadata service drops its cache entry); other workers' caches expire by TTL.
    change_listeners: list[Callable[[str], None]] = dataclasses.field(default_factory=list)
    background: set = dataclasses.field(default_factory=set)  # running asyncio tasks of ec2proxy.state.jobs
    # Request bodies being read (their asyncio.timeout), and whether the listeners are closing: aiohttp drops
    # what arrives on a connection once it closes it, so a body still on the way then is never complete.
    body_reads: set = dataclasses.field(default_factory=set)
    stopping: bool = False

    def stop_reading(self, grace: float = 0.2) -> None:
        """Bodies not complete within ``grace`` are answered Unavailable (retryable) instead of waited for."""
        self.stopping = True
        when = asyncio.get_running_loop().time() + grace
        for deadline in list(self.body_reads):
            if deadline.when() is None or deadline.when() > when:
                deadline.reschedule(when)

    @functools.cached_property
    def page_key(self) -> bytes:
        return keys.derive(self.secret, "NextToken")

    @property
    def backend(self) -> Cloud:
        """The cloud, for work that has no meaning without one (the metadata service, maintenance)."""
        if self.cloud is None:
            raise RuntimeError("no cloud is configured")
        return self.cloud

    def instance_changed(self, os_id: str) -> None:
        for listener in self.change_listeners:
            listener(os_id)

    def default_zone(self, offered: list[str]) -> str:
        """The zone a create goes to when the caller names none: ``[api] default_availability_zone``, else the
        first of ``offered``; "" when there is none (the cloud chooses)."""
        return self.config.api.default_availability_zone or (offered[0] if offered else "")

    async def availability_zones(self) -> list[str]:
        """Zone names from Nova (cached for a minute); from the configuration without a cloud."""
        if self.cloud is None:
            return [zone.strip() for zone in self.config.api.availability_zones.split(",") if zone.strip()]
        if self._zones is None or self._zones[0] < time.monotonic():
            view = await self.cloud.view()
            zones = [z["zoneName"] for z in await view.nova.availability_zones()
                     if z.get("zoneState", {}).get("available")]
            self._zones = (time.monotonic() + 60, zones)
        return self._zones[1]
