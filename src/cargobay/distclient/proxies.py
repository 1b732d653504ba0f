"""Which proxy a request goes through, as Go's `http.ProxyFromEnvironment` decides (docker, skopeo).

`HTTPS_PROXY`/`https_proxy` for https URLs, `HTTP_PROXY`/`http_proxy` for http URLs (the upper
case name wins; neither falls back to the other), `NO_PROXY`/`no_proxy` for the exceptions: a
comma-separated list of host names (`example.com` also matches its subdomains, `.example.com`
and `*.example.com` only them), `host:port`, IP addresses and CIDR blocks; `*` alone turns
proxying off. Loopback hosts (`localhost`, 127.0.0.0/8, ::1) are never proxied. As in Go,
`HTTP_PROXY` is ignored when `REQUEST_METHOD` is set (a CGI environment).

Only http:// proxies are supported (a URL without a scheme is one); https:// and socks5://
proxy URLs give a `ValueError` when a request would use them. `open_tunnel` is the CONNECT
for https URLs. The HTTP client imports this module only when a session has proxies to consider.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import ipaddress
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from cargobay.distclient.config import is_loopback_host, join_host_port
from cargobay.distclient.httpclient import (
    CertificateError,
    ConnectError,
    ProxyError,
    TLSError,
    open_transport,
)

_MAX_CONNECT_HEAD = 64 * 1024

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_P = TypeVar("_P", bound=asyncio.Protocol)


@dataclass(frozen=True, slots=True)
class Proxy:
    """An http:// proxy: where to connect and the `Proxy-Authorization` to send, if any."""

    host: str
    port: int
    authorization: str | None = None

    @property
    def address(self) -> str:
        return join_host_port(self.host, self.port)


def parse_proxy_url(url: str, *, name: str = "proxy URL") -> Proxy:
    """`http://user:pass@host:port` (or `host:port`) as a `Proxy`; `ValueError` for anything else."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid proxy address {url!r} in {name}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme != "http":
        raise ValueError(
            f"unsupported proxy scheme {scheme!r} in {name} ({url!r}): only http:// proxies are supported"
        )
    if not parts.hostname:
        raise ValueError(f"invalid proxy address {url!r} in {name}: no host")
    authorization = None
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + binascii.b2a_base64(pair, newline=False).decode("ascii")
    return Proxy(parts.hostname, port or 80, authorization)


class NoProxy:
    """The `NO_PROXY` rules: `matches(host, port)` says the host is reached directly."""

    def __init__(self, value: str | None) -> None:
        self.everything = False
        self.networks: list[IPNetwork] = []
        self.addresses: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int | None]] = []
        self.names: list[tuple[str, bool, int | None]] = []  # (name without dot, subdomains only, port)
        for raw in (value or "").split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                self.everything = True
                return
            if "/" in entry:
                with contextlib.suppress(ValueError):  # Go skips entries it cannot parse, too
                    self.networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            host, port = _split_entry(entry)
            if port == -1:
                continue
            try:
                self.addresses.append((ipaddress.ip_address(host), port))
                continue
            except ValueError:
                pass
            if host.startswith("*."):
                host = host[1:]
            subdomains_only = host.startswith(".")
            host = host.lstrip(".")
            if host:
                self.names.append((host, subdomains_only, port))

    def matches(self, host: str, port: int) -> bool:
        if self.everything:
            return True
        host = host.lower().rstrip(".")
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            ip = None
        if ip is not None:
            if any(ip in network for network in self.networks):
                return True
            return any(ip == address and entry_port in (None, port) for address, entry_port in self.addresses)
        for name, subdomains_only, entry_port in self.names:
            if entry_port is not None and entry_port != port:
                continue
            if host.endswith("." + name) or (host == name and not subdomains_only):
                return True
        return False


def _split_entry(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address; port -1 when the port is invalid."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
    else:
        return entry, None  # a name, or an IPv6 address without brackets
    if not port_text:
        return host, None
    return (host, int(port_text)) if port_text.isdigit() else (host, -1)


class ProxySettings:
    """The proxies of one session: `for_url(scheme, host, port)` is a `Proxy` or None (direct)."""

    def __init__(self, http: str | None, https: str | None, no_proxy: str | None) -> None:
        self._urls = {"http": (http or "").strip(), "https": (https or "").strip()}
        self._parsed: dict[str, Proxy | ValueError] = {}
        self.no_proxy = NoProxy(no_proxy)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> ProxySettings:
        def first(*names: str) -> str | None:
            for name in names:
                if environ.get(name):
                    return environ[name]
            return None

        http = first("HTTP_PROXY", "http_proxy")
        if environ.get("REQUEST_METHOD") and environ.get("HTTP_PROXY"):
            http = first("http_proxy")  # HTTP_PROXY may come from a request's `Proxy:` header
        return cls(http, first("HTTPS_PROXY", "https_proxy"), first("NO_PROXY", "no_proxy"))

    @property
    def empty(self) -> bool:
        return not self._urls["http"] and not self._urls["https"]

    def for_url(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for a request to `scheme://host:port`; `ValueError` when it is misconfigured."""
        url = self._urls.get(scheme)
        if not url or is_loopback_host(host.rstrip(".").strip("[]")) or self.no_proxy.matches(host, port):
            return None
        parsed = self._parsed.get(scheme)
        if parsed is None:
            try:
                parsed = parse_proxy_url(url, name=f"{scheme.upper()}_PROXY")
            except ValueError as exc:
                parsed = exc
            self._parsed[scheme] = parsed
        if isinstance(parsed, ValueError):
            raise parsed
        return parsed


# --------------------------------------------------------------------------- CONNECT


async def connect_to_proxy(
    factory: Callable[[], _P], proxy: Proxy, timeout: float | None
) -> tuple[asyncio.Transport, _P]:
    """A TCP connection to `proxy`; a failure is a `ProxyError` carrying the `ConnectError`."""
    try:
        transport, protocol = await open_transport(factory, proxy.host, proxy.port, None, timeout)
    except ConnectError as exc:
        raise ProxyError(f"cannot connect to proxy {proxy.address}: {exc.os_error}", exc) from exc
    return transport, protocol


async def open_tunnel(
    proxy: Proxy,
    host: str,
    port: int,
    context: ssl.SSLContext,
    protocol: asyncio.Protocol,
    user_agent: str | None = None,
) -> None:
    """CONNECT `host:port` through `proxy`, then TLS with `host` (verified by `context`) over the
    tunnel, with `protocol` on top of it. The caller bounds the time it may take."""
    transport, tunnel = await connect_to_proxy(_Tunnel, proxy, None)
    try:
        await _through(transport, tunnel, proxy, host, port, context, protocol, user_agent)
    except BaseException:
        transport.close()
        if tunnel.head.done() and not tunnel.head.cancelled():
            tunnel.head.exception()  # retrieved: the error raised here says what happened
        tunnel.head.cancel()
        raise


async def _through(
    transport: asyncio.Transport,
    tunnel: _Tunnel,
    proxy: Proxy,
    host: str,
    port: int,
    context: ssl.SSLContext,
    protocol: asyncio.Protocol,
    user_agent: str | None,
) -> None:
    authority = join_host_port(host, port)
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if user_agent:
        lines.append(f"User-Agent: {user_agent}")
    if proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    status, reason, extra = await tunnel.head
    if not 200 <= status < 300:
        hint = " (the proxy URL has no credentials)" if status == 407 and not proxy.authorization else ""
        raise ProxyError(f"proxy {proxy.address} refused CONNECT {authority}: {status} {reason}{hint}")
    if extra:
        raise ProxyError(f"proxy {proxy.address} sent data before the TLS handshake")
    loop = asyncio.get_running_loop()
    try:
        tls_transport = await loop.start_tls(transport, protocol, context, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise CertificateError(host, port, exc) from exc
    except (ssl.SSLError, OSError) as exc:
        raise TLSError(host, port, exc) from exc
    if tls_transport is None:  # the tunnel closed during the handshake
        raise TLSError(host, port, ConnectionResetError("the proxy closed the tunnel"))
    protocol.connection_made(tls_transport)


class _Tunnel(asyncio.Protocol):
    """A connection to a proxy until its answer to CONNECT: `head` is (status, reason, bytes after)."""

    def __init__(self) -> None:
        self.head: asyncio.Future[tuple[int, str, bytes]] = asyncio.get_running_loop().create_future()
        self._data = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.head.done():
            return
        self._data += data
        end = self._data.find(b"\r\n\r\n")
        if end < 0:
            if len(self._data) > _MAX_CONNECT_HEAD:
                self.head.set_exception(ProxyError("the proxy's answer to CONNECT is too long"))
            return
        status_line = bytes(self._data[: self._data.find(b"\r\n")]).decode("latin-1")
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            self.head.set_exception(ProxyError(f"invalid answer to CONNECT from the proxy: {status_line!r}"))
            return
        self.head.set_result((int(code), reason.strip(), bytes(self._data[end + 4 :])))

    def eof_received(self) -> bool | None:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(ProxyError("the proxy closed the connection before answering CONNECT"))


__all__ = [
    "NoProxy",
    "Proxy",
    "ProxySettings",
    "connect_to_proxy",
    "open_tunnel",
    "parse_proxy_url",
]
