"""podman pushes to and pulls from the hub (root, vfs storage private to each test)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from support.checks import assert_registry_has, inspect_raw
from support.http import get_blob
from support.images import DOCKER_MANIFEST, OCI_MANIFEST, OciImage, sha256_digest
from support.tools import Podman, Skopeo

pytestmark = pytest.mark.interop

MakeImage = Callable[..., OciImage]
PLATFORMS = ["linux/amd64", "linux/arm64"]


def load(podman: Podman, image: OciImage) -> str:
    """Pull an image from its OCI layout into podman's storage; returns the image ID."""
    image_id = podman("pull", image.oci_ref).stdout.strip().splitlines()[-1]
    assert image_id == image.config_digest.split(":", 1)[1]
    return image_id


def rootfs_layers(podman: Podman, reference: str) -> list[str]:
    (info,) = json.loads(podman("image", "inspect", reference).stdout)
    layers: list[str] = info["RootFS"]["Layers"]
    return layers


def assert_layers_match_diff_ids(
    hub_url: str, repository: str, manifest: dict[str, object], diff_ids: tuple[str, ...]
) -> None:
    """Each layer the hub serves is gzip whose content is the layer tar the config names."""
    layers = manifest["layers"]
    assert isinstance(layers, list)
    assert len(layers) == len(diff_ids)
    for descriptor, diff_id in zip(layers, diff_ids, strict=True):
        blob = get_blob(hub_url, repository, descriptor["digest"])
        assert sha256_digest(blob) == descriptor["digest"]
        assert len(blob) == descriptor["size"]
        assert sha256_digest(gzip.decompress(blob)) == diff_id


@pytest.mark.parametrize(("push_format", "media_type"), [("oci", OCI_MANIFEST), ("v2s2", DOCKER_MANIFEST)])
def test_push_then_pull_into_fresh_storage(
    hub_url: str,
    make_podman: Callable[[], Podman],
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
    repo_name: str,
    push_format: str,
    media_type: str,
) -> None:
    image = make_oci_image(tmp_path, layers=3, layer_size=2000)
    (built,) = image.manifests
    pusher = make_podman()
    image_id = load(pusher, image)
    digest_file = tmp_path / "digest"

    pusher(
        "push",
        "--tls-verify=false",
        "--format",
        push_format,
        "--digestfile",
        str(digest_file),
        image_id,
        f"docker://{hub_url}/{repo_name}:pushed",
    )

    raw = inspect_raw(skopeo, hub_url, f"{repo_name}:pushed")
    assert sha256_digest(raw) == digest_file.read_text().strip()
    manifest = json.loads(raw)
    assert manifest["mediaType"] == media_type
    config = get_blob(hub_url, repo_name, manifest["config"]["digest"])
    assert json.loads(config)["rootfs"]["diff_ids"] == list(built.diff_ids)
    assert_layers_match_diff_ids(hub_url, repo_name, manifest, built.diff_ids)

    puller = make_podman()
    pulled_id = puller("pull", "--tls-verify=false", f"{hub_url}/{repo_name}:pushed").stdout.strip()
    assert pulled_id == manifest["config"]["digest"].split(":", 1)[1]
    assert rootfs_layers(puller, pulled_id) == list(built.diff_ids)
    if push_format == "oci":
        assert pulled_id == image_id


def test_pull_by_digest(
    hub_url: str, make_podman: Callable[[], Podman], make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=2)
    pusher = make_podman()
    image_id = load(pusher, image)
    digest_file = tmp_path / "digest"
    pusher(
        "push", "--tls-verify=false", "--digestfile", str(digest_file), image_id, f"{hub_url}/{repo_name}:v1"
    )
    digest = digest_file.read_text().strip()

    puller = make_podman()
    pulled_id = puller("pull", "--tls-verify=false", f"{hub_url}/{repo_name}@{digest}").stdout.strip()

    assert pulled_id == image_id
    (info,) = json.loads(puller("image", "inspect", pulled_id).stdout)
    assert f"{hub_url}/{repo_name}@{digest}" in info["RepoDigests"]


@pytest.mark.parametrize("media", ["oci", "docker"])
def test_pull_each_platform_of_an_index(
    hub_url: str,
    make_podman: Callable[[], Podman],
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
    repo_name: str,
    media: str,
) -> None:
    image = make_oci_image(tmp_path, layers=2, media=media, platforms=PLATFORMS)
    skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:multi")
    assert_registry_has(skopeo, hub_url, repo_name, "multi", image)

    for platform in PLATFORMS:
        expected = image.for_platform(platform)
        podman = make_podman()
        arch = platform.split("/")[1]
        pulled_id = podman(
            "pull", "--tls-verify=false", "--arch", arch, f"{hub_url}/{repo_name}:multi"
        ).stdout.strip()
        assert pulled_id == expected.config_digest.split(":", 1)[1], f"wrong image pulled for {platform}"
        assert rootfs_layers(podman, pulled_id) == list(expected.diff_ids)


def test_pull_unknown_tag_fails(
    hub_url: str, podman: Podman, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=1)
    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:present")

    result = podman("pull", "--tls-verify=false", f"{hub_url}/{repo_name}:absent", check=False)

    assert result.returncode != 0
    assert "manifest unknown" in result.stderr.lower()


def test_search_finds_repository_and_lists_tags(
    hub_url: str, podman: Podman, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=1)
    image_id = load(podman, image)
    for tag in ("1.0", "latest"):
        podman("push", "--tls-verify=false", image_id, f"{hub_url}/{repo_name}:{tag}")
    term = repo_name.rsplit("-", 1)[1]  # the random suffix: only this test's repository matches

    found = json.loads(podman("search", "--tls-verify=false", "--format", "json", f"{hub_url}/{term}").stdout)
    assert [entry["Name"] for entry in found] == [f"{hub_url}/{repo_name}"]

    tags = json.loads(
        podman(
            "search", "--tls-verify=false", "--list-tags", "--format", "json", f"{hub_url}/{repo_name}"
        ).stdout
    )
    assert sorted(tag for entry in tags for tag in entry["Tags"]) == ["1.0", "latest"]


@pytest.mark.parametrize("push_format", ["oci", "v2s2"])
def test_manifest_list_built_by_podman(
    hub_url: str,
    make_podman: Callable[[], Podman],
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
    repo_name: str,
    push_format: str,
) -> None:
    image = make_oci_image(tmp_path, layers=2, platforms=PLATFORMS)
    podman = make_podman()
    podman("manifest", "create", "cargobay-test-list")
    podman("manifest", "add", "--all", "cargobay-test-list", image.oci_ref)

    podman(
        "manifest",
        "push",
        "--all",
        "--format",
        push_format,
        "--tls-verify=false",
        "cargobay-test-list",
        f"docker://{hub_url}/{repo_name}:list",
    )

    index = json.loads(inspect_raw(skopeo, hub_url, f"{repo_name}:list"))
    by_arch = {entry["platform"]["architecture"]: entry for entry in index["manifests"]}
    assert sorted(by_arch) == ["amd64", "arm64"]
    if push_format == "oci":
        assert {entry["digest"] for entry in index["manifests"]} == set(image.manifest_digests)
    for platform in PLATFORMS:
        arch = platform.split("/")[1]
        built = image.for_platform(platform)
        child = json.loads(inspect_raw(skopeo, hub_url, f"{repo_name}@{by_arch[arch]['digest']}"))
        puller = make_podman()
        pulled_id = puller(
            "pull", "--tls-verify=false", "--arch", arch, f"{hub_url}/{repo_name}:list"
        ).stdout.strip()
        assert pulled_id == child["config"]["digest"].split(":", 1)[1]
        assert rootfs_layers(puller, pulled_id) == list(built.diff_ids)
