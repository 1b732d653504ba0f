"""The layout's files: their names, atomic replacement, and `index.json` read and written whole.

`index.json` starts with a fresh `io.cargobay.generation` token on every write, so the listing
check (`index_fingerprint`) reads only the head of the file to tell our own rewrites apart.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from cargobay.oci import mediatypes as mt
from cargobay.storage.filesystem import _fsync_dir

from .blobs import LocalBlobStore
from .errors import StoreError

LOCK_NAME = "cargobay.lock"
INDEX_NAME = "index.json"
LAYOUT_NAME = "oci-layout"
LISTING_NAME = "listing.json"
ANNOTATION_GENERATION = "io.cargobay.generation"  # top-level index annotation
_GENERATION_RE = re.compile(rb'"io\.cargobay\.generation":"([0-9a-f]{32})"')


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
