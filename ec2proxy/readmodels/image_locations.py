"""Where RegisterImage may ask the cloud to fetch an image from.

Glance's web-download fetches the URL from inside the cloud, so an
unchecked ImageLocation lets a caller read what only the cloud can reach
(this proxy's admin listener, a metadata service, a loopback port) into an
image of their own. Refused: loopback, link-local, unspecified and multicast
addresses, the proxy's own listeners (always), and ``[api]
image_location_deny``; ``[api] image_location_allow`` lets named hosts or
networks through (an image server on loopback in a lab).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from ec2proxy.config import Config, split_hostport
from ec2proxy.ec2 import errors

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_WILDCARD = {"", "0.0.0.0", "::"}


def _networks(text: str) -> tuple[list[Network], set[str]]:
    networks, names = [], set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            names.add(item.lower())
    return networks, names


def _refused(reason: str) -> errors.EC2Error:
    return errors.InvalidParameterValue(f"ImageLocation is not allowed: {reason}")


def _own_listener(config: Config, address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> bool:
    for listen in (config.api.listen, config.admin.listen, config.metadata.listen):
        if not listen:
            continue
        host, own_port = split_hostport(listen)
        if own_port == port and (host in _WILDCARD or address.is_loopback or str(address) == host):
            return True
    return False


async def check(location: str, config: Config) -> str:
    """``location`` if the cloud may fetch it, else ``InvalidParameterValue`` saying why."""
    try:
        parts = urlsplit(location)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refused("not a valid URL") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        raise _refused("an http(s) URL with a host and no user name is required")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise _refused(f"the host {host[:64]} does not resolve") from None
    addresses = {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}
    allow_networks, allow_names = _networks(config.api.image_location_allow)
    deny_networks, deny_names = _networks(config.api.image_location_deny)
    for address in addresses:
        if _own_listener(config, address, port):
            raise _refused("it points at this proxy's own listeners")
        if host in deny_names or any(address in network for network in deny_networks):
            raise _refused(f"{host[:64]} is on the deny list")
        allowed = host in allow_names or any(address in network for network in allow_networks)
        if not allowed and (address.is_loopback or address.is_link_local or address.is_unspecified
                            or address.is_multicast or address.is_reserved):
            raise _refused(f"{host[:64]} is a loopback, link-local or reserved address")
    return location
