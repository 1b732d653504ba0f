"""The CNCF distribution registry and the hub exchange images through skopeo, digests unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support.checks import assert_registry_has, inspect_raw, list_tags
from support.http import get_blob
from support.images import OciImage, build_oci_artifact
from support.tools import Skopeo

pytestmark = pytest.mark.interop

MakeImage = Callable[..., OciImage]
PLATFORMS = ["linux/amd64", "linux/arm64"]

KINDS: dict[str, dict[str, Any]] = {
    "oci-image": {"media": "oci", "platforms": None},
    "oci-index": {"media": "oci", "platforms": PLATFORMS},
    "docker-image": {"media": "docker", "platforms": None},
    "docker-list": {"media": "docker", "platforms": PLATFORMS},
}


def ends(direction: str, hub_url: str, distribution_url: str) -> tuple[str, str]:
    return (hub_url, distribution_url) if direction == "hub-to-distribution" else (distribution_url, hub_url)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("direction", ["hub-to-distribution", "distribution-to-hub"])
def test_copy_between_registries(
    hub_url: str,
    distribution_url: str,
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
    repo_name: str,
    direction: str,
    kind: str,
) -> None:
    source, target = ends(direction, hub_url, distribution_url)
    image = make_oci_image(tmp_path, layers=2, layer_size=1500, tag="v1", **KINDS[kind])
    skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{source}/{repo_name}:v1")
    assert_registry_has(skopeo, source, repo_name, "v1", image)

    skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{source}/{repo_name}:v1",
        f"docker://{target}/{repo_name}/copy:v1",
    )

    assert_registry_has(skopeo, target, f"{repo_name}/copy", "v1", image)
    assert inspect_raw(skopeo, target, f"{repo_name}/copy:v1") == inspect_raw(
        skopeo, source, f"{repo_name}:v1"
    )


def test_round_trip_through_both_registries_by_digest(
    hub_url: str,
    distribution_url: str,
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
    repo_name: str,
) -> None:
    image = make_oci_image(tmp_path, layers=2, platforms=PLATFORMS)
    skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:start")
    hops = [
        (f"{hub_url}/{repo_name}@{image.digest}", f"{distribution_url}/{repo_name}:hop"),
        (f"{distribution_url}/{repo_name}@{image.digest}", f"{hub_url}/{repo_name}/back:end"),
    ]
    for source, target in hops:
        skopeo(
            "copy",
            "--all",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{source}",
            f"docker://{target}",
        )

    assert_registry_has(skopeo, hub_url, f"{repo_name}/back", "end", image)


@pytest.mark.parametrize("direction", ["hub-to-distribution", "distribution-to-hub"])
def test_sync_repository_with_all_tags(
    hub_url: str,
    distribution_url: str,
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
    repo_name: str,
    direction: str,
) -> None:
    source, target = ends(direction, hub_url, distribution_url)
    images = {
        "1.0": make_oci_image(tmp_path, layers=1),
        "2.0": make_oci_image(tmp_path, layers=2, platforms=PLATFORMS),
        "latest": make_oci_image(tmp_path, layers=1, media="docker"),
    }
    for tag, image in images.items():
        skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{source}/{repo_name}:{tag}")

    # skopeo sync lists the source's tags and copies each; the target repository is
    # <prefix>/<last component of the source repository>
    skopeo(
        "sync",
        "--all",
        "--src",
        "docker",
        "--dest",
        "docker",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"{source}/{repo_name}",
        f"{target}/{repo_name}/synced",
    )

    synced = f"{repo_name}/synced/{repo_name.rsplit('/', 1)[1]}"
    assert sorted(list_tags(skopeo, target, synced)) == sorted(images)
    for tag, image in images.items():
        assert_registry_has(skopeo, target, synced, tag, image)


@pytest.mark.parametrize("direction", ["hub-to-distribution", "distribution-to-hub"])
def test_copy_artifact_with_subject(
    hub_url: str,
    distribution_url: str,
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
    repo_name: str,
    direction: str,
) -> None:
    source, target = ends(direction, hub_url, distribution_url)
    image = make_oci_image(tmp_path, layers=1)
    artifact = build_oci_artifact(tmp_path / "artifact", subject=image)
    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{source}/{repo_name}:1.0")
    skopeo("copy", "--dest-tls-verify=false", artifact.ref, f"docker://{source}/{repo_name}:sbom")

    for tag in ("1.0", "sbom"):
        skopeo(
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{source}/{repo_name}:{tag}",
            f"docker://{target}/{repo_name}:{tag}",
        )

    assert inspect_raw(skopeo, target, f"{repo_name}:sbom") == artifact.raw
    assert inspect_raw(skopeo, target, f"{repo_name}@{artifact.digest}") == artifact.raw
    assert_registry_has(skopeo, target, repo_name, "1.0", image)
    for digest, data in artifact.blobs.items():
        if digest != artifact.digest:
            assert get_blob(target, repo_name, digest) == data
