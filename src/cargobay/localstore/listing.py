"""`listing.json`: exactly what `LocalStore.images()` returns, so listing reads one small file.

It is written after every index write, under the lock, and trusted only while `index.json` is
the very file it was made from (the fingerprint it carries, see `layout.index_fingerprint`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cargobay.oci.manifest import Descriptor, Platform
from cargobay.oci.reference import Reference

from .layout import index_fingerprint, write_atomic
from .records import ImageRecord, parse_digest
from .timeutil import Timestamp


def write_listing(path: Path, records: Iterable[ImageRecord], fingerprint: list[Any]) -> None:
    images = []
    for r in records:
        index = [r.index.media_type, str(r.index.digest), r.index.size] if r.index else None
        refs = [[x.domain, x.path, x.tag, str(x.digest) if x.digest else None] for x in r.references]
        m = r.manifest
        p = r.platform
        platform = [p.os, p.architecture, p.variant, p.os_version] if p else None
        st = r.created_stamp
        stamp = [st.seconds, st.nanos, st.offset] if st else None
        images.append(
            [str(r.id), [m.media_type, str(m.digest), m.size], index, r.created, stamp, r.size,
             platform, r.labels, r.last_tag_time, refs]
        )  # fmt: skip
    doc = {"version": 2, "index": fingerprint, "images": images}
    # Not synced: a listing lost or torn by a crash fails its check against index.json (which
    # is synced before) and is rebuilt.
    data = json.dumps(doc, separators=(",", ":")).encode()
    write_atomic(path, data, durable=False)


def read_listing(path: Path, index_path: Path) -> list[ImageRecord] | None:
    """The listed images, or None when the listing is missing, unreadable or stale."""
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
        if doc.get("version") != 2 or doc.get("index") != index_fingerprint(index_path):
            return None
        out: list[ImageRecord] = []
        for image_id, m, index, created, stamp, size, platform, labels, tagged, refs in doc["images"]:
            out.append(
                ImageRecord(
                    id=parse_digest(image_id),
                    manifest=Descriptor(m[0], parse_digest(m[1]), int(m[2])),
                    index=Descriptor(index[0], parse_digest(index[1]), int(index[2])) if index else None,
                    created=created,
                    size=int(size),
                    platform=Platform(*platform) if platform else None,
                    labels=labels,
                    references=tuple(
                        Reference(d, p, t, parse_digest(g) if g else None) for d, p, t, g in refs
                    ),
                    last_tag_time=tagged,
                    created_stamp=Timestamp(*stamp) if stamp else None,
                )
            )
        return out
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
