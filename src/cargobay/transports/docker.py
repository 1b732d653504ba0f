"""`docker://HOST/REPO[:TAG|@DIGEST]`: an image in a registry, through the distribution client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from cargobay.distclient.blobs import TRANSIENT_ERRORS, BlobStream, BlobUpload
from cargobay.distclient.client import RegistryClient
from cargobay.distclient.errors import ClientError, DistributionError, RegistryUnreachable
from cargobay.image.types import BlobReader, Manifest, TransientTransferError
from cargobay.oci.digest import Digest, digest_bytes
from cargobay.oci.manifest import Descriptor
from cargobay.oci.reference import Reference


class _RegistryBlobReader:
    def __init__(self, stream: BlobStream) -> None:
        self.stream = stream
        self.offset = stream.offset

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.stream.chunks():
                yield chunk
        except TRANSIENT_ERRORS as exc:
            raise TransientTransferError(f"read blob: {exc or exc.__class__.__name__}") from None


class RegistrySource:
    """An image in a registry. Mirrors (docker.io only) are tried first, then the registry."""

    def __init__(
        self,
        client: RegistryClient,
        reference: Reference,
        max_concurrency: int = 3,
        *,
        manifest_cache: Callable[[Digest], bytes | None] | None = None,
        head_first: bool = True,
    ) -> None:
        self.client = client
        self.reference = reference
        self.registry_domain: str | None = reference.domain
        self.repository: str | None = reference.path
        self.max_concurrency = max_concurrency
        self.description = f"docker://{reference}"
        # Manifests already held locally (verified by digest): a tag is then checked with a HEAD,
        # which Docker Hub does not count against the pull rate limit, instead of a GET.
        self.manifest_cache = manifest_cache
        # False when the tag is not known locally: its manifest is then almost surely not held,
        # and the HEAD would be one more round trip before the GET.
        self.head_first = head_first
        self._top: Manifest | None = None

    def _cached(self, digest: Digest, media_type: str | None = None) -> Manifest | None:
        if self.manifest_cache is None:
            return None
        raw = self.manifest_cache(digest)
        if raw is None or digest_bytes(raw, digest.algorithm) != digest:
            return None
        try:
            return Manifest(raw, media_type or Manifest.from_bytes(raw).media_type, digest)
        except ValueError:
            return None

    async def get_manifest(self, digest: Digest | None = None) -> Manifest:
        if digest is None:
            if self._top is None:
                self._top = await self._get_manifest(None)
            return self._top
        return await self._get_manifest(digest)

    async def _get_manifest(self, digest: Digest | None) -> Manifest:
        if digest is not None and (cached := self._cached(digest)) is not None:
            return cached
        if digest is None and self.manifest_cache is not None:
            if self.reference.digest is not None:
                cached = self._cached(self.reference.digest)
                if cached is not None:
                    return cached
            elif self.head_first:
                info = await self.client.head_manifest(self.reference.path, self.reference.identifier)
                if info is not None and info.digest is not None:
                    cached = self._cached(info.digest)
                    if cached is not None:
                        return cached
        identifier = self.reference.identifier if digest is None else str(digest)
        while True:
            try:
                remote = await self.client.get_manifest(self.reference.path, identifier)
                return Manifest(remote.raw, remote.media_type, remote.digest)
            except ClientError:
                if self.client.using_mirror and self.client.use_next_endpoint():
                    continue
                raise

    def open_blob(self, descriptor: Descriptor, offset: int = 0) -> AbstractAsyncContextManager[BlobReader]:
        return self._open(descriptor, offset)

    @asynccontextmanager
    async def _open(self, descriptor: Descriptor, offset: int) -> AsyncIterator[BlobReader]:
        try:
            async with self.client.open_blob(self.reference.path, descriptor.digest, offset) as stream:
                yield _RegistryBlobReader(stream)
        except RegistryUnreachable as exc:
            raise TransientTransferError(str(exc)) from None
        except DistributionError as exc:
            if exc.status >= 500:
                raise TransientTransferError(str(exc)) from None
            raise

    async def close(self) -> None:
        await self.client.close()


class RegistrySink:
    """One blob being uploaded; the upload session starts with the first byte."""

    offset = 0
    verifies = False  # the engine hashes the stream (the registry checks `?digest=` too)
    checked_remotely = True  # the registry refuses a body that does not match `?digest=`

    def __init__(self, client: RegistryClient, repository: str) -> None:
        self.client = client
        self.repository = repository
        self.upload: BlobUpload | None = None

    async def _session(self) -> BlobUpload:
        if self.upload is None:
            upload = await self.client.start_upload(self.repository)
            assert upload is not None
            self.upload = upload
        return self.upload

    async def write(self, data: bytes) -> None:
        upload = await self._session()
        try:
            await upload.write(data)
        except RegistryUnreachable as exc:
            raise TransientTransferError(str(exc)) from None

    async def commit(self, descriptor: Descriptor) -> None:
        upload = await self._session()
        try:
            await upload.commit(descriptor.digest)
        except RegistryUnreachable as exc:
            raise TransientTransferError(str(exc)) from None
        self.upload = None

    async def abort(self, keep_partial: bool) -> None:
        upload, self.upload = self.upload, None
        if upload is not None:
            await upload.cancel()


class RegistryDestination:
    """Pushes to `reference`'s repository; the top manifest goes to its tag (or its digest)."""

    def __init__(self, client: RegistryClient, reference: Reference, max_concurrency: int = 5) -> None:
        self.client = client
        self.reference = reference
        self.registry_domain: str | None = reference.domain
        self.repository: str | None = reference.path
        self.max_concurrency = max_concurrency
        self.description = f"docker://{reference}"
        self.keeps_index = False
        self.pushed_digest: Digest | None = None

    async def has_blob(self, descriptor: Descriptor) -> bool:
        return await self.client.stat_blob(self.reference.path, descriptor.digest) is not None

    async def mount_blob(self, descriptor: Descriptor, from_repository: str) -> bool:
        try:
            return await self.client.mount_blob(self.reference.path, descriptor.digest, from_repository)
        except DistributionError as exc:
            if exc.status in (401, 403, 404):
                return False
            raise

    async def blob_sink(self, descriptor: Descriptor) -> RegistrySink:
        return RegistrySink(self.client, self.reference.path)

    async def put_manifest(self, manifest: Manifest) -> None:
        await self.client.put_manifest(
            self.reference.path, str(manifest.digest), manifest.raw, manifest.media_type
        )

    async def commit(self, top: Manifest, selected: Manifest | None = None) -> None:
        target = self.reference.tag or str(top.digest)
        if self.reference.digest is not None and self.reference.digest != top.digest:
            raise ClientError(
                f"the image's digest {top.digest} does not match the requested {self.reference.digest}"
            )
        self.pushed_digest = await self.client.put_manifest(
            self.reference.path, target, top.raw, top.media_type
        )

    async def close(self) -> None:
        await self.client.close()
