"""The blob store interface shared by the hub and the client's local store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from cargobay.oci.digest import Digest


class DigestMismatch(ValueError):
    def __init__(self, expected: Digest, actual: Digest) -> None:
        super().__init__(f"digest mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class SizeMismatch(ValueError):
    pass


class BlobWriter(Protocol):
    @property
    def size(self) -> int: ...

    def write(self, data: bytes | memoryview) -> None: ...

    def flush(self) -> None: ...

    def commit(self, expected: Digest | None = None, expected_size: int | None = None) -> Digest:
        """Verify, make durable and publish the blob; on any mismatch the data is discarded."""
        ...

    def cancel(self) -> None: ...


class BlobStore(Protocol):
    def path(self, digest: Digest) -> Path | None:
        """A local file holding the blob, when the driver has one (for zero-copy sends)."""
        ...

    def stat(self, digest: Digest) -> int | None:
        """The blob's size, or None when it is not stored."""
        ...

    def open(self, digest: Digest) -> BinaryIO: ...

    def delete(self, digest: Digest) -> bool: ...

    def iter_digests(self) -> Iterator[Digest]: ...

    def writer(self, session: str, algorithm: str = "sha256", *, append: bool = False) -> BlobWriter:
        """A writer for upload `session`; `append` continues the bytes an earlier writer left."""
        ...

    def session_size(self, session: str) -> int | None: ...

    def discard_session(self, session: str) -> None: ...
