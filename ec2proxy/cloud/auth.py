"""The proxy's own identity in the cloud, through keystoneauth1.

keystoneauth1 knows every auth method (password, application credential,
token) and how to read a catalog; it is synchronous, so logins and re-scopes
run in a thread and are cached until shortly before the token expires. API
calls themselves never go through it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import pathlib
from typing import Any

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading
from keystoneauth1 import session as ks_session

from ec2proxy.cloud.failures import BackendError, BackendUnavailable

REFRESH_MARGIN = datetime.timedelta(minutes=5)
SERVICE_TYPES = ("identity", "compute", "image", "network", "volumev3")


@dataclasses.dataclass(frozen=True)
class Scoped:
    """A token scoped to one project, with the endpoints of its catalog."""

    token: str = dataclasses.field(repr=False)
    expires_at: datetime.datetime
    project_id: str
    user_id: str
    roles: tuple[str, ...]
    endpoints: dict[str, str]

    @property
    def fresh(self) -> bool:
        return datetime.datetime.now(datetime.timezone.utc) + REFRESH_MARGIN < self.expires_at

    @classmethod
    def from_access(cls, access, interface: str = "public", region: str | None = None) -> "Scoped":
        """From a keystoneauth1 AccessInfo: the token, its scope and the catalog's endpoints."""
        endpoints = {}
        for service_type in SERVICE_TYPES:
            try:
                url = access.service_catalog.url_for(service_type=service_type, interface=interface,
                                                     region_name=region)
            except Exception:  # noqa: BLE001  a cloud without that service
                continue
            endpoints[service_type] = url.rstrip("/")
        expires = access.expires
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=datetime.timezone.utc)
        return cls(access.auth_token, expires, access.project_id, access.user_id, tuple(access.role_names),
                   endpoints)

    @classmethod
    def from_token_body(cls, token: str, body: dict, interface: str = "public", region: str | None = None) -> "Scoped":
        """A token issued to someone else (``/v3/ec2tokens``)."""
        from keystoneauth1.access import create

        return cls.from_access(create(body={"token": body}, auth_token=token), interface, region)


def clouds_yaml_options(cloud: str, path: str | None = None) -> dict[str, Any]:
    """The ``auth`` options and region of a clouds.yaml cloud (the usual search path)."""
    import os

    import yaml

    candidates = [path] if path else [
        os.environ.get("OS_CLIENT_CONFIG_FILE"),
        "clouds.yaml",
        str(pathlib.Path.home() / ".config" / "openstack" / "clouds.yaml"),
        "/etc/openstack/clouds.yaml",
    ]
    for candidate in filter(None, candidates):
        if os.path.exists(candidate):
            with open(candidate, encoding="utf-8") as handle:
                clouds = (yaml.safe_load(handle) or {}).get("clouds", {})
            if cloud in clouds:
                entry = clouds[cloud]
                options = dict(entry.get("auth", {}))
                options["auth_type"] = entry.get("auth_type", "password")
                if entry.get("region_name"):
                    options["region_name"] = entry["region_name"]
                if entry.get("interface"):
                    options["interface"] = entry["interface"]
                return options
    raise ValueError(f"cloud {cloud!r} not found in clouds.yaml")


SYSTEM = "@system"  # the scope of a system-scoped token, in place of a project id


class Authenticator:
    """Logs the proxy in and re-scopes it to projects, caching every scoped token."""

    def __init__(self, options: dict[str, Any], region: str | None = None, interface: str = "public",
                 verify: bool | str = True, timeout: float | None = None):
        options = dict(options)
        self.auth_type = options.pop("auth_type", None) or "password"
        self.region = options.pop("region_name", None) or region
        self.interface = options.pop("interface", None) or interface
        self.options = {k: v for k, v in options.items() if v not in (None, "")}
        self._session = ks_session.Session(verify=verify, timeout=timeout)
        self._scoped: dict[str | None, Scoped] = {}
        self._locks: dict[str | None, asyncio.Lock] = {}

    def _plugin(self, project_id: str | None):
        loader: Any = loading.get_plugin_loader(self.auth_type)
        options = dict(self.options)
        if project_id == SYSTEM:
            for key in ("project_name", "project_domain_name", "project_domain_id", "tenant_name", "project_id"):
                options.pop(key, None)
            options["system_scope"] = "all"
        elif project_id is not None:
            for key in ("project_name", "project_domain_name", "project_domain_id", "tenant_name"):
                options.pop(key, None)
            options["project_id"] = project_id
        valid = {opt.dest for opt in loader.get_options()}
        return loader.load_from_options(**{k: v for k, v in options.items() if k in valid})

    def _login(self, project_id: str | None) -> Scoped:
        access = self._plugin(project_id).get_access(self._session)
        return Scoped.from_access(access, self.interface, self.region)

    async def scoped(self, project_id: str | None = None) -> Scoped:
        """The proxy's token for ``project_id`` (None: the project it is configured with)."""
        cached = self._scoped.get(project_id)
        if cached is not None and cached.fresh:
            return cached
        return await self.renew(project_id)

    async def renew(self, project_id: str | None = None, refused: str | None = None) -> Scoped:
        """Log in for ``project_id`` unless a fresh token is cached; a ``refused`` token never counts as one.

        Concurrent callers share one login. Keystone's failures become
        :class:`BackendError` so a request answers them like any backend's.
        """
        lock = self._locks.setdefault(project_id, asyncio.Lock())
        async with lock:
            cached = self._scoped.get(project_id)
            if cached is not None and cached.fresh and cached.token != refused:
                return cached
            self._scoped.pop(project_id, None)
            try:
                scoped = await asyncio.to_thread(self._login, project_id)
            except ks_exceptions.HttpError as exc:
                raise BackendError("identity", exc.http_status or 500, str(exc.message or exc)[:300],
                                   "POST", "auth/tokens") from None
            except ks_exceptions.ClientException as exc:  # no answer: refused, dropped, timed out
                raise BackendUnavailable("identity", 0, type(exc).__name__, "POST", "auth/tokens") from None
            self._scoped[project_id] = scoped
            return scoped
