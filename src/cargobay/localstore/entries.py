"""`index.json`'s manifests list ↔ `Entry` objects.

The cached image info is written on one entry per (image, platform manifest); the other entries
reaching the same manifest carry only the image ID and manifest digest. Entries written by other
tools have no cache: their image info is computed from the blobs.
"""

from __future__ import annotations

import contextlib
from typing import Any

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest, InvalidDigest
from cargobay.oci.manifest import Descriptor, InvalidManifest, Platform
from cargobay.oci.reference import InvalidReference, Reference

from .imageinfo import compute_info
from .layout import LocalBlobStore
from .records import (
    ANNOTATION_CACHE,
    ANNOTATION_ID,
    ANNOTATION_MANIFEST,
    ANNOTATION_TAGGED,
    OURS,
    REF_NAME,
    Entry,
    ImageInfo,
    StoreError,
    parse_digest,
)
from .refs import as_ref


def decode_entries(doc: dict[str, Any], blobs: LocalBlobStore) -> list[Entry]:
    """The entries of an index document; items that are not descriptors are dropped."""
    infos: dict[tuple[str, str], ImageInfo] = {}
    for item in doc["manifests"]:
        annotations = item.get("annotations") if isinstance(item, dict) else None
        if isinstance(annotations, dict):
            image_id, cache = annotations.get(ANNOTATION_ID), annotations.get(ANNOTATION_CACHE)
            if isinstance(image_id, str) and isinstance(cache, str):
                key = (image_id, str(annotations.get(ANNOTATION_MANIFEST) or item.get("digest")))
                if key not in infos:
                    info = ImageInfo.from_cache(image_id, cache)
                    if info is not None and str(info.manifest.digest) == key[1]:
                        infos[key] = info
    out: list[Entry] = []
    for item in doc["manifests"]:
        entry = _entry_from_json(item, infos, blobs)
        if entry is not None:
            out.append(entry)
    return out


def encode_entries(entries: list[Entry]) -> list[dict[str, Any]]:
    """The manifests list for `index.json`, the image cache on the first entry of each image."""
    cached: set[tuple[Digest, Digest]] = set()
    manifests = []
    for entry in entries:
        key = (entry.info.id, entry.info.manifest.digest) if entry.info is not None else None
        first = key is not None and key not in cached
        if key is not None:
            cached.add(key)
        manifests.append(entry.to_json(with_cache=first))
    return manifests


def _entry_from_json(
    item: Any, infos: dict[tuple[str, str], ImageInfo], blobs: LocalBlobStore
) -> Entry | None:
    if not isinstance(item, dict):
        return None
    raw_annotations = item.get("annotations") or {}
    if not isinstance(raw_annotations, dict):
        raw_annotations = {}
    try:
        digest = parse_digest(str(item.get("digest")))
        media_type = str(item.get("mediaType", ""))
        size = int(item.get("size", 0))
        own = {str(k): str(v) for k, v in raw_annotations.items() if k not in OURS} if raw_annotations else {}
        urls = item.get("urls")
        artifact_type = item.get("artifactType")
        platform = item.get("platform")
        descriptor = Descriptor(
            media_type,
            digest,
            size,
            tuple(urls) if isinstance(urls, list) else (),
            own,
            artifact_type if isinstance(artifact_type, str) else None,
            Platform.from_json(platform) if platform is not None else None,
        )
    except (InvalidDigest, ValueError, TypeError):
        return None
    ref: Reference | None = None
    foreign: str | None = None
    name = raw_annotations.get(REF_NAME)
    if isinstance(name, str) and name:
        try:
            ref = as_ref(name)
        except InvalidReference:
            foreign = name
    image_id = raw_annotations.get(ANNOTATION_ID)
    selected = raw_annotations.get(ANNOTATION_MANIFEST)
    key = (str(image_id), str(selected or digest))
    info = infos.get(key) if isinstance(image_id, str) else None
    if info is None and media_type in mt.MANIFEST_TYPES:
        with contextlib.suppress(StoreError, OSError, InvalidManifest, ValueError):
            selected = raw_annotations.get(ANNOTATION_MANIFEST)
            info = compute_info(blobs, descriptor, Digest.parse(str(selected)) if selected else None)
    tagged = raw_annotations.get(ANNOTATION_TAGGED, "")
    return Entry(descriptor, ref, info, str(tagged), foreign)
