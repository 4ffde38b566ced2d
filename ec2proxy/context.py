"""What every layer below the front door knows of a request and of the process serving it.

``RequestContext`` is what a handler, a read model or a change in ``state/``
is given; ``Services`` is the interface of the long-lived things they use
(the database, the cloud, the configuration, the change listeners). The
process builds the concrete one (``ec2proxy.runtime.services``); nothing
here imports the front door or the runtime, so data flows one way.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from ec2proxy.auth.credentials import Identity
    from ec2proxy.cloud import Cloud, CloudView
    from ec2proxy.cloud.notifications import Change
    from ec2proxy.config import Config


class LiveFeed(Protocol):
    """The live view's feed as requests see it (``ec2proxy.state.live_view.Feed``)."""

    configured: bool
    connected: bool
    reads: Counter
    sweep: float
    max_age: float

    @property
    def late(self) -> bool: ...

    def trusted(self) -> datetime.datetime | None: ...

    async def watch(self, view: CloudView, sessions: async_sessionmaker) -> None: ...

    def swept_when_due(self, ctx: "RequestContext") -> None: ...

    async def observed(self, sessions: async_sessionmaker, project_id: str, changes: list[Change],
                       since: datetime.datetime, whole: bool = False) -> None: ...


class RequestIdSource(Protocol):
    def next(self) -> str: ...


class Services(Protocol):
    """What handlers, read models, state changes and the metadata service use of the process."""

    @property
    def config(self) -> Config: ...

    @property
    def sessions(self) -> async_sessionmaker: ...

    @property
    def cloud(self) -> Cloud | None: ...

    @property
    def secret(self) -> bytes: ...

    @property
    def request_ids(self) -> RequestIdSource: ...

    @property
    def change_listeners(self) -> list[Callable[[str], None]]: ...

    @property
    def background(self) -> set: ...

    @property
    def live(self) -> LiveFeed: ...

    @property
    def page_key(self) -> bytes: ...

    @property
    def backend(self) -> Cloud: ...

    def instance_changed(self, os_id: str) -> None: ...

    def default_zone(self, offered: list[str]) -> str: ...

    async def availability_zones(self) -> list[str]: ...


@dataclasses.dataclass(slots=True)
class RequestContext:
    request_id: str
    action: str
    identity: Identity
    region: str
    services: Services
    dry_run: bool = False
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    _cloud: Any = None

    async def cloud(self) -> CloudView:
        """The cloud as this request's project sees it (the signer's own token when there is one)."""
        if self._cloud is None:
            if self.services.cloud is None:
                from ec2proxy.ec2 import errors

                raise errors.Unavailable("No cloud is configured for this proxy.")
            scoped = self.identity.scoped
            self._cloud = await (self.services.cloud.view(scoped=scoped) if scoped is not None
                                 else self.services.cloud.view(self.project_id))
            if self.services.live.configured:
                await self.services.live.watch(self._cloud, self.services.sessions)
        return self._cloud

    @property
    def project_id(self) -> str:
        return self.identity.project_id

    @property
    def user_id(self) -> str:
        return self.identity.user_id
