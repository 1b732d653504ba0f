"""`copy_image`: the only code that moves blobs.

It resolves the source's manifest (selecting a platform from an index, or taking the whole
index), skips blobs the destination has, mounts across repositories of one registry, transfers
the rest concurrently with their digests verified, resumes interrupted transfers from the bytes
already received, then writes the manifests children first so the top is never dangling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from cargobay.image import platforms
from cargobay.image.types import (
    BlobSink,
    BlobVerificationError,
    CopyResult,
    EventKind,
    ImageDestination,
    ImageSource,
    Manifest,
    NoMatchingPlatform,
    ProgressCallback,
    ProgressEvent,
    TransientTransferError,
)
from cargobay.oci.digest import Digester
from cargobay.oci.manifest import Descriptor, Platform

DEFAULT_RETRIES = 5
MAX_MOUNT_ATTEMPTS = 3  # per blob, as docker's pusher


def _noop(_event: ProgressEvent) -> None:
    return None


class _Copier:
    def __init__(
        self,
        src: ImageSource,
        dst: ImageDestination,
        progress: ProgressCallback | None,
        concurrency: int | None,
        mount_candidates: Callable[[Descriptor], Sequence[str]] | None,
        retries: int,
        retry_delay: float,
    ) -> None:
        self.src = src
        self.dst = dst
        self.emit_fn = progress or _noop
        limit = concurrency or min(src.max_concurrency, dst.max_concurrency)
        self.semaphore = asyncio.Semaphore(max(1, limit))
        self.mount_candidates = mount_candidates
        self.retries = retries
        self.retry_delay = retry_delay
        self.copied = 0
        self.skipped = 0
        self.bytes = 0

    def emit(
        self, kind: EventKind, d: Descriptor, is_layer: bool, current: int = 0, detail: str = ""
    ) -> None:
        self.emit_fn(ProgressEvent(kind, d.digest, d.size, current, is_layer, detail))

    def _candidates(self, d: Descriptor) -> list[str]:
        out: list[str] = []
        src_domain = getattr(self.src, "registry_domain", None)
        src_repo = getattr(self.src, "repository", None)
        if (
            self.dst.registry_domain
            and src_domain == self.dst.registry_domain
            and src_repo
            and src_repo != self.dst.repository
        ):
            out.append(src_repo)
        if self.mount_candidates is not None:
            out += [r for r in self.mount_candidates(d) if r != self.dst.repository and r not in out]
        return out[:MAX_MOUNT_ATTEMPTS]

    async def check(self, d: Descriptor) -> str | None:
        """'exists', 'mounted:<repo>' or None when the blob must be transferred."""
        if await self.dst.has_blob(d):
            return "exists"
        if self.dst.registry_domain:
            for repo in self._candidates(d):
                if await self.dst.mount_blob(d, repo):
                    return f"mounted:{repo}"
        return None

    async def transfer(self, d: Descriptor, is_layer: bool) -> None:
        if self.semaphore.locked():
            self.emit("waiting", d, is_layer)
        slot = _Slot(self.semaphore)
        try:
            await slot.hold()
            self.emit("started", d, is_layer)
            await self._transfer_with_retries(d, is_layer, slot)
        finally:
            slot.release()
        self.copied += 1
        self.emit("done", d, is_layer, current=d.size)

    async def run(self, blobs: list[tuple[Descriptor, bool]]) -> None:
        for d, is_layer in blobs:
            self.emit("queued", d, is_layer)
        # Existence checks and mounts first (concurrently), reported in manifest order.
        outcomes = await asyncio.gather(*(self.check(d) for d, _ in blobs))
        todo: list[tuple[Descriptor, bool]] = []
        for (d, is_layer), outcome in zip(blobs, outcomes, strict=True):
            if outcome == "exists":
                self.skipped += 1
                self.emit("exists", d, is_layer)
            elif outcome is not None:
                self.skipped += 1
                self.emit("mounted", d, is_layer, detail=outcome.split(":", 1)[1])
            else:
                self.emit("pending", d, is_layer)
                todo.append((d, is_layer))
        tasks = [asyncio.ensure_future(self.transfer(d, is_layer)) for d, is_layer in todo]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _transfer_with_retries(self, d: Descriptor, is_layer: bool, slot: _Slot) -> None:
        attempt = 0
        restarted = False
        while True:
            await slot.hold()  # a retry takes a transfer slot again
            sink = await self.dst.blob_sink(d)
            if getattr(sink, "present", False):  # another process stored it meanwhile
                await sink.abort(keep_partial=True)
                return
            resumed = sink.offset > 0
            try:
                await self._transfer_once(d, sink, is_layer, slot)
                return
            except TransientTransferError as exc:
                await sink.abort(keep_partial=True)
                attempt += 1
                if attempt >= self.retries:
                    raise TransientTransferError(f"{exc} (gave up after {attempt} attempts)") from None
                delay = self.retry_delay * attempt
                self.emit("retrying", d, is_layer, detail=f"{delay:g}")
                await asyncio.sleep(delay)
            except BlobVerificationError:
                # The sink already discarded the bad bytes; a resumed file may have been stale.
                if resumed and not restarted:
                    restarted = True
                    continue
                raise
            except OSError:
                # The destination failed (disk full, I/O error): free what this blob took.
                await sink.abort(keep_partial=False)
                raise
            except BaseException:
                # Ctrl-C, cancellation, other failures: keep what arrived so the next run resumes.
                await sink.abort(keep_partial=True)
                raise

    async def _transfer_once(self, d: Descriptor, sink: BlobSink, is_layer: bool, slot: _Slot) -> None:
        offset = sink.offset  # when the partial file is already complete, commit verifies it
        # Sinks that verify on commit (the blob store rehashes nothing: it hashes as it writes)
        # need no second hash here; others get one. A registry checks `?digest=` itself
        # (`checked_remotely`), which suffices when the source's blobs were verified when it
        # stored them (`blobs_verified`: the local store), so a push from it hashes nothing.
        trusted = getattr(sink, "verifies", False) or (
            getattr(self.src, "blobs_verified", False) and getattr(sink, "checked_remotely", False)
        )
        digester = Digester(d.digest.algorithm) if offset == 0 and not trusted else None
        current = offset
        if offset < d.size or d.size == 0:
            async with self.src.open_blob(d, offset) as reader:
                skip = offset - reader.offset  # the source could not start where we asked
                async for chunk in reader.chunks():
                    if skip > 0:
                        if len(chunk) <= skip:
                            skip -= len(chunk)
                            continue
                        chunk = chunk[skip:]
                        skip = 0
                    current += len(chunk)
                    if current > d.size:
                        await sink.abort(keep_partial=False)
                        raise BlobVerificationError(
                            f"filesystem layer verification failed for digest {d.digest}: "
                            f"more than {d.size} bytes received"
                        )
                    if digester is not None:
                        digester.update(chunk)
                    await sink.write(chunk)
                    self.bytes += len(chunk)
                    self.emit("progress", d, is_layer, current=current)
        if current != d.size or (digester is not None and digester.digest() != d.digest):
            await sink.abort(keep_partial=current < d.size)
            if current < d.size:
                raise TransientTransferError(
                    f"unexpected EOF: got {current} of {d.size} bytes for {d.digest}"
                )
            raise BlobVerificationError(f"filesystem layer verification failed for digest {d.digest}")
        if getattr(sink, "commit_is_local", False):
            # Verifying and syncing the file needs no connection: the next blob may start
            # downloading meanwhile (the sink bounds its own concurrent commits).
            slot.release()
        await sink.commit(d)


class _Slot:
    """One blob's claim on the transfer semaphore, released at most once per hold."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        self.semaphore = semaphore
        self.held = False

    async def hold(self) -> None:
        if not self.held:
            await self.semaphore.acquire()
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.semaphore.release()


def select_platform(index: Manifest, wanted: Platform) -> Descriptor:
    parsed = index.parse()
    chosen = platforms.select(parsed.manifests, wanted)
    if chosen is None:
        raise NoMatchingPlatform(
            f"no matching manifest for {platforms.normalize(wanted)} in the manifest list entries"
        )
    return chosen


async def resolve(
    src: ImageSource, *, platform: Platform | None, all_platforms: bool
) -> tuple[Manifest, Manifest, list[Manifest]]:
    """(source top, the top to write, the image manifests to copy blobs for)."""
    top = await src.get_manifest()
    parsed = top.parse()
    if not parsed.is_index:
        return top, top, [top]
    if all_platforms:
        children = await asyncio.gather(*(src.get_manifest(d.digest) for d in parsed.manifests))
        images: list[Manifest] = []
        for child in children:
            if child.parse().is_index:
                raise NoMatchingPlatform(f"nested index {child.digest} is not supported")
            images.append(child)
        return top, top, images
    chosen = select_platform(top, platform or platforms.default_platform())
    child = await src.get_manifest(chosen.digest)
    if child.parse().is_index:
        raise NoMatchingPlatform(f"nested index {child.digest} is not supported")
    return top, child, [child]


async def copy_image(
    src: ImageSource,
    dst: ImageDestination,
    *,
    platform: Platform | None = None,
    all_platforms: bool = False,
    progress: ProgressCallback | None = None,
    concurrency: int | None = None,
    mount_candidates: Callable[[Descriptor], Sequence[str]] | None = None,
    retries: int = DEFAULT_RETRIES,
    retry_delay: float = 1.0,
    resolved: tuple[Manifest, Manifest, list[Manifest]] | None = None,
) -> CopyResult:
    """Copy one image (or a whole index with `all_platforms`) from `src` to `dst`."""
    source_top, write_top, images = resolved or await resolve(
        src, platform=platform, all_platforms=all_platforms
    )
    copier = _Copier(src, dst, progress, concurrency, mount_candidates, retries, retry_delay)
    blobs: dict[str, tuple[Descriptor, bool]] = {}
    for image in images:
        parsed = image.parse()
        for layer in parsed.layers:
            if not layer.is_nondistributable:
                blobs.setdefault(str(layer.digest), (layer, True))
        if parsed.config is not None:
            blobs.setdefault(str(parsed.config.digest), (parsed.config, False))
    await copier.run(list(blobs.values()))
    for image in images:
        if image.digest != write_top.digest:
            await dst.put_manifest(image)
    if getattr(dst, "keeps_index", False) and source_top.digest != write_top.digest:
        await dst.put_manifest(write_top)
        await dst.commit(source_top, write_top)
    else:
        await dst.commit(write_top)
    return CopyResult(source_top, write_top, copier.copied, copier.skipped, copier.bytes)
