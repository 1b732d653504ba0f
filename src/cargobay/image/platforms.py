"""Platform defaults and matching, as docker and containerd do it (normalised arch and variant)."""

from __future__ import annotations

import os
import platform as _platform

from cargobay.oci.manifest import Descriptor, Platform

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}


def normalize(p: Platform) -> Platform:
    """containerd's Normalize: `aarch64` → `arm64/v8`, `arm` → `arm/v7`, `amd64/v1` → `amd64`."""
    os_name = p.os.lower()
    arch = _ARCH_ALIASES.get(p.architecture.lower(), p.architecture.lower())
    variant = (p.variant or "").lower() or None
    if arch == "arm64":
        variant = variant or "v8"
        if variant == "8":
            variant = "v8"
    elif arch == "arm":
        variant = variant or "v7"
        if variant in ("5", "6", "7", "8"):
            variant = f"v{variant}"
    elif arch == "amd64" and variant == "v1":
        variant = None
    return Platform(os_name, arch, variant)


def default_platform() -> Platform:
    """`$DOCKER_DEFAULT_PLATFORM`, else this machine's (linux for a daemonless client)."""
    env = os.environ.get("DOCKER_DEFAULT_PLATFORM")
    if env:
        return normalize(Platform.parse(env))
    machine = _platform.machine().lower()
    variant = None
    if machine.startswith("armv"):
        variant = machine[3:5].rstrip("l")
        machine = "arm"
    return normalize(Platform("linux", machine, f"v{variant}" if variant else None))


def parse_platform(text: str) -> Platform:
    """`os[/arch[/variant]]`: a bare os takes this machine's architecture."""
    parts = text.strip().split("/")
    if len(parts) == 1 and parts[0]:
        here = default_platform()
        return normalize(Platform(parts[0], here.architecture, here.variant))
    return normalize(Platform.parse(text.strip()))


def matches(wanted: Platform, candidate: Platform) -> bool:
    want, have = normalize(wanted), normalize(candidate)
    if want.os != have.os or want.architecture != have.architecture:
        return False
    return not want.variant or not have.variant or want.variant == have.variant


def select(manifests: tuple[Descriptor, ...], wanted: Platform) -> Descriptor | None:
    """The first entry matching `wanted`; an exact variant wins over a variant-less entry."""
    candidates = [d for d in manifests if d.platform is not None and matches(wanted, d.platform)]
    if not candidates:
        return None
    want = normalize(wanted)
    for d in candidates:
        assert d.platform is not None
        if normalize(d.platform).variant == want.variant:
            return d
    return candidates[0]
