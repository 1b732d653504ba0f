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

The work is split by job: `records` (the value types and errors), `layout` (the files:
LocalBlobStore, atomic writes, index.json, listing.json), `entries` (index.json items ↔
`Entry`), `imageinfo` (image facts from blobs), `refs` (reference resolution) and `removal`
(rmi, prune, gc). `LocalStore` here holds the lock and ties them together.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest
from cargobay.oci.manifest import Descriptor
from cargobay.oci.reference import Reference, parse_normalized
from cargobay.paths import cargobay_home

from .layout import (
    INDEX_NAME,
    LAYOUT_NAME,
    LISTING_NAME,
    LOCK_NAME,
    LocalBlobStore,
    index_fingerprint,
    read_index,
    read_listing,
    write_atomic,
    write_index,
    write_listing,
)
from .records import (
    ANNOTATION_ID,
    ANNOTATION_MANIFEST,
    REF_NAME,
    Conflict,
    DeleteEvent,
    Entry,
    ImageInfo,
    ImageNotFound,
    ImageRecord,
    MissingBlobs,
    RemoveResult,
    StoreError,
    group_records,
)
from .timeutil import now_timestamp

# `cargobay images` is answered by the listing: decoding the index (entries, imageinfo, refs) and
# removal are imported by the methods that use them, so that command loads none of them.

DEFAULT_GC_GRACE = 3600.0  # unreferenced blobs younger than this may belong to a pull in progress

__all__ = [  # what `cargobay.localstore.store` has always offered importers
    "ANNOTATION_ID",
    "ANNOTATION_MANIFEST",
    "REF_NAME",
    "Conflict",
    "DeleteEvent",
    "ImageNotFound",
    "ImageRecord",
    "LocalBlobStore",
    "LocalStore",
    "MissingBlobs",
    "RemoveResult",
    "StoreError",
    "default_root",
]


def default_root() -> Path:
    return cargobay_home()


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
                    write_atomic(layout, b'{"imageLayoutVersion":"1.0.0"}')
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

    def _read_index(self) -> dict[str, Any]:
        return read_index(self._index_path)

    def _write_index(self, doc: dict[str, Any]) -> list[Any]:
        """Write index.json; returns its fingerprint for the listing."""
        return write_index(self._index_path, doc, self.blobs)

    # ----------------------------------------------------------------------------- blobs
    def has_blob(self, digest: Digest) -> bool:
        return self.blobs.has(digest)

    def read_blob(self, digest: Digest) -> bytes:
        return self.blobs.read(digest)

    def put_blob(self, data: bytes, expected: Digest | None = None) -> Digest:
        """Store small content (manifests, configs) verified against `expected`."""
        return self.blobs.put_bytes(data, f"put-{os.urandom(16).hex()}", expected)

    # ------------------------------------------------------------------- entries, records
    def _entries(self, doc: dict[str, Any] | None = None) -> list[Entry]:
        from .entries import decode_entries

        return decode_entries(doc if doc is not None else self._read_index(), self.blobs)

    def _records(self, entries: list[Entry]) -> dict[Digest, ImageRecord]:
        return group_records(entries)

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
    def _write_listing(self, entries: list[Entry], fingerprint: list[Any]) -> None:
        write_listing(self.root / LISTING_NAME, self._records(entries).values(), fingerprint)

    def _read_listing(self) -> list[ImageRecord] | None:
        return read_listing(self.root / LISTING_NAME, self._index_path)

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
            before = index_fingerprint(self._index_path)
            entries = self._entries()
            if index_fingerprint(self._index_path) == before:
                self._write_listing(entries, before)
        except (OSError, StoreError):
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def get_reference(self, reference: str | Reference) -> Descriptor | None:
        """The descriptor stored for exactly this reference (tag default `latest`), or None."""
        from .refs import as_ref

        ref = as_ref(reference)
        for entry in self._entries():
            if entry.ref == ref:
                return Descriptor(entry.descriptor.media_type, entry.descriptor.digest, entry.descriptor.size)
        return None

    def resolve(self, reference_or_id: str) -> ImageRecord:
        """docker's GetImage: a full or short image ID, `name`, `name:tag` or `name@digest`."""
        from .refs import lookup

        listed = self._read_listing()
        records = {r.id: r for r in listed} if listed is not None else self._records(self._entries())
        image_id, _ = lookup(records, reference_or_id)
        return records[image_id]

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
        from .imageinfo import check_complete, compute_info
        from .refs import as_ref, set_reference

        ref = as_ref(reference)
        if ref.digest is not None and ref.digest != descriptor.digest:
            raise StoreError(f"reference {ref} does not match the digest {descriptor.digest}")
        with self.lock():
            doc = self._read_index()
            entries = self._entries(doc)
            info = compute_info(self.blobs, descriptor, platform_manifest)
            check_complete(self.blobs, info, descriptor)
            plain = Descriptor(descriptor.media_type, descriptor.digest, descriptor.size, descriptor.urls)
            refs = [ref]
            if digest_reference and ref.digest is None:
                refs.append(ref.with_digest(descriptor.digest))
            for each in refs:
                entries = set_reference(
                    entries, each, Entry(plain, each, info, now_timestamp().rfc3339nano())
                )
            self._save(doc, entries)
            return self._records(entries)[info.id]

    def add_references(
        self, items: Iterable[tuple[str | Reference, Descriptor]], *, digest_reference: bool = True
    ) -> None:
        """`add_reference` for many references at once: one lock, one index write (load, bulk import)."""
        from .imageinfo import check_complete, compute_info
        from .refs import as_ref, set_reference

        with self.lock():
            doc = self._read_index()
            entries = self._entries(doc)
            infos: dict[Digest, ImageInfo] = {}
            tagged = now_timestamp().rfc3339nano()
            for reference, descriptor in items:
                ref = as_ref(reference)
                if ref.digest is not None and ref.digest != descriptor.digest:
                    raise StoreError(f"reference {ref} does not match the digest {descriptor.digest}")
                info = infos.get(descriptor.digest)
                if info is None:
                    info = infos[descriptor.digest] = compute_info(self.blobs, descriptor)
                    check_complete(self.blobs, info, descriptor)
                plain = Descriptor(descriptor.media_type, descriptor.digest, descriptor.size, descriptor.urls)
                refs = [ref]
                if digest_reference and ref.digest is None:
                    refs.append(ref.with_digest(descriptor.digest))
                for each in refs:
                    entries = set_reference(entries, each, Entry(plain, each, info, tagged))
            self._save(doc, entries)

    def tag(self, source: str, target: str | Reference) -> ImageRecord:
        """docker tag: point the tag `target` at the image `source` resolves to."""
        from .refs import lookup, pick_entry, set_reference

        target_ref = target if isinstance(target, Reference) else parse_normalized(target)
        if target_ref.digest is not None:
            raise StoreError("refusing to create a tag with a digest reference")
        target_ref = target_ref.with_default_tag()
        with self.lock():
            doc = self._read_index()
            entries = self._entries(doc)
            records = self._records(entries)
            image_id, via = lookup(records, source)
            template = pick_entry(entries, image_id, via)
            new = Entry(template.descriptor, target_ref, template.info, now_timestamp().rfc3339nano())
            new.descriptor = Descriptor(
                template.descriptor.media_type, template.descriptor.digest, template.descriptor.size
            )
            entries = set_reference(entries, target_ref, new)
            self._save(doc, entries)
            return self._records(entries)[image_id]

    def _save(self, doc: dict[str, Any], entries: list[Entry]) -> None:
        from .entries import encode_entries

        # Entries we could not read at all (not descriptors) are dropped; everything else is kept.
        doc["manifests"] = encode_entries(entries)
        self._write_listing(entries, self._write_index(doc))

    def remove(self, reference_or_id: str, *, force: bool = False) -> RemoveResult:
        """docker rmi for one argument: untag, and delete the image when nothing refers to it."""
        from .refs import lookup
        from .removal import delete_unreachable, remove_image

        with self.lock():
            doc = self._read_index()
            before = self._entries(doc)
            records = self._records(before)
            image_id, via = lookup(records, reference_or_id)
            result = RemoveResult()
            after = remove_image(self.blobs, before, records[image_id], via, force, result)
            self._save(doc, after)
            delete_unreachable(self.blobs, before, after, result)
            return result

    def prune(
        self, *, all_images: bool = False, exclude: Callable[[ImageRecord], bool] | None = None
    ) -> RemoveResult:
        """docker image prune: images without a tag, or with `all_images` every image.

        `exclude(record)` keeps an image out of the prune (the caller's until/label filters).
        """
        from .removal import delete_unreachable, prune_entries

        with self.lock():
            doc = self._read_index()
            before = self._entries(doc)
            result = RemoveResult()
            after = prune_entries(self.blobs, before, all_images=all_images, exclude=exclude, result=result)
            self._save(doc, after)
            delete_unreachable(self.blobs, before, after, result)
            return result

    def gc(self, *, grace: float = DEFAULT_GC_GRACE) -> RemoveResult:
        """Delete blobs no entry reaches, except those written less than `grace` seconds ago.

        The grace period protects blobs that a pull in progress has written but not yet
        referenced. Stale partial uploads older than the grace period are removed too.
        """
        from .removal import collect_garbage

        with self.lock():
            return collect_garbage(self.blobs, self.root, self._entries(), grace)
