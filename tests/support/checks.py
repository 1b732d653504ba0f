"""Assertions shared by the interop tests: what a registry serves must be what was built."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from support.http import get_blob, request
from support.images import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Layout,
    OciImage,
    sha256_digest,
)
from support.tools import Skopeo

ACCEPT_ALL = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST])


def inspect_raw(skopeo: Skopeo, registry: str, name: str) -> bytes:
    """``skopeo inspect --raw`` of ``registry/name`` (name is ``repo:tag`` or ``repo@digest``)."""
    return skopeo.raw("inspect", "--raw", "--tls-verify=false", f"docker://{registry}/{name}").stdout


def assert_manifest_served(
    registry: str, repository: str, reference: str, raw: bytes, media_type: str
) -> None:
    """GET and HEAD of a manifest answer with its exact bytes, type and digest."""
    url = f"http://{registry}/v2/{repository}/manifests/{reference}"
    got = request("GET", url, headers={"Accept": ACCEPT_ALL})
    assert got.status == 200, f"GET {url}: {got.status} {got.body[:300]!r}"
    assert got.body == raw, f"GET {url} returned different bytes than were pushed"
    assert got.header("Docker-Content-Digest") == sha256_digest(raw)
    assert (got.header("Content-Type") or "").split(";")[0].strip() == media_type
    head = request("HEAD", url, headers={"Accept": ACCEPT_ALL})
    assert head.status == 200, f"HEAD {url}: {head.status}"
    assert head.header("Docker-Content-Digest") == sha256_digest(raw)
    assert head.header("Content-Length") == str(len(raw))


def assert_registry_has(skopeo: Skopeo, registry: str, repository: str, tag: str, image: OciImage) -> None:
    """``registry/repository:tag`` holds ``image`` byte for byte: manifests (by tag and digest,
    through skopeo and plain HTTP), every child manifest of an index, every config and layer."""
    assert inspect_raw(skopeo, registry, f"{repository}:{tag}") == image.raw
    assert inspect_raw(skopeo, registry, f"{repository}@{image.digest}") == image.raw
    assert_manifest_served(registry, repository, tag, image.raw, image.media_type)
    assert_manifest_served(registry, repository, image.digest, image.raw, image.media_type)
    if image.is_index:
        for child in image.manifests:
            assert inspect_raw(skopeo, registry, f"{repository}@{child.digest}") == child.raw
            assert_manifest_served(registry, repository, child.digest, child.raw, child.media_type)
    for digest in sorted(image.blob_digests()):
        data = get_blob(registry, repository, digest)
        assert sha256_digest(data) == digest, f"blob {digest} served with wrong content"
        assert data == image.blobs[digest]


def assert_copy_identical(image: OciImage, copy: Path) -> None:
    """``copy`` (an OCI layout, or a ``dir:`` directory for Docker media) is ``image`` bit for bit."""
    if (copy / "oci-layout").exists():
        layout = Layout.open(copy)
        descriptor = layout.descriptor(image.tag)
        assert descriptor["digest"] == image.digest
        assert descriptor["mediaType"] == image.media_type
        assert layout.read_blob(image.digest) == image.raw
        for digest, data in image.blobs.items():
            assert layout.has_blob(digest), f"{digest} missing from {copy}"
            assert layout.read_blob(digest) == data, f"{digest} differs in {copy}"
    else:
        assert (copy / "manifest.json").read_bytes() == image.raw
        children = {m.digest for m in image.manifests} - {image.digest}
        for digest, data in image.blobs.items():
            if digest == image.digest:
                continue
            encoded = digest.split(":", 1)[1]
            name = f"{encoded}.manifest.json" if digest in children else encoded
            assert (copy / name).read_bytes() == data, f"{digest} differs in {copy}"


def copy_back(skopeo: Skopeo, registry: str, name: str, image: OciImage, target: Path) -> Path:
    """Copy ``registry/name`` (all platforms) to disk: an OCI layout for OCI media, ``dir:`` for
    Docker media (copying Docker schema2 into an OCI layout would convert it)."""
    oci = image.media_type in (OCI_MANIFEST, OCI_INDEX)
    dest = f"oci:{target}:{image.tag}" if oci else f"dir:{target}"
    skopeo("copy", "--all", "--src-tls-verify=false", f"docker://{registry}/{name}", dest)
    return target


def list_tags(skopeo: Skopeo, registry: str, repository: str) -> list[str]:
    result = skopeo("list-tags", "--tls-verify=false", f"docker://{registry}/{repository}")
    tags: list[str] = json.loads(result.stdout)["Tags"] or []
    return tags


def push_concurrently(skopeo: Skopeo, image: OciImage, registry: str, targets: list[str]) -> None:
    """Run one ``skopeo copy --all`` per target (``repo:tag``) at the same time; all must succeed."""
    processes = [
        subprocess.Popen(
            skopeo.command(
                "copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{registry}/{target}"
            ),
            env=skopeo.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for target in targets
    ]
    failures = []
    for target, process in zip(targets, processes, strict=True):
        _, err = process.communicate(timeout=skopeo.timeout)
        if process.returncode != 0:
            failures.append(f"pushing {target} failed:\n{err.decode(errors='replace')}")
    assert not failures, "\n".join(failures)
