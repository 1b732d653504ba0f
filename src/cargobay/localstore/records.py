"""What the store knows, as values: the annotations of an `index.json` entry, the image facts
cached in them (`ImageInfo`), one entry (`Entry`), an image with its references (`ImageRecord`,
built by `group_records`), the outcome of a removal (`RemoveResult`), and the store's errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from cargobay.oci.digest import Digest
from cargobay.oci.manifest import Descriptor, Platform
from cargobay.oci.reference import Reference

from .timeutil import Timestamp, parse_rfc3339

REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_ID = "io.cargobay.image.id"
ANNOTATION_MANIFEST = "io.cargobay.image.manifest"
ANNOTATION_CACHE = "io.cargobay.image"
ANNOTATION_TAGGED = "io.cargobay.tagged"
OURS = (REF_NAME, ANNOTATION_ID, ANNOTATION_MANIFEST, ANNOTATION_CACHE, ANNOTATION_TAGGED)

_DIGEST_RE = re.compile(r"(sha256):([0-9a-f]{64})|(sha512):([0-9a-f]{128})")
_DIGESTS: dict[str, Digest] = {}


def parse_digest(text: str) -> Digest:
    """Digest.parse with a fast path for the sha256/sha512 digests the index is full of."""
    found = _DIGESTS.get(text)
    if found is not None:
        return found
    match = _DIGEST_RE.fullmatch(text)
    if match is None:
        return Digest.parse(text)  # raises InvalidDigest with the precise reason
    digest = (
        Digest(match.group(1), match.group(2)) if match.group(1) else Digest(match.group(3), match.group(4))
    )
    _DIGESTS[text] = digest
    return digest


class StoreError(Exception):
    """Base class; `str()` is the text to show the user."""


class ImageNotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


class MissingBlobs(StoreError):
    def __init__(self, digests: list[Digest]) -> None:
        self.digests = digests
        super().__init__("missing blobs: " + ", ".join(str(d) for d in digests))


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What is known about the image one entry points to (cached in the entry's annotations)."""

    id: Digest
    manifest: Descriptor
    created: str = ""
    size: int = 0
    platform: Platform | None = None
    labels: dict[str, str] = field(default_factory=dict)

    def to_cache(self) -> str:
        doc: dict[str, Any] = {
            "manifest": self.manifest.to_json(),
            "created": self.created,
            "size": self.size,
        }
        if self.platform is not None:
            doc["platform"] = str(self.platform)
        if self.labels:
            doc["labels"] = self.labels
        return json.dumps(doc, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_cache(cls, image_id: str, text: str) -> ImageInfo | None:
        try:
            doc = json.loads(text)
            m = doc["manifest"]
            manifest = Descriptor(
                m["mediaType"],
                parse_digest(m["digest"]),
                int(m["size"]),
                platform=Platform.from_json(m.get("platform")),
            )
            platform = Platform.parse(doc["platform"]) if doc.get("platform") else None
            labels = doc.get("labels") or {}
            return cls(
                parse_digest(image_id),
                manifest,
                str(doc.get("created", "")),
                int(doc.get("size", 0)),
                platform,
                dict(labels),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(slots=True)
class Entry:
    """One `index.json` descriptor, with its reference (None: dangling or foreign) and image info."""

    descriptor: Descriptor  # without our annotations
    ref: Reference | None
    info: ImageInfo | None
    tagged: str = ""
    foreign_name: str | None = None  # a ref.name written by another tool that we cannot parse

    def to_json(self, with_cache: bool = True) -> dict[str, Any]:
        annotations = {k: v for k, v in self.descriptor.annotations.items() if k not in OURS}
        if self.ref is not None:
            annotations[REF_NAME] = str(self.ref)
        elif self.foreign_name is not None:
            annotations[REF_NAME] = self.foreign_name
        if self.info is not None:
            annotations[ANNOTATION_ID] = str(self.info.id)
            if self.info.manifest.digest != self.descriptor.digest:
                annotations[ANNOTATION_MANIFEST] = str(self.info.manifest.digest)
            if with_cache:
                annotations[ANNOTATION_CACHE] = self.info.to_cache()
        if self.tagged:
            annotations[ANNOTATION_TAGGED] = self.tagged
        doc = Descriptor(
            self.descriptor.media_type,
            self.descriptor.digest,
            self.descriptor.size,
            self.descriptor.urls,
            annotations,
            self.descriptor.artifact_type,
            self.descriptor.platform,
        ).to_json()
        return doc


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """An image (one config digest) and every local reference to it."""

    id: Digest
    manifest: Descriptor  # the platform image manifest
    index: Descriptor | None  # the image index it was selected from, for a multi-arch reference
    created: str
    size: int
    platform: Platform | None
    labels: dict[str, str]
    references: tuple[Reference, ...]  # canonical; sorted like docker's reference store
    last_tag_time: str
    created_stamp: Timestamp | None = None  # `created`, parsed

    @property
    def config_digest(self) -> Digest:
        return self.id

    @property
    def created_ts(self) -> float | None:
        return self.created_stamp.unix if self.created_stamp else None

    @property
    def created_seconds(self) -> int:
        """Whole Unix seconds, as the docker API reports `Created` (0 when unknown)."""
        return self.created_stamp.seconds if self.created_stamp else 0

    @property
    def tag_references(self) -> list[Reference]:
        return [r for r in self.references if r.digest is None]

    @property
    def digest_references(self) -> list[Reference]:
        return [r for r in self.references if r.digest is not None]

    @property
    def repo_tags(self) -> list[str]:
        return [r.familiar for r in self.tag_references]

    @property
    def repo_digests(self) -> list[str]:
        return [r.familiar for r in self.digest_references]

    @property
    def is_dangling(self) -> bool:
        return not self.references

    @property
    def short_id(self) -> str:
        return self.id.encoded[:12]


@dataclass(frozen=True, slots=True)
class DeleteEvent:
    kind: str  # "Untagged" or "Deleted"
    value: str


@dataclass(slots=True)
class RemoveResult:
    events: list[DeleteEvent] = field(default_factory=list)
    reclaimed: int = 0


def group_records(entries: list[Entry]) -> dict[Digest, ImageRecord]:
    """The entries grouped by image: one record per image ID, with all its references."""
    groups: dict[Digest, list[Entry]] = {}
    for entry in entries:
        if entry.info is not None:
            groups.setdefault(entry.info.id, []).append(entry)
    records: dict[Digest, ImageRecord] = {}
    for image_id, group in groups.items():
        refs = sorted({e.ref for e in group if e.ref is not None}, key=str)
        # The entry that says most about the image: the most recently tagged named one.
        main = max(group, key=lambda e: (e.ref is not None, e.tagged))
        info = main.info
        assert info is not None
        index = main.descriptor if main.descriptor.digest != info.manifest.digest else None
        if index is not None:
            index = Descriptor(index.media_type, index.digest, index.size)
        records[image_id] = ImageRecord(
            id=image_id,
            manifest=info.manifest,
            index=index,
            created=info.created,
            size=info.size,
            platform=info.platform,
            labels=info.labels,
            references=tuple(refs),
            last_tag_time=max((e.tagged for e in group), default=""),
            created_stamp=parse_rfc3339(info.created) if info.created else None,
        )
    return records
