"""The seams of the copy engine: where images come from, where they go, and what it reports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from cargobay.oci.digest import Digest, digest_bytes
from cargobay.oci.manifest import Descriptor, ParsedManifest, parse_manifest


class CopyError(Exception):
    """A copy failed; `str()` is one line for the user."""


class ManifestNotFound(CopyError):
    pass


class NoMatchingPlatform(CopyError):
    pass


class BlobVerificationError(CopyError):
    """Received blob bytes did not match their digest; the bytes were discarded."""


@dataclass(frozen=True, slots=True)
class Manifest:
    """Manifest bytes exactly as received (the bytes are the identity) with their type and digest."""

    raw: bytes
    media_type: str
    digest: Digest

    @classmethod
    def from_bytes(cls, raw: bytes, media_type: str | None = None) -> Manifest:
        parsed = parse_manifest(raw, None)
        return cls(raw, media_type or parsed.media_type, digest_bytes(raw))

    def parse(self) -> ParsedManifest:
        return parse_manifest(self.raw, None)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.raw))


class BlobReader(Protocol):
    """An open blob: `offset` is where the bytes of `chunks()` start (a resumed read may begin later)."""

    offset: int

    def chunks(self) -> AsyncIterator[bytes]: ...


class BlobSink(Protocol):
    """Where one blob's bytes go. `offset` is how many bytes a previous attempt already left."""

    offset: int
    # Optional attribute `verifies: bool`: True when commit() checks size and digest itself.
    # Optional attribute `commit_is_local: bool`: True when commit() needs no connection (a local
    # store), so the engine lets the next blob start transferring while this one commits.
    # Optional attribute `checked_remotely: bool`: True when the receiver (a registry) refuses
    # bytes that do not match the digest; the engine then skips its own hash for sources whose
    # blobs are known good (`ImageSource.blobs_verified`, optional, e.g. the local store).

    async def write(self, data: bytes) -> None: ...

    async def commit(self, descriptor: Descriptor) -> None:
        """Verify size and digest and publish; on mismatch discard and raise BlobVerificationError."""
        ...

    async def abort(self, keep_partial: bool) -> None:
        """Stop; `keep_partial` leaves received bytes for a later resume when the sink can."""
        ...


class ImageSource(Protocol):
    description: str  # e.g. "docker://127.0.0.1:5000/a/b:1", for messages
    max_concurrency: int

    async def get_manifest(self, digest: Digest | None = None) -> Manifest:
        """The image's own (top-level) manifest when `digest` is None, else the one named."""
        ...

    def open_blob(
        self, descriptor: Descriptor, offset: int = 0
    ) -> AbstractAsyncContextManager[BlobReader]: ...

    async def close(self) -> None: ...


class ImageDestination(Protocol):
    description: str
    max_concurrency: int
    registry_domain: str | None  # set for registries: blobs from the same domain can be mounted
    repository: str | None
    keeps_index: bool  # store an index as the top even when only one platform is copied

    async def has_blob(self, descriptor: Descriptor) -> bool: ...

    async def mount_blob(self, descriptor: Descriptor, from_repository: str) -> bool:
        """Cross-repository mount (registries only); False when not possible."""
        ...

    async def blob_sink(self, descriptor: Descriptor) -> BlobSink: ...

    async def put_manifest(self, manifest: Manifest) -> None:
        """Store a manifest that is not the top one (an index's child)."""
        ...

    async def commit(self, top: Manifest, selected: Manifest | None = None) -> None:
        """Store the top manifest and make it visible under the destination's name.

        `selected` is set when `top` is an index of which only that platform image was copied
        (destinations with `keeps_index`); otherwise `top` is complete.
        """
        ...

    async def close(self) -> None: ...


EventKind = Literal[
    "queued",  # the blob is part of the copy (docker: "Pulling fs layer" / "Preparing")
    "pending",  # the destination lacks it: it will be transferred ("Pulling fs layer")
    "waiting",  # queued beyond the concurrency limit
    "started",  # transfer began
    "progress",  # bytes moved: current / total
    "exists",  # the destination already has it ("Already exists" / "Layer already exists")
    "mounted",  # cross-repository mount ("Mounted from X")
    "done",  # transferred, verified and committed
    "retrying",  # a transfer failed and will be retried after `detail` seconds
]


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    kind: EventKind
    digest: Digest
    size: int
    current: int = 0
    is_layer: bool = True
    detail: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True, slots=True)
class CopyResult:
    """What a copy did: the source's top manifest and what was written as the top."""

    source_manifest: Manifest  # e.g. the index resolved from the tag
    manifest: Manifest  # what the destination now holds as its top (the platform image, or the index)
    blobs_copied: int
    blobs_skipped: int
    bytes_copied: int


class TransientTransferError(CopyError):
    """A transfer broke off (connection reset, EOF, timeout); it may be retried or resumed."""
