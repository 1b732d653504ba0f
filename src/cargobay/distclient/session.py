"""The HTTP session a `RegistryClient` sends its requests through."""

from __future__ import annotations

from cargobay.distclient.config import ClientConfig
from cargobay.distclient.httpclient import HttpSession


def new_session(config: ClientConfig | None = None) -> HttpSession:
    config = config or ClientConfig.load()
    # Requests pass their own `ssl=` (see RegistryClient._tls). HttpSession's defaults are the
    # client's: 30 s to connect, 300 s between reads, 32 connections, and a 4 MiB read buffer
    # per response (blob downloads then rarely pause the socket).
    return HttpSession(user_agent=config.user_agent)


__all__ = ["new_session"]
