"""Which OpenStack objects a call of ours changes, read off the call itself (its path and body), so that every
write the proxy makes, by whichever handler or job, marks what the live view must read again (read your writes,
issue 29) without each handler naming its objects."""

from __future__ import annotations

import urllib.parse
from typing import Any

# A collection in an API path -> the kind of object the view keeps (Nova, Neutron, Cinder)
COLLECTIONS = {"servers": "server", "ports": "port", "floatingips": "floatingip",
               "security-groups": "security_group", "security-group-rules": "security_group_rule",
               "volumes": "volume", "snapshots": "snapshot"}
# Members of a request's resource that name another object the change moves (a floating IP onto a port, a rule
# into a group)
NAMED = {"port_id": "port", "security_group_id": "security_group", "device_id": "server"}


def changed(path: str, body: Any) -> list[tuple[str, str]]:
    """(kind, id) of the objects a POST, PUT or DELETE on ``path`` with ``body`` changes; none for a create
    (a new object is in no view yet)."""
    parts = [urllib.parse.unquote(p) for p in urllib.parse.urlsplit(path).path.split("/") if p]
    out: list[tuple[str, str]] = []
    for index, part in enumerate(parts[:-1]):
        if part in COLLECTIONS:
            out.append((COLLECTIONS[part], parts[index + 1]))
            break
    resources = body.values() if isinstance(body, dict) else ()
    for resource in resources:
        if isinstance(resource, dict):
            out += [(kind, value) for member, kind in NAMED.items()
                    if isinstance(value := resource.get(member), str) and value]
    return out
