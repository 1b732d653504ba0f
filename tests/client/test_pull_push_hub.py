"""Round trip against our own hub (`cargobay serve`): push from the local store, pull back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(120)


def test_push_and_pull_through_the_hub(
    cb: Any, make_oci_image: Callable[..., Any], tmp_path: Any, hub_url: str, repo_name: str
) -> None:
    image = make_oci_image(tmp_path, layers=2, layer_size=20_000, platforms=["linux/amd64", "linux/arm64"])
    ref = f"{hub_url}/{repo_name}:v1"
    cb.run("copy", "--all", image.oci_ref, ref, check=True)
    pushed = cb.run("push", ref)
    if pushed.returncode != 0 and "unauthorized" in pushed.stderr:
        pytest.skip(f"the hub needs credentials for push: {pushed.stderr.strip()}")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.splitlines()[-1] == f"v1: digest: {image.digest} size: {len(image.raw)}"
    cb.env["CARGOBAY_HOME"] = str(tmp_path / "second-store")
    pulled = cb.run("pull", "--platform", "linux/arm64", ref, check=True)
    assert f"Digest: {image.digest}" in pulled.stdout
    out = tmp_path / "out"
    cb.run("copy", "--all", f"docker://{ref}", f"oci:{out}:x", check=True)
    for digest in image.blob_digests():
        assert (out / "blobs" / "sha256" / digest.split(":")[1]).read_bytes() == image.blobs[digest]
