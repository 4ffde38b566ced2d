"""Where secrets come from: the proxy's own table (``local``) or Keystone (``keystone``).

A store answers one question: given a parsed :class:`Signature`, who signed
it? It raises :class:`AuthFailure`/:class:`SignatureDoesNotMatch` otherwise.
Secrets are cached in memory for ``cache_ttl`` seconds so the hot path
verifies locally; they are never logged.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from ec2proxy.auth.policy import with_implied
from ec2proxy.auth.signatures import Signature
from ec2proxy.db.models import Credential
from ec2proxy.ec2 import errors

LOG = logging.getLogger("ec2proxy.auth")


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who a verified request acts as.

    ``scoped`` is the signer's own Keystone token (keystone source); without
    it the proxy calls the cloud as its own user scoped to ``project_id``.
    ``roles`` are the signer's roles in that project (the token's, or the
    local key's with those they imply), which ``ec2proxy.auth.policy`` checks.
    """

    access_key: str
    project_id: str
    user_id: str
    secret: str = dataclasses.field(repr=False)
    scoped: Any = dataclasses.field(default=None, repr=False, compare=False)
    roles: tuple[str, ...] = ()


class CredentialStore(Protocol):
    async def identify(self, signature: Signature) -> Identity: ...


def check(signature: Signature, identity: Identity | None) -> Identity:
    if identity is None:
        raise errors.AuthFailure("AWS was not able to validate the provided access credentials")
    if not signature.matches(identity.secret):
        raise errors.SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return identity


class TTLCache:
    """A small time-bounded map; misses and expiry are the caller's business."""

    def __init__(self, ttl: float, size: int = 10000):
        self.ttl, self.size = ttl, size
        self._items: dict[str, tuple[float, object]] = {}

    def get(self, key: str):
        hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: str, value) -> None:
        if len(self._items) >= self.size:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[0] >= now}
            if len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
        self._items[key] = (time.monotonic() + self.ttl, value)

    def pop(self, key: str) -> None:
        self._items.pop(key, None)


class LocalCredentialStore:
    """Access keys kept in the proxy's own database."""

    def __init__(self, sessions: async_sessionmaker, cache_ttl: float):
        self._sessions = sessions
        self._cache = TTLCache(cache_ttl)

    async def identify(self, signature: Signature) -> Identity:
        identity = self._cache.get(signature.access_key)
        if identity is None:
            identity = await self.get(signature.access_key)
            if identity is not None:
                self._cache.put(signature.access_key, identity)
        return check(signature, identity)

    async def get(self, access_key: str) -> Identity | None:
        async with self._sessions() as session:
            row = await session.get(Credential, access_key)
        if row is None:
            return None
        return _local_identity(row)

    async def create(
        self, project_id: str, user_id: str, access_key: str | None = None, secret: str | None = None,
        roles: tuple[str, ...] = ("member",),
    ) -> Identity:
        access_key = access_key or "AKIA" + secrets.token_hex(8).upper()
        secret = secret or secrets.token_urlsafe(30)
        row = Credential(access_key=access_key, secret=secret, project_id=project_id, user_id=user_id,
                         roles=",".join(roles))
        async with self._sessions() as session, session.begin():
            session.add(row)
        return _local_identity(row)

    async def list(self, project_id: str | None = None) -> list[Identity]:
        query = select(Credential).order_by(Credential.created_at)
        if project_id is not None:
            query = query.where(Credential.project_id == project_id)
        async with self._sessions() as session:
            rows = (await session.scalars(query)).all()
        return [_local_identity(row) for row in rows]

    async def delete(self, access_key: str) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(delete(Credential).where(Credential.access_key == access_key))
        self._cache.pop(access_key)
        return result.rowcount > 0


def _local_identity(row: Credential) -> Identity:
    granted = tuple(role for role in (row.roles or "member").split(",") if role)
    return Identity(row.access_key, row.project_id, row.user_id, row.secret, roles=with_implied(granted))


class KeystoneCredentialStore:
    """EC2 credentials kept in Keystone.

    The first request of an access key is validated by Keystone
    (``/v3/ec2tokens``, with the proxy's service token); the answer is the
    signer's token. The proxy then reads the credential's secret, with that
    token or its own, and caches both so later requests are verified here
    without a round trip. Real Keystone refuses the signer's ec2tokens token
    and, by default, a service user: then every request is validated by
    Keystone (and a warning says how to let the proxy verify locally).
    """

    def __init__(self, cloud, cache_ttl: float):
        self._cloud = cloud
        self._cache = TTLCache(cache_ttl)
        self._warned = False
        self._system_refused = False  # the proxy's user has no system role that reads secrets: not asked again

    async def identify(self, signature: Signature) -> Identity:
        known = self._cache.get(signature.access_key)
        if known is not None and known.secret and known.scoped.fresh:
            return check(signature, known)
        try:
            identity = await self._validate(signature)
        except errors.AuthFailure:
            if known is not None:  # Keystone knows this key: the signature is what is wrong
                raise errors.SignatureDoesNotMatch(
                    "The request signature we calculated does not match the signature you provided.") from None
            raise
        self._cache.put(signature.access_key, identity)
        return identity

    async def _validate(self, signature: Signature) -> Identity:
        from ec2proxy.cloud import BackendError
        from ec2proxy.cloud.auth import Scoped

        service = await self._cloud.view()
        try:
            token, body = await service.keystone.ec2tokens(keystone_blob(signature))
        except BackendError as exc:
            if exc.status in (401, 403, 404):
                raise errors.AuthFailure("AWS was not able to validate the provided access credentials") from None
            raise exc.ec2() from None
        scoped = Scoped.from_token_body(token, body, self._cloud.auth.interface, self._cloud.auth.region)
        secret = await self._read_secret(scoped, service, signature.access_key)
        identity = Identity(signature.access_key, scoped.project_id, scoped.user_id, secret, scoped, scoped.roles)
        return check(signature, identity) if secret else identity

    async def _read_secret(self, scoped, service, access_key: str) -> str:
        from ec2proxy.cloud import BackendError

        if not self._system_refused:  # Keystone lets a system reader read any user's secret, and no one else
            try:
                system = await self._cloud.system_view()
                return (await system.keystone.ec2_credential(scoped.user_id, access_key))["secret"]
            except BackendError as exc:
                if exc.status not in (401, 403, 404):
                    raise exc.ec2() from None
                if exc.status != 404:
                    self._system_refused = True
                    LOG.info("no system-scoped token of ec2proxy's user reads EC2 secrets (%s)", exc.status)
        user = await self._cloud.view(scoped=scoped)
        for view in (user, service):
            try:
                return (await view.keystone.ec2_credential(scoped.user_id, access_key))["secret"]
            except BackendError as exc:
                if exc.status not in (401, 403, 404):
                    raise exc.ec2() from None
        if not self._warned:
            self._warned = True
            LOG.warning("Keystone does not let ec2proxy read EC2 secrets, so every request is validated by "
                        "Keystone. Grant the proxy's user the reader role on the system "
                        "(openstack role add --system all --user USER reader) to verify signatures locally.")
        return ""


def keystone_blob(signature: Signature) -> dict:
    """What Keystone's ec2tokens needs to check a signature itself."""
    import hashlib
    from urllib.parse import parse_qsl

    request = signature.request
    if signature.version == 4:
        params = dict(parse_qsl(request.raw_query, keep_blank_values=True))
        params.pop("X-Amz-Signature", None)
    else:
        params = {k: v for k, v in request.params if k != "Signature"}
    return {"access": signature.access_key, "signature": signature.signature, "host": request.host,
            "verb": request.method, "path": request.path or "/", "params": params,
            "headers": dict(request.headers), "body_hash": hashlib.sha256(request.body).hexdigest()}
