"""The long-lived things handlers use, opened and closed with the application: the concrete ``Services``
that ``ec2proxy.context.Services`` and ``ec2proxy.frontdoor.services.FrontDoorServices`` describe."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
from typing import AsyncIterator, Callable

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from ec2proxy import db, keys, protocol
from ec2proxy.auth.credentials import CredentialStore, KeystoneCredentialStore, LocalCredentialStore
from ec2proxy.auth.policy import Policy
from ec2proxy.cloud import Cloud
from ec2proxy.cloud.auth import Authenticator
from ec2proxy.config import Config
from ec2proxy.frontdoor import actions
from ec2proxy.frontdoor.accesslog import AccessLog
from ec2proxy.frontdoor.metrics import Metrics
from ec2proxy.frontdoor.ratelimit import RateLimiter
from ec2proxy.frontdoor.requestids import RequestIds
from ec2proxy.state import live_view


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
    secret: bytes  # the metadata shared secret; keys for other uses are derived from it (ec2proxy.keys)
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
    live: live_view.Feed = dataclasses.field(default_factory=live_view.Feed)  # the notification feed's state

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


@contextlib.asynccontextmanager
async def open_services(config: Config) -> AsyncIterator[Services]:
    protocol.service_model()  # load the EC2 model before the first request, not during it
    rules = actions.load_policy(config)  # a bad policy file stops here, before anything is opened
    engine = db.create_engine(config.database.url)
    sessions = db.sessionmaker(engine)
    try:
        async with contextlib.AsyncExitStack() as stack:
            cloud = None
            if not config.embedded:
                session = await stack.enter_async_context(
                    aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100, limit_per_host=50))
                )
                authenticator = Authenticator(config.auth_options(), region=config.openstack.region_name
                                              or config.api.region, interface=config.openstack.interface,
                                              timeout=float(config.openstack.timeout))
                cloud = Cloud(session, authenticator, config.openstack.timeout, config.openstack.retries)
            source = config.auth.credential_source
            credentials: CredentialStore
            if source == "local":
                credentials = LocalCredentialStore(sessions, config.auth.cache_ttl)
            elif source == "keystone" and cloud is not None:
                credentials = KeystoneCredentialStore(cloud, config.auth.cache_ttl)
            else:
                raise ValueError(f"[auth] credential_source {source!r} needs a configured cloud"
                                 if source == "keystone" else f"unknown [auth] credential_source {source!r}")
            access_log = None
            if config.api.access_log:
                access_log = await stack.enter_async_context(AccessLog().running())
            yield Services(
                config=config,
                engine=engine,
                sessions=sessions,
                credentials=credentials,
                policy=rules,
                limiter=RateLimiter(config.api.rate_limit, config.api.rate_burst),
                metrics=Metrics.create(cloud),
                access_log=access_log,
                cloud=cloud,
                secret=keys.shared_secret(config.metadata.shared_secret, config.data_dir),
            )
    finally:
        await engine.dispose()
