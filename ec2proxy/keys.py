"""Server secrets: the one kept secret and the keys derived from it, one per use.

A key is never used for two purposes: a MAC made for one (an IMDSv2 token,
a NextToken) is then never valid as another (an instance signature).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import pathlib


def shared_secret(configured: str, data_dir: pathlib.Path) -> bytes:
    """The Neutron proxy secret: configured, or a random one kept in DATA_DIR/metadata (embedded only)."""
    return configured.encode() if configured else kept(data_dir / "metadata" / "shared_secret")


def admin_token(configured: str, data_dir: pathlib.Path) -> str:
    """The bearer token of the admin listener's /operations: configured, or kept in DATA_DIR/admin_token."""
    return configured or kept(data_dir / "admin_token").decode()


def kept(path: pathlib.Path) -> bytes:
    """A random secret made once in ``path`` (0600), the same for every worker that reads it after."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(base64.urlsafe_b64encode(os.urandom(32)).decode())
        except FileExistsError:
            pass  # another worker made it first
    return path.read_text().strip().encode()


def derive(secret: bytes, label: str) -> bytes:
    """A key for one purpose (``label``), from a secret that may serve several."""
    return hmac.new(secret, f"ec2proxy key: {label}".encode(), hashlib.sha256).digest()
