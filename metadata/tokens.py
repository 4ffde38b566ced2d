"""IMDSv2 session tokens: self-contained, bound to one instance, verifiable by any worker.

A token is ``v2.<expiry>.<nonce>.<mac>`` where the MAC (HMAC-SHA256 under the
configured token key) covers the expiry, the nonce and the instance's Nova id.
No server-side state: a token names no instance in clear, and one minted for
instance A fails the MAC check for B.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time

MIN_TTL, MAX_TTL = 1, 21600


def _mac(key: bytes, instance_id: str, expiry: int, nonce: str) -> str:
    digest = hmac.new(key, f"{instance_id}|{expiry}|{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def parse_ttl(raw: str | None) -> int | None:
    """The requested lifetime, or None when missing or outside 1..21600."""
    if raw is None or not raw.strip().isdigit():
        return None
    ttl = int(raw.strip())
    return ttl if MIN_TTL <= ttl <= MAX_TTL else None


def mint(key: bytes, instance_id: str, ttl: int, now: float | None = None) -> str:
    expiry = int((now or time.time()) + ttl)
    nonce = base64.urlsafe_b64encode(os.urandom(12)).decode()
    return f"v2.{expiry}.{nonce}.{_mac(key, instance_id, expiry, nonce)}"


def valid(key: bytes, instance_id: str, token: str, now: float | None = None) -> bool:
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != "v2" or not parts[1].isdigit() or len(token) > 256:
        return False
    expiry, nonce, mac = int(parts[1]), parts[2], parts[3]
    if not hmac.compare_digest(_mac(key, instance_id, expiry, nonce).encode(), mac.encode()):
        return False
    return (now or time.time()) < expiry
