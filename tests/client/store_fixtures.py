"""Real OCI images written into a real LocalStore, for the local-command tests.

Layers are gzipped tars with random content and correct diff_ids; configs carry fixed
`created` times and history; a multi-arch index is written with every platform's manifest,
of which only one platform is selected (as a pull would do).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from typing import Any

from cargobay.localstore import LocalStore
from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest
from cargobay.oci.manifest import Descriptor, Platform

# A fixed "now" for CREATED columns: 2024-01-31T00:00:00Z.
NOW = 1_706_659_200
NOW_TEXT = "2024-01-31T00:00:00Z"


@dataclass(frozen=True)
class Layer:
    blob: bytes
    diff_id: str

    @property
    def digest(self) -> Digest:
        return Digest("sha256", hashlib.sha256(self.blob).hexdigest())


def make_layer(size: int = 256, name: str = "file", seed: bytes | None = None) -> Layer:
    content = seed if seed is not None else os.urandom(size)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mtime = 1_700_000_000
        tar.addfile(info, io.BytesIO(content))
    tar_bytes = raw.getvalue()
    blob = gzip.compress(tar_bytes, mtime=0)
    return Layer(blob, "sha256:" + hashlib.sha256(tar_bytes).hexdigest())


@dataclass
class BuiltImage:
    manifest: Descriptor
    config_digest: Digest
    layers: list[Layer]
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.config_digest)


def _put(store: LocalStore, data: bytes) -> Digest:
    return store.put_blob(data)


def write_image(
    store: LocalStore,
    *,
    created: str = "2024-01-01T00:00:00Z",
    layers: list[Layer] | None = None,
    labels: dict[str, str] | None = None,
    history: list[dict[str, Any]] | None = None,
    arch: str = "amd64",
    os_name: str = "linux",
    variant: str | None = None,
    media: str = "oci",
    cmd: list[str] | None = None,
) -> BuiltImage:
    layers = layers if layers is not None else [make_layer()]
    config: dict[str, Any] = {
        "created": created,
        "architecture": arch,
        "os": os_name,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
    }
    if variant:
        config["variant"] = variant
    if cmd is not None:
        config["config"]["Cmd"] = cmd
    if labels:
        config["config"]["Labels"] = labels
    if history is None:
        history = [
            {"created": created, "created_by": f"/bin/sh -c #(nop) ADD file:{i} in / "}
            for i in range(len(layers))
        ]
        history.append(
            {"created": created, "created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True}
        )
    config["history"] = history
    config_bytes = json.dumps(config, indent=2).encode()
    config_digest = _put(store, config_bytes)
    for layer in layers:
        if not store.has_blob(layer.digest):
            _put(store, layer.blob)
    kinds = {
        "oci": (mt.OCI_MANIFEST, mt.OCI_CONFIG, mt.OCI_LAYER_GZIP),
        "docker": (mt.DOCKER_MANIFEST, mt.DOCKER_CONFIG, mt.DOCKER_LAYER_GZIP),
    }[media]
    manifest = {
        "schemaVersion": 2,
        "mediaType": kinds[0],
        "config": {"mediaType": kinds[1], "digest": str(config_digest), "size": len(config_bytes)},
        "layers": [
            {"mediaType": kinds[2], "digest": str(layer.digest), "size": len(layer.blob)} for layer in layers
        ],
    }
    manifest_bytes = json.dumps(manifest, indent=3).encode()
    manifest_digest = _put(store, manifest_bytes)
    platform = Platform(os_name, arch, variant)
    return BuiltImage(
        Descriptor(kinds[0], manifest_digest, len(manifest_bytes), platform=platform),
        config_digest,
        layers,
        config,
    )


def write_index(store: LocalStore, images: list[BuiltImage], media: str = "oci") -> Descriptor:
    media_type = mt.OCI_INDEX if media == "oci" else mt.DOCKER_MANIFEST_LIST
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [img.manifest.to_json() for img in images],
    }
    data = json.dumps(doc, indent=2).encode()
    return Descriptor(media_type, _put(store, data), len(data))


def remove_blobs(store: LocalStore, image: BuiltImage, keep_manifest: bool = False) -> None:
    """Drop an image's blobs (what a pull of another platform never fetched)."""
    if not keep_manifest:
        store.blobs.delete(image.manifest.digest)
    store.blobs.delete(image.config_digest)
    for layer in image.layers:
        store.blobs.delete(layer.digest)


def populate(store: LocalStore) -> dict[str, BuiltImage]:
    """The standard scene: a shared base layer, several tags, a multi-arch pull, a dangling image."""
    base = make_layer(2000, "base")
    out: dict[str, BuiltImage] = {}
    out["busybox"] = write_image(store, created="2024-01-23T00:00:00Z", layers=[base])
    store.add_reference("busybox:latest", out["busybox"].manifest)
    store.tag("busybox:latest", "busybox:1.36")
    out["app"] = write_image(
        store,
        created="2024-01-30T22:00:00Z",
        layers=[base, make_layer(70_000, "app")],
        labels={"maintainer": "team", "tier": "web"},
    )
    store.add_reference("127.0.0.1:5000/team/app:v1", out["app"].manifest)
    amd = write_image(store, created="2023-12-01T00:00:00Z", layers=[make_layer(5000)], arch="amd64")
    arm = write_image(
        store, created="2023-12-01T00:00:00Z", layers=[make_layer(5000)], arch="arm64", variant="v8"
    )
    index = write_index(store, [amd, arm])
    remove_blobs(store, arm)
    store.add_reference("docker.io/library/multi:latest", index)
    out["multi"] = amd
    out["multi_index"] = BuiltImage(index, amd.config_digest, [])
    old = write_image(store, created="2023-06-01T00:00:00Z", layers=[make_layer(300)])
    store.add_reference("bob/tool:latest", old.manifest, digest_reference=False)
    newer = write_image(store, created="2024-01-29T00:00:00Z", layers=[make_layer(300)])
    store.add_reference("bob/tool:latest", newer.manifest, digest_reference=False)
    out["dangling"] = old
    out["tool"] = newer
    return out


def raw_layer(size: int) -> Layer:
    """A layer blob of exactly `size` bytes (the store never unpacks, so sizes can be exact)."""
    blob = os.urandom(size)
    return Layer(blob, "sha256:" + hashlib.sha256(blob).hexdigest())


def output_scene(store: LocalStore) -> dict[str, BuiltImage]:
    """Images with exact sizes and fixed times, for line-by-line output tests (now = NOW)."""
    out: dict[str, BuiltImage] = {}
    out["ubuntu"] = write_image(store, created="2024-01-26T00:00:00Z", layers=[raw_layer(72_900)])
    store.add_reference("ubuntu", out["ubuntu"].manifest)
    out["debian"] = write_image(
        store, created="2024-01-23T00:00:00Z", layers=[raw_layer(100_000), raw_layer(24_000)]
    )
    store.add_reference("debian:bookworm", out["debian"].manifest, digest_reference=False)
    store.tag("debian:bookworm", "debian:latest")
    out["app"] = write_image(
        store,
        created="2024-01-30T23:00:00Z",
        layers=[raw_layer(1_090)],
        labels={"tier": "web", "team": "core"},
    )
    store.add_reference("127.0.0.1:5000/team/app:v1", out["app"].manifest)
    out["old"] = write_image(store, created="2023-01-31T00:00:00Z", layers=[])
    store.add_reference("tmp:1", out["old"].manifest, digest_reference=False)
    placeholder = write_image(store, created="2020-01-01T00:00:00Z", layers=[raw_layer(1)])
    store.add_reference("tmp:1", placeholder.manifest, digest_reference=False)  # `old` is now dangling
    store.remove("tmp:1")
    out["tool"] = write_image(store, created="2024-01-30T23:59:30Z", layers=[raw_layer(5)])
    store.add_reference(f"bob/tool@{out['tool'].manifest.digest}", out["tool"].manifest)
    return out
