"""The client's own HTTP/1.1 (`cargobay.distclient.httpclient`) against raw loopback servers
written here byte for byte.

Covered: Content-Length, chunked (extensions, trailers) and EOF-delimited bodies, truncated
bodies; streaming with back-pressure; HEAD; keep-alive reuse and when a connection must not be
reused (Connection: close, unread body, a response before the upload ended); the stale-connection
retry; request formatting (Host, User-Agent, Content-Length, chunked framing, header injection,
URLs); redirects (Authorization, method and body rules, limit); 1xx responses; errors (refused,
unresolvable, disconnects, garbage, read timeouts, TLS failures) and TLS that works; the
connection limit; session.close(); and a few error texts through `RegistryClient`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import pytest

from cargobay.distclient.client import RegistryClient
from cargobay.distclient.config import ClientConfig
from cargobay.distclient.errors import RegistryUnreachable, connection_error
from cargobay.distclient.httpclient import (
    MAX_REDIRECTS,
    CertificateError,
    ConnectError,
    HttpClientError,
    HttpSession,
    InvalidRequest,
    NameResolutionError,
    PayloadError,
    ServerDisconnected,
    TLSError,
    TooManyRedirects,
)
from support.certs import write_test_certs

pytestmark = pytest.mark.timeout(60)

MiB = 1024 * 1024


# --------------------------------------------------------------------------- raw server


@dataclass
class Request:
    """One request as the server parsed it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    chunk_sizes: list[int] = field(default_factory=list)  # for chunked bodies: each chunk's size

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class Conn:
    """The server's side of one connection."""

    def __init__(self, server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.index = server.connections  # 1 for the first connection accepted

    async def read_request(self, *, body: bool = True) -> Request | None:
        """The next request (its body too unless told not to); None when the client closed."""
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = raw.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        assert version == "HTTP/1.1"
        headers = [
            (name, value.lstrip(" ")) for name, value in (line.split(":", 1) for line in lines[1:] if line)
        ]
        request = Request(method, target, headers)
        self.server.requests.append(request)
        if body:
            await self.read_body(request)
        return request

    async def read_body(self, request: Request) -> None:
        length = request.header("Content-Length")
        if length is not None:
            request.body = await self.reader.readexactly(int(length))
        elif (request.header("Transfer-Encoding") or "").lower() == "chunked":
            data = bytearray()
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line[:-2].split(b";")[0], 16)
                if size == 0:
                    assert await self.reader.readuntil(b"\r\n") == b"\r\n"  # no trailers
                    break
                request.chunk_sizes.append(size)
                data += await self.reader.readexactly(size)
                assert await self.reader.readexactly(2) == b"\r\n", "chunk not followed by CRLF"
            request.body = bytes(data)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_closed_by_client(self, timeout: float = 2.0) -> bool:
        """Discard what the client sends until it closes; True if it did within `timeout`."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except (TimeoutError, ConnectionError):
            return False
        return True


Handler = Callable[[Conn], Awaitable[None]]


class RawServer:
    """`asyncio.start_server` on 127.0.0.1 running `handler` per connection; counts connections."""

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.open_now = 0
        self.max_open = 0
        self.requests: list[Request] = []
        self._server: asyncio.Server | None = None
        self.port = 0
        self.on_exit: list[Callable[[], object]] = []  # called when the `async with` ends

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.max_open = max(self.max_open, self.open_now)
        try:
            await self.handler(Conn(self, reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            self.open_now -= 1
            writer.close()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        for callback in self.on_exit:
            callback()
        self._server.close()
        if hasattr(self._server, "close_clients"):  # pragma: no cover - Python 3.13+
            self._server.close_clients()


def response(status: str = "200 OK", body: bytes = b"", *headers: str, length: bool = True) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def answer_all(make: Callable[[Request], bytes]) -> Handler:
    """A keep-alive server answering every request on a connection with `make(request)`."""

    async def handler(conn: Conn) -> None:
        while (request := await conn.read_request()) is not None:
            await conn.send(make(request))

    return handler


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stream(*pieces: bytes, delay: float = 0.0) -> AsyncIterator[bytes]:
    for piece in pieces:
        if delay:
            await asyncio.sleep(delay)
        yield piece


# --------------------------------------------------------------------------- bodies


async def test_content_length_body_read_whole_and_streamed() -> None:
    body = os.urandom(8 * MiB)
    async with (
        RawServer(answer_all(lambda request: response(body=body))) as server,
        HttpSession(read_timeout=2) as session,
    ):
        async with session.get(server.url("/whole")) as resp:
            assert (resp.status, resp.reason, resp.content_length) == (200, "OK", len(body))
            assert await resp.read() == body
        async with session.get(server.url("/streamed")) as resp:
            chunks = [chunk async for chunk in resp.iter_chunks()]
        assert len(chunks) > 1
        assert b"".join(chunks) == body
        assert server.connections == 1


async def test_back_pressure_pauses_reading_and_the_server() -> None:
    body = os.urandom(16 * MiB)
    read_buffer = 64 * 1024
    written = [0]

    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        for start in range(0, len(body), 64 * 1024):
            await conn.send(body[start : start + 64 * 1024])  # drain() blocks while the client is full
            written[0] = start + 64 * 1024
        await conn.wait_closed_by_client()

    async with (
        RawServer(handler) as server,
        HttpSession(read_timeout=2, read_buffer=read_buffer) as session,
        session.get(server.url()) as resp,
    ):
        connection = resp._connection
        assert connection is not None
        chunks = resp.iter_chunks()
        received = [await anext(chunks)]
        await asyncio.sleep(0.1)  # a slow consumer: the buffer fills and reading pauses
        assert connection._reading_paused
        assert connection._buffered <= read_buffer + 256 * 1024  # one socket read past the limit
        stalled_at = written[0]
        await asyncio.sleep(0.05)
        # Not paused, the whole body reaches the client in milliseconds (kept in memory).
        assert written[0] == stalled_at < len(body) // 2, "the server kept writing into a paused client"
        size, paused_again = len(received[0]), None
        async for chunk in chunks:  # reading resumes as the buffer drains ...
            received.append(chunk)
            size += len(chunk)
            if paused_again is None and size >= len(body) // 2:  # ... and pauses again half way
                await asyncio.sleep(0.05)
                paused_again = connection._reading_paused
        assert paused_again
        assert b"".join(received) == body
        assert not connection._reading_paused


async def test_content_length_body_in_many_writes_then_the_next_response() -> None:
    """Past its head a Content-Length body is taken around the parser; the next response on the
    connection is parsed again from its first byte."""
    body = os.urandom(300_000)

    async def handler(conn: Conn) -> None:
        await conn.read_request()
        head = response(body=body)[: -len(body)]
        await conn.send(head + body[:10])  # the head and a little of the body in one read
        for start in range(10, len(body), 7_000):  # the rest in pieces, the last one short
            await conn.send(body[start : start + 7_000])
            await asyncio.sleep(0)
        await conn.read_request()
        await conn.send(response(body=b"second"))

    async with RawServer(handler) as server, HttpSession() as session:
        async with session.get(server.url("/one")) as resp:
            assert resp.content_length == len(body)
            assert await resp.read() == body
        async with session.get(server.url("/two")) as resp:
            assert await resp.read() == b"second"
        assert server.connections == 1


async def test_bytes_past_the_content_length_end_the_connection() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index > 1:
            while await conn.read_request() is not None:
                await conn.send(response(body=b"fresh"))
            return
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        await asyncio.sleep(0.05)  # the body comes in a read of its own, with junk after it
        await conn.send(b"helloEXTRA")
        await conn.wait_closed_by_client()

    async with RawServer(handler) as server, HttpSession() as session:
        async with session.get(server.url("/one")) as resp:
            assert await resp.read() == b"hello"
        async with session.get(server.url("/two")) as resp:
            assert await resp.read() == b"fresh"
        assert server.connections == 2  # the connection that sent junk was not reused


async def test_chunked_body_with_extensions_and_trailers() -> None:
    async def handler(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Head: 1\r\n\r\n")
            for piece in (
                b"5;name=value\r\nhello\r\n",
                b"1;flag\r\n \r\n",
                b"6\r\nworld!\r\n",
                b"A\r\n0123456789\r\n",
            ):
                await conn.send(piece)
                await asyncio.sleep(0.005)
            await conn.send(b"0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n")

    async with RawServer(handler) as server, HttpSession(read_timeout=1) as session:
        async with session.get(server.url()) as resp:
            assert resp.content_length is None and resp.headers["x-head"] == "1"
            chunks = [chunk async for chunk in resp.iter_chunks()]
        assert b"".join(chunks) == b"hello world!0123456789"
        assert len(chunks) >= 4  # delivered as they came
        async with session.get(server.url()) as resp:  # the trailers ended the message cleanly
            assert await resp.read() == b"hello world!0123456789"
        assert server.connections == 1


async def test_eof_delimited_body_is_read_to_the_end_and_not_reused() -> None:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        for piece in (b"first ", b"second ", b"third"):
            await conn.send(piece)
            await asyncio.sleep(0.005)

    async with RawServer(handler) as server, HttpSession(read_timeout=1) as session:
        for _ in range(2):
            async with session.get(server.url()) as resp:
                assert resp.content_length is None
                assert await resp.read() == b"first second third"
        assert server.connections == 2


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_cut_short_raises_payload_error(framing: str) -> None:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        if framing == "chunked":
            await conn.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123")
        else:
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123")

    async with RawServer(handler) as server, HttpSession(read_timeout=1) as session:
        async with session.get(server.url()) as resp:
            with pytest.raises(PayloadError):
                await resp.read()
        async with session.get(server.url()) as resp:
            received = b""
            with pytest.raises(PayloadError):
                async for chunk in resp.iter_chunks():
                    received += chunk
            assert received == b"0123"


async def test_head_response_with_content_length_completes_and_connection_is_reused() -> None:
    def make(request: Request) -> bytes:
        if request.method == "HEAD":
            return b"HTTP/1.1 200 OK\r\nContent-Length: 123456\r\nDocker-Content-Digest: sha256:x\r\n\r\n"
        return response(body=b"hello")

    async with RawServer(answer_all(make)) as server, HttpSession(read_timeout=1) as session:
        async with asyncio.timeout(0.5):
            resp = await session.request("HEAD", server.url("/blob"))
            assert resp.content_length == 123456
            assert resp.headers["Docker-Content-Digest"] == "sha256:x"
            assert await resp.read() == b""
            resp.release()
        async with session.get(server.url("/blob")) as resp:
            assert await resp.read() == b"hello"
        assert server.connections == 1
        assert [r.method for r in server.requests] == ["HEAD", "GET"]


# --------------------------------------------------------------------------- keep-alive


async def test_sequential_requests_share_one_connection() -> None:
    async with (
        RawServer(answer_all(lambda r: response(body=r.target.encode()))) as server,
        HttpSession(read_timeout=1) as session,
    ):
        for path in ("/one", "/two", "/three"):
            async with session.get(server.url(path)) as resp:
                assert await resp.read() == path.encode()
        assert server.connections == 1


async def test_connection_close_response_is_not_reused() -> None:
    async with (
        RawServer(answer_all(lambda r: response("200 OK", b"bye", "Connection: close"))) as server,
        HttpSession(read_timeout=1) as session,
    ):
        for _ in range(2):
            async with session.get(server.url()) as resp:
                assert await resp.read() == b"bye"
        assert server.connections == 2


async def test_release_before_body_was_read_closes_the_connection() -> None:
    async with (
        RawServer(answer_all(lambda r: response(body=b"x" * 100_000))) as server,
        HttpSession(read_timeout=1) as session,
    ):
        async with session.get(server.url()) as resp:
            assert resp.status == 200  # body left unread
        async with session.get(server.url()) as resp:
            assert len(await resp.read()) == 100_000
        assert server.connections == 2


def stale_after_first_answer(*, read_body: bool = True) -> Handler:
    """Connection 1 answers one request, then closes on the next one without answering (as a
    server does when its idle timeout and a new request cross); later connections answer all."""

    async def handler(conn: Conn) -> None:
        answered = 0
        while (request := await conn.read_request(body=read_body)) is not None:
            if conn.index == 1 and answered == 1:
                return
            await conn.send(response(body=f"{request.method} {request.target} #{conn.index}".encode()))
            answered += 1

    return handler


async def test_stale_keep_alive_connection_is_retried_on_a_new_one() -> None:
    async with RawServer(stale_after_first_answer()) as server, HttpSession(read_timeout=1) as session:
        async with session.get(server.url("/a")) as resp:
            assert await resp.read() == b"GET /a #1"
        async with await session.request("PUT", server.url("/b"), data=b"payload") as resp:
            assert await resp.read() == b"PUT /b #2"
        assert server.connections == 2
        assert [(r.method, r.target, r.body) for r in server.requests] == [
            ("GET", "/a", b""),
            ("PUT", "/b", b"payload"),
            ("PUT", "/b", b"payload"),
        ]


async def test_streamed_body_on_stale_connection_is_not_replayed() -> None:
    async with (
        RawServer(stale_after_first_answer(read_body=False)) as server,
        HttpSession(read_timeout=1) as session,
    ):
        async with session.get(server.url("/a")) as resp:
            await resp.read()
        with pytest.raises(ServerDisconnected):
            await session.request("POST", server.url("/upload"), data=stream(b"abc", b"def", delay=0.02))
        assert server.connections == 1
        assert [r.target for r in server.requests] == ["/a", "/upload"]


# --------------------------------------------------------------------------- request format


async def test_request_head_as_the_server_sees_it() -> None:
    async with (
        RawServer(answer_all(lambda r: response(body=b"ok"))) as server,
        HttpSession(read_timeout=1, user_agent="cargobay-test/1.0") as session,
    ):
        async with session.get(server.url("/v2/a/b/tags/list?n=2&last=x%2Fy")) as resp:
            await resp.read()
        async with session.get(server.url("/"), headers={"user-agent": "mine/2"}) as resp:
            await resp.read()
        async with session.post(server.url("/empty"), data=b"") as resp:
            await resp.read()
        async with await session.request("PUT", server.url("/put"), data=b"x" * 100_000) as resp:
            await resp.read()

    plain, own_agent, empty_post, put = server.requests
    assert plain.target == "/v2/a/b/tags/list?n=2&last=x%2Fy"
    assert plain.all("Host") == [f"127.0.0.1:{server.port}"]
    assert plain.all("User-Agent") == ["cargobay-test/1.0"]
    assert plain.header("Content-Length") is None and plain.header("Transfer-Encoding") is None
    assert own_agent.all("User-Agent") == ["mine/2"]
    assert (empty_post.method, empty_post.all("Content-Length"), empty_post.body) == ("POST", ["0"], b"")
    assert put.all("Content-Length") == ["100000"] and put.body == b"x" * 100_000


async def test_streamed_body_is_sent_chunked() -> None:
    pieces = [b"abc", b"", os.urandom(70_000), b"end"]
    async with (
        RawServer(answer_all(lambda r: response("201 Created"))) as server,
        HttpSession(read_timeout=1) as session,
        await session.request("PATCH", server.url("/upload"), data=stream(*pieces)) as resp,
    ):
        assert resp.status == 201
    (request,) = server.requests
    assert request.all("Transfer-Encoding") == ["chunked"] and request.header("Content-Length") is None
    assert request.chunk_sizes == [3, 70_000, 3]  # an empty piece must not end the body early
    assert request.body == b"".join(pieces)


@pytest.mark.parametrize(
    "headers",
    [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Evil": "a\nb"}, {"X-Bad\r\nName": "v"}, {"X-A:b": "v"}],
)
async def test_header_injection_is_refused(headers: dict[str, str]) -> None:
    async with (
        RawServer(answer_all(lambda r: response())) as server,
        HttpSession(read_timeout=1) as session,
    ):
        with pytest.raises(InvalidRequest):
            await session.request("GET", server.url(), headers=headers)
        assert server.requests == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "unix:///run/x.sock", "http:///no-host", "/relative"])
async def test_unsupported_urls_are_refused(url: str) -> None:
    async with HttpSession(read_timeout=1) as session:
        with pytest.raises(InvalidRequest):
            await session.request("GET", url)
        with pytest.raises(ValueError):
            await session.request("GET", url)


# --------------------------------------------------------------------------- redirects


async def test_307_same_origin_keeps_method_body_and_authorization() -> None:
    def make(request: Request) -> bytes:
        if request.target == "/start":
            return response("307 Temporary Redirect", b"", "Location: /target?x=1")
        return response(body=b"landed")

    async with (
        RawServer(answer_all(make)) as server,
        HttpSession(read_timeout=1) as session,
        await session.request(
            "PUT", server.url("/start"), data=b"payload", headers={"Authorization": "Bearer t0k"}
        ) as resp,
    ):
        assert (resp.status, await resp.read()) == (200, b"landed")
        assert resp.url == server.url("/target?x=1")
    redirect, second = server.requests
    assert (redirect.method, redirect.target, redirect.body) == ("PUT", "/start", b"payload")
    assert (second.method, second.target, second.body) == ("PUT", "/target?x=1", b"payload")
    assert second.all("Authorization") == ["Bearer t0k"]
    assert server.connections == 1  # the redirect's connection was reused


async def test_redirect_to_another_origin_drops_authorization() -> None:
    async with RawServer(answer_all(lambda r: response(body=b"other"))) as other:

        def make(request: Request) -> bytes:
            return response("302 Found", b"", f"Location: {other.url('/there')}")

        async with RawServer(answer_all(make)) as first, HttpSession(read_timeout=1) as session:
            headers = {"Authorization": "Basic c2VjcmV0", "X-Keep": "1"}
            async with session.get(first.url("/here"), headers=headers) as resp:
                assert await resp.read() == b"other"
    (request,) = other.requests
    assert request.header("Authorization") is None
    assert request.header("X-Keep") == "1"
    assert first.requests[0].header("Authorization") == "Basic c2VjcmV0"


async def test_303_after_post_becomes_get_without_body() -> None:
    def make(request: Request) -> bytes:
        if request.method == "POST":
            return response("303 See Other", b"", "Location: /result")
        return response(body=b"result")

    async with (
        RawServer(answer_all(make)) as server,
        HttpSession(read_timeout=1) as session,
        session.post(
            server.url("/form"), data=b'{"a": 1}', headers={"Content-Type": "application/json"}
        ) as resp,
    ):
        assert await resp.read() == b"result"
    post, get = server.requests
    assert post.body == b'{"a": 1}'
    assert (get.method, get.target, get.body) == ("GET", "/result", b"")
    assert get.header("Content-Length") is None and get.header("Content-Type") is None


async def test_allow_redirects_false_returns_the_redirect() -> None:
    async with (
        RawServer(answer_all(lambda r: response("302 Found", b"moved", "Location: /elsewhere"))) as server,
        HttpSession(read_timeout=1) as session,
    ):
        async with session.get(server.url("/"), allow_redirects=False) as resp:
            assert resp.status == 302
            assert resp.headers["Location"] == "/elsewhere"
            assert await resp.read() == b"moved"
        assert len(server.requests) == 1


async def test_redirect_loop_raises_too_many_redirects() -> None:
    def make(request: Request) -> bytes:
        step = int(request.target.strip("/") or 0)
        return response("302 Found", b"", f"Location: /{step + 1}")

    async with RawServer(answer_all(make)) as server, HttpSession(read_timeout=1) as session:
        with pytest.raises(TooManyRedirects):
            await session.request("GET", server.url("/0"))
    assert len(server.requests) == MAX_REDIRECTS + 1 == 11


async def test_307_with_streamed_body_returns_the_307() -> None:
    async with (
        RawServer(
            answer_all(lambda r: response("307 Temporary Redirect", b"", "Location: /again"))
        ) as server,
        HttpSession(read_timeout=1) as session,
    ):
        async with await session.request(
            "PUT", server.url("/upload"), data=stream(b"part1", b"part2")
        ) as resp:
            assert resp.status == 307
        assert [r.target for r in server.requests] == ["/upload"]
        assert server.requests[0].body == b"part1part2"


# --------------------------------------------------------------------------- early responses, 1xx


async def endless_upload(sent: list[int], delay: float = 0.002) -> AsyncIterator[bytes]:
    """A streamed body far longer than the test lasts; counts the bytes it produced."""
    piece = b"u" * 16384
    for _ in range(16384):
        sent[0] += len(piece)
        yield piece
        await asyncio.sleep(delay)


async def test_response_before_the_upload_ended_is_returned() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 1:
            await conn.read_request(body=False)
            await conn.reader.readexactly(50_000)
            await conn.send(response("413 Payload Too Large", b"too large", "Connection: close"))
            return
        while await conn.read_request() is not None:
            await conn.send(response(body=b"fresh connection"))

    sent = [0]
    async with RawServer(handler) as server, HttpSession(read_timeout=1) as session:
        async with asyncio.timeout(2):
            async with await session.request(
                "PATCH", server.url("/upload"), data=endless_upload(sent)
            ) as resp:
                assert resp.status == 413
                assert await resp.read() == b"too large"
        async with session.get(server.url("/next")) as resp:
            assert await resp.read() == b"fresh connection"
        assert server.connections == 2
        assert sent[0] < 16384 * 16384


# A response that arrives whole (head and body in one read) before the streamed body was sent
# has already marked the connection reusable when send() stops the writer: it must not go back
# to the pool with a half-sent chunked body (the next request would land in the middle of it).
async def test_keep_alive_response_before_upload_ended_does_not_reuse_the_connection() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 1:
            await conn.read_request(body=False)
            await conn.reader.readexactly(20_000)
            await conn.send(response("401 Unauthorized", b"", 'WWW-Authenticate: Bearer realm="x"'))
            leftover = b""
            while b"GET /next" not in leftover and (data := await conn.reader.read(65536)):
                leftover += data
            if b"GET /next" in leftover:  # the next request came in after the unfinished upload
                await conn.send(response(body=b"on the connection of the cut upload"))
            return
        while await conn.read_request() is not None:
            await conn.send(response(body=b"fresh connection"))

    sent = [0]
    async with RawServer(handler) as server, HttpSession(read_timeout=0.5) as session:
        async with await session.request("PATCH", server.url("/upload"), data=endless_upload(sent)) as resp:
            assert resp.status == 401
            assert await resp.read() == b""
        async with session.get(server.url("/next")) as resp:
            assert await resp.read() == b"fresh connection"
        assert server.connections == 2


# A server that stops reading mid-upload without answering: each wait for the send buffer is
# bounded by `read_timeout` (a slow upload that still moves is not cut off).
async def test_stalled_streamed_upload_times_out() -> None:
    finished = asyncio.Event()

    async def handler(conn: Conn) -> None:
        await conn.read_request(body=False)
        await finished.wait()  # reads nothing more: the client's send buffers fill up

    sent = [0]
    async with RawServer(handler) as server, HttpSession(read_timeout=0.3) as session:
        server.on_exit.append(finished.set)
        task = asyncio.ensure_future(
            session.request("PUT", server.url("/upload"), data=endless_upload(sent, 0))
        )
        done, _ = await asyncio.wait({task}, timeout=1.2)
        if not done:
            task.cancel()
            pytest.fail(f"still sending after 1.2 s with read_timeout=0.3 ({sent[0]} bytes produced)")
        with pytest.raises(TimeoutError):
            task.result()


async def test_large_bytes_body_arrives_whole() -> None:
    body = bytes(range(256)) * (5 * MiB // 256 + 7)  # over the 1 MiB slice, not a multiple of it
    async with RawServer(answer_all(lambda r: response(body=str(len(r.body)).encode()))) as server:
        async with (
            HttpSession() as session,
            await session.request("PUT", server.url("/blob"), data=body) as resp,
        ):
            assert await resp.read() == str(len(body)).encode()
        assert server.requests[0].body == body
        assert server.requests[0].header("Content-Length") == str(len(body))


async def test_large_bytes_body_refused_early_returns_the_answer() -> None:
    async def handler(conn: Conn) -> None:
        await conn.read_request(body=False)
        await conn.reader.readexactly(100_000)
        await conn.send(response("413 Payload Too Large", b"too large", "Connection: close"))

    async with RawServer(handler) as server, HttpSession(read_timeout=1) as session:
        async with asyncio.timeout(3):
            resp = await session.request("PUT", server.url("/blob"), data=b"x" * (64 * MiB))
            assert resp.status == 413
            assert await resp.read() == b"too large"
            resp.release()


async def test_large_bytes_body_to_a_stalled_peer_times_out() -> None:
    finished = asyncio.Event()

    async def handler(conn: Conn) -> None:
        await conn.read_request(body=False)
        await finished.wait()

    async with RawServer(handler) as server, HttpSession(read_timeout=0.3) as session:
        server.on_exit.append(finished.set)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(3):
                await session.request("PUT", server.url("/blob"), data=b"x" * (64 * MiB))


async def test_informational_responses_are_skipped() -> None:
    async def handler(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            await asyncio.sleep(0.01)
            await conn.send(
                b"HTTP/1.1 103 Early Hints\r\nLink: </hint>\r\n\r\n"
                + response("200 OK", b"final", "X-Final: 1")
            )

    async with RawServer(handler) as server, HttpSession(read_timeout=1) as session:
        for _ in range(2):
            async with session.post(server.url("/"), data=b"data") as resp:
                assert (resp.status, resp.reason) == (200, "OK")
                assert resp.headers["X-Final"] == "1" and "Link" not in resp.headers
                assert await resp.read() == b"final"
        assert server.connections == 1


# --------------------------------------------------------------------------- errors


async def test_connection_refused() -> None:
    port = free_port()
    async with HttpSession(read_timeout=1, connect_timeout=1) as session:
        with pytest.raises(ConnectError) as info:
            await session.request("GET", f"http://127.0.0.1:{port}/")
    assert type(info.value) is ConnectError
    assert info.value.os_error.errno == errno.ECONNREFUSED
    assert (info.value.host, info.value.port) == ("127.0.0.1", port)


async def test_unresolvable_host() -> None:
    async with HttpSession(read_timeout=1, connect_timeout=5) as session:
        with pytest.raises(NameResolutionError) as info:
            await session.request("GET", "http://nonexistent.invalid/v2/")
    assert isinstance(info.value, ConnectError) and info.value.host == "nonexistent.invalid"


@pytest.mark.parametrize("sent", [b"", b"HTTP/1.1 200 OK\r\nContent-Le"])
async def test_server_closing_without_a_response_is_server_disconnected(sent: bytes) -> None:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(sent)

    async with RawServer(handler) as server, HttpSession(read_timeout=1) as session:
        with pytest.raises(ServerDisconnected):
            await session.request("GET", server.url())
        assert server.connections == 1  # a fresh connection is not retried


@pytest.mark.parametrize(
    "garbage",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
        b"HTTP/1.1 2OO OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    ],
)
async def test_garbage_response_is_an_http_client_error(garbage: bytes) -> None:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(garbage)
        await conn.wait_closed_by_client()

    async with RawServer(handler) as server, HttpSession(read_timeout=1) as session:
        async with asyncio.timeout(0.5):
            with pytest.raises(HttpClientError) as info:
                await session.request("GET", server.url())
    assert isinstance(info.value, PayloadError)


async def test_read_timeout_waiting_for_the_head() -> None:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.wait_closed_by_client()

    async with RawServer(handler) as server, HttpSession(read_timeout=0.3) as session:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await session.request("GET", server.url())
        assert 0.25 < time.monotonic() - started < 0.9


async def test_read_timeout_waiting_for_body_bytes() -> None:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n012")
        await conn.wait_closed_by_client()

    async with (
        RawServer(handler) as server,
        HttpSession(read_timeout=0.3) as session,
        session.get(server.url()) as resp,
    ):
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await resp.read()
        assert 0.25 < time.monotonic() - started < 0.9


# --------------------------------------------------------------------------- TLS


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """(CA file, server-side context for 127.0.0.1)."""
    ca, cert, key = write_test_certs(tmp_path)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    return ca, server


async def test_tls_with_the_right_ca(tls_files: tuple[Path, ssl.SSLContext]) -> None:
    ca, server_context = tls_files
    client_context = ssl.create_default_context(cafile=str(ca))
    async with (
        RawServer(answer_all(lambda r: response(body=b"secure")), tls=server_context) as server,
        HttpSession(read_timeout=1, connect_timeout=1) as session,
    ):
        for _ in range(2):
            async with session.get(server.url(), ssl=client_context) as resp:
                assert await resp.read() == b"secure"
        assert server.connections == 1
        async with session.get(server.url(), ssl=False) as resp:  # unverified: a separate pool
            assert await resp.read() == b"secure"
        assert server.connections == 2


async def test_tls_unknown_ca_is_a_certificate_error(tls_files: tuple[Path, ssl.SSLContext]) -> None:
    _, server_context = tls_files
    async with (
        RawServer(answer_all(lambda r: response()), tls=server_context) as server,
        HttpSession(read_timeout=1, connect_timeout=1) as session,
    ):
        with pytest.raises(CertificateError) as info:
            await session.request("GET", server.url("/v2/"))
    assert isinstance(info.value.certificate_error, ssl.SSLCertVerificationError)
    assert str(connection_error("GET", server.url("/v2/"), info.value)) == (
        f'Get "{server.url("/v2/")}": tls: failed to verify certificate: x509: '
        "certificate signed by unknown authority"
    )


async def test_https_to_a_plain_http_server_is_a_tls_error() -> None:
    async def handler(conn: Conn) -> None:
        await conn.reader.read(1024)  # the ClientHello, as an HTTP server would take it
        await conn.send(response("400 Bad Request", b"Client sent an HTTP request to an HTTPS server.\n"))

    async with RawServer(handler) as server, HttpSession(read_timeout=1, connect_timeout=1) as session:
        url = f"https://127.0.0.1:{server.port}/v2/"
        with pytest.raises(TLSError) as info:
            await session.request("GET", url)
    assert not isinstance(info.value, CertificateError)
    text = str(info.value)
    assert "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "http request" in text
    assert str(connection_error("GET", url, info.value)) == (
        f'Get "{url}": http: server gave HTTP response to HTTPS client'
    )


# --------------------------------------------------------------------------- pool


async def test_connection_limit() -> None:
    in_flight = [0, 0]  # now, most

    async def handler(conn: Conn) -> None:
        while (request := await conn.read_request()) is not None:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
            await asyncio.sleep(0.05)
            in_flight[0] -= 1
            await conn.send(response(body=request.target.encode()))

    async with RawServer(handler) as server, HttpSession(read_timeout=1, limit=2) as session:

        async def fetch(i: int) -> bytes:
            async with session.get(server.url(f"/{i}")) as resp:
                return await resp.read()

        results = await asyncio.gather(*(fetch(i) for i in range(5)))
        assert results == [f"/{i}".encode() for i in range(5)]
        assert server.max_open == 2 and server.connections == 2
        assert in_flight[1] == 2


async def test_close_closes_idle_connections() -> None:
    closed = asyncio.Event()

    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(response(body=b"ok"))
        if await conn.wait_closed_by_client():
            closed.set()

    async with RawServer(handler) as server:
        session = HttpSession(read_timeout=1)
        async with session.get(server.url()) as resp:
            await resp.read()
        await asyncio.sleep(0.05)
        assert not closed.is_set()  # idle, kept alive
        await session.close()
        await asyncio.wait_for(closed.wait(), 1)
        with pytest.raises(HttpClientError, match="session is closed"):
            await session.request("GET", server.url())


# --------------------------------------------------------------------------- RegistryClient texts


async def test_registry_client_reports_eof_and_timeout() -> None:
    async def closes(conn: Conn) -> None:
        await conn.read_request()

    async def stalls(conn: Conn) -> None:
        await conn.read_request()
        await conn.wait_closed_by_client()

    async with RawServer(closes) as eof, RawServer(stalls) as slow, HttpSession(read_timeout=0.3) as session:
        for server, reason in ((eof, "EOF"), (slow, "i/o timeout")):
            client = RegistryClient(f"127.0.0.1:{server.port}", config=ClientConfig(), session=session)
            with pytest.raises(RegistryUnreachable) as info:
                await client.ping()
            assert str(info.value) == f'Get "http://127.0.0.1:{server.port}/v2/": {reason}'


def test_connect_error_without_errno_takes_the_first_address_error() -> None:
    """Python 3.11 reports all addresses refusing as one `OSError` without an errno."""
    from cargobay.distclient.httpclient import _with_errno

    several = OSError(
        "Multiple exceptions: [Errno 111] Connect call failed ('::1', 5000, 0, 0), "
        "[Errno 111] Connect call failed ('127.0.0.1', 5000)"
    )
    found = _with_errno(several)
    assert found.errno == errno.ECONNREFUSED
    message = str(
        connection_error("GET", "http://localhost:5000/v2/", ConnectError("localhost", 5000, found))
    )
    assert message == 'Get "http://localhost:5000/v2/": dial tcp localhost:5000: connect: connection refused'
    plain = OSError(errno.EHOSTUNREACH, "No route to host")
    assert _with_errno(plain) is plain
    odd = OSError("something else")
    assert _with_errno(odd) is odd
