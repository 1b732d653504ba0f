"""Parsed, validated views of manifest bytes. The bytes stay the identity: nothing is re-serialised."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest, InvalidDigest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class InvalidManifest(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) < 2 or len(parts) > 3 or not all(parts):
            raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def from_json(cls, doc: Any) -> Platform | None:
        if not isinstance(doc, dict):
            return None
        os_, arch = doc.get("os"), doc.get("architecture")
        if not isinstance(os_, str) or not isinstance(arch, str):
            return None
        variant = doc.get("variant")
        os_version = doc.get("os.version")
        return cls(
            os_,
            arch,
            variant if isinstance(variant, str) else None,
            os_version if isinstance(os_version, str) else None,
        )


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    platform: Platform | None = None

    @property
    def is_nondistributable(self) -> bool:
        return self.media_type in mt.NONDISTRIBUTABLE_LAYERS or bool(self.urls)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            p: dict[str, Any] = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                p["variant"] = self.platform.variant
            if self.platform.os_version:
                p["os.version"] = self.platform.os_version
            out["platform"] = p
        return out


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    """What the registry and the client need to know about a manifest or an index."""

    media_type: str
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str]

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    @property
    def effective_artifact_type(self) -> str | None:
        """artifactType for the referrers API: explicit, else the config type of an image manifest."""
        if self.artifact_type:
            return self.artifact_type
        if not self.is_index and self.config is not None:
            return self.config.media_type
        return None


def _descriptor(doc: Any, where: str) -> Descriptor:
    if not isinstance(doc, dict):
        raise InvalidManifest(f"{where}: descriptor must be an object")
    media_type = doc.get("mediaType")
    digest = doc.get("digest")
    size = doc.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifest(f"{where}: mediaType missing")
    if not isinstance(digest, str):
        raise InvalidManifest(f"{where}: digest missing")
    try:
        parsed = Digest.parse(digest)
    except InvalidDigest as exc:
        raise InvalidManifest(f"{where}: {exc}") from None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or size > 2**53:
        raise InvalidManifest(f"{where}: size must be a non-negative integer")
    urls = doc.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise InvalidManifest(f"{where}: urls must be a list of strings")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise InvalidManifest(f"{where}: annotations must be an object")
    artifact_type = doc.get("artifactType")
    return Descriptor(
        media_type=media_type,
        digest=parsed,
        size=size,
        urls=tuple(urls),
        annotations={str(k): str(v) for k, v in annotations.items()},
        artifact_type=artifact_type if isinstance(artifact_type, str) else None,
        platform=Platform.from_json(doc.get("platform")),
    )


def parse_manifest(raw: bytes, content_type: str | None = None) -> ParsedManifest:
    """Validate manifest bytes. `content_type` is the type the client declared (PUT Content-Type)."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise InvalidManifest("manifest too large")
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise InvalidManifest("manifest nesting too deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidManifest(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidManifest("manifest must be a JSON object")
    if doc.get("schemaVersion") != 2:
        raise InvalidManifest("schemaVersion must be 2")
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidManifest("mediaType must be a string")
    ctype = (content_type or "").split(";", 1)[0].strip().lower() or None
    # CVE-2021-41190: the document's own mediaType must agree with the declared Content-Type.
    if declared and ctype and declared != ctype:
        raise InvalidManifest(f"mediaType {declared!r} does not match Content-Type {ctype!r}")
    has_manifests = "manifests" in doc
    has_image_fields = "layers" in doc or "config" in doc
    if has_manifests and has_image_fields:
        raise InvalidManifest("a document cannot carry both manifests and layers/config")
    media_type = declared or ctype
    if media_type is None:
        media_type = mt.OCI_INDEX if has_manifests else mt.OCI_MANIFEST
    if media_type not in mt.MANIFEST_TYPES:
        raise InvalidManifest(f"unsupported manifest media type {media_type!r}")
    if media_type in (mt.DOCKER_MANIFEST, mt.DOCKER_MANIFEST_LIST) and declared is None:
        raise InvalidManifest("Docker manifests must carry mediaType")
    is_index = media_type in mt.INDEXES
    if is_index and has_image_fields:
        raise InvalidManifest("an index cannot carry layers or config")
    if not is_index and has_manifests:
        raise InvalidManifest("an image manifest cannot carry manifests")

    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()
    if is_index:
        items = doc.get("manifests")
        if not isinstance(items, list):
            raise InvalidManifest("manifests must be a list")
        manifests = tuple(_descriptor(d, f"manifests[{i}]") for i, d in enumerate(items))
    else:
        config = _descriptor(doc.get("config"), "config")
        items = doc.get("layers", [])
        if not isinstance(items, list):
            raise InvalidManifest("layers must be a list")
        layers = tuple(_descriptor(d, f"layers[{i}]") for i, d in enumerate(items))
    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise InvalidManifest("artifactType must be a string")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise InvalidManifest("annotations must be an object")
    return ParsedManifest(
        media_type=media_type,
        config=config,
        layers=layers,
        manifests=manifests,
        subject=subject,
        artifact_type=artifact_type,
        annotations={str(k): str(v) for k, v in annotations.items()},
    )
