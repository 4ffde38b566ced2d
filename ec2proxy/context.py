"""What a handler knows about the request it serves."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ec2proxy.auth.credentials import Identity
    from ec2proxy.services import Services


@dataclasses.dataclass(slots=True)
class RequestContext:
    request_id: str
    action: str
    identity: "Identity"
    region: str
    services: "Services"
    dry_run: bool = False
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def project_id(self) -> str:
        return self.identity.project_id

    @property
    def user_id(self) -> str:
        return self.identity.user_id
