"""The layout's files: the blob directory (`LocalBlobStore`), atomic replacement, `index.json`
read and written whole, and `listing.json`.

`index.json` starts with a fresh `io.cargobay.generation` token on every write, so the listing
check (`index_fingerprint`) reads only the head of the file to tell our own rewrites apart.
`listing.json` holds exactly what `LocalStore.images()` returns, so listing reads one small file;
it is written after every index write, under the lock, and trusted only while `index.json` is
the very file it was made from (the fingerprint it carries).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import HEX_LENGTHS, Digest
from cargobay.oci.manifest import Descriptor, Platform
from cargobay.oci.reference import Reference
from cargobay.storage.filesystem import FilesystemBlobStore, _fsync_dir

from .records import ImageRecord, StoreError, parse_digest
from .timeutil import Timestamp

LOCK_NAME = "cargobay.lock"
INDEX_NAME = "index.json"
LAYOUT_NAME = "oci-layout"
LISTING_NAME = "listing.json"
ANNOTATION_GENERATION = "io.cargobay.generation"  # top-level index annotation
_GENERATION_RE = re.compile(rb'"io\.cargobay\.generation":"([0-9a-f]{32})"')


class LocalBlobStore(FilesystemBlobStore):
    """The store's blobs. A blob is still verified and fsynced before it is renamed into place,
    but the rename is made durable by one sync of `blobs/<alg>/` before the next `index.json`
    write (`sync_directories`), not by one directory sync per blob: a crash before that may
    lose a blob nothing references yet, never leave a partial one under its digest."""

    sync_each_publish = False

    def sync_directories(self) -> None:
        """Make every rename into `blobs/<alg>/` durable (this process's and any other's)."""
        for algorithm in HEX_LENGTHS:
            _fsync_dir(self.blobs_dir / algorithm)

    def has(self, digest: Digest) -> bool:
        return self.stat(digest) is not None


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> os.stat_result:
    """Write `path` whole or not at all; returns the stat of the file now in place.

    `durable=False` skips the syncs, for derived files that are checked before being
    trusted and rebuilt when missing, stale or unreadable (the listing).
    """
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
            st = os.fstat(f.fileno())  # a rename keeps inode, size and mtime
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(path.parent)
    return st


def read_index(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except FileNotFoundError:
        doc = {}
    if not isinstance(doc, dict):
        raise StoreError(f"{path}: not an OCI image index")
    doc.setdefault("schemaVersion", 2)
    doc.setdefault("mediaType", mt.OCI_INDEX)
    if not isinstance(doc.get("manifests"), list):
        doc["manifests"] = []
    return doc


def write_index(path: Path, doc: dict[str, Any], blobs: LocalBlobStore) -> list[Any]:
    """Write index.json; returns its fingerprint for the listing."""
    # Blobs the new index may reference were renamed into place without a directory sync
    # (LocalBlobStore.publish), here or by another process: make those names durable first.
    blobs.sync_directories()
    # A fresh generation token, written first in the file so the listing check reads only the
    # head: it tells our own rewrites apart even where mtimes are coarse and inodes reused.
    existing = doc.get("annotations")
    annotations = (
        {k: v for k, v in existing.items() if k != ANNOTATION_GENERATION}
        if isinstance(existing, dict)
        else {}
    )
    generation = os.urandom(16).hex()
    head = {
        "schemaVersion": doc.get("schemaVersion", 2),
        "mediaType": doc.get("mediaType", mt.OCI_INDEX),
        "annotations": {ANNOTATION_GENERATION: generation, **annotations},
    }
    out = {**head, **{k: v for k, v in doc.items() if k not in head and k != "manifests"}}
    out["manifests"] = doc.get("manifests", [])
    data = json.dumps(out, indent=None, separators=(",", ":")).encode()
    st = write_atomic(path, data)
    return [st.st_ino, st.st_size, st.st_mtime_ns, generation]


def index_fingerprint(path: Path) -> list[Any]:
    """What the listing must have been built from: inode, size, mtime and generation token."""
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        match = _GENERATION_RE.search(f.read(512))
    return [st.st_ino, st.st_size, st.st_mtime_ns, match.group(1).decode() if match else None]


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
