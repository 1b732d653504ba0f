"""Pieces shared by the file-based transports: reading files as blobs, writing into a blob store."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from cargobay.image.types import BlobVerificationError
from cargobay.oci.manifest import Descriptor
from cargobay.storage.base import DigestMismatch, SizeMismatch
from cargobay.storage.filesystem import FilesystemBlobStore, FilesystemBlobWriter

READ_CHUNK = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def close(self) -> None: ...


class FileBlobReader:
    """Chunks of an open file from `offset` (the file is closed when the iteration ends)."""

    def __init__(self, opener: Callable[[], Readable], offset: int) -> None:
        self._opener = opener
        self.offset = offset

    async def chunks(self) -> AsyncIterator[bytes]:
        f = self._opener()
        try:
            if self.offset:
                f.seek(self.offset)
            while True:
                chunk = await asyncio.to_thread(f.read, READ_CHUNK)
                if not chunk:
                    return
                yield chunk
        finally:
            f.close()


@asynccontextmanager
async def file_blob(opener: Callable[[], Readable], offset: int) -> AsyncIterator[FileBlobReader]:
    yield FileBlobReader(opener, offset)


def session_name(descriptor: Descriptor, prefix: str = "copy") -> str:
    """A stable upload session per blob, so an interrupted transfer resumes from its file."""
    name = f"{prefix}-{descriptor.digest.algorithm}-{descriptor.digest.encoded}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:128]


class StoreBlobSink:
    """Writes one blob into a FilesystemBlobStore through a resumable, verifying writer.

    The session file is named after the digest, so a transfer that was interrupted (Ctrl-C,
    a dropped connection, a crash) leaves a prefix of the blob that the next attempt resumes.
    """

    def __init__(self, store: FilesystemBlobStore, descriptor: Descriptor, prefix: str = "copy") -> None:
        self.store = store
        self.session = session_name(descriptor, prefix)
        self.writer: FilesystemBlobWriter | None = store.writer(
            self.session, descriptor.digest.algorithm, append=True
        )
        self.offset = self.writer.size

    async def write(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)  # page-cache writes are fast; no thread, so no race with abort

    async def commit(self, descriptor: Descriptor) -> None:
        writer, self.writer = self.writer, None
        assert writer is not None
        try:
            await asyncio.to_thread(writer.commit, descriptor.digest, descriptor.size)
        except (DigestMismatch, SizeMismatch) as exc:
            raise BlobVerificationError(
                f"filesystem layer verification failed for digest {descriptor.digest}: {exc}"
            ) from None

    async def abort(self, keep_partial: bool) -> None:
        writer, self.writer = self.writer, None
        if writer is None:
            return
        if keep_partial:
            writer.flush()
            writer.close()
        else:
            writer.cancel()


def fsync_write(path: os.PathLike[str] | str, data: bytes) -> None:
    """Write a small file atomically: temp file, fsync, rename, fsync the directory."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    temp = f"{path}.tmp-{os.getpid()}"
    with open(temp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
