"""The client's address for per-address login limits, behind trusted reverse proxies.

Without trusted proxies the TCP peer's address counts and X-Forwarded-For is ignored (anyone can
send it). With them, the X-Forwarded-For chain is read from the right, skipping trusted proxies:
the first address that is not one is the client (what a proxy appended, never what the client
claimed further left).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TypeAlias

from aiohttp import web

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
TRUSTED_PROXIES_KEY = web.AppKey("trusted_proxies", tuple)


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request) -> str | None:
    peer = request.remote
    networks: tuple[Network, ...] = request.config_dict.get(TRUSTED_PROXIES_KEY, ())
    if not networks or peer is None or not _trusted(peer, networks):
        return peer
    chain = [
        part.strip() for header in request.headers.getall("X-Forwarded-For", []) for part in header.split(",")
    ]
    for hop in reversed(chain):
        if not hop:
            continue
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a garbled header: count the proxy rather than trust nonsense
    return peer
