"""`cargobay copy` between docker://, oci:, docker-archive: and the local store, checked with skopeo."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)


def _layout_entry(path: Path, tag: str) -> dict[str, Any]:
    index = json.loads((path / "index.json").read_text())
    for entry in index["manifests"]:
        if (entry.get("annotations") or {}).get("org.opencontainers.image.ref.name") == tag:
            return dict(entry)
    raise KeyError(tag)


def test_oci_to_registry_to_oci_keeps_bytes(
    cb: Any,
    make_oci_image: Callable[..., Any],
    tmp_path: Path,
    distribution_url: str,
    repo_name: str,
    skopeo: Any,
) -> None:
    image = make_oci_image(tmp_path, layers=3, platforms=["linux/amd64", "linux/arm64"])
    target = f"docker://{distribution_url}/{repo_name}:all"
    result = cb.run("copy", "--all", image.oci_ref, target, check=True)
    assert "Writing manifest list to image destination" in result.stdout
    raw = skopeo("inspect", "--raw", "--tls-verify=false", target).stdout.encode()
    assert raw == image.raw
    out = tmp_path / "back"
    cb.run("copy", "--all", target, f"oci:{out}:again", check=True)
    entry = _layout_entry(out, "again")
    assert entry["digest"] == image.digest
    for digest in image.blob_digests() | set(image.manifest_digests):
        assert (out / "blobs" / "sha256" / digest.split(":")[1]).read_bytes() == image.blobs[digest]
    skopeo("inspect", f"oci:{out}:again")  # skopeo reads the layout cargobay wrote

    # Without --all one platform is selected and written as a plain image.
    single = tmp_path / "single"
    cb.run("copy", "--platform", "linux/arm64", target, f"oci:{single}:arm", check=True)
    assert _layout_entry(single, "arm")["digest"] == image.for_platform("linux/arm64").digest
    # Copying again skips what is there.
    again = cb.run("copy", "--platform", "linux/arm64", target, f"oci:{single}:arm", check=True)
    assert "skipped: already exists" in again.stdout


def test_registry_to_registry_mounts_within_one_registry(
    cb: Any, seed: Callable[..., Any], distribution_url: str
) -> None:
    seeded = seed(layers=2)
    result = cb.run(
        "copy", f"docker://{seeded.ref}", f"docker://{distribution_url}/{seeded.repository}-m:x", check=True
    )
    assert result.stdout.count(f"mounted from {seeded.repository}") == 3  # two layers and the config


def test_docker_archive_write_read_and_skopeo(
    cb: Any,
    make_oci_image: Callable[..., Any],
    tmp_path: Path,
    skopeo: Any,
    distribution_url: str,
    repo_name: str,
) -> None:
    image = make_oci_image(tmp_path, layers=2, media="docker")
    archive = tmp_path / "image.tar"
    cb.run("copy", image.oci_ref, f"docker-archive:{archive}:example/app:v1", check=True)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= names
    assert manifest[0]["RepoTags"] == ["example/app:v1"]
    info = json.loads(skopeo("inspect", f"docker-archive:{archive}").stdout)
    assert info["Layers"] == list(image.manifests[0].diff_ids)  # skopeo names archive layers by diffID
    skopeo("copy", f"docker-archive:{archive}", f"oci:{tmp_path}/from-archive:x")  # and can read them

    # Read it back: the archive carries the real manifest, so the digest is unchanged.
    target = f"docker://{distribution_url}/{repo_name}:from-archive"
    cb.run("copy", f"docker-archive:{archive}", target, check=True)
    raw = skopeo("inspect", "--raw", "--tls-verify=false", target).stdout.encode()
    assert raw == image.raw

    # An archive written by skopeo (legacy layout, no index.json): a manifest is synthesised.
    legacy = tmp_path / "legacy.tar"
    skopeo("copy", image.ref, f"docker-archive:{legacy}:legacy/app:1")
    cb.run("copy", f"docker-archive:{legacy}", "legacy/app:loaded", check=True)
    assert "docker.io/legacy/app:loaded" in cb.refs()
    legacy_target = f"docker://{distribution_url}/{repo_name}:legacy"
    cb.run("copy", "legacy/app:loaded", legacy_target, check=True)
    pushed = json.loads(skopeo("inspect", "--tls-verify=false", legacy_target).stdout)
    assert len(pushed["Layers"]) == 2
    skopeo("copy", "--src-tls-verify=false", legacy_target, f"oci:{tmp_path}/legacy-out:x")


def test_local_store_round_trip(
    cb: Any, make_oci_image: Callable[..., Any], tmp_path: Path, skopeo: Any
) -> None:
    image = make_oci_image(tmp_path, layers=2)
    cb.run("copy", image.oci_ref, "myapp:1", check=True)
    assert "docker.io/library/myapp:1" in cb.refs()
    info = json.loads(skopeo("inspect", f"oci:{cb.store_root}:docker.io/library/myapp:1").stdout)
    assert info["Digest"] == image.digest
    out = tmp_path / "out"
    cb.run("copy", "myapp:1", f"oci:{out}:y", check=True)
    assert _layout_entry(out, "y")["digest"] == image.digest


def test_copy_errors(cb: Any, tmp_path: Path, make_oci_image: Callable[..., Any]) -> None:
    missing = cb.run("copy", f"oci:{tmp_path}/nothing:x", f"oci:{tmp_path}/out")
    assert missing.returncode == 1 and missing.stderr.startswith("Error: open ")
    assert "Traceback" not in missing.stderr
    image = make_oci_image(tmp_path, layers=1)
    no_tag = cb.run("copy", f"oci:{image.path}:other", f"oci:{tmp_path}/out")
    assert no_tag.stderr == 'Error: no descriptor found for reference "other"\n'
    local = cb.run("copy", "nothere:1", f"oci:{tmp_path}/out")
    assert local.stderr == "Error: No such image: nothere:1\n"
    unsupported = cb.run("copy", "dir:/x", f"oci:{tmp_path}/out")
    assert unsupported.stderr.startswith("Error: unsupported transport 'dir'")
    multi = make_oci_image(tmp_path, layers=1, platforms=["linux/amd64", "linux/arm64"])
    archive = cb.run("copy", "--all", multi.oci_ref, f"docker-archive:{tmp_path}/x.tar")
    assert (
        archive.stderr
        == "Error: docker-archive holds single-platform images only: choose one with --platform\n"
    )
    assert not (tmp_path / "x.tar").exists()
