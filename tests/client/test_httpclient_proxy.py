"""Proxies in the client's HTTP layer (`cargobay.distclient.httpclient` + `proxies`).

A small forwarding proxy written here (`ForwardProxy`, asyncio on loopback) takes absolute-form
requests and CONNECT tunnels, records what it saw, and can demand `Proxy-Authorization` (407).
Loopback targets are never proxied, so the targets are addressed as `registry.test`, a name only
the proxy resolves (to 127.0.0.1): the client could not reach them without it.

Covered: http through the proxy (absolute form, Host, connection reuse across targets), https
through CONNECT with the target's certificate verified, proxy credentials sent to the proxy and
never to the target, 407 and unreachable proxies as `ProxyError` with readable texts, NO_PROXY
rules, environment parsing, unsupported proxy schemes, that importing the HTTP client does not
import `urllib.request` (or `proxies`), and `cargobay pull` through the proxy end to end.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from cargobay.distclient.errors import connection_error
from cargobay.distclient.httpclient import CertificateError, HttpSession, ProxyError
from cargobay.distclient.proxies import NoProxy, Proxy, ProxySettings, parse_proxy_url
from support.certs import write_test_certs

pytestmark = pytest.mark.timeout(60)

NAME = "registry.test"  # resolved by the proxy only


# --------------------------------------------------------------------------- the proxy


@dataclass
class Seen:
    """One request as the proxy or the target received it."""

    method: str
    target: str
    headers: dict[str, str]  # names lower-cased


async def read_head(reader: asyncio.StreamReader) -> Seen | None:
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return Seen(method, target, headers)


class ForwardProxy:
    """An HTTP proxy on 127.0.0.1: absolute-form requests (one upstream connection each) and
    CONNECT tunnels; `hosts` maps the names it resolves to addresses; `credentials` ("user:pass")
    makes it answer 407 without them."""

    def __init__(self, hosts: dict[str, str], credentials: str | None = None) -> None:
        self.hosts = hosts
        self.credentials = credentials
        self.seen: list[Seen] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> ForwardProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()

    async def __aenter__(self) -> ForwardProxy:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _authorized(self, seen: Seen) -> bool:
        if self.credentials is None:
            return True
        expected = "Basic " + base64.b64encode(self.credentials.encode()).decode()
        return seen.headers.get("proxy-authorization") == expected

    def _resolve(self, host: str) -> str | None:
        return self.hosts.get(host.strip("[]").lower())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while (seen := await read_head(reader)) is not None:
                self.seen.append(seen)
                if not self._authorized(seen):
                    writer.write(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                        b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 6\r\n\r\ndenied'
                    )
                    await writer.drain()
                    continue
                if seen.method == "CONNECT":
                    await self._tunnel(seen, reader, writer)
                    return
                await self._forward(seen, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _forward(self, seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert seen.target.startswith("http://"), f"not the absolute form: {seen.target}"
        authority, _, path = seen.target[len("http://") :].partition("/")
        host, _, port = authority.rpartition(":")
        address = self._resolve(host)
        body = await reader.readexactly(int(seen.headers.get("content-length", "0")))
        if address is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection(address, int(port))
        drop = {"proxy-authorization", "proxy-connection", "connection"}
        lines = [f"{seen.method} /{path} HTTP/1.1", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in seen.headers.items() if name not in drop]
        up_writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        answer = await up_reader.read(-1)  # the whole response: the upstream closes after it
        up_writer.close()
        head, _, rest = answer.partition(b"\r\n\r\n")
        head_lines = [
            line
            for line in head.split(b"\r\n")
            if not line.lower().startswith((b"connection:", b"keep-alive:"))
        ]
        framed = any(
            line.lower().startswith((b"content-length:", b"transfer-encoding:")) for line in head_lines
        )
        if not framed:
            head_lines.append(b"Content-Length: %d" % len(rest))
        writer.write(b"\r\n".join(head_lines) + b"\r\n\r\n" + rest)
        await writer.drain()

    async def _tunnel(self, seen: Seen, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port = seen.target.rpartition(":")
        address = self._resolve(host)
        if address is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        up_reader, up_writer = await asyncio.open_connection(address, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@contextmanager
def threaded_proxy(hosts: dict[str, str], credentials: str | None = None) -> Iterator[ForwardProxy]:
    """A `ForwardProxy` on its own event loop and thread, for commands run as subprocesses."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    proxy = ForwardProxy(hosts, credentials)
    try:
        asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


# --------------------------------------------------------------------------- the target


class Target:
    """A keep-alive server answering every request with 200 and the request target as the body."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.seen: list[Seen] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://{NAME}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while (seen := await read_head(reader)) is not None:
                self.seen.append(seen)
                body = seen.target.encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                if seen.headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def __aenter__(self) -> Target:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()


def write_name_certs(directory: Path, name: str = NAME) -> tuple[Path, ssl.SSLContext]:
    """A CA file and a server context whose certificate (signed by that CA) names `name`."""
    ca_path, cert_path, key_path = write_test_certs(directory, name)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    return ca_path, server


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


# --------------------------------------------------------------------------- http through the proxy


async def test_http_goes_through_the_proxy_in_absolute_form_and_reuses_the_connection() -> None:
    async with Target() as target, Target() as other, ForwardProxy({NAME: "127.0.0.1"}) as proxy:
        proxies = {"http": proxy.url}
        async with HttpSession(read_timeout=5, proxies=proxies, user_agent="ua/1") as session:
            for path in ("/v2/", "/v2/x?a=b"):
                async with session.get(target.url(path)) as resp:
                    assert resp.status == 200 and await resp.read() == path.encode()
            async with session.get(f"http://{NAME}:{other.port}/other") as resp:  # another target
                assert await resp.read() == b"/other"
        assert [s.target for s in proxy.seen] == [
            f"http://{NAME}:{target.port}/v2/",
            f"http://{NAME}:{target.port}/v2/x?a=b",
            f"http://{NAME}:{other.port}/other",
        ]
        assert {s.headers["host"] for s in proxy.seen} == {f"{NAME}:{target.port}", f"{NAME}:{other.port}"}
        assert all(s.headers["user-agent"] == "ua/1" for s in proxy.seen)
        assert "proxy-authorization" not in proxy.seen[0].headers
        assert proxy.connections == 1  # one pool per proxy, whatever the target
        assert target.seen[0].target == "/v2/" and target.seen[0].headers["host"] == f"{NAME}:{target.port}"


async def test_http_proxy_credentials_go_to_the_proxy_and_never_to_the_target() -> None:
    async with Target() as target, ForwardProxy({NAME: "127.0.0.1"}, credentials="bob:p@ss:w") as proxy:
        url = f"http://bob:p%40ss%3Aw@127.0.0.1:{proxy.port}"
        async with HttpSession(read_timeout=5, proxies={"http": url}) as session:
            for _ in range(2):
                async with session.get(target.url("/v2/"), headers={"Authorization": "Bearer t"}) as resp:
                    assert await resp.read() == b"/v2/"
        assert [s.headers.get("proxy-authorization") for s in proxy.seen] == [basic("bob:p@ss:w")] * 2
        assert len(target.seen) == 2
        for seen in target.seen:
            assert "proxy-authorization" not in seen.headers
            assert seen.headers["authorization"] == "Bearer t"


async def test_http_407_is_a_proxy_error() -> None:
    async with Target() as target, ForwardProxy({NAME: "127.0.0.1"}, credentials="bob:right") as proxy:
        for proxy_url, hint in (
            (proxy.url, " (the proxy URL has no credentials)"),
            (f"http://bob:wrong@127.0.0.1:{proxy.port}", ""),
        ):
            async with HttpSession(read_timeout=5, proxies={"http": proxy_url}) as session:
                with pytest.raises(ProxyError) as info:
                    await session.request("GET", target.url("/v2/"))
            assert str(info.value) == (
                f"proxy 127.0.0.1:{proxy.port} refused the request: 407 Proxy Authentication Required{hint}"
            )
        assert target.seen == []
    assert str(connection_error("GET", target.url("/v2/"), info.value)) == (
        f'Get "{target.url("/v2/")}": proxy 127.0.0.1:{proxy.port} refused the request: '
        "407 Proxy Authentication Required"
    )


# --------------------------------------------------------------------------- https through CONNECT


async def test_https_goes_through_a_connect_tunnel_with_the_target_verified(tmp_path: Path) -> None:
    ca, server_context = write_name_certs(tmp_path)
    client_context = ssl.create_default_context(cafile=str(ca))
    async with (
        Target(tls=server_context) as target,
        ForwardProxy({NAME: "127.0.0.1"}, credentials="bob:s3cret") as proxy,
    ):
        proxies = {"https": f"bob:s3cret@127.0.0.1:{proxy.port}"}  # no scheme: http://
        async with HttpSession(read_timeout=5, proxies=proxies, user_agent="ua/1") as session:
            for path in ("/v2/", "/v2/again"):
                async with session.get(target.url(path), ssl=client_context) as resp:
                    assert await resp.read() == path.encode()
        assert [(s.method, s.target) for s in proxy.seen] == [("CONNECT", f"{NAME}:{target.port}")]
        connect = proxy.seen[0]
        assert connect.headers["host"] == f"{NAME}:{target.port}"
        assert connect.headers["proxy-authorization"] == basic("bob:s3cret")
        assert connect.headers["user-agent"] == "ua/1"
        assert target.connections == 1  # the tunnelled connection was kept alive and reused
        assert [s.target for s in target.seen] == ["/v2/", "/v2/again"]
        assert all("proxy-authorization" not in s.headers for s in target.seen)
        assert target.seen[0].headers["host"] == f"{NAME}:{target.port}"


async def test_https_through_the_tunnel_still_verifies_the_certificate(tmp_path: Path) -> None:
    _, server_context = write_name_certs(tmp_path)
    async with (
        Target(tls=server_context) as target,
        ForwardProxy({NAME: "127.0.0.1"}) as proxy,
        HttpSession(read_timeout=5, proxies={"https": proxy.url}) as session,
    ):
        with pytest.raises(CertificateError):  # the system CAs do not know the test CA
            await session.request("GET", target.url("/v2/"))
        async with session.get(target.url("/v2/"), ssl=False) as resp:  # insecure: not verified
            assert await resp.read() == b"/v2/"


async def test_connect_refused_with_407_is_a_proxy_error(tmp_path: Path) -> None:
    _, server_context = write_name_certs(tmp_path)
    async with Target(tls=server_context) as target, ForwardProxy({NAME: "127.0.0.1"}, "a:b") as proxy:
        async with HttpSession(read_timeout=5, proxies={"https": proxy.url}) as session:
            with pytest.raises(ProxyError) as info:
                await session.request("GET", target.url("/v2/"), ssl=False)
        assert target.connections == 0
    assert str(connection_error("GET", target.url("/v2/"), info.value)) == (
        f'Get "{target.url("/v2/")}": proxy 127.0.0.1:{proxy.port} refused CONNECT {NAME}:{target.port}: '
        "407 Proxy Authentication Required (the proxy URL has no credentials)"
    )


async def test_connect_to_an_unknown_host_reports_the_proxy_answer() -> None:
    async with (
        ForwardProxy({}) as proxy,
        HttpSession(read_timeout=5, proxies={"https": proxy.url}) as session,
    ):
        with pytest.raises(ProxyError, match=r"refused CONNECT nowhere\.test:443: 502 Bad Gateway"):
            await session.request("GET", "https://nowhere.test/v2/")


async def test_unreachable_proxy_reads_like_go() -> None:
    async with ForwardProxy({}) as closed:
        port = closed.port  # nothing listens there once closed
    for scheme in ("http", "https"):
        url = f"{scheme}://{NAME}/v2/"
        async with HttpSession(connect_timeout=5, proxies={scheme: f"http://127.0.0.1:{port}"}) as session:
            with pytest.raises(ProxyError) as info:
                await session.request("GET", url)
        assert str(connection_error("GET", url, info.value)) == (
            f'Get "{url}": proxyconnect tcp: dial tcp 127.0.0.1:{port}: connect: connection refused'
        )


async def test_unresolvable_proxy_reads_like_go() -> None:
    url = f"http://{NAME}/v2/"
    async with HttpSession(
        connect_timeout=5, proxies={"http": "http://no-such-proxy.invalid:3128"}
    ) as session:
        with pytest.raises(ProxyError) as info:
            await session.request("GET", url)
    assert str(connection_error("GET", url, info.value)) == (
        f'Get "{url}": proxyconnect tcp: dial tcp: lookup no-such-proxy.invalid: no such host'
    )


@pytest.mark.parametrize("proxy_url", ["https://proxy.example:3128", "socks5://proxy.example:1080"])
async def test_unsupported_proxy_schemes_are_a_clear_error(proxy_url: str) -> None:
    async with HttpSession(proxies={"https": proxy_url}) as session:
        with pytest.raises(ProxyError, match=r"only http:// proxies are supported") as info:
            await session.request("GET", "https://registry.example/v2/")
    assert "HTTPS_PROXY" in str(info.value)


async def test_loopback_and_no_proxy_targets_go_direct() -> None:
    async with Target() as target, ForwardProxy({NAME: "127.0.0.1"}) as proxy:
        proxies = {"http": proxy.url, "no_proxy": "other.test"}
        async with HttpSession(read_timeout=5, proxies=proxies) as session:
            for host in ("127.0.0.1", "localhost"):
                async with session.get(f"http://{host}:{target.port}/direct") as resp:
                    assert await resp.read() == b"/direct"
            with pytest.raises(Exception, match=r"other\.test"):  # not proxied: it does not resolve
                await session.request("GET", f"http://other.test:{target.port}/")
        assert proxy.seen == []


async def test_proxies_come_from_the_environment_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    async with Target() as target, ForwardProxy({NAME: "127.0.0.1"}) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("http_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with HttpSession(read_timeout=5) as session, session.get(target.url("/env")) as resp:
            assert await resp.read() == b"/env"
        assert [s.target for s in proxy.seen] == [target.url("/env")]
        async with HttpSession(read_timeout=5, connect_timeout=5, proxy_from_env=False) as session:
            with pytest.raises(Exception, match=re.escape(NAME)):  # direct: the name does not resolve
                await session.request("GET", target.url("/direct"))
        assert len(proxy.seen) == 1


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "direct"),
    [
        ("", "example.com", 443, False),
        ("*", "example.com", 443, True),
        ("example.com", "example.com", 443, True),
        ("example.com", "sub.example.com", 443, True),
        ("example.com", "badexample.com", 443, False),
        (".example.com", "sub.example.com", 443, True),
        (".example.com", "example.com", 443, False),
        ("*.example.com", "a.b.example.com", 443, True),
        ("*.example.com", "example.com", 443, False),
        (" Example.COM , other.org", "EXAMPLE.com", 80, True),
        ("other.org,example.com:5000", "example.com", 5000, True),
        ("example.com:5000", "example.com", 443, False),
        ("example.com:5000", "sub.example.com", 5000, True),
        ("10.0.0.0/8", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "11.1.2.3", 443, False),
        ("10.0.0.0/8", "ten.example", 443, False),  # names are not resolved
        ("192.168.1.5", "192.168.1.5", 443, True),
        ("192.168.1.5:8443", "192.168.1.5", 443, False),
        ("192.168.1.5:8443", "192.168.1.5", 8443, True),
        ("fd00::/8", "fd00::1", 443, True),
        ("[fd00::1]:5000", "fd00::1", 5000, True),
        ("fd00::1", "[fd00::1]", 443, True),
        ("example.com:bad, 300.1.1.1/8", "example.com", 443, False),  # unparsable entries skipped
    ],
)
def test_no_proxy_matching(no_proxy: str, host: str, port: int, direct: bool) -> None:
    assert NoProxy(no_proxy).matches(host, port) is direct


def test_settings_from_the_environment_follow_go() -> None:
    env = {
        "HTTPS_PROXY": "http://secure-proxy:3128",
        "https_proxy": "http://ignored:1",
        "http_proxy": "plain-proxy:8080",
        "no_proxy": "internal.example,.corp",
    }
    settings = ProxySettings.from_environment(env)
    assert settings.for_url("https", "registry.example", 443) == Proxy("secure-proxy", 3128)
    assert settings.for_url("http", "registry.example", 80) == Proxy("plain-proxy", 8080)
    assert settings.for_url("https", "internal.example", 443) is None
    assert settings.for_url("https", "x.corp", 443) is None
    for loopback in ("localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "LOCALHOST."):
        assert settings.for_url("https", loopback, 443) is None
    # HTTPS_PROXY does not fall back to HTTP_PROXY (nor the other way round)
    only_http = ProxySettings.from_environment({"HTTP_PROXY": "http://p:1"})
    assert only_http.for_url("https", "registry.example", 443) is None
    assert only_http.for_url("http", "registry.example", 80) == Proxy("p", 1)
    # the proxy URL's default port is 80, as in Go
    assert ProxySettings.from_environment({"HTTP_PROXY": "http://p"}).for_url(
        "http", "r.example", 80
    ) == Proxy("p", 80)
    # a CGI environment: HTTP_PROXY may come from a request header, so it is not trusted
    cgi = ProxySettings.from_environment({"HTTP_PROXY": "http://evil:1", "REQUEST_METHOD": "GET"})
    assert cgi.for_url("http", "r.example", 80) is None and cgi.empty
    assert ProxySettings.from_environment({"NO_PROXY": "*"}).empty
    assert (
        ProxySettings.from_environment({"HTTPS_PROXY": "p:1", "NO_PROXY": "*"}).for_url("https", "a.b", 1)
        is None
    )


def test_proxy_urls() -> None:
    assert parse_proxy_url("http://u:p%3Aw@proxy.example:3128/") == Proxy(
        "proxy.example", 3128, basic("u:p:w")
    )
    assert parse_proxy_url("proxy.example:3128") == Proxy("proxy.example", 3128)
    assert parse_proxy_url("HTTP://[fd00::1]:3128").address == "[fd00::1]:3128"
    assert parse_proxy_url("http://user@p:1").authorization == basic("user:")
    for bad in ("https://p:1", "socks5://p:1", "http://p:notaport", "http://:3128"):
        with pytest.raises(ValueError):
            parse_proxy_url(bad, name="HTTPS_PROXY")


def test_importing_the_http_client_reads_no_proxy_machinery() -> None:
    code = (
        "import sys, cargobay.distclient.client, cargobay.distclient.httpclient\n"
        "print(sorted(m for m in ('urllib.request', 'cargobay.distclient.proxies') if m in sys.modules))"
    )
    env = {**os.environ, "HTTPS_PROXY": "http://proxy.example:3128"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --------------------------------------------------------------------------- cargobay pull


def test_cargobay_pull_through_the_proxy(cb: Any, seed: Callable[..., Any], distribution_url: str) -> None:
    """The real command: `registry.test:PORT` resolves only in the proxy, which forwards to the
    distribution registry; the registry is insecure, so the https attempt (a CONNECT, then TLS
    to a plain-HTTP server) fails and the pull goes over plain HTTP through the proxy."""
    seeded = seed(layers=2, tag="v1")
    port = distribution_url.rsplit(":", 1)[1]
    name = f"{NAME}:{port}/{seeded.repository}:v1"
    with threaded_proxy({NAME: "127.0.0.1"}, credentials="puller:pw") as proxy:
        proxy_url = f"http://puller:pw@127.0.0.1:{proxy.port}"
        cb.env.update(
            HTTP_PROXY=proxy_url,
            HTTPS_PROXY=proxy_url,
            NO_PROXY="",
            CARGOBAY_INSECURE_REGISTRIES=f"{NAME}:{port}",
        )
        for key in ("http_proxy", "https_proxy", "no_proxy"):
            cb.env.pop(key, None)
        result = cb.run("pull", name, check=True)
        seen = list(proxy.seen)
    assert result.stdout.splitlines()[-1] == name
    assert name in cb.refs()
    assert seen[0].method == "CONNECT" and seen[0].target == f"{NAME}:{port}"
    gets = [s.target for s in seen if s.method == "GET"]
    assert f"http://{NAME}:{port}/v2/" in gets
    assert any(f"/v2/{seeded.repository}/blobs/sha256:" in target for target in gets)
    assert all(s.headers.get("proxy-authorization") == basic("puller:pw") for s in seen)

    cb.env["HTTP_PROXY"] = f"http://127.0.0.1:{proxy.port}"  # the proxy has gone
    cb.env["HTTPS_PROXY"] = ""
    failed = cb.run("pull", name.replace(":v1", ":v2"))
    assert failed.returncode != 0
    assert f"proxyconnect tcp: dial tcp 127.0.0.1:{proxy.port}: connect: connection refused" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
