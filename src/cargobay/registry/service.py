"""RegistryService: manifests, blobs, uploads, mounts, tags, catalog and referrers."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cargobay.metadata.store import ManifestRow, MetadataStore, NewManifest
from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import HEX_LENGTHS, Digest, InvalidDigest, digest_bytes
from cargobay.oci.errors import ErrorCode, RegistryError
from cargobay.oci.manifest import MAX_MANIFEST_BYTES, InvalidManifest, parse_manifest
from cargobay.oci.names import InvalidName, is_valid_tag, validate_repository
from cargobay.registry.pagination import Page
from cargobay.storage.base import DigestMismatch, SizeMismatch
from cargobay.storage.filesystem import FilesystemBlobStore, FilesystemBlobWriter

# Writes are buffered to this size before a worker thread hashes and writes them, so the
# event loop keeps reading the socket while the previous buffer is hashed (hashlib drops the GIL).
WRITE_BUFFER = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: Digest
    size: int
    path: Path


@dataclass(frozen=True, slots=True)
class UploadState:
    id: str
    repository: str
    size: int
    algorithm: str = "sha256"


@dataclass(frozen=True, slots=True)
class ManifestPut:
    digest: Digest
    subject: Digest | None
    tags: tuple[str, ...]


def parse_repository(name: str) -> str:
    try:
        return validate_repository(name)
    except InvalidName as exc:
        raise RegistryError(ErrorCode.NAME_INVALID, str(exc), detail={"name": name[:300]}) from None


def parse_digest(text: str, code: ErrorCode = ErrorCode.DIGEST_INVALID) -> Digest:
    try:
        return Digest.parse(text)
    except InvalidDigest as exc:
        raise RegistryError(code, str(exc), status=400) from None


class _HashCache:
    """Per-process cache of running hash states of chunked uploads, keyed by (upload, offset).

    Purely an optimisation: a worker that does not hold the state re-reads the upload file.
    """

    def __init__(self, capacity: int = 64) -> None:
        self._items: OrderedDict[str, tuple[int, Any]] = OrderedDict()
        self._capacity = capacity

    def take(self, upload_id: str, size: int) -> Any:
        item = self._items.pop(upload_id, None)
        if item is not None and item[0] == size:
            return item[1]
        return None

    def put(self, upload_id: str, size: int, hasher: Any) -> None:
        self._items[upload_id] = (size, hasher)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)


class RegistryService:
    def __init__(
        self,
        metadata: MetadataStore,
        blobs: FilesystemBlobStore,
        *,
        chunk_min_length: int = 1024,
        tags_page_max: int = 10000,
        catalog_page_max: int = 10000,
        delete_enabled: bool = True,
    ) -> None:
        self.metadata = metadata
        self.blobs = blobs
        self.chunk_min_length = chunk_min_length
        self.tags_page_max = tags_page_max
        self.catalog_page_max = catalog_page_max
        self.delete_enabled = delete_enabled
        self._hashes = _HashCache()

    # -- blobs ----------------------------------------------------------------------------

    async def stat_blob(self, repository: str, digest: Digest, *, visible: bool = True) -> BlobInfo:
        size = await self.metadata.blob_size_in_repository(repository, str(digest)) if visible else None
        if size is None:
            raise _blob_unknown(digest)
        return BlobInfo(digest, size, self.blobs.path(digest))

    async def delete_blob(self, repository: str, digest: Digest) -> None:
        self._require_delete()
        if not await self.metadata.unlink_blob(repository, str(digest)):
            raise _blob_unknown(digest)

    async def mount_blob(self, repository: str, digest: Digest, source: str) -> bool:
        """Link a blob from `source` into `repository`; False when the source does not have it."""
        if source == repository:
            return False
        size = await self.metadata.blob_size_in_repository(source, str(digest))
        if size is None or self.blobs.stat(digest) is None:
            return False
        await self.metadata.link_blob(repository, str(digest), size)
        return True

    # -- uploads --------------------------------------------------------------------------

    async def start_upload(self, repository: str, algorithm: str = "sha256") -> UploadState:
        if algorithm not in HEX_LENGTHS:
            raise RegistryError(
                ErrorCode.DIGEST_INVALID, f"unsupported digest algorithm {algorithm[:32]!r}", status=400
            )
        upload_id = secrets.token_hex(16)
        await self.metadata.create_upload(upload_id, repository, algorithm)
        return UploadState(upload_id, repository, 0, algorithm)

    async def upload_state(self, repository: str, upload_id: str) -> UploadState:
        row = await self.metadata.get_upload(upload_id) if _valid_upload_id(upload_id) else None
        if row is None or row.repository != repository:
            raise RegistryError(ErrorCode.BLOB_UPLOAD_UNKNOWN, detail={"uuid": upload_id[:80]})
        return UploadState(row.id, row.repository, row.size, row.algorithm)

    async def append_upload(
        self,
        repository: str,
        upload_id: str,
        body: AsyncIterator[bytes],
        *,
        start: int | None,
        content_length: int | None,
    ) -> UploadState:
        """Append a chunk. `start` is the Content-Range start (None for a streamed PATCH)."""
        await self.upload_state(repository, upload_id)  # the id is valid before it names a file
        with self._exclusive_upload(upload_id):
            return await self._append_locked(
                repository, upload_id, body, start=start, content_length=content_length
            )

    def _exclusive_upload(self, upload_id: str) -> contextlib.AbstractContextManager[None]:
        return _exclusive(self.blobs.uploads_dir / upload_id)

    async def _append_locked(
        self,
        repository: str,
        upload_id: str,
        body: AsyncIterator[bytes],
        *,
        start: int | None,
        content_length: int | None,
    ) -> UploadState:
        state = await self.upload_state(repository, upload_id)  # current, now that we hold the lock
        if start is not None and start != state.size:
            raise RegistryError(
                ErrorCode.BLOB_UPLOAD_INVALID,
                f"chunk starts at {start}, upload is at {state.size}",
                status=416,
                headers=_range_headers(repository, state),
            )
        if state.size > 0:
            # Bytes past the recorded size are from a request that died mid-chunk: drop them.
            await asyncio.to_thread(_truncate_if_longer, self.blobs.uploads_dir / upload_id, state.size)
        writer = self.blobs.writer(upload_id, state.algorithm, append=state.size > 0)
        if state.size > 0:
            cached = self._hashes.take(upload_id, state.size)
            if cached is not None:
                writer.adopt_hasher(cached)
        try:
            written = await _pump(body, writer)
        finally:
            await asyncio.to_thread(writer.close)
        if content_length is not None and written != content_length:
            # Roll back to where the chunk began, so a retry can start clean.
            await asyncio.to_thread(_truncate, writer.temp_path, state.size)
            raise RegistryError(ErrorCode.SIZE_INVALID, detail={"expected": content_length, "got": written})
        new_size = state.size + written
        if not await self.metadata.advance_upload(upload_id, state.size, new_size):
            raise RegistryError(ErrorCode.BLOB_UPLOAD_INVALID, "upload moved concurrently", status=416)
        if writer.hasher is not None:
            self._hashes.put(upload_id, new_size, writer.hasher)
        return UploadState(upload_id, repository, new_size, state.algorithm)

    async def complete_upload(
        self,
        repository: str,
        upload_id: str,
        digest_text: str | None,
        body: AsyncIterator[bytes] | None,
        *,
        start: int | None,
        content_length: int | None,
    ) -> Digest:
        """PUT: optional final chunk, then verify the whole blob against `digest` and publish it."""
        await self.upload_state(repository, upload_id)
        if not digest_text:
            raise RegistryError(ErrorCode.DIGEST_INVALID, "digest parameter is required", status=400)
        expected = parse_digest(digest_text)
        with self._exclusive_upload(upload_id):
            return await self._complete_locked(
                repository, upload_id, expected, body, start=start, content_length=content_length
            )

    async def _complete_locked(
        self,
        repository: str,
        upload_id: str,
        expected: Digest,
        body: AsyncIterator[bytes] | None,
        *,
        start: int | None,
        content_length: int | None,
    ) -> Digest:
        state = await self.upload_state(repository, upload_id)
        if body is not None and (content_length or start is not None):
            state = await self._append_locked(
                repository, upload_id, body, start=start, content_length=content_length
            )
        elif state.size > 0:
            await asyncio.to_thread(_truncate_if_longer, self.blobs.uploads_dir / upload_id, state.size)
        writer = self.blobs.writer(upload_id, expected.algorithm, append=True)
        cached = self._hashes.take(upload_id, state.size)
        if cached is not None and cached.name == expected.algorithm:
            writer.adopt_hasher(cached)
        try:
            actual = await asyncio.to_thread(writer.commit, expected)
        except DigestMismatch:
            await self._forget_upload(upload_id)
            raise RegistryError(ErrorCode.DIGEST_INVALID, detail={"expected": str(expected)}) from None
        except SizeMismatch as exc:
            await self._forget_upload(upload_id)
            raise RegistryError(ErrorCode.SIZE_INVALID, str(exc)) from None
        await self.metadata.link_blob(repository, str(actual), state.size)
        await self.metadata.delete_upload(upload_id)
        return actual

    async def monolithic_upload(
        self, repository: str, expected: Digest, body: AsyncIterator[bytes], content_length: int | None
    ) -> Digest:
        """Single-request push (POST ?digest= with the body): no upload row needed."""
        session = secrets.token_hex(16)
        writer = self.blobs.writer(session, expected.algorithm)
        try:
            written = await _pump(body, writer)
            if content_length is not None and written != content_length:
                raise RegistryError(
                    ErrorCode.SIZE_INVALID, detail={"expected": content_length, "got": written}
                )
            actual = await asyncio.to_thread(writer.commit, expected)
        except DigestMismatch:
            raise RegistryError(ErrorCode.DIGEST_INVALID, detail={"expected": str(expected)}) from None
        except BaseException:
            await asyncio.to_thread(writer.cancel)
            raise
        await self.metadata.link_blob(repository, str(actual), written)
        return actual

    async def cancel_upload(self, repository: str, upload_id: str) -> None:
        await self.upload_state(repository, upload_id)
        await self._forget_upload(upload_id)

    async def _forget_upload(self, upload_id: str) -> None:
        await self.metadata.delete_upload(upload_id)
        self._hashes.take(upload_id, -1)
        await asyncio.to_thread(self.blobs.discard_session, upload_id)

    async def purge_stale_uploads(self, max_age_seconds: float) -> int:
        stale = await self.metadata.stale_uploads(time.time() - max_age_seconds)
        for upload_id in stale:
            await self._forget_upload(upload_id)
        return len(stale)

    # -- manifests ------------------------------------------------------------------------

    async def get_manifest(
        self, repository: str, reference: str, *, with_content: bool, visible: bool = True
    ) -> ManifestRow:
        if reference.count(":") == 1 and not is_valid_tag(reference):
            digest = parse_digest(reference)
            row = await self.metadata.manifest_by_digest(repository, str(digest), with_content=with_content)
        elif is_valid_tag(reference):
            row = await self.metadata.manifest_by_tag(repository, reference, with_content=with_content)
        else:
            raise RegistryError(ErrorCode.MANIFEST_INVALID, "invalid tag or digest", status=400)
        if row is None or not visible:
            raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"reference": reference})
        return row

    async def put_manifest(
        self, repository: str, reference: str, content_type: str | None, body: bytes, extra_tags: list[str]
    ) -> ManifestPut:
        if len(body) > MAX_MANIFEST_BYTES:
            raise RegistryError(ErrorCode.MANIFEST_INVALID, "manifest exceeds 4 MiB", status=413)
        tag_names: list[str] = []
        pushed_by_digest: Digest | None = None
        if is_valid_tag(reference):
            tag_names.append(reference)
        elif ":" in reference:
            pushed_by_digest = parse_digest(reference)
        else:
            raise RegistryError(ErrorCode.TAG_INVALID, f"invalid tag {reference[:140]!r}", status=400)
        for tag in extra_tags:
            if not is_valid_tag(tag):
                raise RegistryError(ErrorCode.TAG_INVALID, f"invalid tag {tag[:140]!r}", status=400)
            if tag not in tag_names:
                tag_names.append(tag)
        algorithm = pushed_by_digest.algorithm if pushed_by_digest else "sha256"
        digest = digest_bytes(body, algorithm)
        if pushed_by_digest is not None and digest != pushed_by_digest:
            raise RegistryError(
                ErrorCode.DIGEST_INVALID, detail={"expected": str(pushed_by_digest), "actual": str(digest)}
            )
        try:
            parsed = parse_manifest(body, content_type)
        except InvalidManifest as exc:
            raise RegistryError(ErrorCode.MANIFEST_INVALID, str(exc)) from None
        blob_digests = tuple(
            str(d.digest)
            for d in ((parsed.config,) if parsed.config else ()) + parsed.layers
            if not d.is_nondistributable
        )
        child_digests = tuple(str(d.digest) for d in parsed.manifests)
        missing = await self.metadata.missing_references(repository, blob_digests, child_digests)
        if missing:
            raise RegistryError(ErrorCode.MANIFEST_BLOB_UNKNOWN, detail={"digests": missing[:20]})
        subject = parsed.subject.digest if parsed.subject else None
        await self.metadata.put_manifest(
            repository,
            NewManifest(
                digest=str(digest),
                media_type=parsed.media_type,
                artifact_type=parsed.effective_artifact_type,
                subject_digest=str(subject) if subject else None,
                content=body,
                blob_digests=blob_digests,
                child_digests=child_digests,
            ),
            tag_names,
        )
        return ManifestPut(digest, subject, tuple(tag_names))

    async def delete_manifest(self, repository: str, reference: str) -> None:
        self._require_delete()
        if is_valid_tag(reference):
            if not await self.metadata.delete_tag(repository, reference):
                raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"tag": reference})
            return
        digest = parse_digest(reference)
        if not await self.metadata.delete_manifest(repository, str(digest)):
            raise RegistryError(ErrorCode.MANIFEST_UNKNOWN, detail={"digest": str(digest)})

    def _require_delete(self) -> None:
        if not self.delete_enabled:
            raise RegistryError(ErrorCode.UNSUPPORTED, "deletion is disabled on this registry")

    # -- discovery ------------------------------------------------------------------------

    async def list_tags(self, repository: str, page: Page, *, visible: bool = True) -> tuple[list[str], bool]:
        """Tags after `last`, and whether more follow."""
        if page.limit == 0:
            if not visible or not await self.metadata.repository_exists(repository):
                raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": repository})
            return [], False
        found = await self.metadata.list_tags(repository, page.limit + 1, page.last) if visible else None
        if found is None:
            raise RegistryError(ErrorCode.NAME_UNKNOWN, detail={"name": repository})
        return found[: page.limit], len(found) > page.limit

    async def catalog(self, page: Page, namespaces: list[str] | None = None) -> tuple[list[str], bool]:
        """Repositories in byte order; with `namespaces`, private ones outside them are left out."""
        if page.limit == 0:
            return [], False
        found = await self.metadata.catalog(page.limit + 1, page.last, namespaces)
        return found[: page.limit], len(found) > page.limit

    async def referrers(
        self, repository: str, subject: Digest, artifact_type: str | None, page: Page, *, visible: bool = True
    ) -> tuple[bytes, str | None]:
        """The referrers index, and the digest to continue after when more follow."""
        rows = (
            await self.metadata.referrers(
                repository, str(subject), artifact_type, limit=page.limit + 1, after=page.last
            )
            if visible
            else []
        )
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        descriptors = []
        for row in rows:
            descriptor: dict[str, Any] = {"mediaType": row.media_type, "digest": row.digest, "size": row.size}
            if row.artifact_type:
                descriptor["artifactType"] = row.artifact_type
            with contextlib.suppress(ValueError):
                annotations = json.loads(row.content).get("annotations")
                if isinstance(annotations, dict) and annotations:
                    descriptor["annotations"] = annotations
            descriptors.append(descriptor)
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
        body = json.dumps(index, separators=(",", ":")).encode()
        return body, (rows[-1].digest if more and rows else None)


def _blob_unknown(digest: Digest) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": str(digest)})


def _valid_upload_id(upload_id: str) -> bool:
    return len(upload_id) == 32 and all(c in "0123456789abcdef" for c in upload_id)


def _range_headers(repository: str, state: UploadState) -> dict[str, str]:
    return {
        "Location": f"/v2/{repository}/blobs/uploads/{state.id}",
        "Range": f"0-{max(state.size - 1, 0)}",
        "Docker-Upload-UUID": state.id,
    }


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on an upload file, across worker processes; 416 while another request has it.

    Without it two requests on one session (a client's retry while its dropped request is still
    being handled, or a misbehaving client) interleave their bytes in the file, while the running
    hash (kept per process) describes only one of them, so a wrong blob could be published.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RegistryError(
                ErrorCode.BLOB_UPLOAD_INVALID, "another request is writing to this upload", status=416
            ) from None
        yield
    finally:
        os.close(fd)


def _truncate_if_longer(path: Path, size: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        if os.stat(path).st_size > size:
            os.truncate(path, size)


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


async def _pump(body: AsyncIterator[bytes], writer: FilesystemBlobWriter) -> int:
    """Copy a request body into `writer`.

    Chunks are batched. While the event loop reads the next batch from the socket, worker
    threads hash the previous one (in order) and write up to two batches at their offsets
    (file writes and hashlib drop the GIL, so this uses both cores).
    """
    loop = asyncio.get_running_loop()
    start = offset = writer.size
    batch: list[bytes] = []
    batch_size = 0
    hashing: asyncio.Future[None] | None = None
    writes: collections.deque[asyncio.Future[None]] = collections.deque()

    async def dispatch(chunks: list[bytes], size: int) -> None:
        nonlocal hashing, offset
        if hashing is not None:
            await hashing
        hashing = loop.run_in_executor(None, writer.hash_only, chunks)
        while len(writes) >= _WRITES_IN_FLIGHT:
            await writes.popleft()
        writes.append(loop.run_in_executor(None, writer.write_at, chunks, offset))
        offset += size

    try:
        async for chunk in body:
            batch.append(chunk)
            batch_size += len(chunk)
            if batch_size >= WRITE_BUFFER:
                await dispatch(batch, batch_size)
                batch, batch_size = [], 0
        if batch:
            await dispatch(batch, batch_size)
        if hashing is not None:
            await hashing
        while writes:
            await writes.popleft()
    finally:
        for future in [*writes, *([hashing] if hashing is not None else [])]:
            with contextlib.suppress(Exception):
                await future
    writer.extend_to(offset)
    return offset - start


_WRITES_IN_FLIGHT = 2
