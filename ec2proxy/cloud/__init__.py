"""The proxy's way into an OpenStack cloud: one transport, one authenticator, bound views.

``await cloud.view(project_id)`` gives the service clients for one project,
called with a token scoped to it; Nova's microversion is negotiated once per
cloud, the newest both sides support within what we have tested.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging

import aiohttp

from ec2proxy.cloud.auth import SYSTEM, Authenticator, Scoped
from ec2proxy.cloud.clients import NOVA_MAX, NOVA_MIN, Cinder, Glance, Keystone, Neutron, Nova, parse_version
from ec2proxy.cloud.failures import BackendError, BackendNotFound, BackendUnavailable, address_failure, removed
from ec2proxy.cloud.http import Transport

LOG = logging.getLogger(__name__)
__all__ = ["BackendError", "BackendNotFound", "BackendUnavailable", "Cloud", "CloudView", "address_failure", "removed"]


@dataclasses.dataclass
class CloudView:
    """The service clients of one project, bound to a scoped token."""

    scoped: Scoped
    keystone: Keystone
    nova: Nova
    glance: Glance | None
    neutron: Neutron | None
    cinder: Cinder | None

    @property
    def project_id(self) -> str:
        return self.scoped.project_id


class Cloud:
    def __init__(self, session: aiohttp.ClientSession, authenticator: Authenticator, timeout: float = 30.0,
                 retries: int = 2):
        self.transport = Transport(session, timeout=timeout, retries=retries)
        self.auth = authenticator
        self._nova_version: str | None = None
        self._version_lock = asyncio.Lock()
        self._unscoped: set[str] = set()

    async def nova_version(self, scoped: Scoped) -> str:
        if self._nova_version is None:
            async with self._version_lock:
                if self._nova_version is None:
                    self._nova_version = await self._negotiate(scoped)
        return self._nova_version

    async def _negotiate(self, scoped: Scoped) -> str:
        endpoint = scoped.endpoints["compute"]
        document = (await self.transport.request("compute", "GET", endpoint + "/", scoped.token)).body
        version: dict = document.get("version") or next(
            (v for v in document.get("versions", []) if v.get("id") == "v2.1"), {})
        newest = parse_version(version.get("version") or "2.1")
        chosen = min(newest, NOVA_MAX)
        if chosen < NOVA_MIN:
            raise BackendError("compute", 0, f"Nova {newest} is older than the {NOVA_MIN} ec2proxy needs")
        return f"{chosen[0]}.{chosen[1]}"

    async def reader_view(self, project_id: str) -> CloudView:
        """A view that can read ``project_id``'s servers and ports: scoped to it when the proxy has a role
        there, else the proxy's own project (its user then needs admin or a system-wide reader role).

        For the metadata service and operators, who read instances of any project; which of the two
        worked is remembered per project so no request logs in twice.
        """
        if project_id not in self._unscoped:
            try:
                return await self.view(project_id)
            except BackendError as exc:
                if exc.status not in (401, 403, 404):  # Keystone away for now: no conclusion to remember
                    raise
                LOG.info("cannot scope to project %s (%s); reading as the proxy's own project",
                         project_id, exc.status)
                self._unscoped.add(project_id)
        return await self.view()

    async def system_view(self) -> CloudView:
        """The proxy's own user with a system-scoped token (``system: all``): Keystone lets a system reader,
        and only a system-scoped one, read other users' EC2 secrets. BackendError (401) without that role."""
        return await self.view(SYSTEM)

    async def _renewed_token(self, project_id: str | None, refused: str) -> str:
        return (await self.auth.renew(project_id, refused)).token

    async def view(self, project_id: str | None = None, scoped: Scoped | None = None) -> CloudView:
        """Clients for ``project_id`` as the proxy's own user, or for a token already scoped (a signer's,
        which the proxy cannot renew)."""
        renew = None
        if scoped is None:
            scoped = await self.auth.scoped(project_id)
            renew = functools.partial(self._renewed_token, project_id)
        version = await self.nova_version(scoped)
        nova_headers = {"OpenStack-API-Version": f"compute {version}", "X-OpenStack-Nova-API-Version": version}
        endpoints = scoped.endpoints
        identity = endpoints.get("identity", "")
        if identity and not identity.rstrip("/").endswith("/v3"):
            identity = identity.rstrip("/") + "/v3"

        def bound(kind, service_type, headers=None):
            url = endpoints.get(service_type)
            return kind(self.transport, url, scoped.token, headers, renew) if url else None

        return CloudView(
            scoped=scoped,
            keystone=Keystone(self.transport, identity, scoped.token, None, renew),
            nova=Nova(self.transport, endpoints["compute"], scoped.token, nova_headers, renew),
            glance=bound(Glance, "image"),
            neutron=bound(Neutron, "network"),
            cinder=bound(Cinder, "volumev3"),
        )
