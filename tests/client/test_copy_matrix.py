"""Every transport pair through `api.copy`: the bytes (manifest digest and every blob) survive
oci: → X → Y → oci: for X, Y in {oci:, docker://, docker-archive:, local store}."""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cargobay import api

KINDS = ("oci", "docker", "archive", "local")
pytestmark = pytest.mark.timeout(120)


def _target(kind: str, tmp_path: Path, registry: str, repo: str) -> str:
    name = uuid.uuid4().hex[:8]
    if kind == "oci":
        return f"oci:{tmp_path / ('layout-' + name)}:t{name}"
    if kind == "docker":
        return f"docker://{registry}/{repo}-{name}:t1"
    if kind == "archive":
        return f"docker-archive:{tmp_path / (name + '.tar')}:matrix/{name}:t1"
    return f"matrix/{name}:t1"


@pytest.mark.parametrize("media", ["oci", "docker"])
@pytest.mark.parametrize(("first", "second"), list(itertools.product(KINDS, KINDS)))
async def test_transport_pairs_keep_bytes(
    cb: Any,
    make_oci_image: Callable[..., Any],
    tmp_path: Path,
    distribution_url: str,
    repo_name: str,
    first: str,
    second: str,
    media: str,
) -> None:
    image = make_oci_image(tmp_path, layers=2, layer_size=3000, media=media)
    a = _target(first, tmp_path, distribution_url, repo_name)
    b = _target(second, tmp_path, distribution_url, repo_name)
    await api.copy(image.oci_ref, a)
    await api.copy(a, b)
    final = tmp_path / "final"
    outcome = await api.copy(b, f"oci:{final}:end")
    assert outcome.digest == image.digest
    index = json.loads((final / "index.json").read_text())
    (entry,) = [
        e for e in index["manifests"] if e["annotations"]["org.opencontainers.image.ref.name"] == "end"
    ]
    assert entry["digest"] == image.digest and entry["mediaType"] == image.media_type
    for digest, data in image.blobs.items():
        assert (final / "blobs" / "sha256" / digest.split(":")[1]).read_bytes() == data


@pytest.mark.parametrize(("first", "second"), list(itertools.product(("oci", "docker", "local"), repeat=2)))
async def test_whole_index_pairs(
    cb: Any,
    make_oci_image: Callable[..., Any],
    tmp_path: Path,
    distribution_url: str,
    repo_name: str,
    first: str,
    second: str,
) -> None:
    image = make_oci_image(tmp_path, layers=1, layer_size=2000, platforms=["linux/amd64", "linux/arm64/v8"])
    a = _target(first, tmp_path, distribution_url, repo_name)
    b = _target(second, tmp_path, distribution_url, repo_name)
    await api.copy(image.oci_ref, a, all_platforms=True)
    await api.copy(a, b, all_platforms=True)
    final = tmp_path / "final"
    outcome = await api.copy(b, f"oci:{final}:end", all_platforms=True)
    assert outcome.digest == image.digest
    for digest, data in image.blobs.items():
        assert (final / "blobs" / "sha256" / digest.split(":")[1]).read_bytes() == data
    # One platform out of the index: that platform's image manifest, exactly.
    arm = tmp_path / "arm"
    picked = await api.copy(b, f"oci:{arm}:arm", platform="linux/arm64")
    assert picked.digest == image.for_platform("linux/arm64/v8").digest
