"""Manifests: PUT/GET/HEAD/DELETE by tag and digest for every kind, exact bytes, subject, multi-tag."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hubclient import (
    DOCKER_LIST,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Client,
    expect_error,
    sha256,
    sha512,
)


def _check_pull(client: Client, repo: str, ref: str, raw: bytes, media_type: str) -> None:
    digest = sha256(raw)
    get = client.get(f"/v2/{repo}/manifests/{ref}", {"Accept": media_type})
    assert get.status == 200, get
    assert get.body == raw, "manifest bytes must come back exactly as pushed"
    assert get.h("content-type") == media_type, get
    assert get.h("docker-content-digest") == digest, get
    head = client.head(f"/v2/{repo}/manifests/{ref}", {"Accept": media_type})
    assert head.status == 200, head
    assert head.h("content-type") == media_type, head
    assert head.h("docker-content-digest") == digest, head
    assert head.h("content-length") == str(len(raw)), head


@pytest.mark.parametrize("docker", [False, True], ids=["oci", "docker"])
def test_image_manifest_by_tag_and_digest(client: Client, repo_name: str, docker: bool) -> None:
    image = client.push_image(repo_name, "v1", layers=2, docker=docker)
    assert image.put.h("location"), image.put
    assert (image.put.h("location") or "").endswith(f"/v2/{repo_name}/manifests/{image.digest}"), image.put
    for ref in ("v1", image.digest):
        _check_pull(client, repo_name, ref, image.raw, image.media_type)
    # by digest: a second push under its digest is idempotent
    again = client.put_manifest(repo_name, image.digest, image.raw, image.media_type)
    assert again.status == 201 and again.h("docker-content-digest") == image.digest, again


def test_unknown_manifest(client: Client, repo_name: str) -> None:
    client.push_image(repo_name, "present")
    expect_error(client.get(f"/v2/{repo_name}/manifests/absent"), 404, "MANIFEST_UNKNOWN")
    expect_error(client.get(f"/v2/{repo_name}/manifests/{sha256(b'x')}"), 404, "MANIFEST_UNKNOWN")
    head = client.head(f"/v2/{repo_name}/manifests/absent")
    assert head.status == 404 and head.body == b"", head
    expect_error(
        client.get(f"/v2/{repo_name}-none/manifests/latest"), 404, "MANIFEST_UNKNOWN", "NAME_UNKNOWN"
    )


@pytest.mark.parametrize("media", [OCI_INDEX, DOCKER_LIST])
def test_index_and_manifest_list(client: Client, repo_name: str, media: str) -> None:
    docker = media == DOCKER_LIST
    children = [client.push_image(repo_name, docker=docker) for _ in range(2)]
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media,
        "manifests": [
            {**child.descriptor(), "platform": {"architecture": arch, "os": "linux"}}
            for child, arch in zip(children, ("amd64", "arm64"), strict=True)
        ],
    }
    raw = json.dumps(doc, indent=1).encode()
    resp = client.put_manifest(repo_name, "multi", raw, media)
    assert resp.status == 201, resp
    assert resp.h("docker-content-digest") == sha256(raw)
    for ref in ("multi", sha256(raw)):
        _check_pull(client, repo_name, ref, raw, media)
    for child in children:
        _check_pull(client, repo_name, child.digest, child.raw, child.media_type)


def test_index_without_media_type_field(client: Client, repo_name: str) -> None:
    child = client.push_image(repo_name)
    raw = json.dumps({"schemaVersion": 2, "manifests": [child.descriptor()]}).encode()
    resp = client.put_manifest(repo_name, "idx", raw, OCI_INDEX)
    assert resp.status == 201, resp
    _check_pull(client, repo_name, "idx", raw, OCI_INDEX)


def test_artifact_with_custom_config_type(client: Client, repo_name: str) -> None:
    config = b'{"tool":"helm"}'
    image = client.push_image(
        repo_name, "chart", config=config, config_type="application/vnd.cncf.helm.config.v1+json"
    )
    _check_pull(client, repo_name, "chart", image.raw, OCI_MANIFEST)


def _empty_config(client: Client, repo: str) -> dict[str, Any]:
    client.push_blob(repo, b"{}")
    return {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2}


def test_artifact_with_artifact_type_and_empty_config(client: Client, repo_name: str) -> None:
    payload = os.urandom(100)
    client.push_blob(repo_name, payload)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1",
        "config": _empty_config(client, repo_name),
        "layers": [
            {"mediaType": "application/vnd.example.sbom.v1+json", "digest": sha256(payload), "size": 100}
        ],
        "annotations": {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"},
    }
    raw = json.dumps(doc).encode()
    resp = client.put_manifest(repo_name, "sbom", raw, OCI_MANIFEST)
    assert resp.status == 201, resp
    _check_pull(client, repo_name, "sbom", raw, OCI_MANIFEST)


def test_manifest_with_no_layers(client: Client, repo_name: str) -> None:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _empty_config(client, repo_name),
        "layers": [],
    }
    raw = json.dumps(doc).encode()
    resp = client.put_manifest(repo_name, "nolayers", raw, OCI_MANIFEST)
    assert resp.status == 201, resp
    _check_pull(client, repo_name, "nolayers", raw, OCI_MANIFEST)


def test_subject_gives_oci_subject_header(client: Client, repo_name: str) -> None:
    subject = client.push_image(repo_name, "app")
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": _empty_config(client, repo_name),
        "layers": [],
        "subject": subject.descriptor(),
    }
    raw = json.dumps(doc).encode()
    resp = client.put_manifest(repo_name, sha256(raw), raw, OCI_MANIFEST)
    assert resp.status == 201, resp
    assert resp.h("oci-subject") == subject.digest, resp
    # no subject, no header
    assert subject.put.h("oci-subject") is None, subject.put


def test_missing_subject_is_accepted(client: Client, repo_name: str) -> None:
    ghost = {"mediaType": OCI_MANIFEST, "digest": sha256(os.urandom(8)), "size": 1234}
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.early",
        "config": _empty_config(client, repo_name),
        "layers": [],
        "subject": ghost,
    }
    raw = json.dumps(doc).encode()
    resp = client.put_manifest(repo_name, sha256(raw), raw, OCI_MANIFEST)
    assert resp.status == 201, resp
    assert resp.h("oci-subject") == ghost["digest"], resp
    _check_pull(client, repo_name, sha256(raw), raw, OCI_MANIFEST)


def test_multi_tag_push(client: Client, repo_name: str) -> None:
    image = client.push_image(repo_name)  # by digest, no tag
    resp = client.request(
        "PUT",
        f"/v2/{repo_name}/manifests/{image.digest}?tag=a&tag=b",
        image.raw,
        {"Content-Type": image.media_type},
    )
    assert resp.status == 201, resp
    tags = [t.strip() for t in (resp.h("oci-tag") or "").split(",")]
    assert sorted(tags) == ["a", "b"], resp
    for tag in ("a", "b"):
        _check_pull(client, repo_name, tag, image.raw, image.media_type)
    listed = client.get(f"/v2/{repo_name}/tags/list")
    assert listed.json()["tags"] == ["a", "b"], listed


def test_multi_tag_push_with_a_bad_tag_stores_nothing(client: Client, repo_name: str) -> None:
    image = client.push_image(repo_name)
    resp = client.request(
        "PUT",
        f"/v2/{repo_name}/manifests/{image.digest}?tag=good&tag=.bad",
        image.raw,
        {"Content-Type": image.media_type},
    )
    expect_error(resp, 400, "TAG_INVALID", "MANIFEST_INVALID")
    expect_error(client.get(f"/v2/{repo_name}/manifests/good"), 404, "MANIFEST_UNKNOWN")


def test_delete_by_tag_removes_only_that_tag(client: Client, repo_name: str) -> None:
    image = client.push_image(repo_name, "one")
    assert client.put_manifest(repo_name, "two", image.raw, image.media_type).status == 201
    resp = client.delete(f"/v2/{repo_name}/manifests/one")
    assert resp.status == 202, resp
    expect_error(client.get(f"/v2/{repo_name}/manifests/one"), 404, "MANIFEST_UNKNOWN")
    _check_pull(client, repo_name, "two", image.raw, image.media_type)
    _check_pull(client, repo_name, image.digest, image.raw, image.media_type)
    assert client.get(f"/v2/{repo_name}/tags/list").json()["tags"] == ["two"]
    expect_error(client.delete(f"/v2/{repo_name}/manifests/one"), 404, "MANIFEST_UNKNOWN")


def test_delete_by_digest_removes_all_its_tags(client: Client, repo_name: str) -> None:
    image = client.push_image(repo_name, "one")
    assert client.put_manifest(repo_name, "two", image.raw, image.media_type).status == 201
    keep = client.push_image(repo_name, "other")
    resp = client.delete(f"/v2/{repo_name}/manifests/{image.digest}")
    assert resp.status == 202, resp
    for ref in ("one", "two", image.digest):
        expect_error(client.get(f"/v2/{repo_name}/manifests/{ref}"), 404, "MANIFEST_UNKNOWN")
        assert client.head(f"/v2/{repo_name}/manifests/{ref}").status == 404
    assert client.get(f"/v2/{repo_name}/tags/list").json()["tags"] == ["other"]
    _check_pull(client, repo_name, "other", keep.raw, keep.media_type)
    expect_error(client.delete(f"/v2/{repo_name}/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN")


def test_retag_moves_the_tag(client: Client, repo_name: str) -> None:
    first = client.push_image(repo_name, "latest")
    second = client.push_image(repo_name, "latest")
    _check_pull(client, repo_name, "latest", second.raw, second.media_type)
    _check_pull(client, repo_name, first.digest, first.raw, first.media_type)


def test_sha512_manifest_and_blobs(client: Client, repo_name: str) -> None:
    config = b'{"architecture":"amd64","os":"linux"}'
    layer = os.urandom(500)
    for blob in (config, layer):
        location = client.start_upload(repo_name, "?digest-algorithm=sha512")
        sep = "&" if "?" in location else "?"
        resp = client.request(
            "PUT", f"{location}{sep}digest={sha512(blob)}", blob, {"Content-Type": "application/octet-stream"}
        )
        assert resp.status == 201, resp
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha512(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha512(layer), "size": len(layer)}],
    }
    raw = json.dumps(doc).encode()
    digest = sha512(raw)
    resp = client.put_manifest(repo_name, digest, raw, OCI_MANIFEST)
    assert resp.status == 201, resp
    assert resp.h("docker-content-digest") == digest, resp
    got = client.get(f"/v2/{repo_name}/manifests/{digest}")
    assert got.status == 200 and got.body == raw, got
    assert got.h("docker-content-digest") == digest
    head = client.head(f"/v2/{repo_name}/manifests/{digest}")
    assert head.status == 200 and head.h("docker-content-digest") == digest, head
    assert client.delete(f"/v2/{repo_name}/manifests/{digest}").status == 202
    expect_error(client.get(f"/v2/{repo_name}/manifests/{digest}"), 404, "MANIFEST_UNKNOWN")
    # a sha512 reference to a blob the repository does not have is refused like any other
    missing = {**doc, "layers": [{"mediaType": OCI_LAYER, "digest": sha512(b"nope"), "size": 4}]}
    raw_missing = json.dumps(missing).encode()
    expect_error(
        client.put_manifest(repo_name, "missing", raw_missing, OCI_MANIFEST), 400, "MANIFEST_BLOB_UNKNOWN"
    )


def test_repeated_tag_parameters(client: Client, repo_name: str) -> None:
    image = client.push_image(repo_name)
    resp = client.request(
        "PUT",
        f"/v2/{repo_name}/manifests/{image.digest}?tag=x&tag=x&tag=y",
        image.raw,
        {"Content-Type": image.media_type},
    )
    assert resp.status == 201, resp
    assert sorted(t.strip() for t in (resp.h("oci-tag") or "").split(",")) == ["x", "y"], resp
    assert client.get(f"/v2/{repo_name}/tags/list").json()["tags"] == ["x", "y"]
