"""Build OCI image layouts on disk in pure Python, and read them back.

The images are real: gzipped tar layers with random content (so two images never share a
layer by accident), a config whose ``rootfs.diff_ids`` are the digests of the uncompressed
tars (podman checks them), manifests, and for several platforms an image index.
Manifests are serialised with an unusual indentation on purpose: a registry that
re-serialises JSON instead of keeping the pushed bytes changes their digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

MediaFamily = Literal["oci", "docker"]

_MEDIA: dict[str, dict[str, str]] = {
    "oci": {"manifest": OCI_MANIFEST, "index": OCI_INDEX, "config": OCI_CONFIG, "layer": OCI_LAYER_GZIP},
    "docker": {
        "manifest": DOCKER_MANIFEST,
        "index": DOCKER_LIST,
        "config": DOCKER_CONFIG,
        "layer": DOCKER_LAYER_GZIP,
    },
}

# Fixed timestamps keep tar headers and configs free of the clock; randomness comes from content.
_EPOCH = 1_700_000_000
_CREATED = "2023-11-14T22:13:20Z"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def dump_json(document: dict[str, Any]) -> bytes:
    """Serialise like no common library does by default (3-space indent, trailing newline)."""
    return (json.dumps(document, indent=3) + "\n").encode()


@dataclass(frozen=True)
class Blob:
    media_type: str
    digest: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass(frozen=True)
class BuiltManifest:
    """One image manifest (a single-platform image) inside a layout."""

    digest: str
    media_type: str
    raw: bytes
    config: Blob
    layers: tuple[Blob, ...]
    platform: str | None
    diff_ids: tuple[str, ...]

    @property
    def config_digest(self) -> str:
        return self.config.digest

    @property
    def layer_digests(self) -> tuple[str, ...]:
        return tuple(layer.digest for layer in self.layers)


@dataclass(frozen=True)
class OciImage:
    """An image (or multi-arch index) written as an OCI image layout at ``path``.

    ``digest``/``media_type``/``raw`` describe the top-level manifest: the image manifest for a
    single-platform image, the index (or Docker manifest list) for a multi-platform one.
    """

    path: Path
    dir_path: Path
    tag: str
    digest: str
    media_type: str
    raw: bytes
    manifests: tuple[BuiltManifest, ...]
    blobs: dict[str, bytes] = field(repr=False)

    @property
    def oci_ref(self) -> str:
        """containers-transports(5) reference of the OCI layout: ``oci:/path:tag``."""
        return f"oci:{self.path}:{self.tag}"

    @property
    def dir_ref(self) -> str:
        """The same image in the ``dir:`` transport (exact manifest bytes, lists included)."""
        return f"dir:{self.dir_path}"

    @property
    def ref(self) -> str:
        """A reference skopeo/podman can read this image from with its exact bytes.

        The OCI layout for OCI media types; the ``dir:`` copy for Docker schema2, because
        skopeo 1.9 (Debian 12) ignores non-OCI descriptors in an OCI layout's index.json.
        """
        return self.dir_ref if self.media_type in (DOCKER_MANIFEST, DOCKER_LIST) else self.oci_ref

    @property
    def is_index(self) -> bool:
        return self.media_type in (OCI_INDEX, DOCKER_LIST)

    @property
    def manifest_digests(self) -> tuple[str, ...]:
        return tuple(m.digest for m in self.manifests)

    @property
    def config_digests(self) -> tuple[str, ...]:
        return tuple(m.config_digest for m in self.manifests)

    @property
    def layer_digests(self) -> tuple[str, ...]:
        return tuple(d for m in self.manifests for d in m.layer_digests)

    @property
    def config_digest(self) -> str:
        """The config of a single-platform image."""
        (only,) = self.manifests
        return only.config_digest

    def for_platform(self, platform: str) -> BuiltManifest:
        for manifest in self.manifests:
            if manifest.platform == platform:
                return manifest
        raise KeyError(platform)

    def blob_digests(self) -> set[str]:
        """Every blob the image needs (configs and layers), excluding manifests."""
        return {*self.config_digests, *self.layer_digests}


def _parse_platform(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    if len(parts) not in (2, 3):
        raise ValueError(f"platform must be os/arch[/variant], got {platform!r}")
    result = {"os": parts[0], "architecture": parts[1]}
    if len(parts) == 3:
        result["variant"] = parts[2]
    return result


def make_layer_tar(size: int, index: int = 0) -> bytes:
    """An uncompressed tar with a directory, a random file of ``size`` bytes and a small text file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directory = tarfile.TarInfo(f"layer{index}")
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        directory.mtime = _EPOCH
        tar.addfile(directory)
        for name, content in (
            (f"layer{index}/random.bin", os.urandom(size)),
            (f"layer{index}/README", f"cargobay test layer {index}\n".encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = _EPOCH
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class _LayoutWriter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.blobs: dict[str, bytes] = {}
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)

    def add(self, media_type: str, data: bytes) -> Blob:
        digest = sha256_digest(data)
        algorithm, encoded = digest.split(":", 1)
        (self.path / "blobs" / algorithm / encoded).write_bytes(data)
        self.blobs[digest] = data
        return Blob(media_type, digest, data)

    def write_dir_transport(self, top: Blob, instances: tuple[BuiltManifest, ...]) -> Path:
        """The same image for the containers ``dir:`` transport, next to the layout.

        skopeo 1.9 reads only OCI media types from an OCI layout, so Docker schema2 images are
        fed to it from here; ``dir:`` keeps manifests byte for byte, lists included.
        """
        target = self.path.parent / f"{self.path.name}.dir"
        target.mkdir(parents=True, exist_ok=True)
        (target / "version").write_text("Directory Transport Version: 1.1\n")
        (target / "manifest.json").write_bytes(top.data)
        instance_digests = {m.digest for m in instances} - {top.digest}
        for digest, data in self.blobs.items():
            if digest == top.digest:
                continue
            encoded = digest.split(":", 1)[1]
            name = f"{encoded}.manifest.json" if digest in instance_digests else encoded
            (target / name).write_bytes(data)
        return target

    def finish(self, top: Blob, tag: str) -> None:
        (self.path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [top.descriptor(annotations={REF_NAME_ANNOTATION: tag})],
        }
        (self.path / "index.json").write_bytes(json.dumps(index).encode())


def _build_manifest(
    writer: _LayoutWriter, *, layers: int, layer_size: int, media: MediaFamily, platform: str
) -> BuiltManifest:
    types = _MEDIA[media]
    layer_blobs: list[Blob] = []
    diff_ids: list[str] = []
    for i in range(layers):
        tar = make_layer_tar(layer_size, i)
        diff_ids.append(sha256_digest(tar))
        layer_blobs.append(writer.add(types["layer"], gzip.compress(tar, compresslevel=6, mtime=0)))
    plat = _parse_platform(platform)
    config_doc: dict[str, Any] = {
        "created": _CREATED,
        "architecture": plat["architecture"],
        "os": plat["os"],
        "config": {
            "Env": ["PATH=/usr/bin:/bin"],
            "Cmd": ["/bin/true"],
            "Labels": {"test": os.urandom(4).hex()},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": _CREATED, "created_by": f"cargobay-tests layer {i}"} for i in range(layers)],
    }
    if "variant" in plat:
        config_doc["variant"] = plat["variant"]
    config = writer.add(types["config"], json.dumps(config_doc).encode())
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": types["manifest"],
        "config": config.descriptor(),
        "layers": [blob.descriptor() for blob in layer_blobs],
    }
    manifest = writer.add(types["manifest"], dump_json(manifest_doc))
    return BuiltManifest(
        digest=manifest.digest,
        media_type=manifest.media_type,
        raw=manifest.data,
        config=config,
        layers=tuple(layer_blobs),
        platform=platform,
        diff_ids=tuple(diff_ids),
    )


def build_oci_image(
    path: Path,
    *,
    layers: int = 2,
    layer_size: int = 1024,
    media: MediaFamily = "oci",
    platforms: list[str] | None = None,
    tag: str = "latest",
) -> OciImage:
    """Write an OCI image layout at ``path`` (created) holding one tagged image.

    With ``platforms`` (e.g. ``["linux/amd64", "linux/arm64"]``) the tag points at an image index
    (a Docker manifest list when ``media="docker"``) with one image per platform.
    """
    if media not in _MEDIA:
        raise ValueError(f"media must be 'oci' or 'docker', got {media!r}")
    path.mkdir(parents=True, exist_ok=True)
    writer = _LayoutWriter(path)
    types = _MEDIA[media]
    if not platforms:
        built = _build_manifest(
            writer, layers=layers, layer_size=layer_size, media=media, platform="linux/amd64"
        )
        top = Blob(built.media_type, built.digest, built.raw)
        manifests: tuple[BuiltManifest, ...] = (built,)
    else:
        manifests = tuple(
            _build_manifest(writer, layers=layers, layer_size=layer_size, media=media, platform=platform)
            for platform in platforms
        )
        index_doc = {
            "schemaVersion": 2,
            "mediaType": types["index"],
            "manifests": [
                {
                    "mediaType": m.media_type,
                    "digest": m.digest,
                    "size": len(m.raw),
                    "platform": _parse_platform(m.platform or ""),
                }
                for m in manifests
            ],
        }
        top = writer.add(types["index"], dump_json(index_doc))
    writer.finish(top, tag)
    dir_path = writer.write_dir_transport(top, manifests)
    return OciImage(
        path=path,
        dir_path=dir_path,
        tag=tag,
        digest=top.digest,
        media_type=top.media_type,
        raw=top.data,
        manifests=manifests,
        blobs=dict(writer.blobs),
    )


@dataclass(frozen=True)
class Layout:
    """An OCI image layout read back from disk (e.g. written by skopeo)."""

    path: Path
    index: dict[str, Any]

    @classmethod
    def open(cls, path: Path) -> Layout:
        return cls(path, json.loads((path / "index.json").read_bytes()))

    def descriptor(self, tag: str | None = None) -> dict[str, Any]:
        """The index.json entry for ``tag`` (or the only entry when ``tag`` is None)."""
        entries: list[dict[str, Any]] = self.index.get("manifests", [])
        if tag is None:
            (only,) = entries
            return only
        for entry in entries:
            if entry.get("annotations", {}).get(REF_NAME_ANNOTATION) == tag:
                return entry
        raise KeyError(f"tag {tag!r} not in {self.path / 'index.json'}")

    def blob_path(self, digest: str) -> Path:
        algorithm, encoded = digest.split(":", 1)
        return self.path / "blobs" / algorithm / encoded

    def read_blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def all_blob_digests(self) -> set[str]:
        root = self.path / "blobs"
        return {f"{algo.name}:{blob.name}" for algo in root.iterdir() for blob in algo.iterdir()}


OCI_EMPTY = "application/vnd.oci.empty.v1+json"


@dataclass(frozen=True)
class OciArtifact:
    """An OCI artifact manifest (``artifactType``, empty config, ``subject``) in a layout."""

    path: Path
    tag: str
    digest: str
    raw: bytes
    artifact_type: str
    annotations: dict[str, str]
    blobs: dict[str, bytes] = field(repr=False)
    media_type: str = OCI_MANIFEST

    @property
    def ref(self) -> str:
        return f"oci:{self.path}:{self.tag}"


def build_oci_artifact(
    path: Path,
    *,
    subject: OciImage | None,
    artifact_type: str = "application/vnd.example.sbom.v1+json",
    payload: bytes | None = None,
    annotations: dict[str, str] | None = None,
    tag: str = "artifact",
) -> OciArtifact:
    """Write a layout holding one artifact that refers to ``subject`` (a referrer, e.g. an SBOM)."""
    writer = _LayoutWriter(path)
    empty = writer.add(OCI_EMPTY, b"{}")
    layer = writer.add(artifact_type, payload if payload is not None else os.urandom(64).hex().encode())
    notes = dict(annotations or {"org.example.note": os.urandom(4).hex()})
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": empty.descriptor(),
        "layers": [layer.descriptor()],
    }
    if subject is not None:
        document["subject"] = {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": len(subject.raw),
        }
    document["annotations"] = notes
    manifest = writer.add(OCI_MANIFEST, dump_json(document))
    writer.finish(manifest, tag)
    return OciArtifact(
        path=path,
        tag=tag,
        digest=manifest.digest,
        raw=manifest.data,
        artifact_type=artifact_type,
        annotations=notes,
        blobs=dict(writer.blobs),
    )
