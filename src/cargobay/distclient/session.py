"""The HTTP session a `RegistryClient` sends its requests through."""

from __future__ import annotations

from cargobay.distclient.config import ClientConfig
from cargobay.distclient.httpclient import HttpSession

READ_BUFFER = 4 * 1024 * 1024


def new_session(config: ClientConfig | None = None) -> HttpSession:
    config = config or ClientConfig.load()
    # Requests pass their own `ssl=` (see RegistryClient._tls). A response may buffer
    # READ_BUFFER bytes before reading pauses: blob downloads then rarely pause the socket.
    return HttpSession(
        user_agent=config.user_agent,
        connect_timeout=30,
        read_timeout=300,
        limit=32,
        read_buffer=READ_BUFFER,
    )


__all__ = ["READ_BUFFER", "new_session"]
