"""The client's image store: an OCI image layout that skopeo and umoci can read.

Layout under the root (`$CARGOBAY_HOME`, default `$XDG_DATA_HOME/cargobay`)::

    oci-layout               {"imageLayoutVersion": "1.0.0"}
    index.json               one descriptor per local reference (see below)
    blobs/sha256/<hex>       manifests, indexes, configs and layers, byte for byte as pulled
    uploads/<session>        partial blobs being written (FilesystemBlobStore)
    cargobay.lock            exclusive fcntl lock taken by every mutation
    listing.json             derived: what `images()` returns, trusted only while index.json is
                             the very file it was computed from (inode, size, mtime and the
                             `io.cargobay.generation` token at the head of index.json)

Every entry of `index.json` is the descriptor a reference points to (an image manifest, or an image
index for a multi-arch tag), annotated with:

    org.opencontainers.image.ref.name   the full canonical reference, e.g.
                                        `docker.io/library/busybox:latest` or
                                        `127.0.0.1:5000/a/b@sha256:…`; absent for a dangling image
    io.cargobay.image.id                the image ID: the digest of the config (docker's classic store)
    io.cargobay.image.manifest          for an index entry: the platform manifest that was pulled
    io.cargobay.image                   compact JSON cache of what `cargobay images` shows (platform
                                        manifest descriptor, created, size, labels), written on one
                                        entry per (image, manifest), so listing never opens a blob
    io.cargobay.tagged                  when the reference was set (RFC 3339)

Entries written by other tools (skopeo copy, umoci) are read too: their image facts are computed
from the blobs, and their annotations are kept when we rewrite the index.

An image whose last reference moves elsewhere (a tag re-pointed by a newer pull) keeps an entry
with no ref.name, so it stays listed as `<none>:<none>` until pruned, and its blobs stay rooted.
Blobs shared by images are stored once; `remove` and `gc` delete a blob only when no entry
reaches it. `index.json` is replaced atomically (temp file, fsync, rename); readers take no lock.

API: `LocalStore(root)` / `LocalStore.open_default()`; `.root`, `.blobs` (LocalBlobStore),
`.lock()`; `.has_blob`, `.read_blob`, `.put_blob`; `.add_reference(ref, descriptor,
platform_manifest=, digest_reference=True)` and `.add_references(...)`; `.get_reference(ref)`;
`.resolve(ref_or_id)` and `.images()` → `ImageRecord`; `.tag(source, target)`;
`.remove(ref_or_id, force=)` and `.prune(all_images=, exclude=)` → `RemoveResult` (docker's
Untagged/Deleted events and the bytes reclaimed); `.gc(grace=)`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import HEX_LENGTHS, Digest, InvalidDigest, digest_bytes
from cargobay.oci.manifest import Descriptor, InvalidManifest, Platform, parse_manifest
from cargobay.oci.reference import IDENTIFIER_RE, InvalidReference, Reference, parse_normalized
from cargobay.paths import cargobay_home
from cargobay.storage.filesystem import FilesystemBlobStore

from .timeutil import Timestamp, now_timestamp, parse_rfc3339

REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_ID = "io.cargobay.image.id"
ANNOTATION_MANIFEST = "io.cargobay.image.manifest"
ANNOTATION_CACHE = "io.cargobay.image"
ANNOTATION_TAGGED = "io.cargobay.tagged"
ANNOTATION_GENERATION = "io.cargobay.generation"  # top-level index annotation
_GENERATION_RE = re.compile(rb'"io\.cargobay\.generation":"([0-9a-f]{32})"')
_OURS = (REF_NAME, ANNOTATION_ID, ANNOTATION_MANIFEST, ANNOTATION_CACHE, ANNOTATION_TAGGED)

LOCK_NAME = "cargobay.lock"
INDEX_NAME = "index.json"
LAYOUT_NAME = "oci-layout"
LISTING_NAME = "listing.json"
DEFAULT_GC_GRACE = 3600.0  # unreferenced blobs younger than this may belong to a pull in progress

_HEX = frozenset("0123456789abcdef")
_DIGEST_RE = re.compile(r"(sha256):([0-9a-f]{64})|(sha512):([0-9a-f]{128})")
_DIGESTS: dict[str, Digest] = {}


def _digest(text: str) -> Digest:
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


# --------------------------------------------------------------------------------- records


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
                _digest(m["digest"]),
                int(m["size"]),
                platform=Platform.from_json(m.get("platform")),
            )
            platform = Platform.parse(doc["platform"]) if doc.get("platform") else None
            labels = doc.get("labels") or {}
            return cls(
                _digest(image_id),
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
        annotations = {k: v for k, v in self.descriptor.annotations.items() if k not in _OURS}
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


# ----------------------------------------------------------------------------- the store


def default_root() -> Path:
    return cargobay_home()


def _host_platform() -> tuple[str, str]:
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


def _chain_ids(diff_ids: list[str]) -> list[str]:
    out: list[str] = []
    for diff_id in diff_ids:
        out.append(diff_id if not out else str(digest_bytes(f"{out[-1]} {diff_id}".encode())))
    return out


class LocalBlobStore(FilesystemBlobStore):
    """The store's blobs. A blob is still verified and fsynced before it is renamed into place,
    but the rename is made durable by one sync of `blobs/<alg>/` before the next `index.json`
    write (`sync_directories`), not by one directory sync per blob: a crash before that may
    lose a blob nothing references yet, never leave a partial one under its digest."""

    def publish(self, temp_path: Path, digest: Digest) -> None:
        final = self.path(digest)
        if final.exists():
            temp_path.unlink(missing_ok=True)
            return
        os.replace(temp_path, final)

    def sync_directories(self) -> None:
        """Make every rename into `blobs/<alg>/` durable (this process's and any other's)."""
        for algorithm in HEX_LENGTHS:
            fd = os.open(self.blobs_dir / algorithm, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


class LocalStore:
    """The local image store. Reads take no lock; every mutation runs under `lock()`."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.blobs = LocalBlobStore(self.root)
        self._index_path = self.root / INDEX_NAME
        self._thread_lock = threading.RLock()
        self._lock_depth = 0
        self._lock_fd: int | None = None
        layout = self.root / LAYOUT_NAME
        if not layout.exists() or not self._index_path.exists():
            # Under the lock, so a concurrent first command cannot overwrite a new index.
            with self.lock():
                if not layout.exists():
                    self._write_atomic(layout, b'{"imageLayoutVersion":"1.0.0"}')
                if not self._index_path.exists():
                    self._write_index({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []})

    @classmethod
    def open_default(cls) -> LocalStore:
        return cls(default_root())

    # ------------------------------------------------------------------------ locking, files
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock across processes (fcntl.flock); re-entrant within one store object."""
        with self._thread_lock:
            if self._lock_depth == 0:
                fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._lock_fd = fd
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
                if self._lock_depth == 0 and self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                    os.close(self._lock_fd)
                    self._lock_fd = None

    def _write_atomic(self, path: Path, data: bytes, *, durable: bool = True) -> os.stat_result:
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
        if not durable:
            return st
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return st

    def _read_index(self) -> dict[str, Any]:
        try:
            with open(self._index_path, "rb") as f:
                doc = json.loads(f.read())
        except FileNotFoundError:
            doc = {}
        if not isinstance(doc, dict):
            raise StoreError(f"{self._index_path}: not an OCI image index")
        doc.setdefault("schemaVersion", 2)
        doc.setdefault("mediaType", mt.OCI_INDEX)
        if not isinstance(doc.get("manifests"), list):
            doc["manifests"] = []
        return doc

    def _write_index(self, doc: dict[str, Any]) -> list[Any]:
        """Write index.json; returns its fingerprint for the listing."""
        # Blobs the new index may reference were renamed into place without a directory sync
        # (LocalBlobStore.publish), here or by another process: make those names durable first.
        self.blobs.sync_directories()
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
        st = self._write_atomic(self._index_path, data)
        return [st.st_ino, st.st_size, st.st_mtime_ns, generation]

    # ----------------------------------------------------------------------------- blobs
    def has_blob(self, digest: Digest) -> bool:
        return self.blobs.stat(digest) is not None

    def read_blob(self, digest: Digest) -> bytes:
        return self.blobs.read(digest)

    def put_blob(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store small content (manifests, configs) verified against `expected`."""
        return self.blobs.put_bytes(data, f"put-{os.urandom(16).hex()}", expected)

    # ------------------------------------------------------------------------- entries
    def _entries(self, doc: dict[str, Any] | None = None) -> list[Entry]:
        doc = doc if doc is not None else self._read_index()
        # The cached image info is written on one entry per (image, platform manifest); the other
        # entries reaching the same manifest carry only the image ID and manifest digest.
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
            entry = self._entry_from_json(item, infos)
            if entry is not None:
                out.append(entry)
        return out

    def _entry_from_json(self, item: Any, infos: dict[tuple[str, str], ImageInfo]) -> Entry | None:
        if not isinstance(item, dict):
            return None
        raw_annotations = item.get("annotations") or {}
        if not isinstance(raw_annotations, dict):
            raw_annotations = {}
        try:
            digest = _digest(str(item.get("digest")))
            media_type = str(item.get("mediaType", ""))
            size = int(item.get("size", 0))
            own = (
                {str(k): str(v) for k, v in raw_annotations.items() if k not in _OURS}
                if raw_annotations
                else {}
            )
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
                ref = _as_ref(name)
            except InvalidReference:
                foreign = name
        image_id = raw_annotations.get(ANNOTATION_ID)
        selected = raw_annotations.get(ANNOTATION_MANIFEST)
        key = (str(image_id), str(selected or digest))
        info = infos.get(key) if isinstance(image_id, str) else None
        if info is None and media_type in mt.MANIFEST_TYPES:
            with contextlib.suppress(StoreError, OSError, InvalidManifest, ValueError):
                selected = raw_annotations.get(ANNOTATION_MANIFEST)
                info = self._compute_info(descriptor, Digest.parse(str(selected)) if selected else None)
        tagged = raw_annotations.get(ANNOTATION_TAGGED, "")
        return Entry(descriptor, ref, info, str(tagged), foreign)

    def _compute_info(self, descriptor: Descriptor, selected: Digest | None = None) -> ImageInfo:
        """Read the manifest (selecting a platform from an index) and the config."""
        manifest_desc = descriptor
        raw = self.blobs.read(descriptor.digest)
        parsed = parse_manifest(raw, descriptor.media_type)
        if parsed.is_index:
            manifest_desc = self._select_platform(parsed.manifests, selected)
            raw = self.blobs.read(manifest_desc.digest)
            parsed = parse_manifest(raw, manifest_desc.media_type)
            if parsed.is_index:
                raise StoreError("nested image indexes are not supported")
        if parsed.config is None:
            raise StoreError("manifest has no config")
        config_raw = self.blobs.read(parsed.config.digest)
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

    def _select_platform(self, children: Iterable[Descriptor], selected: Digest | None) -> Descriptor:
        candidates = [c for c in children if c.media_type in mt.IMAGE_MANIFESTS or c.media_type == ""]
        if selected is not None:
            for child in candidates:
                if child.digest == selected:
                    return child
            raise StoreError(f"manifest {selected} is not in the index")
        present = [c for c in candidates if self.has_blob(c.digest)]
        if not present:
            raise MissingBlobs([c.digest for c in candidates][:1] or [])
        host_os, host_arch = _host_platform()
        for child in present:
            if child.platform and child.platform.os == host_os and child.platform.architecture == host_arch:
                return child
        return present[0]

    def _check_complete(self, info: ImageInfo, descriptor: Descriptor) -> None:
        """Every blob the image needs must be here (a concurrent rmi may have removed one)."""
        needed = [descriptor.digest, info.manifest.digest]
        raw = self.blobs.read(info.manifest.digest)
        parsed = parse_manifest(raw, info.manifest.media_type)
        if parsed.config is not None:
            needed.append(parsed.config.digest)
        needed.extend(layer.digest for layer in parsed.layers if not layer.is_nondistributable)
        missing = [d for d in dict.fromkeys(needed) if not self.has_blob(d)]
        if missing:
            raise MissingBlobs(missing)

    # ------------------------------------------------------------------------- records
    def _records(self, entries: list[Entry]) -> dict[Digest, ImageRecord]:
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

    def images(self) -> list[ImageRecord]:
        """Every image, newest first (by config `created`, then ID)."""
        records = self._read_listing()
        if records is None:
            records = list(self._records(self._entries()).values())
            self._refresh_listing()
        records.sort(key=lambda r: (r.created_ts or 0.0, r.id.encoded), reverse=True)
        return records

    # The listing: a side file with exactly what `images()` returns, written after every index
    # write under the lock, and trusted only while index.json is the file it was made from.
    def _index_fingerprint(self) -> list[Any]:
        with open(self._index_path, "rb") as f:
            st = os.fstat(f.fileno())
            match = _GENERATION_RE.search(f.read(512))
        return [st.st_ino, st.st_size, st.st_mtime_ns, match.group(1).decode() if match else None]

    def _write_listing(self, entries: list[Entry], fingerprint: list[Any]) -> None:
        images = []
        for r in self._records(entries).values():
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
        self._write_atomic(self.root / LISTING_NAME, data, durable=False)

    def _refresh_listing(self) -> None:
        """Best effort, never waiting: rebuild a stale listing (index.json written by another tool)."""
        if self._lock_depth:
            return
        try:
            fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return
        try:
            # Read again under the lock, and only keep the result if no other tool replaced
            # index.json meanwhile: the listing must describe exactly the file it names.
            before = self._index_fingerprint()
            entries = self._entries()
            if self._index_fingerprint() == before:
                self._write_listing(entries, before)
        except (OSError, StoreError):
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read_listing(self) -> list[ImageRecord] | None:
        try:
            with open(self.root / LISTING_NAME, "rb") as f:
                doc = json.loads(f.read())
            if doc.get("version") != 2 or doc.get("index") != self._index_fingerprint():
                return None
            out: list[ImageRecord] = []
            for image_id, m, index, created, stamp, size, platform, labels, tagged, refs in doc["images"]:
                out.append(
                    ImageRecord(
                        id=_digest(image_id),
                        manifest=Descriptor(m[0], _digest(m[1]), int(m[2])),
                        index=Descriptor(index[0], _digest(index[1]), int(index[2])) if index else None,
                        created=created,
                        size=int(size),
                        platform=Platform(*platform) if platform else None,
                        labels=labels,
                        references=tuple(
                            Reference(d, p, t, _digest(g) if g else None) for d, p, t, g in refs
                        ),
                        last_tag_time=tagged,
                        created_stamp=Timestamp(*stamp) if stamp else None,
                    )
                )
            return out
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def get_reference(self, reference: str | Reference) -> Descriptor | None:
        """The descriptor stored for exactly this reference (tag default `latest`), or None."""
        ref = _as_ref(reference)
        for entry in self._entries():
            if entry.ref == ref:
                return Descriptor(entry.descriptor.media_type, entry.descriptor.digest, entry.descriptor.size)
        return None

    def resolve(self, reference_or_id: str) -> ImageRecord:
        """docker's GetImage: a full or short image ID, `name`, `name:tag` or `name@digest`."""
        listed = self._read_listing()
        records = {r.id: r for r in listed} if listed is not None else self._records(self._entries())
        image_id, _ = self._lookup(records, reference_or_id)
        return records[image_id]

    def _lookup(self, records: dict[Digest, ImageRecord], text: str) -> tuple[Digest, Reference | None]:
        """Find the image; the Reference is set when `text` named a stored reference."""
        if IDENTIFIER_RE.fullmatch(text) or (text.startswith("sha256:") and Digest.is_valid(text)):
            wanted = Digest.parse(text if ":" in text else f"sha256:{text}")
            if wanted in records:
                return wanted, None
            raise ImageNotFound(f"No such image: {wanted}")
        try:
            ref = parse_normalized(text)
        except InvalidReference as exc:
            raise StoreError(str(exc)) from None
        key = ref.with_digest(ref.digest) if ref.digest is not None else ref.with_default_tag()
        for record in records.values():
            if key in record.references:
                return record.id, key
        prefix = text[len("sha256:") :] if text.startswith("sha256:") else text
        if prefix and all(c in _HEX for c in prefix):
            matches = [d for d in records if d.encoded.startswith(prefix)]
            if len(matches) == 1:
                return matches[0], None
        raise ImageNotFound(f"No such image: {key.familiar}")

    # ------------------------------------------------------------------------- mutations
    def add_reference(
        self,
        reference: str | Reference,
        descriptor: Descriptor,
        *,
        platform_manifest: Digest | None = None,
        digest_reference: bool = True,
    ) -> ImageRecord:
        """Point `reference` at `descriptor` (an image manifest or an image index), e.g. after a pull.

        `reference` is normalised (`busybox` → `docker.io/library/busybox:latest`); `name@digest`
        records a digest reference. For an index, `platform_manifest` is the platform manifest that
        was pulled (default: the one child whose blobs are here, preferring the host platform).
        With `digest_reference` (the default), a tag also records `name@<descriptor digest>`, as a
        docker pull does (RepoDigests). All blobs must already be stored, else MissingBlobs.
        """
        ref = _as_ref(reference)
        if ref.digest is not None and ref.digest != descriptor.digest:
            raise StoreError(f"reference {ref} does not match the digest {descriptor.digest}")
        with self.lock():
            doc = self._read_index()
            entries = self._entries(doc)
            info = self._compute_info(descriptor, platform_manifest)
            self._check_complete(info, descriptor)
            plain = Descriptor(descriptor.media_type, descriptor.digest, descriptor.size, descriptor.urls)
            refs = [ref]
            if digest_reference and ref.digest is None:
                refs.append(ref.with_digest(descriptor.digest))
            for each in refs:
                entries = _set_reference(
                    entries, each, Entry(plain, each, info, now_timestamp().rfc3339nano())
                )
            self._save(doc, entries)
            return self._records(entries)[info.id]

    def add_references(
        self, items: Iterable[tuple[str | Reference, Descriptor]], *, digest_reference: bool = True
    ) -> None:
        """`add_reference` for many references at once: one lock, one index write (load, bulk import)."""
        with self.lock():
            doc = self._read_index()
            entries = self._entries(doc)
            infos: dict[Digest, ImageInfo] = {}
            tagged = now_timestamp().rfc3339nano()
            for reference, descriptor in items:
                ref = _as_ref(reference)
                if ref.digest is not None and ref.digest != descriptor.digest:
                    raise StoreError(f"reference {ref} does not match the digest {descriptor.digest}")
                info = infos.get(descriptor.digest)
                if info is None:
                    info = infos[descriptor.digest] = self._compute_info(descriptor)
                    self._check_complete(info, descriptor)
                plain = Descriptor(descriptor.media_type, descriptor.digest, descriptor.size, descriptor.urls)
                refs = [ref]
                if digest_reference and ref.digest is None:
                    refs.append(ref.with_digest(descriptor.digest))
                for each in refs:
                    entries = _set_reference(entries, each, Entry(plain, each, info, tagged))
            self._save(doc, entries)

    def tag(self, source: str, target: str | Reference) -> ImageRecord:
        """docker tag: point the tag `target` at the image `source` resolves to."""
        target_ref = target if isinstance(target, Reference) else parse_normalized(target)
        if target_ref.digest is not None:
            raise StoreError("refusing to create a tag with a digest reference")
        target_ref = target_ref.with_default_tag()
        with self.lock():
            doc = self._read_index()
            entries = self._entries(doc)
            records = self._records(entries)
            image_id, via = self._lookup(records, source)
            template = _pick_entry(entries, image_id, via)
            new = Entry(template.descriptor, target_ref, template.info, now_timestamp().rfc3339nano())
            new.descriptor = Descriptor(
                template.descriptor.media_type, template.descriptor.digest, template.descriptor.size
            )
            entries = _set_reference(entries, target_ref, new)
            self._save(doc, entries)
            return self._records(entries)[image_id]

    def _save(self, doc: dict[str, Any], entries: list[Entry]) -> None:
        # Entries we could not read at all (not descriptors) are dropped; everything else is kept.
        cached: set[tuple[Digest, Digest]] = set()
        manifests = []
        for entry in entries:
            key = (entry.info.id, entry.info.manifest.digest) if entry.info is not None else None
            first = key is not None and key not in cached
            if key is not None:
                cached.add(key)
            manifests.append(entry.to_json(with_cache=first))
        doc["manifests"] = manifests
        self._write_listing(entries, self._write_index(doc))

    def remove(self, reference_or_id: str, *, force: bool = False) -> RemoveResult:
        """docker rmi for one argument: untag, and delete the image when nothing refers to it."""
        with self.lock():
            doc = self._read_index()
            before = self._entries(doc)
            records = self._records(before)
            image_id, via = self._lookup(records, reference_or_id)
            result = RemoveResult()
            after = self._remove_locked(before, records[image_id], via, force, result)
            self._save(doc, after)
            self._delete_unreachable(before, after, result)
            return result

    def _remove_locked(
        self,
        entries: list[Entry],
        record: ImageRecord,
        via: Reference | None,
        force: bool,
        result: RemoveResult,
    ) -> list[Entry]:
        """docker's ImageDelete on the entry list; returns the entries that remain."""
        refs = list(record.references)
        if via is not None:
            # A reference was named: remove it first.
            entries = [e for e in entries if e.ref != via]
            result.events.append(DeleteEvent("Untagged", via.familiar))
            refs = [r for r in refs if r != via]
            if via.digest is None and not any(r.digest is None and r.name == via.name for r in refs):
                # No tag left in that repository: its digest references go too.
                for r in [r for r in refs if r.digest is not None and r.name == via.name]:
                    entries = [e for e in entries if e.ref != r]
                    result.events.append(DeleteEvent("Untagged", r.familiar))
                    refs.remove(r)
            if refs:
                return entries
        elif refs and not force and not _is_single_reference(refs):
            raise Conflict(
                f"conflict: unable to delete {record.short_id} (must be forced) - "
                "image is referenced in multiple repositories"
            )
        # Delete the image: every remaining reference goes, then the image itself.
        for r in refs:
            result.events.append(DeleteEvent("Untagged", r.familiar))
        remaining = [e for e in entries if not (e.info is not None and e.info.id == record.id)]
        result.events.append(DeleteEvent("Deleted", str(record.id)))
        result.events.extend(DeleteEvent("Deleted", c) for c in self._removed_chain_ids(record, remaining))
        return remaining

    def _removed_chain_ids(self, record: ImageRecord, entries: list[Entry]) -> list[str]:
        """Layer chain IDs (top first) no remaining image shares, like the classic store prints."""
        mine = self._image_chain_ids(record.id)
        if not mine:
            return []
        others: set[str] = set()
        seen: set[Digest] = {record.id}
        for entry in entries:
            if entry.info is not None and entry.info.id not in seen:
                seen.add(entry.info.id)
                others.update(self._image_chain_ids(entry.info.id))
        return [c for c in reversed(mine) if c not in others]

    def _image_chain_ids(self, config_digest: Digest) -> list[str]:
        try:
            config = json.loads(self.blobs.read(config_digest))
            diff_ids = config["rootfs"]["diff_ids"]
            if not isinstance(diff_ids, list):
                return []
            return _chain_ids([str(d) for d in diff_ids])
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def prune(
        self, *, all_images: bool = False, exclude: Callable[[ImageRecord], bool] | None = None
    ) -> RemoveResult:
        """docker image prune: images without a tag, or with `all_images` every image.

        `exclude(record)` keeps an image out of the prune (the caller's until/label filters).
        """
        with self.lock():
            doc = self._read_index()
            before = self._entries(doc)
            entries = before
            result = RemoveResult()
            records = sorted(self._records(entries).values(), key=lambda r: r.created_ts or 0.0, reverse=True)
            for record in records:
                if exclude is not None and exclude(record):
                    continue
                if not all_images and record.tag_references:
                    continue
                entries = self._remove_locked(entries, record, None, True, result)
            self._save(doc, entries)
            self._delete_unreachable(before, entries, result)
            return result

    # -------------------------------------------------------------------------------- gc
    def _reachable(self, entries: list[Entry]) -> set[Digest]:
        seen: set[Digest] = set()
        stack = [e.descriptor for e in entries]
        while stack:
            desc = stack.pop()
            if desc.digest in seen:
                continue
            seen.add(desc.digest)
            if desc.media_type in mt.MANIFEST_TYPES or desc.media_type == "":
                try:
                    parsed = parse_manifest(self.blobs.read(desc.digest), desc.media_type or None)
                except (OSError, InvalidManifest):
                    continue
                if parsed.config is not None:
                    stack.append(parsed.config)
                stack.extend(parsed.layers)
                stack.extend(c for c in parsed.manifests if self.has_blob(c.digest))
                if parsed.subject is not None and self.has_blob(parsed.subject.digest):
                    stack.append(parsed.subject)
        return seen

    def _delete_unreachable(self, before: list[Entry], after: list[Entry], result: RemoveResult) -> None:
        """Delete the blobs that the removed entries reached and the remaining ones do not.

        Only blobs of removed images are candidates, so a blob that a concurrent pull has
        written but not referenced yet is never touched here (that is `gc`'s job, with a grace).
        """
        kept = {id(e) for e in after}
        removed = [e for e in before if id(e) not in kept]
        if not removed:
            return
        candidates = self._reachable(removed) - self._reachable(after)
        for digest in sorted(candidates, key=str):
            size = self.blobs.stat(digest)
            if size is not None and self.blobs.delete(digest):
                result.reclaimed += size

    def gc(self, *, grace: float = DEFAULT_GC_GRACE) -> RemoveResult:
        """Delete blobs no entry reaches, except those written less than `grace` seconds ago.

        The grace period protects blobs that a pull in progress has written but not yet
        referenced. Stale partial uploads older than the grace period are removed too.
        """
        import time

        result = RemoveResult()
        with self.lock():
            reachable = self._reachable(self._entries())
            cutoff = time.time() - grace
            for digest in list(self.blobs.iter_digests()):
                if digest in reachable:
                    continue
                path = self.blobs.path(digest)
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue
                if st.st_mtime > cutoff:
                    continue
                if self.blobs.delete(digest):
                    result.reclaimed += st.st_size
                    result.events.append(DeleteEvent("Deleted", str(digest)))
            stale = [*self.blobs.uploads_dir.iterdir(), *self.root.glob(".*.tmp")]
            for upload in stale:
                with contextlib.suppress(FileNotFoundError):
                    if upload.stat().st_mtime <= cutoff:
                        upload.unlink()
        return result


# ------------------------------------------------------------------------------- helpers


def _as_ref(reference: str | Reference) -> Reference:
    if isinstance(reference, str) and "@" in reference:
        # Parse the name alone and the digest with the fast digest parser.
        name, _, digest = reference.partition("@")
        named = parse_normalized(name)
        try:
            return named.with_digest(_digest(digest))
        except InvalidDigest:
            raise InvalidReference("invalid digest format") from None
    ref = reference if isinstance(reference, Reference) else parse_normalized(reference)
    if not ref.domain:
        ref = parse_normalized(str(ref))
    if ref.digest is not None:
        return ref.with_digest(ref.digest)
    return ref.with_default_tag()


def _pick_entry(entries: list[Entry], image_id: Digest, via: Reference | None) -> Entry:
    mine = [e for e in entries if e.info is not None and e.info.id == image_id]
    for entry in mine:
        if via is not None and entry.ref == via:
            return entry
    return max(mine, key=lambda e: (e.ref is not None, e.tagged))


def _set_reference(entries: list[Entry], ref: Reference, new: Entry) -> list[Entry]:
    """Replace whatever `ref` pointed to; an image left with no entry keeps a dangling one."""
    assert new.info is not None
    old = [e for e in entries if e.ref == ref]
    out = [e for e in entries if e.ref != ref]
    # The image being referenced no longer needs its dangling entry.
    out = [
        e
        for e in out
        if not (e.ref is None and e.foreign_name is None and e.info is not None and e.info.id == new.info.id)
    ]
    out.append(new)
    for entry in old:
        if entry.info is None or entry.info.id == new.info.id:
            continue
        if not any(e.info is not None and e.info.id == entry.info.id for e in out):
            out.append(Entry(entry.descriptor, None, entry.info, entry.tagged))
    return out


def _is_single_reference(refs: list[Reference]) -> bool:
    """docker's isSingleReference: one repository and at most one tag."""
    tags = [r for r in refs if r.digest is None]
    if len(tags) > 1:
        return False
    return len({r.name for r in refs}) == 1
