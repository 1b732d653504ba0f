"""The local image store as a transport (a plain name in `cargobay copy` means this store).

Thin adapter over `cargobay.localstore.LocalStore`: blobs land through resumable verifying writers
in the store's FilesystemBlobStore (session per digest, so an interrupted pull resumes from its
partial file), and the reference is set last, under the store's lock, once every blob is present.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager

from cargobay.image.types import BlobReader, CopyError, Manifest, ManifestNotFound
from cargobay.localstore.store import LocalStore
from cargobay.oci.digest import Digest, digest_bytes
from cargobay.oci.manifest import Descriptor
from cargobay.oci.reference import Reference
from cargobay.transports.common import StoreBlobSink, file_blob, open_store_sink


class LocalImageNotFound(ManifestNotFound):
    pass


class LocalStoreSource:
    max_concurrency = 8
    registry_domain: str | None = None
    repository: str | None = None
    # Every blob file was verified against its digest before it was published in the store (and
    # a registry checks `?digest=` again), so the copy engine does not hash what it reads here.
    blobs_verified = True

    def __init__(self, store: LocalStore, reference: Reference, *, not_found: str | None = None) -> None:
        self.store = store
        self.reference = reference
        self.description = reference.familiar
        self._not_found = (
            not_found or f"An image does not exist locally with the tag: {reference.familiar_name}"
        )
        self._top: Descriptor | None = None

    def top_descriptor(self) -> Descriptor:
        if self._top is None:
            found = self.store.get_reference(self.reference)
            if found is None:
                raise LocalImageNotFound(self._not_found)
            self._top = found
        return self._top

    def _read(self, digest: Digest, media_type: str | None = None) -> Manifest:
        try:
            raw = self.store.read_blob(digest)
        except FileNotFoundError:
            raise ManifestNotFound(f"manifest {digest} is missing from the local store") from None
        if digest_bytes(raw, digest.algorithm) != digest:
            raise CopyError(f"manifest {digest} in the local store does not match its digest")
        return Manifest.from_bytes(raw, media_type) if media_type else Manifest.from_bytes(raw)

    async def get_manifest(self, digest: Digest | None = None) -> Manifest:
        if digest is not None:
            return self._read(digest)
        top = self.top_descriptor()
        manifest = self._read(top.digest, top.media_type or None)
        parsed = manifest.parse()
        if parsed.is_index and not all(self.store.has_blob(c.digest) for c in parsed.manifests):
            # Only one platform was pulled: the image is that platform's manifest.
            record = self.store.resolve(str(self.reference))
            return self._read(record.manifest.digest, record.manifest.media_type or None)
        return manifest

    def open_blob(self, descriptor: Descriptor, offset: int = 0) -> AbstractAsyncContextManager[BlobReader]:
        path = self.store.blobs.path(descriptor.digest)
        if not path.is_file():
            raise CopyError(f"blob {descriptor.digest} is missing from the local store")
        return file_blob(lambda: open(path, "rb"), offset)

    def mount_candidates(self, domain: str) -> dict[Digest, list[str]]:
        """Layer digest → other repositories on `domain` whose local images contain it."""
        out: dict[Digest, list[str]] = {}
        for record in self.store.images():
            repos = [r.path for r in record.references if r.domain == domain]
            if not repos:
                continue
            try:
                parsed = Manifest.from_bytes(self.store.read_blob(record.manifest.digest)).parse()
            except (OSError, ValueError):
                continue
            for layer in parsed.layers:
                bucket = out.setdefault(layer.digest, [])
                bucket += [r for r in repos if r not in bucket]
        return out

    async def close(self) -> None:
        return None


class LocalStoreDestination:
    max_concurrency = 8
    registry_domain: str | None = None
    repository: str | None = None
    keeps_index = True

    def __init__(self, store: LocalStore, reference: Reference | None) -> None:
        self.store = store
        self.reference = reference
        self.description = reference.familiar if reference else "local store"
        self.recorded: Descriptor | None = None

    async def has_blob(self, descriptor: Descriptor) -> bool:
        return self.store.blobs.stat(descriptor.digest) == descriptor.size

    async def mount_blob(self, descriptor: Descriptor, from_repository: str) -> bool:
        return False

    async def blob_sink(self, descriptor: Descriptor) -> StoreBlobSink:
        return await open_store_sink(self.store.blobs, descriptor, prefix="pull")

    def _put(self, manifest: Manifest) -> None:
        if not self.store.has_blob(manifest.digest):
            self.store.put_blob(manifest.raw, manifest.digest)

    async def put_manifest(self, manifest: Manifest) -> None:
        await asyncio.to_thread(self._put, manifest)

    async def commit(self, top: Manifest, selected: Manifest | None = None) -> None:
        await asyncio.to_thread(self._put, top)
        descriptor = top.descriptor()
        self.recorded = descriptor
        if self.reference is not None:
            ref = self.reference
            if ref.digest is not None and ref.digest not in (
                top.digest,
                selected.digest if selected else None,
            ):
                raise CopyError(f"digest mismatch: {ref} resolved to {top.digest}")
            await asyncio.to_thread(
                self.store.add_reference,
                ref,
                descriptor,
                platform_manifest=selected.digest if selected else None,
            )

    async def close(self) -> None:
        return None
