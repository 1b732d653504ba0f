"""Pieces shared by the file-based transports: reading files as blobs, writing into a blob store."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
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


# Commits (flush, fsync, rename) run on threads of their own, so that syncing finished blobs
# never holds up the writes of blobs still downloading (the engine starts the next download
# while a blob commits: `commit_is_local`).
_COMMITS = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="cargobay-commit")


class StoreBlobSink:
    verifies = True  # the writer hashes as it writes and commit() checks digest and size
    commit_is_local = True  # commit() touches only the disk: the engine frees the transfer slot

    """Writes one blob into a FilesystemBlobStore through a resumable, verifying writer.

    The session file is named after the digest, so a transfer that was interrupted (Ctrl-C,
    a dropped connection, a crash) leaves a prefix of the blob that the next attempt resumes.
    Open it with `open_store_sink`, which serialises writers of one blob across processes.
    """

    def __init__(
        self,
        store: FilesystemBlobStore,
        descriptor: Descriptor,
        prefix: str = "copy",
        lock_fd: int | None = None,
    ) -> None:
        self.store = store
        self.session = session_name(descriptor, prefix)
        self._lock_fd = lock_fd
        # Another process may have stored the blob while we waited for its lock.
        self.present = store.stat(descriptor.digest) == descriptor.size
        self.writer: FilesystemBlobWriter | None = None
        self.offset = 0
        # Bytes are hashed and written on a worker thread, a batch at a time, while the event
        # loop reads the next batch from the network; one batch is in flight at most.
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._in_flight: asyncio.Future[None] | None = None
        # A batch that stops growing (a stalled download) is written after _SINK_LINGER seconds,
        # so what arrived is on disk for a resume even if the process is then killed outright.
        self._timer: asyncio.TimerHandle | None = None
        self._waiting = False  # write() is waiting for the batch in flight
        if not self.present:
            self.writer = store.writer(self.session, descriptor.digest.algorithm, append=True)
            self.offset = self.writer.size

    def _unlock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    async def write(self, data: bytes) -> None:
        assert self.writer is not None
        self._batch.append(data)
        self._batch_size += len(data)
        if self._batch_size < _SINK_BATCH:
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(_SINK_LINGER, self._linger)
            return
        self._waiting = True
        try:
            await self._settle()
        finally:
            self._waiting = False
        if self._batch and self.writer is not None:
            self._submit(self.writer)

    def _submit(self, writer: FilesystemBlobWriter) -> None:
        """Write the current batch on a worker thread (none may be in flight: order matters)."""
        assert self._in_flight is None or self._in_flight.done()
        self._in_flight = asyncio.get_running_loop().run_in_executor(
            None, _write_all, writer, self._take_batch()
        )

    def _linger(self) -> None:
        self._timer = None
        if not self._batch or self.writer is None or self._waiting:
            return
        in_flight = self._in_flight
        if in_flight is not None and not in_flight.done():
            self._timer = asyncio.get_running_loop().call_later(_SINK_LINGER, self._linger)
            return
        if in_flight is not None and (in_flight.cancelled() or in_flight.exception() is not None):
            return  # the failure surfaces in the next write, commit or abort
        self._in_flight = None
        self._submit(self.writer)

    def _stop_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _take_batch(self) -> list[bytes]:
        batch, self._batch, self._batch_size = self._batch, [], 0
        return batch

    async def _settle(self) -> None:
        """Wait for the batch in flight; its errors (e.g. disk full) surface here."""
        in_flight = self._in_flight
        if in_flight is not None:
            try:
                # Shielded: a cancelled wait (Ctrl-C) must not mark a batch done while its thread
                # still writes; abort() then waits for it before writing what is left.
                await asyncio.shield(in_flight)
            finally:
                if self._in_flight is in_flight and in_flight.done():
                    self._in_flight = None

    async def _drain(self, writer: FilesystemBlobWriter) -> None:
        await self._settle()
        if self._batch:
            await asyncio.to_thread(_write_all, writer, self._take_batch())

    async def commit(self, descriptor: Descriptor) -> None:
        self._stop_timer()
        writer = self.writer
        assert writer is not None
        try:
            await self._drain(writer)
        except BaseException:
            await self.abort(keep_partial=False)
            raise
        self.writer = None
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(_COMMITS, writer.commit, descriptor.digest, descriptor.size)
        except (DigestMismatch, SizeMismatch) as exc:
            raise BlobVerificationError(
                f"filesystem layer verification failed for digest {descriptor.digest}: {exc}"
            ) from None
        finally:
            self._unlock()

    async def abort(self, keep_partial: bool) -> None:
        self._stop_timer()
        writer, self.writer = self.writer, None
        try:
            if writer is not None:
                # Bytes already received are a valid prefix: keep them for a resume, unless
                # the write itself is what failed.
                with contextlib.suppress(Exception):
                    await (self._drain(writer) if keep_partial else self._settle())
                if keep_partial:
                    writer.flush()
                    writer.close()
                else:
                    writer.cancel()
        finally:
            self._unlock()


# Large enough that handing batches to the writer thread costs little (each hand-off wakes a
# thread and then the event loop); a batch that stops growing is written after _SINK_LINGER
# seconds, so a download killed outright loses little: the prefix on disk is what the next
# pull resumes from.
_SINK_BATCH = 1024 * 1024
_SINK_LINGER = 0.05


def _write_all(writer: FilesystemBlobWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)


async def open_store_sink(
    store: FilesystemBlobStore, descriptor: Descriptor, prefix: str = "copy"
) -> StoreBlobSink:
    """A sink for `descriptor`, holding an exclusive lock on its session across processes.

    Two pulls of one layer never write the same session file at once: the second waits, then
    finds the blob stored (`sink.present`) and downloads nothing.
    """
    # Creating files and taking the lock are blocking file-system calls (a millisecond or more
    # each while other blobs are being synced): they run on a worker thread, not the event loop.
    sink = await asyncio.to_thread(_try_open_store_sink, store, descriptor, prefix)
    if isinstance(sink, StoreBlobSink):
        return sink
    fd = sink
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.05)
        return await asyncio.to_thread(StoreBlobSink, store, descriptor, prefix, fd)
    except BaseException:
        os.close(fd)
        raise


def _try_open_store_sink(
    store: FilesystemBlobStore, descriptor: Descriptor, prefix: str
) -> StoreBlobSink | int:
    """The sink when the lock is free now; else the open lock file descriptor, to wait on."""
    lock_path = store.uploads_dir / f"{session_name(descriptor, prefix)}.lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return fd
    except BaseException:
        os.close(fd)
        raise
    try:
        return StoreBlobSink(store, descriptor, prefix, lock_fd=fd)
    except BaseException:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise


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
