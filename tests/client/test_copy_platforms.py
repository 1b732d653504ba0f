"""Platform defaults and matching used when an index is resolved (containerd's normalisation)."""

from __future__ import annotations

import pytest

from cargobay.image import platforms
from cargobay.oci.digest import digest_bytes
from cargobay.oci.manifest import Descriptor, Platform


def _desc(text: str) -> Descriptor:
    parts = text.split("/")
    platform = Platform(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
    return Descriptor(
        "application/vnd.oci.image.manifest.v1+json", digest_bytes(text.encode()), 1, platform=platform
    )


def test_normalisation() -> None:
    assert str(platforms.normalize(Platform("linux", "aarch64"))) == "linux/arm64/v8"
    assert str(platforms.normalize(Platform("linux", "arm64"))) == "linux/arm64/v8"
    assert str(platforms.normalize(Platform("linux", "arm"))) == "linux/arm/v7"
    assert str(platforms.normalize(Platform("linux", "x86_64"))) == "linux/amd64"
    assert str(platforms.normalize(Platform("Linux", "amd64", "v1"))) == "linux/amd64"


def test_default_platform_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_DEFAULT_PLATFORM", "linux/arm64")
    assert str(platforms.default_platform()) == "linux/arm64/v8"
    monkeypatch.delenv("DOCKER_DEFAULT_PLATFORM")
    assert platforms.default_platform().os == "linux"
    assert platforms.parse_platform("linux").os == "linux"


def test_selection() -> None:
    entries = (_desc("linux/amd64"), _desc("linux/arm/v6"), _desc("linux/arm/v7"), _desc("linux/arm64/v8"))
    assert platforms.select(entries, Platform("linux", "arm64")) == entries[3]
    assert platforms.select(entries, Platform("linux", "arm", "v6")) == entries[1]
    assert platforms.select(entries, Platform("linux", "arm")) == entries[2]
    assert platforms.select(entries, Platform("linux", "s390x")) is None
    assert platforms.select(entries, Platform("windows", "amd64")) is None
    no_variant = (_desc("linux/arm64"),)
    assert platforms.select(no_variant, Platform("linux", "arm64", "v8")) == no_variant[0]
