"""Blob transfers: the download stream `BlobStream` and the upload session `BlobUpload`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urljoin

from cargobay.distclient.errors import ClientError
from cargobay.distclient.httpclient import HttpClientError, Response
from cargobay.oci.digest import Digest

if TYPE_CHECKING:
    from cargobay.distclient.client import RegistryClient

READ_CHUNK = 1024 * 1024
DEFAULT_UPLOAD_CHUNK = 16 * 1024 * 1024

# What a broken transfer raises (the connection dropped, the body ended early, a timeout).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (HttpClientError, ConnectionError, TimeoutError)


class BlobStream:
    """A blob body being received; iterate `chunks()` for bytes starting at `offset`."""

    def __init__(self, response: Response, offset: int) -> None:
        self.response = response
        self.offset = offset
        length = response.content_length
        self.total: int | None = offset + length if length is not None else None

    async def chunks(self, size: int = READ_CHUNK) -> AsyncIterator[bytes]:
        """The body in pieces of at most `size` bytes, each as the socket delivered it.

        Pieces are not joined into `size`-byte strings: that would copy every byte once more.
        """
        async for data in self.response.iter_chunks():
            if len(data) <= size:
                if data:
                    yield data
                continue
            view = memoryview(data)
            for start in range(0, len(data), size):
                yield bytes(view[start : start + size])


class BlobUpload:
    """An upload session. A blob that fits in `upload_chunk_size` goes in one monolithic PUT.

    A larger one goes, with `upload_mode="stream"` (the default, what docker does), as one
    streamed PATCH (chunked transfer encoding) then `PUT ?digest=`; with `"chunked"`, as
    PATCH requests of `upload_chunk_size` bytes with `Content-Range`, then the PUT.
    """

    def __init__(
        self, client: RegistryClient, repository: str, location: str, scopes: list[str] | None
    ) -> None:
        self.client = client
        self.repository = repository
        self.location = location
        self.scopes = scopes
        # Bytes not sent yet, as written (joined once, when sent: no copy per write).
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._sent = 0
        self._queue: asyncio.Queue[bytes | None] | None = None
        self._stream: asyncio.Task[None] | None = None

    @property
    def size(self) -> int:
        return self._sent + self._pending_size

    def _take(self) -> list[bytes]:
        pending, self._pending, self._pending_size = self._pending, [], 0
        return pending

    async def write(self, data: bytes | memoryview) -> None:
        if self._stream is not None:
            await self._feed(bytes(data))
            return
        self._pending.append(bytes(data))
        self._pending_size += len(data)
        chunk = self.client.upload_chunk_size
        if self._pending_size < chunk:
            return
        if self.client.upload_mode == "stream":
            self._start_stream()
            for item in self._take():
                await self._feed(item)
            return
        buffered = b"".join(self._take())
        while len(buffered) >= chunk:
            await self._patch(buffered[:chunk])
            buffered = buffered[chunk:]
        if buffered:
            self._pending, self._pending_size = [buffered], len(buffered)

    # -- streamed PATCH
    def _start_stream(self) -> None:
        self._queue = asyncio.Queue(maxsize=8)
        queue = self._queue

        async def body() -> AsyncIterator[bytes]:
            while (item := await queue.get()) is not None:
                yield item

        async def run() -> None:
            headers = {"Content-Type": "application/octet-stream"}
            async with self.client.request(
                "PATCH", self.location, repository=self.repository, scopes=self.scopes,
                headers=headers, data=body(), ok=(202, 204),
            ) as resp:  # fmt: skip
                location = resp.headers.get("Location")
            if location:
                self.location = urljoin(self.location, location)

        self._stream = asyncio.ensure_future(run())

    async def _feed(self, item: bytes | None) -> None:
        assert self._queue is not None and self._stream is not None
        if item is not None:
            self._sent += len(item)
        put = asyncio.ensure_future(self._queue.put(item))
        done, _ = await asyncio.wait({put, self._stream}, return_when=asyncio.FIRST_COMPLETED)
        if put not in done:  # the PATCH ended early: report why
            put.cancel()
            await self._stream
            raise ClientError(f"registry {self.client.domain} closed the upload early")

    # -- chunked PATCH
    async def _patch(self, data: bytes) -> None:
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{self._sent}-{self._sent + len(data) - 1}",
        }
        async with self.client.request(
            "PATCH",
            self.location,
            repository=self.repository,
            scopes=self.scopes,
            headers=headers,
            data=data,
            ok=(202, 204),
        ) as resp:
            location = resp.headers.get("Location")
        if location:
            self.location = urljoin(self.location, location)
        self._sent += len(data)

    async def commit(self, digest: Digest) -> None:
        data = b"".join(self._take())
        if self._stream is not None:
            if data:
                await self._feed(data)
            await self._feed(None)
            await self._stream
            self._stream = None
            data = b""
        elif self._sent and data:
            await self._patch(data)
            data = b""
        sep = "&" if "?" in self.location else "?"
        url = f"{self.location}{sep}{urlencode({'digest': str(digest)})}"
        headers = {"Content-Type": "application/octet-stream"}
        async with self.client.request(
            "PUT",
            url,
            repository=self.repository,
            scopes=self.scopes,
            headers=headers,
            data=data,
            ok=(201, 204),
        ):
            pass

    async def cancel(self) -> None:
        self._take()
        if self._stream is not None:
            self._stream.cancel()
            await asyncio.gather(self._stream, return_exceptions=True)
            self._stream = None
        try:
            async with self.client.request(
                "DELETE", self.location, repository=self.repository, scopes=self.scopes, ok=(200, 202, 204)
            ):
                pass
        except ClientError:
            pass


__all__ = ["DEFAULT_UPLOAD_CHUNK", "READ_CHUNK", "TRANSIENT_ERRORS", "BlobStream", "BlobUpload"]
