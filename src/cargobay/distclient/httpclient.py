"""The client's HTTP/1.1: asyncio connections, llhttp (httptools) parsing, a keep-alive pool.

Why not aiohttp: importing it costs ~75 ms, half of a `cargobay pull`'s start-up, for a client
that needs a small part of it. This module needs asyncio and the httptools parser (~1 ms to
import); TLS contexts are built on the first https request.

What it does: one request per connection at a time, kept alive and reused; bodies as bytes
(Content-Length) or async iterables (chunked); responses streamed with back-pressure (reading
from the socket pauses while `read_buffer` bytes wait unread); redirects (Authorization dropped
when the origin changes); a reused connection the server had closed is retried once; connect and
read timeouts; http:// proxies from the environment as Go (docker, skopeo) reads them, or given
(`cargobay.distclient.proxies`, imported only when there is a proxy to consider): absolute-form
requests for http URLs, CONNECT tunnels for https ones. No cookies or content decoding
(registry bodies are hashed as sent).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote, urljoin, urlsplit

import httptools

from cargobay.distclient.config import join_host_port, proxy_configured

if TYPE_CHECKING:
    from cargobay.distclient.proxies import Proxy, ProxySettings

DEFAULT_READ_BUFFER = 4 * 1024 * 1024
MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SAFE_TARGET = "/?&=%:@!$'()*+,;~-._[]"
_MAX_IDLE_PER_ORIGIN = 16
_WRITE_SLICE = 1024 * 1024  # bytes bodies larger than this are written by a task, a slice at a time

Body = bytes | AsyncIterable[bytes] | None


class HttpClientError(Exception):
    """A request failed below HTTP: connecting, TLS, or the connection broke off."""


class ConnectError(HttpClientError):
    def __init__(self, host: str, port: int, os_error: OSError) -> None:
        super().__init__(f"cannot connect to {host}:{port}: {os_error}")
        self.host, self.port, self.os_error = host, port, os_error


class NameResolutionError(ConnectError):
    """The host name does not resolve."""


class CertificateError(ConnectError):
    """The server's certificate did not verify; `certificate_error` says why."""

    def __init__(self, host: str, port: int, os_error: ssl.SSLCertVerificationError) -> None:
        super().__init__(host, port, os_error)
        self.certificate_error = os_error


class TLSError(ConnectError):
    """The TLS handshake failed for another reason (e.g. the server speaks plain HTTP)."""


class ServerDisconnected(HttpClientError):
    """The connection closed before a complete response head arrived."""

    def __init__(self, message: str = "Server disconnected") -> None:
        super().__init__(message)


class PayloadError(HttpClientError):
    """The response body broke off or could not be parsed."""


class TooManyRedirects(HttpClientError):
    pass


class InvalidRequest(HttpClientError, ValueError):
    """A URL this client cannot send to, or a header that would break the request."""


class ProxyError(HttpClientError):
    """The proxy could not be reached (`connect_error`), refused the request, or is misconfigured."""

    def __init__(self, message: str, connect_error: ConnectError | None = None) -> None:
        super().__init__(message)
        self.connect_error = connect_error


class Headers:
    """Response headers: case-insensitive lookup, repeated names kept in order."""

    __slots__ = ("_first", "_items")

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items
        self._first: dict[str, str] = {}
        for name, value in items:
            self._first.setdefault(name.lower(), value)

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def getall(self, name: str) -> list[str]:
        key = name.lower()
        return [value for item, value in self._items if item.lower() == key]

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


class _StaleConnection(Exception):
    """A reused connection closed before answering: the request may be sent again on a new one."""


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection carrying one exchange at a time; also the parser's callbacks."""

    def __init__(self, key: tuple[Any, ...], read_buffer: int) -> None:
        self.key = key
        self.read_buffer = read_buffer
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False  # the last response ended cleanly with keep-alive
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpResponseParser(self)
        self._reset_parser = False
        # the exchange in progress
        self._head_only = False
        self._received_any = False
        self._informational = False
        self._header_items: list[tuple[str, str]] = []
        self._reason = ""
        self._head: tuple[int, str, Headers] | None = None
        self._head_waiter: asyncio.Future[None] | None = None
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._body_done = False
        self._body_waiter: asyncio.Future[None] | None = None
        self._eof_delimited = False
        # A Content-Length body goes around the parser once its head is parsed: the socket's
        # bytes objects are handed on as they are (the parser would copy every byte again).
        self._raw_candidate = False
        self._body_length = 0
        self._seen_body = 0
        self._keep_alive = False
        self._raw_left: int | None = None  # body bytes still to come around the parser
        self._error: BaseException | None = None
        self._reading_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._writing_paused = False
        self._no_reuse = False

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._received_any = True
        if self._raw_left is not None:
            self._raw_body(data)
            return
        if self._head_waiter is None and self._body_done:
            self._fail(PayloadError("data received after the response ended"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(PayloadError(f"invalid HTTP response: {exc}"))
            return
        if self._reset_parser:  # a HEAD response: its Content-Length announced no body here
            self._parser = httptools.HttpResponseParser(self)
            self._reset_parser = False
        if self._raw_candidate and not self._body_done and self._head is not None:
            self._raw_candidate = False
            self._raw_left = self._body_length - self._seen_body
            self._parser = httptools.HttpResponseParser(self)  # fresh for the next response

    def _raw_body(self, data: bytes) -> None:
        left = self._raw_left
        assert left is not None
        if len(data) < left:
            self._raw_left = left - len(data)
            self._deliver(data)
            return
        self._raw_left = None
        self._deliver(data if len(data) == left else data[:left])
        self._finish_body(self._keep_alive)
        if len(data) > left:
            self._fail(PayloadError("data received after the response ended"))

    def eof_received(self) -> bool | None:
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self._head is not None and not self._body_done:
            if self._eof_delimited and exc is None:
                self._finish_body()
            else:
                self._set_error(PayloadError("Response payload is not completed"))
        elif self._head is None and self._head_waiter is not None:
            if not self._received_any:
                self._set_error(_StaleConnection())
            else:
                self._set_error(ServerDisconnected())
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_exception(ConnectionResetError("connection lost while sending"))
        self._wake()

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._header_items = []

    def on_status(self, status: bytes) -> None:
        self._reason = status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_items.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        self._informational = 100 <= status < 200 and status != 101
        if self._informational:
            return
        headers = Headers(self._header_items)
        self._head = (status, self._reason, headers)
        chunked = "chunked" in (headers.get("Transfer-Encoding") or "").lower()
        self._eof_delimited = (
            not self._head_only
            and not chunked
            and "Content-Length" not in headers
            and status not in (204, 304)
        )
        length = headers.get("Content-Length")
        self._raw_candidate = (
            not self._head_only
            and length is not None
            and length.strip().isdigit()
            and "Transfer-Encoding" not in headers
            and status not in (204, 304)
        )
        if self._raw_candidate:
            assert length is not None
            self._body_length = int(length)
            self._seen_body = 0
            self._keep_alive = self._parser.should_keep_alive()
        if self._head_only:
            self._reset_parser = True
            self._finish_body()
        if self._head_waiter is not None and not self._head_waiter.done():
            self._head_waiter.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self._body_done:
            return
        self._seen_body += len(body)
        self._deliver(body)

    def _deliver(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > self.read_buffer and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if not self._body_done:
            self._finish_body()

    # -- the exchange ----------------------------------------------------------------------------
    def _finish_body(self, keep_alive: bool | None = None) -> None:
        self._body_done = True
        if keep_alive is None:
            keep_alive = self._parser.should_keep_alive()
        self.reusable = keep_alive and not self._eof_delimited and not self._no_reuse
        self._wake()

    def _set_error(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        waiter = self._head_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: BaseException) -> None:
        self._set_error(error)
        self.close()
        self._wake()

    def _wake(self) -> None:
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.close()

    async def send(self, head: bytes, body: Body, *, head_only: bool, read_timeout: float) -> Response:
        """Write one request and wait for its response head. Raises `_StaleConnection`."""
        assert self.transport is not None
        self._head_only = head_only
        self._received_any = False
        self._head = None
        self._body.clear()
        self._buffered = 0
        self._body_done = False
        self._raw_candidate = False
        self._raw_left = None
        self._error = None
        self.reusable = False
        self._head_waiter = waiter = self._loop.create_future()
        writer: asyncio.Task[None] | None = None
        try:
            if body is None or (isinstance(body, bytes) and len(body) < _WRITE_SLICE):
                self.transport.write(head + body if body else head)
            else:
                # Written by a task, slice by slice as the socket takes it: the server may answer
                # (and refuse the rest) before the end, and a stalled peer times out.
                self.transport.write(head)
                writer = asyncio.ensure_future(self._write_body(body, read_timeout))
                await asyncio.wait({writer, waiter}, timeout=None, return_when=asyncio.FIRST_COMPLETED)
                if writer.done() and not waiter.done():
                    writer.result()  # the body's own error, or a broken connection
            async with asyncio.timeout(read_timeout):
                await waiter
        except BaseException:
            if writer is not None and not writer.done():
                writer.cancel()
            self.close()
            raise
        finally:
            self._head_waiter = None
        if writer is not None and not writer.done():
            # The server answered before taking the whole body: this connection cannot go on.
            writer.cancel()
            self._no_reuse = True  # the server may still expect the rest of the body
            self.reusable = False  # the whole response may have been parsed already
        elif writer is not None and not writer.cancelled():
            writer.exception()  # retrieved: the head (or its absence) tells what happened
        if self._head is None:
            error = self._error or ServerDisconnected()
            self.close()
            raise error
        status, reason, headers = self._head
        return Response(self, status, reason, headers, read_timeout)

    async def _write_body(self, body: bytes | AsyncIterable[bytes], timeout: float) -> None:
        assert self.transport is not None
        if isinstance(body, bytes):
            view = memoryview(body)
            for start in range(0, len(body), _WRITE_SLICE):
                self.transport.write(view[start : start + _WRITE_SLICE])
                await self._drain(timeout)
            return
        async for chunk in body:
            if not chunk:
                continue
            self.transport.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            await self._drain(timeout)
        self.transport.write(b"0\r\n\r\n")

    async def _drain(self, timeout: float) -> None:
        if self.closed:
            raise ConnectionResetError("connection lost while sending")
        if self._writing_paused:
            self._drain_waiter = self._loop.create_future()
            async with asyncio.timeout(timeout):  # the peer took nothing for `timeout` seconds
                await self._drain_waiter

    async def next_chunk(self, read_timeout: float) -> bytes | None:
        """The next piece of the body as received; None at its end."""
        while True:
            if self._body:
                data = self._body.popleft()
                self._buffered -= len(data)
                if self._reading_paused and self._buffered <= self.read_buffer // 2:
                    self._reading_paused = False
                    if self.transport is not None and not self.closed:
                        self.transport.resume_reading()
                return data
            if self._body_done:
                return None
            if self._error is not None:
                raise self._error
            self._body_waiter = self._loop.create_future()
            try:
                async with asyncio.timeout(read_timeout):
                    await self._body_waiter
            finally:
                self._body_waiter = None

    @property
    def complete(self) -> bool:
        return self._body_done and not self._body


class Response:
    """A response whose body is read with `read()` or `iter_chunks()`; `release()` when done."""

    def __init__(
        self, connection: _Connection, status: int, reason: str, headers: Headers, read_timeout: float
    ) -> None:
        self._connection: _Connection | None = connection
        self._session: HttpSession | None = None
        self.status = status
        self.reason = reason
        self.headers = headers
        self.url = ""
        self._read_timeout = read_timeout
        length = headers.get("Content-Length")
        self.content_length: int | None = int(length) if length and length.isdigit() else None

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            return
        while (data := await connection.next_chunk(self._read_timeout)) is not None:
            yield data

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def json(self) -> Any:
        return json.loads(await self.read())

    def release(self) -> None:
        """Give the connection back (kept alive when the whole body was read), or close it."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._session is not None:
            self._session._release(connection)
        else:
            connection.close()

    async def __aenter__(self) -> Response:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class HttpSession:
    """Connections to any number of origins; `request()` sends one request and returns its response.

    Proxies: with `proxy_from_env` (the default) from `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`
    (read at the first request); `proxies={"http": URL, "https": URL, "no_proxy": LIST}` gives
    them instead of the environment; `proxy_from_env=False` without `proxies` means none.
    """

    def __init__(
        self,
        *,
        user_agent: str | None = None,
        connect_timeout: float = 30.0,
        read_timeout: float = 300.0,
        limit: int = 32,
        read_buffer: int = DEFAULT_READ_BUFFER,
        proxy_from_env: bool = True,
        proxies: Mapping[str, str | None] | None = None,
    ) -> None:
        self.user_agent = user_agent
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.read_buffer = read_buffer
        self._limit = limit
        self._slots: asyncio.Semaphore | None = None
        self._idle: dict[tuple[Any, ...], list[_Connection]] = {}
        self._active: set[_Connection] = set()
        self._default_tls: ssl.SSLContext | None = None
        self._proxy_from_env = proxy_from_env
        self._proxy_mapping = dict(proxies) if proxies is not None else None
        self._proxies: ProxySettings | None = None
        self._proxies_loaded = False
        self.closed = False

    async def __aenter__(self) -> HttpSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self.closed = True
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()
        for connection in list(self._active):
            connection.close()

    # -- requests --------------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Body = None,
        ssl: ssl.SSLContext | bool = True,
        allow_redirects: bool = True,
    ) -> Response:
        """Send `method url`; follow redirects unless told not to. Raises `HttpClientError`s."""
        send_headers = dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            response = await self._send(method, url, send_headers, data, ssl)
            location = response.headers.get("Location")
            if not allow_redirects or response.status not in _REDIRECTS or not location:
                return response
            next_url = urljoin(url, location)
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else "HEAD"
                data = None
                send_headers = {k: v for k, v in send_headers.items() if k.lower() != "content-type"}
            elif data is not None and not isinstance(data, bytes):
                return response  # a streamed body cannot be sent twice
            if _origin(next_url) != _origin(url):
                send_headers = {k: v for k, v in send_headers.items() if k.lower() != "authorization"}
                if ssl is not False:
                    ssl = True  # a context made for the first host does not fit another
            response.release()
            url = next_url
        raise TooManyRedirects(f"stopped after {MAX_REDIRECTS} redirects")

    def get(self, url: str, **kwargs: Any) -> _RequestContext:
        return _RequestContext(self.request("GET", url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> _RequestContext:
        return _RequestContext(self.request("POST", url, **kwargs))

    async def _send(
        self, method: str, url: str, headers: dict[str, str], data: Body, tls: ssl.SSLContext | bool
    ) -> Response:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise InvalidRequest(f"unsupported URL: {url!r}")
        host = parts.hostname
        port = parts.port or _DEFAULT_PORTS[scheme]
        context = self._tls_context(tls) if scheme == "https" else None
        proxy = self._proxy_for(scheme, host, port)
        key: tuple[Any, ...] = (scheme, host, port, id(context) if context else None, tls is False)
        if proxy is not None:  # plain http: one pool per proxy; https: per origin and proxy
            key = ("proxy", proxy) if context is None else (*key, proxy)
        head = self._request_head(method, parts, host, port, scheme, headers, data, proxy)
        replayable = data is None or isinstance(data, bytes)
        for attempt in range(2):
            connection, reused = await self._connection(key, host, port, context, proxy)
            try:
                response = await connection.send(
                    head, data, head_only=method == "HEAD", read_timeout=self.read_timeout
                )
            except _StaleConnection:
                self._discard(connection)
                if reused and replayable and attempt == 0:
                    continue
                raise ServerDisconnected() from None
            except BaseException:
                self._discard(connection)
                raise
            response._session = self
            response.url = url
            if proxy is not None and context is None and response.status == 407:
                self._discard(connection)
                raise ProxyError(
                    f"proxy {proxy.address} refused the request: 407 {response.reason}"
                    + ("" if proxy.authorization else " (the proxy URL has no credentials)")
                )
            return response
        raise ServerDisconnected()  # not reached: the second attempt returns or raises

    def _request_head(
        self,
        method: str,
        parts: Any,
        host: str,
        port: int,
        scheme: str,
        headers: Mapping[str, str],
        data: Body,
        proxy: Proxy | None = None,
    ) -> bytes:
        target = quote(parts.path or "/", safe=_SAFE_TARGET)
        if parts.query:
            target += "?" + quote(parts.query, safe=_SAFE_TARGET)
        host_header = join_host_port(host, None if port == _DEFAULT_PORTS[scheme] else port)
        if proxy is not None and scheme == "http":  # through the proxy: the absolute form
            target = f"http://{host_header}{target}"
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
        if proxy is not None and scheme == "http" and proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        names = {name.lower() for name in headers}
        if self.user_agent and "user-agent" not in names:
            lines.append(f"User-Agent: {self.user_agent}")
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise InvalidRequest(f"invalid HTTP header {name!r}")
            lines.append(f"{name}: {value}")
        if isinstance(data, bytes):
            if data or method in ("POST", "PUT", "PATCH"):
                lines.append(f"Content-Length: {len(data)}")
        elif data is not None:
            lines.append("Transfer-Encoding: chunked")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    # -- proxies ---------------------------------------------------------------------------------
    def _proxy_for(self, scheme: str, host: str, port: int) -> Proxy | None:
        if not self._proxies_loaded:
            self._proxies = self._load_proxies()
            self._proxies_loaded = True
        if self._proxies is None:
            return None
        try:
            return self._proxies.for_url(scheme, host, port)
        except ValueError as exc:
            raise ProxyError(str(exc)) from None

    def _load_proxies(self) -> ProxySettings | None:
        """The session's proxies; the proxies module is imported only when there are some."""
        if self._proxy_mapping is not None:
            from cargobay.distclient.proxies import ProxySettings

            get = self._proxy_mapping.get
            return ProxySettings(get("http"), get("https"), get("no_proxy"))
        if not self._proxy_from_env or not proxy_configured(os.environ):
            return None
        from cargobay.distclient.proxies import ProxySettings

        settings = ProxySettings.from_environment(os.environ)
        return None if settings.empty else settings

    # -- connections -----------------------------------------------------------------------------
    def _tls_context(self, tls: ssl.SSLContext | bool) -> ssl.SSLContext:
        if isinstance(tls, ssl.SSLContext):
            return tls
        if tls is False:
            return _unverified_context()
        if self._default_tls is None:
            self._default_tls = ssl.create_default_context()
        return self._default_tls

    async def _connection(
        self, key: tuple[Any, ...], host: str, port: int, context: ssl.SSLContext | None, proxy: Proxy | None
    ) -> tuple[_Connection, bool]:
        if self.closed:
            raise HttpClientError("session is closed")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._limit)
        await self._slots.acquire()
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            transport = connection.transport
            if not connection.closed and transport is not None and not transport.is_closing():
                self._active.add(connection)
                return connection, True
            connection.close()
        try:
            if proxy is None:
                connection = await self._connect(key, host, port, context)
            elif context is None:
                connection = await self._connect_to_proxy(key, proxy)
            else:
                connection = await self._connect_tunnel(key, host, port, context, proxy)
        except BaseException:
            self._slots.release()
            raise
        self._active.add(connection)
        return connection, False

    async def _connect(
        self, key: tuple[Any, ...], host: str, port: int, context: ssl.SSLContext | None
    ) -> _Connection:
        connection = _Connection(key, self.read_buffer)
        await open_transport(lambda: connection, host, port, context, self.connect_timeout)
        return connection

    async def _connect_to_proxy(self, key: tuple[Any, ...], proxy: Proxy) -> _Connection:
        from cargobay.distclient.proxies import connect_to_proxy

        connection = _Connection(key, self.read_buffer)
        await connect_to_proxy(lambda: connection, proxy, self.connect_timeout)
        return connection

    async def _connect_tunnel(
        self, key: tuple[Any, ...], host: str, port: int, context: ssl.SSLContext, proxy: Proxy
    ) -> _Connection:
        """CONNECT host:port through the proxy, then TLS with `host` over the tunnel."""
        from cargobay.distclient.proxies import open_tunnel

        connection = _Connection(key, self.read_buffer)
        async with asyncio.timeout(self.connect_timeout):
            await open_tunnel(proxy, host, port, context, connection, self.user_agent)
        return connection

    def _release(self, connection: _Connection) -> None:
        if connection not in self._active:
            return
        self._active.discard(connection)
        if self._slots is not None:
            self._slots.release()
        if self.closed or not connection.reusable or not connection.complete or connection.closed:
            connection.close()
            return
        idle = self._idle.setdefault(connection.key, [])
        if len(idle) >= _MAX_IDLE_PER_ORIGIN:
            connection.close()
            return
        idle.append(connection)

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        if connection in self._active:
            self._active.discard(connection)
            if self._slots is not None:
                self._slots.release()


async def open_transport(
    factory: Any, host: str, port: int, context: ssl.SSLContext | None, timeout: float | None
) -> tuple[asyncio.Transport, Any]:
    """`loop.create_connection`, its failures (a timeout too) as `ConnectError`s."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            return await loop.create_connection(
                factory,
                host,
                port,
                ssl=context,
                server_hostname=host if context is not None else None,
                happy_eyeballs_delay=0.25,
            )
    except ssl.SSLCertVerificationError as exc:
        raise CertificateError(host, port, exc) from exc
    except ssl.SSLError as exc:
        raise TLSError(host, port, exc) from exc
    except OSError as exc:
        if _is_resolution_error(exc):
            raise NameResolutionError(host, port, exc) from exc
        raise ConnectError(host, port, _with_errno(exc)) from exc


class _RequestContext:
    """`async with session.get(...) as response:` — the response is released on exit."""

    def __init__(self, pending: Any) -> None:
        self._pending = pending
        self._response: Response | None = None

    async def __aenter__(self) -> Response:
        self._response = await self._pending
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            self._response.release()


_UNVERIFIED: ssl.SSLContext | None = None


def _unverified_context() -> ssl.SSLContext:
    """TLS without certificate checks, for registries configured as insecure."""
    global _UNVERIFIED
    if _UNVERIFIED is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        _UNVERIFIED = context
    return _UNVERIFIED


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def _is_resolution_error(exc: OSError) -> bool:
    return isinstance(exc, socket.gaierror)


_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")


def _with_errno(exc: OSError) -> OSError:
    """`exc`, or when it has no errno, the first address's error it names.

    When every address of a host refuses (e.g. `localhost` as ::1 and 127.0.0.1), Python 3.11's
    `create_connection` raises `OSError("Multiple exceptions: [Errno 111] Connect call failed
    ('::1', …), [Errno 111] …")` without an errno; docker would say "connection refused".
    """
    if exc.errno is not None:
        return exc
    found = _ERRNO_IN_TEXT.search(str(exc))
    if found is None:
        return exc
    number = int(found.group(1))
    return OSError(number, os.strerror(number))


__all__ = [
    "CertificateError",
    "ConnectError",
    "Headers",
    "HttpClientError",
    "HttpSession",
    "InvalidRequest",
    "NameResolutionError",
    "PayloadError",
    "ProxyError",
    "Response",
    "ServerDisconnected",
    "TLSError",
    "TooManyRedirects",
]
