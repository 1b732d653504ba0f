"""Bad input: names, tags, digests and manifests are refused with the spec's errors, and nothing is stored."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from hubclient import (
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Client,
    expect_error,
    sha256,
)

BAD_NAMES = [
    "Upper/case",
    "tests/UPPER",
    "a/../b",
    "..",
    "a//b",
    "a/",
    "a-",
    "a_",
    "a.",
    "_a",
    "-a",
    "___",
    "a___b",
    "a" * 256,
    "%2e%2e",
    "a/%2e%2e/b",
    "a%2fb",
    "a%2Fb",
    "a%00b",
    "caf%C3%A9",
    "a%20b",
]


def _catalog(client: Client) -> list[str]:
    resp = client.get("/v2/_catalog?n=10000")
    assert resp.status == 200, resp
    repositories: list[str] = resp.json()["repositories"]
    return repositories


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_repository_names(client: Client, name: str) -> None:
    data = b"blob for a bad name"
    digest = sha256(data)
    attempts = [
        client.request("POST", f"/v2/{name}/blobs/uploads/"),
        client.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data),
        client.put_manifest(name, "latest", b'{"schemaVersion":2}', OCI_MANIFEST),
        client.get(f"/v2/{name}/tags/list"),
        client.get(f"/v2/{name}/manifests/latest"),
        client.get(f"/v2/{name}/blobs/{digest}"),
        client.get(f"/v2/{name}/referrers/{digest}"),
    ]
    for resp in attempts:
        expect_error(resp, (400, 404), "NAME_INVALID", "NAME_UNKNOWN")
        assert resp.status == 400 or "%" in name or "/." in name or name == "..", resp
        if resp.status == 400:
            assert resp.codes() == ["NAME_INVALID"], resp
    listed = set(_catalog(client))
    assert not {name, unquote(name), name.lower(), unquote(name).lower()} & listed
    assert not [r for r in listed if r != r.lower() or ".." in r or "//" in r]


def test_longest_valid_name_is_accepted(client: Client) -> None:
    name = ("tests/" + os.urandom(8).hex() + "a" * 300)[:255]
    assert client.push_blob(name, b"x")
    assert client.blob_exists(name, sha256(b"x"))


@pytest.fixture
def image_repo(client: Client, repo_name: str) -> Iterator[tuple[str, Any]]:
    yield repo_name, client.push_image(repo_name, "good")


@pytest.mark.parametrize("tag", ["a" * 129, ".hidden", "-dash", "a+b", "a@b", "%C3%A9", "a%2Fb"])
def test_invalid_tags(client: Client, image_repo: tuple[str, Any], tag: str) -> None:
    repo, image = image_repo
    resp = client.put_manifest(repo, tag, image.raw, image.media_type)
    expect_error(resp, (400, 404), "TAG_INVALID", "MANIFEST_INVALID", "NAME_INVALID")
    assert resp.status == 400, resp
    tags = client.get(f"/v2/{repo}/tags/list").json()["tags"]
    assert tags == ["good"]
    multi = client.request(
        "PUT", f"/v2/{repo}/manifests/{image.digest}?tag={tag}", image.raw, {"Content-Type": image.media_type}
    )
    expect_error(multi, 400, "TAG_INVALID", "MANIFEST_INVALID")


def test_longest_valid_tag(client: Client, image_repo: tuple[str, Any]) -> None:
    repo, image = image_repo
    tag = "_" + "x" * 127
    assert client.put_manifest(repo, tag, image.raw, image.media_type).status == 201
    assert client.get(f"/v2/{repo}/manifests/{tag}").body == image.raw


BAD_DIGESTS = [
    "sha256:baddigeststring",
    "sha256:" + "A" * 64,
    "sha256:" + "a" * 63,
    "sha256:" + "a" * 65,
    "sha512:" + "a" * 64,
    "md5:" + "a" * 32,
    "sha256:",
    "sha256:" + "g" * 64,
    "x" * 200 + ":" + "a" * 64,
]


@pytest.mark.parametrize("digest", BAD_DIGESTS)
def test_invalid_digests(client: Client, image_repo: tuple[str, Any], digest: str) -> None:
    repo, image = image_repo
    data = b"some blob"
    expect_error(client.get(f"/v2/{repo}/blobs/{digest}"), 400, "DIGEST_INVALID")
    assert client.head(f"/v2/{repo}/blobs/{digest}").status == 400
    expect_error(client.delete(f"/v2/{repo}/blobs/{digest}"), 400, "DIGEST_INVALID")
    expect_error(
        client.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", data), 400, "DIGEST_INVALID"
    )
    location = client.start_upload(repo)
    expect_error(client.request("PUT", f"{location}?digest={digest}", data), 400, "DIGEST_INVALID")
    mount = client.request("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={repo}")
    assert mount.status in (400, 202), mount
    if mount.status == 400:
        expect_error(mount, 400, "DIGEST_INVALID")
    # manifests: GET by a bad digest is 400 or 404; PUT by one never stores
    expect_error(
        client.get(f"/v2/{repo}/manifests/{digest}"),
        (400, 404),
        "DIGEST_INVALID",
        "MANIFEST_UNKNOWN",
        "MANIFEST_INVALID",
    )
    put = client.put_manifest(repo, digest, image.raw, image.media_type)
    expect_error(put, 400, "DIGEST_INVALID", "MANIFEST_INVALID", "TAG_INVALID")
    assert not client.blob_exists(repo, sha256(data))


def test_path_traversal_digest(client: Client, image_repo: tuple[str, Any]) -> None:
    repo, _ = image_repo
    for path in (f"/v2/{repo}/blobs/sha256:..%2f..%2fhub.db", f"/v2/{repo}/blobs/sha256:../../../etc/passwd"):
        resp = client.get(path)
        expect_error(resp, (400, 404))
        assert b"root:" not in resp.body and b"SQLite" not in resp.body


def test_manifest_put_by_digest_that_does_not_match(client: Client, image_repo: tuple[str, Any]) -> None:
    repo, image = image_repo
    wrong = sha256(b"not the manifest")
    expect_error(client.put_manifest(repo, wrong, image.raw, image.media_type), 400, "DIGEST_INVALID")
    assert client.head(f"/v2/{repo}/manifests/{wrong}").status == 404


# --------------------------------------------------------------------------- manifest content


def _base_manifest(client: Client, repo: str) -> dict[str, Any]:
    config = b'{"architecture":"amd64","os":"linux"}'
    layer = os.urandom(32)
    client.push_blob(repo, config)
    client.push_blob(repo, layer)
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256(layer), "size": len(layer)}],
    }


def _refused(
    client: Client, repo: str, raw: bytes, content_type: str | None, status: int, *codes: str
) -> None:
    resp = client.put_manifest(repo, "bad", raw, content_type)
    expect_error(resp, status, *codes)
    by_digest = client.put_manifest(repo, sha256(raw), raw, content_type)
    expect_error(by_digest, status, *codes)
    expect_error(client.get(f"/v2/{repo}/manifests/bad"), 404, "MANIFEST_UNKNOWN")
    assert client.head(f"/v2/{repo}/manifests/{sha256(raw)}").status == 404


def _variants(base: dict[str, Any]) -> dict[str, tuple[bytes, str | None]]:
    def doc(**changes: Any) -> bytes:
        out = {**base, **changes}
        return json.dumps({k: v for k, v in out.items() if v is not None}).encode()

    layer = base["layers"][0]
    return {
        "not-json": (b"{not json", OCI_MANIFEST),
        "truncated": (json.dumps(base).encode()[:-5], OCI_MANIFEST),
        "json-array": (b"[1,2,3]", OCI_MANIFEST),
        "json-string": (b'"manifest"', OCI_MANIFEST),
        "empty-body": (b"", OCI_MANIFEST),
        "not-utf8": (b'{"schemaVersion":2,"x":"\xff\xfe"}', OCI_MANIFEST),
        "schema-1": (doc(schemaVersion=1), OCI_MANIFEST),
        "schema-3": (doc(schemaVersion=3), OCI_MANIFEST),
        "schema-string": (doc(schemaVersion="2"), OCI_MANIFEST),
        "schema-missing": (doc(schemaVersion=None), OCI_MANIFEST),
        "manifests-and-layers": (doc(manifests=[layer]), OCI_MANIFEST),
        "index-with-layers": (doc(mediaType=OCI_INDEX, manifests=[]), OCI_INDEX),
        "media-type-mismatch": (doc(), OCI_INDEX),
        "media-type-mismatch-docker": (doc(), DOCKER_MANIFEST),
        "unknown-media-type": (doc(mediaType="application/x-nonsense"), "application/x-nonsense"),
        "config-missing": (doc(config=None), OCI_MANIFEST),
        "layer-negative-size": (doc(layers=[{**layer, "size": -1}]), OCI_MANIFEST),
        "layer-huge-size": (doc(layers=[{**layer, "size": 2**64}]), OCI_MANIFEST),
        "layer-bad-digest": (doc(layers=[{**layer, "digest": "sha256:baddigeststring"}]), OCI_MANIFEST),
        "layers-not-a-list": (doc(layers={"a": layer}), OCI_MANIFEST),
    }


VARIANT_NAMES = list(_variants({"layers": [{}]}))


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_invalid_manifests(client: Client, repo_name: str, variant: str) -> None:
    raw, content_type = _variants(_base_manifest(client, repo_name))[variant]
    _refused(client, repo_name, raw, content_type, 400, "MANIFEST_INVALID")


def test_deeply_nested_json(client: Client, repo_name: str) -> None:
    for depth in (1000, 100_000):
        nested = b"[" * depth + b"]" * depth
        raw = (
            b'{"schemaVersion":2,"mediaType":"'
            + OCI_MANIFEST.encode()
            + b'","annotations":{"x":'
            + nested
            + b"}}"
        )
        _refused(client, repo_name, raw, OCI_MANIFEST, 400, "MANIFEST_INVALID")
        _refused(client, repo_name, nested, OCI_MANIFEST, 400, "MANIFEST_INVALID")
    assert client.get("/v2/").status == 200
    client.push_image(repo_name, "after")


def test_missing_blobs_and_children(client: Client, repo_name: str) -> None:
    base = _base_manifest(client, repo_name)
    ghost = {"mediaType": OCI_LAYER, "digest": sha256(os.urandom(8)), "size": 10}
    # a blob that only another repository has
    foreign = os.urandom(40)
    client.push_blob(repo_name + "-other", foreign)
    foreign_layer = {"mediaType": OCI_LAYER, "digest": sha256(foreign), "size": 40}
    foreign_image = client.push_image(repo_name + "-other", "x")
    cases = [
        {**base, "layers": [*base["layers"], ghost]},
        {**base, "config": {**ghost, "mediaType": OCI_CONFIG}},
        {**base, "layers": [foreign_layer]},
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{**ghost, "mediaType": OCI_MANIFEST}]},
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [foreign_image.descriptor()]},
    ]
    for doc in cases:
        raw = json.dumps(doc).encode()
        _refused(client, repo_name, raw, doc["mediaType"], 400, "MANIFEST_BLOB_UNKNOWN")


def test_non_distributable_layer_may_be_absent(client: Client, repo_name: str) -> None:
    base = _base_manifest(client, repo_name)
    foreign = {
        "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "digest": sha256(os.urandom(8)),
        "size": 1000,
        "urls": ["https://example.com/layer.tar.gz"],
    }
    raw = json.dumps({**base, "layers": [*base["layers"], foreign]}).encode()
    resp = client.put_manifest(repo_name, "foreign", raw, OCI_MANIFEST)
    assert resp.status == 201, resp


def _large_manifest(client: Client, repo: str, size: int) -> bytes:
    base = _base_manifest(client, repo)
    base["annotations"] = {"pad": ""}
    overhead = len(json.dumps(base).encode())
    base["annotations"]["pad"] = "x" * (size - overhead)
    raw = json.dumps(base).encode()
    assert len(raw) == size
    return raw


def test_manifest_size_limit(client: Client, repo_name: str) -> None:
    limit = 4 * 1024 * 1024
    exact = _large_manifest(client, repo_name, limit)
    resp = client.put_manifest(repo_name, "exact", exact, OCI_MANIFEST)
    assert resp.status == 201, resp
    assert client.get(f"/v2/{repo_name}/manifests/exact").body == exact
    over = _large_manifest(client, repo_name, limit + 1)
    _refused(client, repo_name, over, OCI_MANIFEST, 413)
    huge = _large_manifest(client, repo_name, limit + 1024 * 1024)
    _refused(client, repo_name, huge, OCI_MANIFEST, 413)


def test_oversized_manifest_without_content_length(client: Client, repo_name: str) -> None:
    raw = _large_manifest(client, repo_name, 5 * 1024 * 1024)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 256 * 1024):
            yield raw[i : i + 256 * 1024]

    conn = http.client.HTTPConnection(client.host, client.port, timeout=30)
    try:
        conn.request(
            "PUT",
            f"/v2/{repo_name}/manifests/chunked",
            body=chunks(),
            headers={"Content-Type": OCI_MANIFEST},
            encode_chunked=True,
        )
        response = conn.getresponse()
        status, body = response.status, response.read()
    except (BrokenPipeError, ConnectionResetError):
        status, body = 413, b'{"errors":[{"code":"MANIFEST_INVALID","message":"closed"}]}'
    finally:
        conn.close()
    assert status == 413, (status, body[:300])
    expect_error(client.get(f"/v2/{repo_name}/manifests/chunked"), 404, "MANIFEST_UNKNOWN")


def test_conformance_large_manifest_is_accepted(client: Client, repo_name: str) -> None:
    base = _base_manifest(client, repo_name)
    base["annotations"] = {f"org.example.large.{i:03d}": "x" * 10_000 for i in range(390)}
    raw = json.dumps(base).encode()
    assert 3_900_000 < len(raw) < 4 * 1024 * 1024
    resp = client.put_manifest(repo_name, "large", raw, OCI_MANIFEST)
    assert resp.status == 201, resp
    assert client.get(f"/v2/{repo_name}/manifests/large").body == raw


def test_unsupported_methods(client: Client, image_repo: tuple[str, Any]) -> None:
    repo, image = image_repo
    for method, path in [
        ("POST", "/v2/"),
        ("PATCH", f"/v2/{repo}/manifests/good"),
        ("POST", f"/v2/{repo}/manifests/good"),
        ("PUT", f"/v2/{repo}/blobs/{image.digest}"),
        ("DELETE", f"/v2/{repo}/tags/list"),
        ("DELETE", "/v2/_catalog"),
        ("PUT", f"/v2/{repo}/blobs/uploads/"),
    ]:
        expect_error(client.request(method, path), (404, 405), "UNSUPPORTED")
    assert client.get(f"/v2/{repo}/manifests/good").body == image.raw
