"""skopeo against the hub: push, pull back, list tags and delete, digests unchanged."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.checks import (
    assert_copy_identical,
    assert_registry_has,
    copy_back,
    inspect_raw,
    list_tags,
    push_concurrently,
)
from support.http import request
from support.images import OCI_INDEX, Layout, OciImage, build_oci_artifact, sha256_digest
from support.servers import Hub
from support.tools import Skopeo

pytestmark = pytest.mark.interop

MakeImage = Callable[..., OciImage]
PLATFORMS = ["linux/amd64", "linux/arm64"]


@pytest.mark.parametrize("media", ["oci", "docker"])
def test_multi_layer_image_round_trip(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str, media: str
) -> None:
    image = make_oci_image(tmp_path, layers=3, layer_size=3000, media=media, tag="v1")

    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:v1")

    assert_registry_has(skopeo, hub_url, repo_name, "v1", image)
    back = copy_back(skopeo, hub_url, f"{repo_name}:v1", image, tmp_path / "back")
    assert_copy_identical(image, back)


@pytest.mark.parametrize("media", ["oci", "docker"])
def test_multi_arch_index_round_trip(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str, media: str
) -> None:
    image = make_oci_image(tmp_path, layers=2, layer_size=1500, media=media, platforms=PLATFORMS, tag="multi")
    assert image.is_index

    skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:multi")

    assert_registry_has(skopeo, hub_url, repo_name, "multi", image)
    back = copy_back(skopeo, hub_url, f"{repo_name}:multi", image, tmp_path / "back")
    assert_copy_identical(image, back)


def test_pull_one_platform_of_an_index(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=1, platforms=PLATFORMS, tag="multi")
    skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:multi")

    arm = image.for_platform("linux/arm64")
    target = tmp_path / "arm64"
    skopeo(
        "--override-arch",
        "arm64",
        "copy",
        "--src-tls-verify=false",
        f"docker://{hub_url}/{repo_name}:multi",
        f"oci:{target}:arm",
    )
    layout = Layout.open(target)
    assert layout.descriptor("arm")["digest"] == arm.digest
    assert layout.read_blob(arm.digest) == arm.raw
    for digest in (arm.config_digest, *arm.layer_digests):
        assert layout.read_blob(digest) == image.blobs[digest]


def test_copy_between_repositories_keeps_digests(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=2, platforms=PLATFORMS, tag="1.0")
    skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}/a:1.0")

    # registry to registry: skopeo mounts the blobs from the first repository
    skopeo(
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{hub_url}/{repo_name}/a:1.0",
        f"docker://{hub_url}/{repo_name}/b:2.0",
    )

    assert_registry_has(skopeo, hub_url, f"{repo_name}/b", "2.0", image)
    assert_registry_has(skopeo, hub_url, f"{repo_name}/a", "1.0", image)


def test_list_tags(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    first = make_oci_image(tmp_path, layers=1)
    second = make_oci_image(tmp_path, layers=1)
    skopeo("copy", "--dest-tls-verify=false", first.ref, f"docker://{hub_url}/{repo_name}:1.0")
    skopeo("copy", "--dest-tls-verify=false", second.ref, f"docker://{hub_url}/{repo_name}:2.0")
    for tag in ("latest", "1.0.1", "beta"):
        skopeo(
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{hub_url}/{repo_name}:1.0",
            f"docker://{hub_url}/{repo_name}:{tag}",
        )

    tags = list_tags(skopeo, hub_url, repo_name)
    assert sorted(tags) == ["1.0", "1.0.1", "2.0", "beta", "latest"]
    assert inspect_raw(skopeo, hub_url, f"{repo_name}:latest") == first.raw
    assert inspect_raw(skopeo, hub_url, f"{repo_name}:2.0") == second.raw


def test_tags_are_listed_in_lexical_order(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    # distribution-spec: tags in lexical ("ASCIIbetical") order; distribution 2.8 does not sort
    image = make_oci_image(tmp_path, layers=1)
    pushed = ["v10", "latest", "2.0", "v9", "1.0", "beta", "1.0.1"]
    for tag in pushed:
        skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:{tag}")

    assert list_tags(skopeo, hub_url, repo_name) == sorted(pushed)


def test_list_tags_of_unknown_repository_fails(hub_url: str, skopeo: Skopeo, repo_name: str) -> None:
    result = skopeo("list-tags", "--tls-verify=false", f"docker://{hub_url}/{repo_name}", check=False)
    assert result.returncode != 0
    response = request("GET", f"http://{hub_url}/v2/{repo_name}/tags/list")
    assert response.status == 404
    assert [e["code"] for e in json.loads(response.body)["errors"]] == ["NAME_UNKNOWN"]


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_delete(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str, by: str
) -> None:
    doomed = make_oci_image(tmp_path, layers=2)
    kept = make_oci_image(tmp_path, layers=2)
    skopeo("copy", "--dest-tls-verify=false", doomed.ref, f"docker://{hub_url}/{repo_name}:doomed")
    skopeo("copy", "--dest-tls-verify=false", kept.ref, f"docker://{hub_url}/{repo_name}:kept")
    assert sorted(list_tags(skopeo, hub_url, repo_name)) == ["doomed", "kept"]

    reference = f"{repo_name}:doomed" if by == "tag" else f"{repo_name}@{doomed.digest}"
    skopeo("delete", "--tls-verify=false", f"docker://{hub_url}/{reference}")

    for name in (f"{repo_name}:doomed", f"{repo_name}@{doomed.digest}"):
        result = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{hub_url}/{name}", check=False)
        assert result.returncode != 0, f"{name} still readable after skopeo delete"
        assert "manifest unknown" in result.stderr.lower()
    for reference_part in ("doomed", doomed.digest):
        response = request("GET", f"http://{hub_url}/v2/{repo_name}/manifests/{reference_part}")
        assert response.status == 404
    assert list_tags(skopeo, hub_url, repo_name) == ["kept"]
    assert_registry_has(skopeo, hub_url, repo_name, "kept", kept)


def test_delete_multi_arch_index(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=1, platforms=PLATFORMS)
    skopeo("copy", "--all", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:multi")

    skopeo("delete", "--tls-verify=false", f"docker://{hub_url}/{repo_name}:multi")

    result = skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{hub_url}/{repo_name}:multi", check=False
    )
    assert result.returncode != 0
    assert "manifest unknown" in result.stderr.lower()
    assert request("GET", f"http://{hub_url}/v2/{repo_name}/manifests/{image.digest}").status == 404


def test_large_layer_round_trip(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    # 8 MiB of random data: many reads/writes per request, beyond any single buffer
    image = make_oci_image(tmp_path, layers=1, layer_size=8 * 1024 * 1024, tag="big")

    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:big")

    assert_registry_has(skopeo, hub_url, repo_name, "big", image)
    back = copy_back(skopeo, hub_url, f"{repo_name}:big", image, tmp_path / "back")
    assert_copy_identical(image, back)


def test_concurrent_pushes_of_one_image(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    # four skopeo processes push the same blobs at once, to one repository and to others;
    # the hub's two worker processes take the requests in parallel
    image = make_oci_image(tmp_path, layers=3, layer_size=200_000, platforms=PLATFORMS)
    targets = [f"{repo_name}:same-a", f"{repo_name}:same-b", f"{repo_name}/x:1", f"{repo_name}/y:1"]
    push_concurrently(skopeo, image, hub_url, targets)

    for target in targets:
        repository, tag = target.rsplit(":", 1)
        assert_registry_has(skopeo, hub_url, repository, tag, image)


def test_delete_refused_when_disabled(
    start_hub: Callable[..., Hub], skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path
) -> None:
    hub = start_hub(config={"delete_enabled": False}, workers=1)
    image = make_oci_image(tmp_path, layers=1)
    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub.url}/lib/app:1")

    result = skopeo("delete", "--tls-verify=false", f"docker://{hub.url}/lib/app:1", check=False)

    assert result.returncode != 0
    response = request("DELETE", f"http://{hub.url}/v2/lib/app/manifests/{image.digest}")
    assert response.status in (400, 405)
    assert_registry_has(skopeo, hub.url, "lib/app", "1", image)


def test_inspect_reports_the_image(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=2)
    for tag in ("1.0", "latest"):
        skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:{tag}")

    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{hub_url}/{repo_name}:1.0").stdout)

    assert info["Digest"] == image.digest
    assert sorted(info["RepoTags"]) == ["1.0", "latest"]
    assert info["Layers"] == list(image.layer_digests)
    assert (info["Os"], info["Architecture"]) == ("linux", "amd64")
    config = json.loads(
        skopeo(
            "inspect", "--config", "--raw", "--tls-verify=false", f"docker://{hub_url}/{repo_name}:1.0"
        ).stdout
    )
    assert config["rootfs"]["diff_ids"] == list(image.manifests[0].diff_ids)


def test_pushing_a_tag_again_moves_it(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    old = make_oci_image(tmp_path, layers=1)
    new = make_oci_image(tmp_path, layers=1)
    skopeo("copy", "--dest-tls-verify=false", old.ref, f"docker://{hub_url}/{repo_name}:latest")
    skopeo("copy", "--dest-tls-verify=false", new.ref, f"docker://{hub_url}/{repo_name}:latest")

    assert inspect_raw(skopeo, hub_url, f"{repo_name}:latest") == new.raw
    assert inspect_raw(skopeo, hub_url, f"{repo_name}@{old.digest}") == old.raw  # untagged, still there
    assert list_tags(skopeo, hub_url, repo_name) == ["latest"]


def test_image_without_layers(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=0, tag="empty")
    assert image.layer_digests == ()

    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:empty")

    assert_registry_has(skopeo, hub_url, repo_name, "empty", image)


def test_zstd_layers_round_trip(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    # skopeo recompresses into zstd layers (another layer media type); then the hub's copy
    # is the reference: pulling it back must give the same bytes
    image = make_oci_image(tmp_path, layers=2, layer_size=5000)
    skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-compress-format",
        "zstd",
        "--dest-compress",
        image.ref,
        f"docker://{hub_url}/{repo_name}:zstd",
    )
    raw = inspect_raw(skopeo, hub_url, f"{repo_name}:zstd")
    manifest = json.loads(raw)
    assert {layer["mediaType"] for layer in manifest["layers"]} == {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    }

    target = tmp_path / "back"
    skopeo("copy", "--src-tls-verify=false", f"docker://{hub_url}/{repo_name}:zstd", f"oci:{target}:zstd")

    layout = Layout.open(target)
    assert layout.descriptor("zstd")["digest"] == sha256_digest(raw)
    for layer in manifest["layers"]:
        assert sha256_digest(layout.read_blob(layer["digest"])) == layer["digest"]


@pytest.mark.parametrize(
    ("name", "tag"),
    [
        ("a", "A"),
        ("org.example/team_x/app-1", "v1.0.0-rc.1_build"),
        ("x__y/z--w/v.v", "_" + "t" * 127),  # longest tag: 128 characters
    ],
)
def test_name_and_tag_forms(
    hub_url: str,
    skopeo: Skopeo,
    make_oci_image: MakeImage,
    tmp_path: Path,
    repo_name: str,
    name: str,
    tag: str,
) -> None:
    image = make_oci_image(tmp_path, layers=1)
    repository = f"{repo_name}/{name}"

    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repository}:{tag}")

    assert list_tags(skopeo, hub_url, repository) == [tag]
    assert_registry_has(skopeo, hub_url, repository, tag, image)


def test_referrers_list_artifacts_pushed_with_skopeo(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=1)
    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:1.0")
    sbom = build_oci_artifact(
        tmp_path / "sbom", subject=image, artifact_type="application/vnd.example.sbom.v1+json"
    )
    sig = build_oci_artifact(
        tmp_path / "sig", subject=image, artifact_type="application/vnd.example.sig.v1+json"
    )
    for artifact in (sbom, sig):
        skopeo(
            "copy",
            "--dest-tls-verify=false",
            artifact.ref,
            f"docker://{hub_url}/{repo_name}@{artifact.digest}",
        )
        assert inspect_raw(skopeo, hub_url, f"{repo_name}@{artifact.digest}") == artifact.raw

    response = request("GET", f"http://{hub_url}/v2/{repo_name}/referrers/{image.digest}")
    assert response.status == 200
    assert (response.header("Content-Type") or "").startswith(OCI_INDEX)
    listed = {d["digest"]: d for d in json.loads(response.body)["manifests"]}
    assert set(listed) == {sbom.digest, sig.digest}
    for artifact in (sbom, sig):
        entry = listed[artifact.digest]
        assert entry["artifactType"] == artifact.artifact_type
        assert entry["annotations"] == artifact.annotations
        assert entry["size"] == len(artifact.raw)

    wanted = urllib.parse.quote(sig.artifact_type, safe="")  # "+" must travel as %2B
    filtered = request(
        "GET", f"http://{hub_url}/v2/{repo_name}/referrers/{image.digest}?artifactType={wanted}"
    )
    assert filtered.status == 200
    assert [d["digest"] for d in json.loads(filtered.body)["manifests"]] == [sig.digest]
    assert filtered.header("OCI-Filters-Applied") == "artifactType"


def test_list_tags_follows_pagination(
    hub_url: str, skopeo: Skopeo, make_oci_image: MakeImage, tmp_path: Path, repo_name: str
) -> None:
    # more tags than one default page (1000 in distribution and the hub): skopeo must follow
    # the hub's Link headers to list them all; the extra tags are PUT over plain HTTP (fast)
    image = make_oci_image(tmp_path, layers=1)
    skopeo("copy", "--dest-tls-verify=false", image.ref, f"docker://{hub_url}/{repo_name}:t0000")
    tags = [f"t{i:04d}" for i in range(1050)]

    def put(tag: str) -> int:
        url = f"http://{hub_url}/v2/{repo_name}/manifests/{tag}"
        return request("PUT", url, headers={"Content-Type": image.media_type}, data=image.raw).status

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(put, tags[1:])) == {201}

    first_page = request("GET", f"http://{hub_url}/v2/{repo_name}/tags/list")
    assert first_page.status == 200
    assert len(json.loads(first_page.body)["tags"]) < len(tags)
    assert 'rel="next"' in (first_page.header("Link") or "")
    assert list_tags(skopeo, hub_url, repo_name) == tags
