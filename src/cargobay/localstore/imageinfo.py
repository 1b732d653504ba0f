"""An image's facts (`ImageInfo`) computed from its blobs: manifest, platform choice and config."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest
from cargobay.oci.manifest import Descriptor, Platform, parse_manifest

from .layout import LocalBlobStore
from .records import ImageInfo, MissingBlobs, StoreError


def host_platform() -> tuple[str, str]:
    """This machine's (os, architecture). Not `image.platforms.default_platform`: that one
    follows $DOCKER_DEFAULT_PLATFORM and maps more machine names (armv6l, armhf, x86-64)."""
    machine = os.uname().machine.lower()
    arch = {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "armv7l": "arm",
        "i686": "386",
        "i386": "386",
        "ppc64le": "ppc64le",
        "s390x": "s390x",
        "riscv64": "riscv64",
    }.get(machine, machine)
    return "linux", arch


def compute_info(blobs: LocalBlobStore, descriptor: Descriptor, selected: Digest | None = None) -> ImageInfo:
    """Read the manifest (selecting a platform from an index) and the config."""
    manifest_desc = descriptor
    raw = blobs.read(descriptor.digest)
    parsed = parse_manifest(raw, descriptor.media_type)
    if parsed.is_index:
        manifest_desc = select_platform(blobs, parsed.manifests, selected)
        raw = blobs.read(manifest_desc.digest)
        parsed = parse_manifest(raw, manifest_desc.media_type)
        if parsed.is_index:
            raise StoreError("nested image indexes are not supported")
    if parsed.config is None:
        raise StoreError("manifest has no config")
    config_raw = blobs.read(parsed.config.digest)
    config = json.loads(config_raw)
    if not isinstance(config, dict):
        raise StoreError("image config is not a JSON object")
    platform = Platform.from_json(config) or manifest_desc.platform
    inner = config.get("config")
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    created = config.get("created")
    return ImageInfo(
        id=parsed.config.digest,
        manifest=Descriptor(
            manifest_desc.media_type,
            manifest_desc.digest,
            manifest_desc.size,
            platform=manifest_desc.platform,
        ),
        created=created if isinstance(created, str) else "",
        size=sum(layer.size for layer in parsed.layers),
        platform=platform,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
    )


def select_platform(
    blobs: LocalBlobStore, children: Iterable[Descriptor], selected: Digest | None
) -> Descriptor:
    """`selected` from an index, or else the one child whose blobs are here, preferring the host."""
    candidates = [c for c in children if c.media_type in mt.IMAGE_MANIFESTS or c.media_type == ""]
    if selected is not None:
        for child in candidates:
            if child.digest == selected:
                return child
        raise StoreError(f"manifest {selected} is not in the index")
    present = [c for c in candidates if blobs.has(c.digest)]
    if not present:
        raise MissingBlobs([c.digest for c in candidates][:1] or [])
    host_os, host_arch = host_platform()
    for child in present:
        if child.platform and child.platform.os == host_os and child.platform.architecture == host_arch:
            return child
    return present[0]


def check_complete(blobs: LocalBlobStore, info: ImageInfo, descriptor: Descriptor) -> None:
    """Every blob the image needs must be here (a concurrent rmi may have removed one)."""
    needed = [descriptor.digest, info.manifest.digest]
    raw = blobs.read(info.manifest.digest)
    parsed = parse_manifest(raw, info.manifest.media_type)
    if parsed.config is not None:
        needed.append(parsed.config.digest)
    needed.extend(layer.digest for layer in parsed.layers if not layer.is_nondistributable)
    missing = [d for d in dict.fromkeys(needed) if not blobs.has(d)]
    if missing:
        raise MissingBlobs(missing)
