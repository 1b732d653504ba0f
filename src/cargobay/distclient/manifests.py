"""What the client reads about a manifest: its bytes, media type and digest (GET) or head (HEAD)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest


@dataclass(frozen=True, slots=True)
class RemoteManifest:
    raw: bytes
    media_type: str
    digest: Digest


@dataclass(frozen=True, slots=True)
class ManifestInfo:
    media_type: str
    digest: Digest | None
    size: int


def media_type_of(raw: bytes, content_type: str | None) -> str:
    """The manifest's own `mediaType`, else the response's Content-Type, else a guess from its shape."""
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("mediaType"), str):
        return str(doc["mediaType"])
    ctype = (content_type or "").split(";", 1)[0].strip()
    if ctype in mt.MANIFEST_TYPES:
        return ctype
    if isinstance(doc, dict) and "manifests" in doc:
        return mt.OCI_INDEX
    return mt.OCI_MANIFEST


__all__ = ["ManifestInfo", "RemoteManifest", "media_type_of"]
