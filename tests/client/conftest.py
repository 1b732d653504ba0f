"""Fixtures for the client (pull/push/copy) tests: an isolated environment for the `cargobay`
command, images seeded into the distribution registry, and `RegistryProxy`, a small aiohttp
server on loopback that sits in front of the real registry to add token or Basic auth, or to
misbehave on blob downloads (cut the connection, stall, corrupt bytes)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from support.images import OciImage

# --------------------------------------------------------------------------- environment


@dataclass
class CbEnv:
    """Environment for one test: a private local store, no credentials, fast retries."""

    home: Path
    env: dict[str, str]

    @property
    def store_root(self) -> Path:
        return Path(self.env["CARGOBAY_HOME"])

    def run(self, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "cargobay", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"cargobay {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "cargobay", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def write_docker_config(self, doc: dict[str, Any]) -> None:
        (Path(self.env["DOCKER_CONFIG"]) / "config.json").write_text(json.dumps(doc))

    def index(self) -> dict[str, Any]:
        path = self.store_root / "index.json"
        return json.loads(path.read_text()) if path.exists() else {"manifests": []}

    def refs(self) -> set[str]:
        out = set()
        for entry in self.index().get("manifests", []):
            name = (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name")
            if name:
                out.add(name)
        return out


CLIENT_ENV_KEYS = (
    "CARGOBAY_HOME",
    "DOCKER_CONFIG",
    "REGISTRY_AUTH_FILE",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "CARGOBAY_RETRY_DELAY",
    "CARGOBAY_REGISTRY_MIRRORS",
    "CARGOBAY_INSECURE_REGISTRIES",
    "DOCKER_DEFAULT_PLATFORM",
    "DOCKER_AUTH_CONFIG",
)


@pytest.fixture
def cb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CbEnv:
    """An isolated client: `cb.run("pull", ...)`; the same settings apply in-process (monkeypatch)."""
    home = tmp_path / "client"
    (home / "docker").mkdir(parents=True)
    (home / "run").mkdir(mode=0o700)
    (home / "config").mkdir()
    auth = home / "auth.json"
    auth.write_text("{}")
    settings = {
        "CARGOBAY_HOME": str(home / "store"),
        "DOCKER_CONFIG": str(home / "docker"),
        "REGISTRY_AUTH_FILE": str(auth),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "CARGOBAY_RETRY_DELAY": "0.05",
    }
    env = {k: v for k, v in os.environ.items() if k not in CLIENT_ENV_KEYS}
    env.update(settings)
    for key in CLIENT_ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    return CbEnv(home, env)


# --------------------------------------------------------------------------- seeded images


@dataclass
class Seeded:
    image: OciImage
    registry: str  # host:port
    repository: str
    tag: str

    @property
    def ref(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


@pytest.fixture
def seed(
    skopeo: Any,
    make_oci_image: Callable[..., OciImage],
    tmp_path: Path,
    repo_name: str,
    distribution_url: str,
) -> Callable[..., Seeded]:
    """`seed(layers=3, platforms=None, media="oci", tag="v1", repository=None)`: an image in distribution."""

    def make(
        *, tag: str = "v1", repository: str | None = None, registry: str | None = None, **options: Any
    ) -> Seeded:
        image = make_oci_image(tmp_path / "images", tag=tag, **options)
        repo = repository or repo_name
        target = registry or distribution_url
        skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{target}/{repo}:{tag}")
        return Seeded(image, target, repo, tag)

    return make


# --------------------------------------------------------------------------- the proxy


@dataclass
class ProxyOptions:
    auth: str | None = None  # "bearer" or "basic"
    users: dict[str, str] = field(default_factory=lambda: {"alice": "s3cret"})
    anonymous_pull: bool = True
    cut_blob_after: int | None = None  # first GET of each blob: close the connection after N bytes
    stall_blob_after: int | None = None  # every GET of a blob: send N bytes then hang
    corrupt_blobs: bool = False  # flip a byte in every blob body


class RegistryProxy:
    """A loopback HTTP server forwarding `/v2/` to a real registry, with optional auth and faults."""

    def __init__(self, upstream: str, options: ProxyOptions | None = None) -> None:
        self.upstream = upstream
        self.options = options or ProxyOptions()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.tokens: dict[str, tuple[str, set[str]]] = {}  # token -> (user, granted scopes)
        self.cut_done: set[str] = set()
        self.stopping = False
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle
    def start(self) -> RegistryProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application(client_max_size=1 << 30)
        app.router.add_route("GET", "/token", self._token)
        app.router.add_route("POST", "/token", self._oauth_token)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(auto_decompress=False)

    def stop(self) -> None:
        self.stopping = True

        async def _stop() -> None:
            if self._session is not None:
                await self._session.close()
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # -- auth
    def _challenge(self, scope: str | None, error: str | None = None) -> web.Response:
        if self.options.auth == "basic":
            header = 'Basic realm="basic-realm"'
        else:
            header = f'Bearer realm="http://{self.url}/token",service="cargobay-test"'
            if scope:
                header += f',scope="{scope}"'
            if error:
                header += f',error="{error}"'
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]}
        return web.json_response(body, status=401, headers={"WWW-Authenticate": header})

    def _basic_user(self, header: str) -> str | None:
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None
        return user if self.options.users.get(user) == password else None

    async def _token(self, request: web.Request) -> web.Response:
        scopes = request.query.getall("scope", [])
        header = request.headers.get("Authorization", "")
        self.token_requests.append(
            {"scopes": scopes, "service": request.query.get("service"), "account": request.query.get("account"),
             "authorization": header.split(" ", 1)[0] if header else None}
        )  # fmt: skip
        user = ""
        if header:
            found = self._basic_user(header)
            if found is None:
                body = {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]}
                return web.json_response(body, status=401)
            user = found
        granted: set[str] = set()
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            for action in actions.split(","):
                if user or (action == "pull" and self.options.anonymous_pull):
                    granted.add(f"{kind}:{name}:{action}")
        token = secrets.token_hex(16)
        self.tokens[token] = (user, granted)
        return web.json_response({"token": token, "expires_in": 300})

    async def _oauth_token(self, request: web.Request) -> web.Response:
        """OAuth2 (spec/auth/oauth.md): a refresh-token grant; `refresh-<user>` is valid."""
        form = await request.post()
        scopes = str(form.get("scope", "")).split()
        self.token_requests.append(
            {"scopes": scopes, "service": form.get("service"), "grant_type": form.get("grant_type"),
             "client_id": form.get("client_id"), "method": "POST"}
        )  # fmt: skip
        refresh = str(form.get("refresh_token", ""))
        user = refresh.removeprefix("refresh-")
        if form.get("grant_type") != "refresh_token" or user not in self.options.users:
            return web.json_response({"error": "invalid_grant"}, status=401)
        granted = set()
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            granted |= {f"{kind}:{name}:{a}" for a in actions.split(",") if a}
        token = secrets.token_hex(16)
        self.tokens[token] = (user, granted)
        return web.json_response({"access_token": token, "expires_in": 300, "scope": " ".join(scopes)})

    def _authorized(self, request: web.Request, needed: str | None) -> web.Response | None:
        if self.options.auth is None:
            return None
        header = request.headers.get("Authorization", "")
        if self.options.auth == "basic":
            return None if self._basic_user(header) else self._challenge(None)
        if not header.lower().startswith("bearer "):
            return self._challenge(needed)
        grant = self.tokens.get(header[7:])
        if grant is None:
            return self._challenge(needed, "invalid_token")
        if needed and needed not in grant[1]:
            return self._challenge(needed, "insufficient_scope")
        return None

    @staticmethod
    def _needed(request: web.Request) -> str | None:
        parts = request.path.split("/")
        for marker in ("manifests", "blobs", "tags"):
            if marker in parts:
                name = "/".join(parts[2 : parts.index(marker)])
                action = "pull" if request.method in ("GET", "HEAD") else "push"
                return f"repository:{name}:{action}"
        return None

    # -- forwarding
    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        denied = self._authorized(request, self._needed(request))
        if denied is not None:
            return denied
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "content-length")
        }
        body = await request.read()
        assert self._session is not None
        async with self._session.request(
            request.method, f"http://{self.upstream}{request.path_qs}", headers=headers, data=body,
            allow_redirects=False,
        ) as upstream:  # fmt: skip
            data = await upstream.read()
            out_headers = {
                k: v for k, v in upstream.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding", "date", "server")
            }  # fmt: skip
            is_blob_get = (
                request.method == "GET" and "/blobs/sha256:" in request.path and upstream.status in (200, 206)
            )
            if not is_blob_get:
                return web.Response(status=upstream.status, body=data, headers=out_headers)
        return await self._send_blob(request, upstream.status, data, out_headers)

    async def _send_blob(
        self, request: web.Request, status: int, data: bytes, headers: dict[str, str]
    ) -> web.StreamResponse:
        if self.options.corrupt_blobs and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(data)
        await response.prepare(request)
        digest = request.path.rsplit("/", 1)[1]
        cut = self.options.cut_blob_after
        stall = self.options.stall_blob_after
        if cut is not None and digest not in self.cut_done and len(data) > cut:
            self.cut_done.add(digest)
            await response.write(data[:cut])
            await asyncio.sleep(0.05)
            assert request.transport is not None
            request.transport.close()
            return response
        if stall is not None and len(data) > stall:
            await response.write(data[:stall])
            while self.options.stall_blob_after is not None and not self.stopping:
                await asyncio.sleep(0.05)
            return response
        await response.write(data)
        await response.write_eof()
        return response

    def blob_gets(self) -> list[tuple[str, str | None]]:
        """(path, Range header) of every blob GET the proxy saw."""
        return [(p, h.get("Range")) for m, p, h in self.requests if m == "GET" and "/blobs/sha256:" in p]


@pytest.fixture
def make_proxy(distribution_url: str) -> Iterator[Callable[..., RegistryProxy]]:
    """`make_proxy(auth="bearer", cut_blob_after=1000, ...)`: a started RegistryProxy."""
    started: list[RegistryProxy] = []

    def make(**options: Any) -> RegistryProxy:
        proxy = RegistryProxy(distribution_url, ProxyOptions(**options)).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
