"""What makes `cargobay pull`/`push` fast, checked for correctness: no aiohttp import, TLS contexts
built only when used (and still verifying), no HEAD before the GET of a tag pulled for the first time, no client
hash of blobs the local store verified when a registry checks them again, uploads sent as written."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from cargobay.image.copy import copy_image
from cargobay.image.types import BlobVerificationError, Manifest
from cargobay.oci.digest import Digest, digest_bytes
from cargobay.oci.manifest import Descriptor
from support.certs import write_test_certs

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- start-up and TLS


_TLS_PROBE = textwrap.dedent(
    """
    import asyncio, http.server, json, ssl, sys, threading

    from cargobay.distclient.httpclient import CertificateError, HttpSession

    cert, key = sys.argv[1], sys.argv[2]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers()
            self.wfile.write(b"ok")
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    out = {}

    async def get(session, **kwargs):
        try:
            async with session.get(url, **kwargs) as resp:
                return f"{resp.status} {(await resp.read()).decode()}"
        except CertificateError:
            return "certificate error"

    async def main():
        async with HttpSession() as session:
            out["context_before"] = session._default_tls is not None
            out["default"] = await get(session)  # the system CAs (SSL_CERT_FILE), loaded now
            out["unverified"] = await get(session, ssl=False)

    asyncio.run(main())
    server.shutdown()
    print(json.dumps(out))
    """
)


def _probe(tmp_path: Path, ca_file: Path) -> dict[str, Any]:
    import json
    import os

    _, cert, key = write_test_certs(tmp_path)
    env = {**os.environ, "SSL_CERT_FILE": str(ca_file)}
    env.pop("SSL_CERT_DIR", None)
    proc = subprocess.run(
        [sys.executable, "-c", _TLS_PROBE, str(cert), str(key)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_default_tls_context_is_built_on_first_use_and_verifies(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    write_test_certs(tmp_path)  # the CA the probe's server certificate is signed by (written again there)
    result = _probe(tmp_path, ca)
    assert result["context_before"] is False  # nothing built before an https request
    assert result["default"] == "200 ok"  # verified against SSL_CERT_FILE
    assert result["unverified"] == "200 ok"


def test_default_tls_context_refuses_an_unknown_ca(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    unrelated_ca, _, _ = write_test_certs(other)  # a CA that did not sign the server's certificate
    result = _probe(tmp_path, unrelated_ca)
    assert result["default"] == "certificate error"
    assert result["unverified"] == "200 ok"


def test_client_commands_do_not_import_aiohttp() -> None:
    """aiohttp's import alone cost ~75 ms, half of a pull's start-up; the client does without it."""
    code = textwrap.dedent(
        """
        import sys
        import cargobay.api, cargobay.cli.pull, cargobay.cli.push, cargobay.cli.login
        import cargobay.distclient.client, cargobay.distclient.search, cargobay.transports.docker
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("aiohttp", "yarl", "multidict")))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_plain_http_registry_builds_no_tls_context() -> None:
    code = textwrap.dedent(
        """
        import asyncio, ssl
        calls = []
        real = ssl.SSLContext.__new__
        def counting(cls, *args, **kwargs):
            calls.append(cls.__name__)
            return real(cls, *args, **kwargs)
        import cargobay.distclient.client as client
        ssl.SSLContext.__new__ = counting

        async def main():
            async with client.RegistryClient("127.0.0.1:9") as c:
                assert c._tls("http://127.0.0.1:9/v2/") is True
                c.session  # the connection pool
                try:
                    await c.ping()  # nothing listens on port 9: the connection is refused
                except client.RegistryUnreachable:
                    pass

        asyncio.run(main())
        print(len(calls))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"


# --------------------------------------------------------------------------- pull requests


def test_first_pull_of_a_tag_gets_the_manifest_without_a_head(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=1)
    proxy = make_proxy()
    ref = f"{proxy.url}/{seeded.repository}:{seeded.tag}"
    cb.run("pull", ref, check=True)
    manifest_requests = [(m, p) for m, p, _ in proxy.requests if "/manifests/" in p]
    assert manifest_requests == [("GET", f"/v2/{seeded.repository}/manifests/{seeded.tag}")]


# --------------------------------------------------------------------------- engine hashing


class _Source:
    description = "test source"
    max_concurrency = 2

    def __init__(self, blobs: dict[Digest, bytes], manifest: Manifest, verified: bool) -> None:
        self.blobs = blobs
        self.manifest = manifest
        self.blobs_verified = verified

    async def get_manifest(self, digest: Digest | None = None) -> Manifest:
        return self.manifest

    def open_blob(self, descriptor: Descriptor, offset: int = 0) -> Any:
        data = self.blobs[descriptor.digest]

        class Reader:
            def __init__(self) -> None:
                self.offset = 0

            async def chunks(self) -> AsyncIterator[bytes]:
                yield data

        @asynccontextmanager
        async def opened() -> AsyncIterator[Reader]:
            yield Reader()

        return opened()

    async def close(self) -> None:
        return None


class _Sink:
    offset = 0
    verifies = False

    def __init__(self, dest: _Destination) -> None:
        self.dest = dest
        self.checked_remotely = dest.checked_remotely

    async def write(self, data: bytes) -> None:
        self.dest.written.append(data)

    async def commit(self, descriptor: Descriptor) -> None:
        self.dest.committed.append(descriptor.digest)

    async def abort(self, keep_partial: bool) -> None:
        return None


class _Destination:
    description = "test destination"
    max_concurrency = 2
    registry_domain = None
    repository = None
    keeps_index = False

    def __init__(self, checked_remotely: bool) -> None:
        self.checked_remotely = checked_remotely
        self.written: list[bytes] = []
        self.committed: list[Digest] = []

    async def has_blob(self, descriptor: Descriptor) -> bool:
        return False

    async def mount_blob(self, descriptor: Descriptor, from_repository: str) -> bool:
        return False

    async def blob_sink(self, descriptor: Descriptor) -> _Sink:
        return _Sink(self)

    async def put_manifest(self, manifest: Manifest) -> None:
        return None

    async def commit(self, top: Manifest, selected: Manifest | None = None) -> None:
        return None

    async def close(self) -> None:
        return None


def _image_with_bad_layer() -> tuple[dict[Digest, bytes], Manifest]:
    import json

    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    layer = b"the layer's real bytes"
    config_digest, layer_digest = digest_bytes(config), digest_bytes(layer)
    doc = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": str(config_digest),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": str(layer_digest),
                "size": len(layer),
            }
        ],
    }
    bad = b"the layer's fake bytes"  # same size, other content
    return {config_digest: config, layer_digest: bad}, Manifest.from_bytes(json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("verified", "checked_remotely", "engine_hashes"),
    [(True, True, False), (True, False, True), (False, True, True), (False, False, True)],
)
def test_engine_hashes_unless_source_verified_and_receiver_checks(
    verified: bool, checked_remotely: bool, engine_hashes: bool
) -> None:
    blobs, manifest = _image_with_bad_layer()
    dst = _Destination(checked_remotely)
    run = copy_image(_Source(blobs, manifest, verified), dst, retry_delay=0)  # type: ignore[arg-type]
    if engine_hashes:
        with pytest.raises(BlobVerificationError):
            asyncio.run(run)
    else:
        asyncio.run(run)  # the receiver (a registry) is the one that checks `?digest=`
        assert len(dst.committed) == 2


def test_local_store_source_and_registry_sink_declare_it() -> None:
    from cargobay.transports.docker import RegistrySink
    from cargobay.transports.local import LocalStoreSource
    from cargobay.transports.oci_layout import OciLayoutSource

    assert LocalStoreSource.blobs_verified is True
    assert RegistrySink.checked_remotely is True
    assert not getattr(OciLayoutSource, "blobs_verified", False)  # files anyone may have edited


# --------------------------------------------------------------------------- upload buffering


@pytest.mark.parametrize("mode", ["stream", "chunked"])
def test_upload_sends_written_pieces_in_order(distribution_url: str, repo_name: str, mode: str) -> None:
    from cargobay.distclient.client import RegistryClient

    pieces = [bytes([i]) * (300_000 + i) for i in range(7)]  # about 2 MiB in uneven writes
    data = b"".join(pieces)
    digest = digest_bytes(data)

    async def main() -> bytes:
        async with RegistryClient(
            distribution_url, upload_chunk_size=1024 * 1024, upload_mode=mode
        ) as client:
            upload = await client.start_upload(repo_name)
            assert upload is not None
            for piece in pieces:
                await upload.write(memoryview(piece))
            assert upload.size == len(data)
            await upload.commit(digest)
            return await client.read_blob(repo_name, digest)

    assert asyncio.run(main()) == data


# --------------------------------------------------------------------------- first round trips


def _auth_requests(proxy: Any) -> tuple[int, list[dict[str, Any]]]:
    pings = [p for m, p, _ in proxy.requests if m == "GET" and p == "/v2/"]
    return len(pings), list(proxy.token_requests)


def test_pull_pings_once_and_asks_for_one_token_with_the_password(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=3)
    proxy = make_proxy(auth="bearer", anonymous_pull=False)
    cb.write_docker_config({"auths": {proxy.url: {"auth": "YWxpY2U6czNjcmV0"}}})  # alice:s3cret
    cb.run("pull", f"{proxy.url}/{seeded.repository}:{seeded.tag}", check=True)
    pings, tokens = _auth_requests(proxy)
    assert pings == 1
    assert tokens == [
        {
            "scopes": [f"repository:{seeded.repository}:pull"],
            "service": "cargobay-test",
            "account": "alice",
            "authorization": "Basic",
        }
    ]


def test_push_asks_for_one_push_token_with_the_identity_token(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=2)
    proxy = make_proxy(auth="bearer")
    source = f"{proxy.url}/{seeded.repository}:{seeded.tag}"
    cb.run("pull", source, check=True)
    cb.run("tag", source, f"{proxy.url}/{seeded.repository}-copy:v1", check=True)
    cb.write_docker_config({"auths": {proxy.url: {"identitytoken": "refresh-alice"}}})
    proxy.requests.clear()
    proxy.token_requests.clear()
    cb.run("push", f"{proxy.url}/{seeded.repository}-copy:v1", check=True)
    pings, tokens = _auth_requests(proxy)
    assert pings == 1
    push_scope = [f"repository:{seeded.repository}-copy:pull,push"]
    assert [(t["method"], t["grant_type"]) for t in tokens if t["scopes"] == push_scope] == [
        ("POST", "refresh_token")
    ]
    assert tokens[0]["scopes"] == push_scope  # the first, fetched while the client started
    # (the other token is for the cross-repository mounts from the repository it was pulled from)
    assert all(t["scopes"][0] == push_scope[0] for t in tokens)


def test_refused_password_is_reported_as_before(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=1)
    proxy = make_proxy(auth="bearer", anonymous_pull=False)
    cb.write_docker_config({"auths": {proxy.url: {"auth": "YWxpY2U6d3Jvbmc="}}})  # alice:wrong
    result = cb.run("pull", f"{proxy.url}/{seeded.repository}:{seeded.tag}")
    assert result.returncode == 1
    assert "incorrect username or password" in result.stderr
    assert not (cb.store_root / "blobs" / "sha256").exists() or not list(
        (cb.store_root / "blobs" / "sha256").iterdir()
    )


def test_prefetch_applies_to_plain_http_registries_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from cargobay.distclient import prefetch
    from cargobay.distclient.config import ClientConfig

    started: list[str] = []
    monkeypatch.setattr(prefetch._Job, "_run", lambda self: started.append(self.base))
    config = ClientConfig()
    prefetch.start("docker.io", "library/busybox", "pull", config)
    prefetch.start("registry.example.com", "a/b", "pull", config)
    prefetch.start("127.0.0.1:1", "a/b", "pull", config)
    prefetch.start("127.0.0.1:1", "a/b", "pull", config)  # once per (registry, repository, actions)
    assert prefetch.take("docker.io", "library/busybox", "pull") is None
    assert prefetch.take("127.0.0.1:1", "a/b", "pull") is None  # the stub fetched nothing
    assert prefetch.take("127.0.0.1:1", "a/b", "pull") is None  # taken already
    assert started == ["http://127.0.0.1:1"]


def test_client_adopts_a_prefetched_ping_and_token() -> None:
    from cargobay.distclient.auth import Challenge
    from cargobay.distclient.client import RegistryClient
    from cargobay.distclient.credentials import Credentials
    from cargobay.distclient.prefetch import Prefetched

    challenge = Challenge("bearer", {"realm": "http://127.0.0.1:1/token", "service": "svc"})
    found = Prefetched(
        "http://127.0.0.1:1", challenge, Credentials("u", "p"), ("repository:a/b:pull",), "tok", 300
    )
    client = RegistryClient("127.0.0.1:1")
    client.adopt(found)
    assert client.base_url == "http://127.0.0.1:1"
    assert client.credentials("a/b").username == "u"
    auth = asyncio.run(client._authorization(["repository:a/b:pull"], "a/b", False))
    assert auth == "Bearer tok"
    other = RegistryClient("127.0.0.1:2")  # another registry: nothing adopted
    other.adopt(found)
    assert other._base is None


# --------------------------------------------------------------------------- the store's writer


def test_store_sink_keeps_order_across_batches_and_lingering_writes(tmp_path: Path) -> None:
    import os
    import random

    from cargobay.storage.filesystem import FilesystemBlobStore
    from cargobay.transports import common

    rng = random.Random(7)
    pieces = [os.urandom(rng.choice([1, 5000, 70_000, 300_000, 1_200_000])) for _ in range(40)]
    data = b"".join(pieces)
    descriptor = Descriptor("application/octet-stream", digest_bytes(data), len(data))
    store = FilesystemBlobStore(tmp_path / "store")

    async def main() -> None:
        sink = await common.open_store_sink(store, descriptor)
        for i, piece in enumerate(pieces):
            await sink.write(piece)
            if i % 7 == 3:  # a pause: the lingering batch goes to disk on its own
                await asyncio.sleep(common._SINK_LINGER * 2)
                received = sum(len(p) for p in pieces[: i + 1])
                on_disk = store.session_size(sink.session) or 0
                assert received - 8192 <= on_disk <= received  # less the file object's buffer
        await sink.commit(descriptor)

    asyncio.run(main())
    assert store.read(descriptor.digest) == data


def test_local_store_syncs_blob_names_before_the_index_refers_to_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from cargobay.localstore.store import LocalStore

    store = LocalStore(tmp_path / "store")
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync " + os.readlink(f"/proc/self/fd/{fd}").replace(str(store.root), ""))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("rename -> " + str(dst).replace(str(store.root), ""))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    digest = store.put_blob(b"some config")
    blob_rename = events.index(f"rename -> /blobs/sha256/{digest.encoded}")
    assert events[blob_rename - 1].startswith("fsync /uploads/")  # content synced before the rename
    assert "fsync /blobs/sha256" not in events  # no directory sync per blob
    events.clear()
    store._write_index(store._read_index())
    assert events.index("fsync /blobs/sha256") < events.index("rename -> /index.json")


# --------------------------------------------------------------------------- exit


@pytest.mark.parametrize(
    ("argv", "fast"),
    [
        (["pull", "--help"], True),
        (["push", "--help"], True),
        (["images", "--help"], True),
        (["serve", "--help"], False),  # servers and database engines clean up on exit
        (["admin", "--help"], False),
        (["pull", "NOT A REFERENCE"], False),  # failures take the usual way out
        (["--version"], False),
    ],
)
def test_client_commands_skip_the_interpreter_teardown_on_success(
    argv: list[str], fast: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from cargobay.cli import main as entry

    calls: list[str] = []
    monkeypatch.setattr(entry, "exit_now", lambda: calls.append("exit_now"))
    monkeypatch.setattr(sys, "argv", ["cargobay", *argv])
    with pytest.raises(SystemExit):
        entry.main()
    assert calls == (["exit_now"] if fast else [])
    capsys.readouterr()


def test_fast_exit_keeps_output_and_status(cb: Any, seed: Callable[..., Any]) -> None:
    seeded = seed(layers=2)
    result = cb.run("pull", seeded.ref)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"{seeded.ref}\n")  # the last line, flushed before os._exit
    listed = cb.run("images", "--format", "{{.Repository}}:{{.Tag}}")
    assert listed.returncode == 0 and listed.stdout == f"{seeded.registry}/{seeded.repository}:v1\n"


def test_prefetch_stays_off_when_a_proxy_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start-up thread's sockets would bypass the proxy the client's requests go through."""
    from cargobay.distclient import prefetch
    from cargobay.distclient.config import ClientConfig

    started: list[str] = []
    monkeypatch.setattr(prefetch._Job, "_run", lambda self: started.append(self.base))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    prefetch.start("127.0.0.1:2", "a/b", "pull", ClientConfig())
    assert started == [] and prefetch.take("127.0.0.1:2", "a/b", "pull") is None
    monkeypatch.delenv("HTTP_PROXY")
    prefetch.start("127.0.0.1:2", "a/b", "pull", ClientConfig())
    assert started == ["http://127.0.0.1:2"]
    prefetch.take("127.0.0.1:2", "a/b", "pull")
