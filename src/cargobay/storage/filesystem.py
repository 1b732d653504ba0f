"""Filesystem blob store laid out as an OCI image layout: `blobs/<alg>/<hex>`.

Writes go to `uploads/<session>` and are published by verify → fsync → rename, so a crash at any
moment leaves either no blob or the whole verified blob. Session names are validated, digests
are parsed before they reach a path, so no path is ever built from unchecked user input.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from cargobay.oci.digest import HEX_LENGTHS, Digest, InvalidDigest, new_hasher
from cargobay.storage.base import DigestMismatch, SizeMismatch

_SESSION_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_READ_CHUNK = 4 * 1024 * 1024
_SYNC_EVERY = 32 * 1024 * 1024


def _check_session(session: str) -> str:
    if not _SESSION_RE.fullmatch(session):
        raise ValueError(f"invalid upload session id {session[:40]!r}")
    return session


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FilesystemBlobWriter:
    """Appends to an upload file, hashing as it goes when it has seen every byte from 0."""

    def __init__(self, store: FilesystemBlobStore, session: str, algorithm: str, append: bool) -> None:
        self._store = store
        self.session = session
        self.algorithm = algorithm
        self.temp_path = store.uploads_dir / session
        # Not O_APPEND: positional writes (`write_at`) must land where they say.
        flags = os.O_RDWR | os.O_CREAT | (0 if append else os.O_TRUNC)
        self._file = os.fdopen(os.open(self.temp_path, flags, 0o644), "r+b")
        self._file.seek(0, os.SEEK_END)
        self._size = self._file.tell()
        # A fresh writer hashes inline; a resumed one re-reads the file on commit.
        self._hasher: Any = new_hasher(algorithm) if self._size == 0 else None
        self._synced_to = self._size
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    def adopt_hasher(self, hasher: Any) -> None:
        """Continue with a hash state that already covers the file's bytes (a same-process cache)."""
        self._hasher = hasher

    @property
    def hasher(self) -> Any:
        return self._hasher

    def write(self, data: bytes | memoryview) -> None:
        self._file.write(data)
        if self._hasher is not None:
            self._hasher.update(data)
        self._size += len(data)

    def write_at(self, chunks: list[bytes], offset: int) -> None:
        """Write without hashing at `offset` (positional, so several batches can be written at
        once by different threads); pair with `hash_only`, and `extend_to` when all are in."""
        fd = self._file.fileno()
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                done = os.pwrite(fd, view, offset)
                offset += done
                view = view[done:]
        if offset - self._synced_to >= _SYNC_EVERY:
            # Push data to disk while the upload goes on, so the fsync that makes the blob
            # durable before it is published has little left to do.
            self._synced_to = offset
            os.fdatasync(fd)

    def extend_to(self, size: int) -> None:
        self._size = max(self._size, size)

    def hash_only(self, chunks: list[bytes]) -> None:
        if self._hasher is not None:
            for chunk in chunks:
                self._hasher.update(chunk)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._closed:
            self._file.close()
            self._closed = True

    def _actual_digest(self) -> Digest:
        if self._hasher is not None:
            return Digest(self.algorithm, self._hasher.hexdigest())
        hasher = hashlib.new(self.algorithm)
        with open(self.temp_path, "rb") as f:
            while chunk := f.read(_READ_CHUNK):
                hasher.update(chunk)
        return Digest(self.algorithm, hasher.hexdigest())

    def commit(self, expected: Digest | None = None, expected_size: int | None = None) -> Digest:
        self._file.flush()
        os.fsync(self._file.fileno())
        self.close()
        try:
            if expected_size is not None and expected_size != self._size:
                raise SizeMismatch(f"size mismatch: expected {expected_size}, got {self._size}")
            if expected is not None and expected.algorithm != self.algorithm:
                self.algorithm = expected.algorithm
                self._hasher = None
            actual = self._actual_digest()
            if expected is not None and actual != expected:
                raise DigestMismatch(expected, actual)
        except Exception:
            self.temp_path.unlink(missing_ok=True)
            raise
        self._store.publish(self.temp_path, actual)
        return actual

    def cancel(self) -> None:
        self.close()
        self.temp_path.unlink(missing_ok=True)


class FilesystemBlobStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.blobs_dir = self.root / "blobs"
        self.uploads_dir = self.root / "uploads"
        for algorithm in HEX_LENGTHS:
            (self.blobs_dir / algorithm).mkdir(parents=True, exist_ok=True)
        self.uploads_dir.mkdir(parents=True, exist_ok=True)

    def path(self, digest: Digest) -> Path:
        # Digest.parse already guaranteed algorithm and lowercase hex of the right length.
        return self.blobs_dir / digest.algorithm / digest.encoded

    def stat(self, digest: Digest) -> int | None:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            return None

    def open(self, digest: Digest) -> BinaryIO:
        return open(self.path(digest), "rb")

    def read(self, digest: Digest) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def delete(self, digest: Digest) -> bool:
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            return False
        return True

    def iter_digests(self) -> Iterator[Digest]:
        for algorithm in HEX_LENGTHS:
            directory = self.blobs_dir / algorithm
            for entry in os.scandir(directory):
                with contextlib.suppress(InvalidDigest):
                    yield Digest.parse(f"{algorithm}:{entry.name}")

    def writer(
        self, session: str, algorithm: str = "sha256", *, append: bool = False
    ) -> FilesystemBlobWriter:
        return FilesystemBlobWriter(self, _check_session(session), algorithm, append)

    def session_size(self, session: str) -> int | None:
        try:
            return os.stat(self.uploads_dir / _check_session(session)).st_size
        except FileNotFoundError:
            return None

    def discard_session(self, session: str) -> None:
        (self.uploads_dir / _check_session(session)).unlink(missing_ok=True)

    def put_bytes(self, data: bytes, session: str, expected: Digest | None = None) -> Digest:
        writer = self.writer(session, expected.algorithm if expected else "sha256")
        try:
            writer.write(data)
        except BaseException:
            writer.cancel()
            raise
        return writer.commit(expected, len(data))

    # Whether `publish` syncs the blob's directory after the rename (a subclass may batch that).
    sync_each_publish = True

    def publish(self, temp_path: Path, digest: Digest) -> None:
        """Move a verified, fsynced file into place; an existing blob is identical, so keep it."""
        final = self.path(digest)
        if final.exists():
            temp_path.unlink(missing_ok=True)
            return
        os.replace(temp_path, final)
        if self.sync_each_publish:
            _fsync_dir(final.parent)
