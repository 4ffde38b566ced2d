"""What a handler knows about the request it serves."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ec2proxy.auth.credentials import Identity
    from ec2proxy.cloud import CloudView
    from ec2proxy.runtime.services import Services


@dataclasses.dataclass(slots=True)
class RequestContext:
    request_id: str
    action: str
    identity: "Identity"
    region: str
    services: "Services"
    dry_run: bool = False
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    _cloud: Any = None

    async def cloud(self) -> "CloudView":
        """The cloud as this request's project sees it (the signer's own token when there is one)."""
        if self._cloud is None:
            if self.services.cloud is None:
                from ec2proxy.ec2 import errors

                raise errors.Unavailable("No cloud is configured for this proxy.")
            scoped = self.identity.scoped
            self._cloud = await (self.services.cloud.view(scoped=scoped) if scoped is not None
                                 else self.services.cloud.view(self.project_id))
        return self._cloud

    @property
    def project_id(self) -> str:
        return self.identity.project_id

    @property
    def user_id(self) -> str:
        return self.identity.user_id
