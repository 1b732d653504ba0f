"""The distribution client against the real CNCF registry (and an auth proxy in front of it)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cargobay.distclient.auth import merge_scopes, parse_challenges
from cargobay.distclient.client import RegistryClient
from cargobay.distclient.config import ClientConfig
from cargobay.distclient.credentials import Credentials, lookup
from cargobay.distclient.errors import DistributionError, RegistryUnreachable
from cargobay.oci.digest import Digest, digest_bytes

pytestmark = pytest.mark.timeout(60)


def _digest(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


async def test_manifests_blobs_and_ranges(cb: Any, seed: Callable[..., Any]) -> None:
    seeded = seed(layers=2, layer_size=5000)
    built = seeded.image.manifests[0]
    async with RegistryClient(seeded.registry) as client:
        manifest = await client.get_manifest(seeded.repository, seeded.tag)
        assert manifest.raw == seeded.image.raw  # bytes kept exactly
        assert str(manifest.digest) == seeded.image.digest
        info = await client.head_manifest(seeded.repository, seeded.tag)
        assert info is not None and str(info.digest) == seeded.image.digest
        assert await client.head_manifest(seeded.repository, "nope") is None
        layer = built.layers[0]
        assert await client.stat_blob(seeded.repository, Digest.parse(layer.digest)) == layer.size
        async with client.open_blob(seeded.repository, Digest.parse(layer.digest), offset=100) as stream:
            assert stream.offset == 100
            data = b"".join([c async for c in stream.chunks()])
        assert data == layer.data[100:]
        with pytest.raises(DistributionError) as info_err:
            await client.get_manifest(seeded.repository, "nope")
        assert str(info_err.value) == "manifest unknown: manifest unknown"


@pytest.mark.parametrize("mode", ["stream", "chunked"])
@pytest.mark.parametrize("server", ["distribution_url", "hub_url"])
async def test_uploads_monolithic_chunked_and_mount(
    cb: Any, server: str, mode: str, request: pytest.FixtureRequest, repo_name: str
) -> None:
    registry = request.getfixturevalue(server)
    small, big = os.urandom(300), os.urandom(5000)
    async with RegistryClient(registry, for_push=True, upload_chunk_size=1024, upload_mode=mode) as client:
        await client.push_blob_bytes(repo_name, _digest(small), small)
        await client.push_blob_bytes(repo_name, _digest(big), big)  # streamed or 5 PATCH chunks, then PUT
        assert await client.read_blob(repo_name, _digest(big)) == big
        other = repo_name + "-other"
        assert await client.stat_blob(other, _digest(big)) is None
        assert await client.mount_blob(other, _digest(big), repo_name)
        assert await client.stat_blob(other, _digest(big)) == len(big)
        missing = _digest(b"never uploaded")
        assert not await client.mount_blob(other, missing, repo_name)
        # A wrong digest is refused by the registry and nothing is stored.
        upload = await client.start_upload(repo_name)
        assert upload is not None
        await upload.write(b"some bytes")
        with pytest.raises(DistributionError) as info:
            await upload.commit(_digest(b"other bytes"))
        assert "digest invalid" in str(info.value)


async def test_tags_pagination(cb: Any, distribution_url: str, repo_name: str) -> None:
    config = b"{}"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": str(_digest(config)),
                "size": 2,
            },
            "layers": [],
        }
    ).encode()
    async with RegistryClient(distribution_url, for_push=True) as client:
        await client.push_blob_bytes(repo_name, _digest(config), config)
        tags = [f"t{i}" for i in range(5)]
        for tag in tags:
            digest = await client.put_manifest(
                repo_name, tag, manifest, "application/vnd.oci.image.manifest.v1+json"
            )
            assert digest == digest_bytes(manifest)
        assert sorted(await client.list_tags(repo_name, page_size=2)) == tags


async def test_bearer_token_flow_anonymous_pull_and_token_cache(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=1)
    proxy = make_proxy(auth="bearer")
    async with RegistryClient(proxy.url) as client:
        await client.get_manifest(seeded.repository, seeded.tag)
        await client.head_manifest(seeded.repository, seeded.tag)
        layer = seeded.image.manifests[0].layers[0]
        assert await client.read_blob(seeded.repository, Digest.parse(layer.digest)) == layer.data
    assert len(proxy.token_requests) == 1  # one token, cached for the scope
    request = proxy.token_requests[0]
    assert request["scopes"] == [f"repository:{seeded.repository}:pull"]
    assert request["service"] == "cargobay-test"
    assert request["authorization"] is None


async def test_push_needs_credentials_from_docker_config(
    cb: Any, make_proxy: Callable[..., Any], repo_name: str
) -> None:
    proxy = make_proxy(auth="bearer")
    data = b"layer"
    async with RegistryClient(proxy.url, for_push=True) as client:
        with pytest.raises(DistributionError) as info:
            await client.push_blob_bytes(repo_name, _digest(data), data)
        assert str(info.value) == "unauthorized: authentication required"
    cb.write_docker_config({"auths": {proxy.url: {"auth": "YWxpY2U6czNjcmV0"}}})  # alice:s3cret
    async with RegistryClient(proxy.url, for_push=True) as client:
        await client.push_blob_bytes(repo_name, _digest(data), data)
    last = proxy.token_requests[-1]
    assert last["scopes"] == [f"repository:{repo_name}:pull,push"]
    assert last["account"] == "alice" and last["authorization"] == "Basic"


async def test_wrong_password(cb: Any, make_proxy: Callable[..., Any], repo_name: str) -> None:
    proxy = make_proxy(auth="bearer", anonymous_pull=False)
    creds = Credentials("alice", "wrong")
    async with RegistryClient(proxy.url, credentials=creds) as client:
        with pytest.raises(DistributionError) as info:
            await client.list_tags(repo_name)
        assert str(info.value) == "unauthorized: incorrect username or password"


async def test_basic_auth(cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]) -> None:
    seeded = seed(layers=1)
    proxy = make_proxy(auth="basic")
    async with RegistryClient(proxy.url) as client:
        with pytest.raises(DistributionError, match="unauthorized: authentication required"):
            await client.get_manifest(seeded.repository, seeded.tag)
    async with RegistryClient(proxy.url, credentials=Credentials("alice", "s3cret")) as client:
        assert (await client.get_manifest(seeded.repository, seeded.tag)).raw == seeded.image.raw
    assert not proxy.token_requests


def test_credential_sources(cb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # auths: exact key, legacy URL key, Docker Hub's key
    cb.write_docker_config(
        {
            "auths": {
                "reg.example:5000": {"auth": "Ym9iOnB3"},  # bob:pw
                "https://legacy.example/v1/": {"auth": "Y2Fyb2w6eA=="},  # carol:x
                "https://index.docker.io/v1/": {"auth": "ZGF2ZTp5"},  # dave:y
            }
        }
    )
    assert lookup("reg.example:5000") == Credentials("bob", "pw")
    found = lookup("legacy.example")
    assert found is not None and found.username == "carol"
    found = lookup("docker.io")
    assert found is not None and (found.username, found.password) == ("dave", "y")
    assert lookup("unknown.example") is None

    # credential helpers: credHelpers wins over credsStore; "<token>" means an identity token
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in {
        "store": 'read url; echo "{\\"ServerURL\\":\\"$url\\",\\"Username\\":\\"erin\\",\\"Secret\\":\\"from-store\\"}"',
        "special": 'read url; echo "{\\"ServerURL\\":\\"$url\\",\\"Username\\":\\"<token>\\",\\"Secret\\":\\"idtok\\"}"',
        "empty": "echo 'credentials not found in native keychain'; exit 1",
    }.items():
        script = bin_dir / f"docker-credential-{name}"
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    cb.write_docker_config(
        {"credsStore": "store", "credHelpers": {"special.example": "special", "none.example": "empty"}}
    )
    assert lookup("any.example") == Credentials("erin", "from-store")
    assert lookup("special.example") == Credentials(identity_token="idtok")
    assert lookup("none.example") is None

    # podman auth.json, with namespace keys (most specific first)
    cb.write_docker_config({})
    Path(cb.env["REGISTRY_AUTH_FILE"]).write_text(
        json.dumps(
            {
                "auths": {
                    "quay.example/team/app": {"auth": "ZnJhbms6MQ=="},
                    "quay.example": {"auth": "Z3JhY2U6Mg=="},
                }
            }
        )
    )
    found = lookup("quay.example", "team/app")
    assert found is not None and found.username == "frank"
    found = lookup("quay.example", "other/app")
    assert found is not None and found.username == "grace"


async def test_connection_refused_is_readable(cb: Any) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with RegistryClient(f"127.0.0.1:{port}") as client:
        with pytest.raises(RegistryUnreachable) as info:
            await client.ping()
    assert (
        str(info.value)
        == f'Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )


def test_endpoint_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = ClientConfig(
        insecure_registries=("10.0.0.0/8", "plain.example:5000"), registry_mirrors=("https://m.example",)
    )

    def bases(domain: str, **kw: Any) -> list[tuple[str, bool, bool]]:
        return [(e.base, e.mirror, e.verify) for e in config.endpoints(domain, **kw)]

    assert bases("127.0.0.1:5000") == [("http://127.0.0.1:5000", False, True)]
    assert bases("127.1.2.3") == [("http://127.1.2.3", False, True)]
    assert bases("[::1]:5000") == [("http://[::1]:5000", False, True)]
    assert bases("localhost:5000") == [("http://localhost:5000", False, True)]
    insecure = [("https://10.1.2.3:5000", False, False), ("http://10.1.2.3:5000", False, True)]
    assert bases("10.1.2.3:5000") == insecure
    assert bases("plain.example:5000")[1] == ("http://plain.example:5000", False, True)
    assert bases("ghcr.io") == [("https://ghcr.io", False, True)]
    assert bases("docker.io") == [
        ("https://m.example", True, True),
        ("https://registry-1.docker.io", False, True),
    ]
    assert bases("docker.io", for_push=True) == [("https://registry-1.docker.io", False, True)]
    monkeypatch.setenv("CARGOBAY_HOME", str(tmp_path))
    monkeypatch.setenv("CARGOBAY_INSECURE_REGISTRIES", "a.example, b.example:1")
    (tmp_path / "config.json").write_text(json.dumps({"registry-mirrors": ["http://mirror.local:5000/"]}))
    loaded = ClientConfig.load()
    assert (
        loaded.is_insecure("a.example")
        and loaded.is_insecure("b.example:1")
        and not loaded.is_insecure("c.example")
    )
    assert loaded.registry_mirrors == ("http://mirror.local:5000",)
    monkeypatch.setenv("CARGOBAY_REGISTRY_MIRRORS", "http://m.example/path")
    with pytest.raises(ValueError, match="invalid mirror"):
        ClientConfig.load()


async def test_docker_hub_mirror_is_tried_first(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    import socket

    name = f"mirrortest{os.getpid()}"
    seeded = seed(layers=1, repository=f"library/{name}")
    proxy = make_proxy()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    config = ClientConfig(registry_mirrors=(f"http://127.0.0.1:{dead}", f"http://{proxy.url}"))
    async with RegistryClient("docker.io", config=config) as client:
        manifest = await client.get_manifest(f"library/{name}", seeded.tag)
        assert client.using_mirror and client.base_url == f"http://{proxy.url}"
    assert manifest.raw == seeded.image.raw


def test_challenge_parsing() -> None:
    header = 'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'
    (challenge,) = parse_challenges(header)
    assert challenge.scheme == "bearer" and challenge.realm == "https://auth.example/token"
    assert challenge.service == "registry.example" and challenge.scopes == ["repository:a/b:pull,push"]
    both = parse_challenges('Basic realm="x", Bearer realm="y",error="invalid_token"')
    assert [c.scheme for c in both] == ["basic", "bearer"] and both[1].error == "invalid_token"
    assert merge_scopes(["repository:h:5000/a:pull", "repository:h:5000/a:push", "repository:b:pull"]) == [
        "repository:h:5000/a:pull,push",
        "repository:b:pull",
    ]


async def test_identity_token_uses_oauth_refresh_grant(
    cb: Any, make_proxy: Callable[..., Any], repo_name: str
) -> None:
    proxy = make_proxy(auth="bearer", anonymous_pull=False)
    data = b"pushed with an identity token"
    cb.write_docker_config({"auths": {proxy.url: {"auth": "PHRva2VuPjo=", "identitytoken": "refresh-alice"}}})
    async with RegistryClient(proxy.url, for_push=True) as client:
        await client.push_blob_bytes(repo_name, _digest(data), data)
        assert await client.read_blob(repo_name, _digest(data)) == data
    posts = [r for r in proxy.token_requests if r.get("method") == "POST"]
    assert posts and posts[0]["grant_type"] == "refresh_token"
    assert posts[0]["scopes"] == [f"repository:{repo_name}:pull,push"]
