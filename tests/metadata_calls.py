"""The requests an instance makes of the metadata service, with the headers Neutron's proxy signs."""

from __future__ import annotations

import urllib.error
import urllib.request

from metadata import callers


def secret(proxy) -> bytes:
    return (proxy.data_dir / "metadata" / "shared_secret").read_text().strip().encode()


def signed(proxy, record: dict, **extra) -> dict:
    return {"X-Instance-ID": record["os_id"], "X-Tenant-ID": record["project_id"],
            "X-Forwarded-For": record["private_ip"], "X-Instance-ID-Signature": callers.sign(secret(proxy),
                                                                                             record["os_id"]),
            **extra}


def fetch(url: str, headers: dict | None = None, method: str = "GET") -> tuple[int, bytes, dict]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)
