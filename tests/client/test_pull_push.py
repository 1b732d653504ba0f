"""`cargobay pull` / `cargobay push` end to end: the real command against the CNCF registry
(directly, or through a proxy that adds auth or faults), with docker's exact output lines."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


def _short(digest: str) -> str:
    return digest.split(":", 1)[1][:12]


def test_pull_prints_docker_lines_and_is_idempotent(cb: Any, seed: Callable[..., Any]) -> None:
    seeded = seed(layers=3, layer_size=4000, tag="latest")
    built = seeded.image.manifests[0]
    name = f"{seeded.registry}/{seeded.repository}"
    result = cb.run("pull", name, check=True)
    lines = _lines(result.stdout)
    shorts = [_short(d) for d in built.layer_digests]
    assert lines[:5] == [
        "Using default tag: latest",
        f"latest: Pulling from {seeded.repository}",
        *(f"{s}: Pulling fs layer" for s in shorts),
    ]
    assert lines[-3:] == [
        f"Digest: {seeded.image.digest}",
        f"Status: Downloaded newer image for {name}:latest",
        f"{name}:latest",
    ]
    middle = lines[5:-3]
    assert sorted(middle) == sorted(
        [f"{s}: Download complete" for s in shorts] + [f"{s}: Pull complete" for s in shorts]
    )
    assert [line for line in middle if line.endswith("Pull complete")] == [
        f"{s}: Pull complete" for s in shorts
    ]
    for s in shorts:
        assert middle.index(f"{s}: Download complete") < middle.index(f"{s}: Pull complete")
    assert result.stderr == ""
    assert f"{name}:latest" in cb.refs()

    again = cb.run("pull", f"{name}:latest", check=True)
    assert _lines(again.stdout) == [
        f"latest: Pulling from {seeded.repository}",
        f"Digest: {seeded.image.digest}",
        f"Status: Image is up to date for {name}:latest",
        f"{name}:latest",
    ]
    quiet = cb.run("pull", "-q", name, check=True)
    assert quiet.stdout == f"{name}:latest\n"


def test_pull_shared_layer_already_exists(
    cb: Any, seed: Callable[..., Any], skopeo: Any, tmp_path: Path
) -> None:
    first = seed(layers=2, tag="one")
    cb.run("pull", first.ref, check=True)
    # A second image in another repository sharing the first image's layers plus one more.
    second_repo = first.repository + "-b"
    skopeo("copy", "--dest-tls-verify=false", first.image.ref, f"docker://{first.registry}/{second_repo}:two")
    result = cb.run("pull", f"{first.registry}/{second_repo}:two", check=True)
    shorts = [_short(d) for d in first.image.manifests[0].layer_digests]
    assert _lines(result.stdout) == [
        f"two: Pulling from {second_repo}",
        f"Digest: {first.image.digest}",
        f"Status: Downloaded newer image for {first.registry}/{second_repo}:two",
        f"{first.registry}/{second_repo}:two",
    ]
    assert shorts  # every blob was already in the store: nothing downloaded, no layer lines


def test_pull_multiarch_selects_platform_and_skopeo_reads_the_store(
    cb: Any, seed: Callable[..., Any], skopeo: Any, tmp_path: Path
) -> None:
    # OCI media types: skopeo's oci: transport ignores index.json entries of Docker media types.
    seeded = seed(layers=2, platforms=["linux/amd64", "linux/arm64"], media="oci")
    arm = seeded.image.for_platform("linux/arm64")
    result = cb.run("pull", "--platform", "linux/arm64", seeded.ref, check=True)
    lines = _lines(result.stdout)
    assert f"Digest: {seeded.image.digest}" in lines  # the index, as docker prints it
    store = cb.store_root
    for digest in (*arm.layer_digests, arm.config_digest, arm.digest, seeded.image.digest):
        assert (store / "blobs" / "sha256" / digest.split(":")[1]).is_file()
    amd = seeded.image.for_platform("linux/amd64")
    assert not (store / "blobs" / "sha256" / amd.config_digest.split(":")[1]).exists()

    # DOCKER_DEFAULT_PLATFORM is the default platform.
    env_result = cb.run("pull", seeded.ref, check=True)
    assert "Image is up to date" in env_result.stdout or "Downloaded newer image" in env_result.stdout

    missing = cb.run("pull", "--platform", "linux/s390x", seeded.ref)
    assert missing.returncode == 1
    assert missing.stderr == "Error: no matching manifest for linux/s390x in the manifest list entries\n"

    # skopeo reads what cargobay stored (an OCI layout; ref.name is the full reference).
    info = json.loads(skopeo("inspect", "--override-arch", "arm64", f"oci:{store}:{seeded.ref}").stdout)
    assert info["Digest"] == arm.digest or info["Digest"] == seeded.image.digest
    out = tmp_path / "out"
    skopeo("copy", "--override-arch", "arm64", f"oci:{store}:{seeded.ref}", f"oci:{out}:x")
    assert (out / "blobs" / "sha256" / arm.layer_digests[0].split(":")[1]).is_file()


def test_pull_all_tags(cb: Any, seed: Callable[..., Any]) -> None:
    one = seed(layers=1, tag="a", media="docker")
    seed(
        layers=1, tag="b", repository=one.repository, platforms=["linux/amd64", "linux/arm64"], media="docker"
    )
    name = f"{one.registry}/{one.repository}"
    result = cb.run("pull", "-a", name, check=True)
    lines = _lines(result.stdout)
    assert f"a: Pulling from {one.repository}" in lines and f"b: Pulling from {one.repository}" in lines
    assert lines[-2:] == [f"Status: Downloaded newer image for {name}", name]
    assert {f"{name}:a", f"{name}:b"} <= cb.refs()
    refused = cb.run("pull", "-a", f"{name}:a")
    assert refused.stderr == "Error: tag can't be used with --all-tags/-a\n"


def test_pull_errors(cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]) -> None:
    seeded = seed(layers=1)
    name = f"{seeded.registry}/{seeded.repository}"
    missing = cb.run("pull", f"{name}:nope")
    assert missing.returncode == 1
    assert (
        missing.stderr == f"Error: manifest for {name}:nope not found: manifest unknown: manifest unknown\n"
    )
    assert missing.stdout == f"nope: Pulling from {seeded.repository}\n" or missing.stdout == ""

    proxy = make_proxy(auth="bearer", anonymous_pull=False)
    denied = cb.run("pull", f"{proxy.url}/{seeded.repository}:{seeded.tag}")
    assert denied.returncode == 1
    assert denied.stderr == (
        f"Error: pull access denied for {proxy.url}/{seeded.repository}, repository does not exist or may require "
        "'cargobay login': unauthorized: authentication required\n"
    )
    bad = cb.run("pull", "Foo")
    assert bad.stderr == "Error: invalid reference format: repository name (library/Foo) must be lowercase\n"
    refused = cb.run("pull", "127.0.0.1:1/x:1")
    assert refused.returncode == 1
    assert (
        refused.stderr
        == 'Error: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused\n'
    )
    assert "Traceback" not in missing.stderr + denied.stderr + refused.stderr
    assert cb.refs() == set()


def test_interrupted_download_resumes_with_range(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=2, layer_size=300_000)
    proxy = make_proxy(cut_blob_after=100_000)
    ref = f"{proxy.url}/{seeded.repository}:{seeded.tag}"
    result = cb.run("pull", ref, check=True)
    assert "Retrying in" in result.stdout
    assert ref in cb.refs()
    gets = proxy.blob_gets()
    ranged = [r for _, r in gets if r]
    assert ranged and all(r.startswith("bytes=") and not r.startswith("bytes=0-") for r in ranged)
    # Each layer: one cut GET and one resumed GET, nothing fetched twice from the start.
    for digest in seeded.image.manifests[0].layer_digests:
        from_start = [r for p, r in gets if p.endswith(digest) and not r]
        assert len(from_start) == 1


def test_corrupt_blob_is_discarded(cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]) -> None:
    seeded = seed(layers=1, layer_size=2000)
    proxy = make_proxy(corrupt_blobs=True)
    result = cb.run("pull", f"{proxy.url}/{seeded.repository}:{seeded.tag}")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: filesystem layer verification failed for digest sha256:")
    assert cb.refs() == set()
    blobs = cb.store_root / "blobs" / "sha256"
    for digest in seeded.image.blob_digests():
        assert not (blobs / digest.split(":")[1]).exists()
    # Transfers cancelled by the failure may keep partial files (never published); a later pull
    # that resumes from a bad partial file detects it and starts that blob again.
    proxy.options.corrupt_blobs = False
    cb.run("pull", f"{proxy.url}/{seeded.repository}:{seeded.tag}", check=True)
    for digest in seeded.image.blob_digests():
        assert (blobs / digest.split(":")[1]).is_file()


def test_ctrl_c_mid_pull_then_resume(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=1, layer_size=400_000)
    proxy = make_proxy(stall_blob_after=150_000)
    ref = f"{proxy.url}/{seeded.repository}:{seeded.tag}"
    process = cb.popen("pull", ref)
    uploads = cb.store_root / "uploads"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        partial = [p for p in uploads.iterdir() if p.stat().st_size > 0] if uploads.exists() else []
        if partial:
            break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail("no partial download appeared")
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert cb.refs() == set()
    assert any(p.stat().st_size > 0 for p in uploads.iterdir())

    proxy.options.stall_blob_after = None
    cb.run("pull", ref, check=True)
    assert ref in cb.refs()
    layer = seeded.image.manifests[0].layer_digests[0]
    resumed = [r for p, r in proxy.blob_gets() if p.endswith(layer) and r]
    assert resumed and resumed[-1] != "bytes=0-"


def test_push_round_trip_with_mounts(cb: Any, seed: Callable[..., Any], skopeo: Any) -> None:
    seeded = seed(layers=2)
    cb.run("pull", seeded.ref, check=True)
    target = f"{seeded.registry}/{seeded.repository}-pushed:v2"
    cb.run("copy", seeded.ref, target, check=True)  # local store → local store: a new tag
    result = cb.run("push", target, check=True)
    lines = _lines(result.stdout)
    shorts = [_short(d) for d in seeded.image.manifests[0].layer_digests]
    assert lines[0] == f"The push refers to repository [{target.rsplit(':', 1)[0]}]"
    assert lines[1:3] == [f"{s}: Preparing" for s in shorts]
    assert sorted(lines[3:5]) == sorted(f"{s}: Mounted from {seeded.repository}" for s in shorts)
    assert lines[-1] == f"v2: digest: {seeded.image.digest} size: {len(seeded.image.raw)}"
    info = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{target}").stdout)
    assert info["Digest"] == seeded.image.digest

    again = cb.run("push", target, check=True)
    assert sorted(_lines(again.stdout)[3:5]) == sorted(f"{s}: Layer already exists" for s in shorts)


def test_push_new_layers_and_default_tag(
    cb: Any, seed: Callable[..., Any], distribution_url: str, repo_name: str
) -> None:
    seeded = seed(layers=2, layer_size=3000, tag="latest")
    oci = seeded.image.oci_ref
    target = f"{distribution_url}/{repo_name}-fresh"
    cb.run("copy", oci, target, check=True)  # OCI layout → local store
    result = cb.run("push", target, check=True)
    lines = _lines(result.stdout)
    shorts = [_short(d) for d in seeded.image.manifests[0].layer_digests]
    assert lines[0] == "Using default tag: latest"
    assert lines[1] == f"The push refers to repository [{target}]"
    assert {f"{s}: Pushed" for s in shorts} <= set(lines)
    assert lines[-1] == f"latest: digest: {seeded.image.digest} size: {len(seeded.image.raw)}"
    fresh = cb.run("pull", f"{target}:latest", check=True)
    assert "Image is up to date" in fresh.stdout


def test_push_errors(
    cb: Any, distribution_url: str, make_proxy: Callable[..., Any], seed: Callable[..., Any]
) -> None:
    result = cb.run("push", f"{distribution_url}/nothing/here")
    assert result.returncode == 1
    assert (
        result.stderr
        == f"Error: An image does not exist locally with the tag: {distribution_url}/nothing/here\n"
    )
    seeded = seed(layers=1)
    proxy = make_proxy(auth="bearer")
    pulled = f"{proxy.url}/{seeded.repository}:{seeded.tag}"
    cb.run("pull", pulled, check=True)
    missing_tag = cb.run("push", f"{proxy.url}/{seeded.repository}:nope")
    assert missing_tag.stderr == f"Error: tag does not exist: {proxy.url}/{seeded.repository}:nope\n"
    denied = cb.run("push", pulled)
    assert denied.returncode == 1
    assert denied.stderr == "Error: unauthorized: authentication required\n"
    cb.write_docker_config({"auths": {proxy.url: {"auth": "YWxpY2U6czNjcmV0"}}})
    cb.run("push", pulled, check=True)


def test_push_all_tags_and_index(
    cb: Any, seed: Callable[..., Any], distribution_url: str, skopeo: Any
) -> None:
    multi = seed(layers=1, platforms=["linux/amd64", "linux/arm64"])
    cb.run("copy", "--all", multi.image.oci_ref, f"{distribution_url}/{multi.repository}-all:one", check=True)
    cb.run("copy", "--all", multi.image.oci_ref, f"{distribution_url}/{multi.repository}-all:two", check=True)
    result = cb.run("push", "-a", f"{distribution_url}/{multi.repository}-all", check=True)
    lines = _lines(result.stdout)
    size = len(multi.image.raw)
    assert f"one: digest: {multi.image.digest} size: {size}" in lines
    assert f"two: digest: {multi.image.digest} size: {size}" in lines
    raw = skopeo(
        "inspect", "--raw", "--tls-verify=false", f"docker://{distribution_url}/{multi.repository}-all:two"
    )
    assert raw.stdout.encode() == multi.image.raw  # the whole index, byte for byte


def test_disk_full_fails_cleanly(cb: Any, seed: Callable[..., Any], tmp_path: Path) -> None:
    import os
    import subprocess

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(small)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {mounted.stderr.decode().strip()}")
    try:
        seeded = seed(layers=2, layer_size=500_000)
        cb.env["CARGOBAY_HOME"] = str(small / "store")
        result = cb.run("pull", seeded.ref)
        assert result.returncode == 1
        assert result.stderr.endswith("no space left on device\n"), result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert cb.refs() == set()
        # Once there is room again (another store), the same pull works.
        cb.env["CARGOBAY_HOME"] = str(tmp_path / "roomy")
        cb.run("pull", seeded.ref, check=True)
    finally:
        subprocess.run(["umount", str(small)], check=False)


def test_concurrent_pulls_download_each_blob_once(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=3, layer_size=1_500_000)
    proxy = make_proxy()
    ref = f"{proxy.url}/{seeded.repository}:{seeded.tag}"
    processes = [cb.popen("pull", ref) for _ in range(3)]
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr
    assert ref in cb.refs()
    for digest in seeded.image.blob_digests():
        fetched = [p for p, _ in proxy.blob_gets() if p.endswith(digest)]
        assert len(fetched) == 1, (digest, fetched)


def test_up_to_date_check_uses_head_not_get(
    cb: Any, seed: Callable[..., Any], make_proxy: Callable[..., Any]
) -> None:
    seeded = seed(layers=1, platforms=["linux/amd64", "linux/arm64"])
    proxy = make_proxy()
    ref = f"{proxy.url}/{seeded.repository}:{seeded.tag}"
    cb.run("pull", ref, check=True)
    proxy.requests.clear()
    again = cb.run("pull", ref, check=True)
    assert "Status: Image is up to date" in again.stdout
    manifest_requests = [(m, p) for m, p, _ in proxy.requests if "/manifests/" in p]
    assert manifest_requests == [("HEAD", f"/v2/{seeded.repository}/manifests/{seeded.tag}")]
    assert not [p for m, p, _ in proxy.requests if "/blobs/" in p]
