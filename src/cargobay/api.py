"""High-level pull, push and copy: what the CLI calls (the role docker's daemon plays).

Each function reports docker-style status messages (`Message`) through a callback and raises
`ApiError` with docker's wording; the CLI only renders. Heavy imports (asyncio, the HTTP client, the engine)
are done here, never by the CLI modules at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cargobay.image.types import CopyError, Manifest, ProgressEvent
from cargobay.oci.digest import Digest, InvalidDigest
from cargobay.oci.manifest import InvalidManifest, Platform
from cargobay.oci.reference import InvalidReference, Reference, parse_normalized

if TYPE_CHECKING:
    from cargobay.distclient.client import RegistryClient
    from cargobay.distclient.config import ClientConfig
    from cargobay.image.types import ImageDestination, ImageSource
    from cargobay.localstore.store import LocalStore
    from cargobay.transports import TransportRef


class ApiError(Exception):
    """A failure to show the user as one line (docker's wording)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One line of docker's progress stream: `id: status` plus optional byte counts."""

    status: str
    id: str | None = None
    current: int = 0
    total: int = 0

    @property
    def has_progress(self) -> bool:
        return self.current > 0 or self.total > 0


Emit = Callable[[Message], None]


def _ignore(_message: Message) -> None:
    return None


@dataclass(frozen=True, slots=True)
class PullResult:
    reference: Reference  # canonical, with the tag or digest pulled
    digest: str  # what the tag resolved to (the index for a multi-arch image)
    updated: bool


@dataclass(frozen=True, slots=True)
class PushResult:
    reference: Reference
    digest: str
    size: int


# --------------------------------------------------------------------------- errors


def _translate_pull_error(exc: BaseException, ref: Reference) -> ApiError | None:
    from cargobay.distclient.errors import ClientError, DistributionError

    if isinstance(exc, DistributionError):
        if exc.has("MANIFEST_UNKNOWN") or (exc.status == 404 and not exc.errors):
            text = str(exc) if exc.errors else "manifest unknown: manifest unknown"
            return ApiError(f"manifest for {ref.familiar} not found: {text}")
        if exc.has("DENIED", "UNAUTHORIZED", "NAME_UNKNOWN"):
            return ApiError(
                f"pull access denied for {ref.familiar_name}, repository does not exist or may require "
                f"'cargobay login': {exc}"
            )
        return ApiError(str(exc))
    if isinstance(exc, ClientError | CopyError):
        return ApiError(str(exc))
    return None


def _translate(exc: BaseException) -> ApiError | None:
    from cargobay.distclient.credentials import CredentialsError
    from cargobay.distclient.errors import ClientError
    from cargobay.localstore import StoreError
    from cargobay.transports import TransportError

    if isinstance(exc, ClientError | CopyError | StoreError | TransportError | CredentialsError):
        return ApiError(str(exc))
    if isinstance(exc, InvalidReference | InvalidDigest):
        return ApiError(str(exc))
    if isinstance(exc, InvalidManifest):
        if "manifest.v1+" in str(exc) or "schemaVersion must be 2" in str(exc):
            return ApiError(
                "[DEPRECATED] support for pulling manifest v2 schema1 images has been removed. "
                "More information at https://docs.docker.com/go/deprecated-image-specs/"
            )
        return ApiError(f"manifest invalid: {exc}")
    return None


@contextmanager
def _errors(ref: Reference | None = None, *, pulling: bool = False) -> Iterator[None]:
    try:
        yield
    except ApiError:
        raise
    except Exception as exc:
        translated = _translate_pull_error(exc, ref) if pulling and ref is not None else None
        translated = translated or _translate(exc)
        if translated is None:
            raise
        raise translated from None


# --------------------------------------------------------------------------- progress


class _LayerProgress:
    """Turns engine events into docker's per-layer lines (config blobs stay silent).

    `words` maps engine event kinds to docker's status words; `complete` (pull only) is printed
    per layer in manifest order once that layer and every layer before it are done, the way
    docker's sequential extraction orders `Pull complete`.
    """

    def __init__(self, emit: Emit, words: dict[str, str], complete: str | None) -> None:
        self.emit = emit
        self.words = words
        self.complete = complete
        self.order: list[str] = []
        self.finished: set[str] = set()
        self.silent: set[str] = set()
        self.flushed = 0

    def __call__(self, event: ProgressEvent) -> None:
        if not event.is_layer:
            return
        short, kind = event.digest.short, event.kind
        if kind == "queued":
            self.order.append(short)
        if kind == "progress":
            self.emit(Message(self.words["progress"], short, event.current, event.size))
        elif kind == "mounted":
            self.emit(Message(f"Mounted from {event.detail}", short))
        elif kind == "retrying":
            seconds = event.detail or "1"
            self.emit(Message(f"Retrying in {seconds} {'second' if seconds == '1' else 'seconds'}", short))
        elif kind in self.words:
            self.emit(Message(self.words[kind], short))
        if kind in ("exists", "mounted"):
            self.silent.add(short)
            self.finished.add(short)
        elif kind == "done":
            self.finished.add(short)
        self._flush()

    def _flush(self) -> None:
        if self.complete is None:
            return
        while self.flushed < len(self.order) and self.order[self.flushed] in self.finished:
            short = self.order[self.flushed]
            if short not in self.silent:
                self.emit(Message(self.complete, short))
            self.flushed += 1


PULL_WORDS = {
    "exists": "Already exists",
    "pending": "Pulling fs layer",
    "waiting": "Waiting",
    "progress": "Downloading",
    "done": "Download complete",
}
PUSH_WORDS = {
    "queued": "Preparing",
    "exists": "Layer already exists",
    "waiting": "Waiting",
    "progress": "Pushing",
    "done": "Pushed",
}


# --------------------------------------------------------------------------- helpers


def _config() -> ClientConfig:
    from cargobay.distclient.config import ClientConfig

    return ClientConfig.load()


def _client(domain: str, config: ClientConfig, *, for_push: bool = False) -> RegistryClient:
    from cargobay.distclient.client import RegistryClient

    return RegistryClient(domain, config=config, for_push=for_push)


def _prefetch(ref: Reference, config: ClientConfig, actions: str) -> None:
    """Ping the registry and ask for the first token on a thread while the client is imported."""
    from cargobay.distclient import prefetch

    prefetch.start(ref.domain, ref.path, actions, config)


def _adopt(client: RegistryClient, ref: Reference, actions: str) -> None:
    from cargobay.distclient import prefetch

    client.adopt(prefetch.take(ref.domain, ref.path, actions))


def _store(store: LocalStore | None) -> LocalStore:
    if store is not None:
        return store
    from cargobay.localstore.store import LocalStore

    return LocalStore.open_default()


def _retry_delay(value: float | None) -> float:
    """Seconds before the first retry of a broken transfer (then 2x, 3x…); env CARGOBAY_RETRY_DELAY."""
    if value is not None:
        return value
    import os

    try:
        return max(0.0, float(os.environ.get("CARGOBAY_RETRY_DELAY", "1")))
    except ValueError:
        return 1.0


def _platform(platform: str | Platform | None) -> Platform:
    from cargobay.image import platforms

    if isinstance(platform, Platform):
        return platforms.normalize(platform)
    if platform:
        try:
            return platforms.parse_platform(platform)
        except ValueError as exc:
            raise ApiError(str(exc)) from None
    return platforms.default_platform()


# --------------------------------------------------------------------------- pull


async def pull(
    name: str,
    *,
    platform: str | Platform | None = None,
    all_tags: bool = False,
    emit: Emit = _ignore,
    store: LocalStore | None = None,
    retry_delay: float | None = None,
) -> list[PullResult]:
    """docker pull NAME[:TAG|@DIGEST] into the local store; `all_tags` pulls every tag."""
    with _errors():
        ref = parse_normalized(name)
    if all_tags and (ref.tag is not None or ref.digest is not None):
        raise ApiError("tag can't be used with --all-tags/-a")
    config = _config()
    _prefetch(ref, config, "pull")
    wanted = _platform(platform)
    local = _store(store)
    client = _client(ref.domain, config)
    _adopt(client, ref, "pull")
    try:
        if all_tags:
            with _errors(ref, pulling=True):
                tags = await client.list_tags(ref.path)
            if not tags:
                raise ApiError(f"no tags found for {ref.familiar_name}")
            results = [
                await _pull_one(client, local, ref.with_tag(t), wanted, emit, retry_delay, config, True)
                for t in sorted(tags)
            ]
            word = "Downloaded newer image" if any(r.updated for r in results) else "Image is up to date"
            emit(Message(f"Status: {word} for {ref.familiar_name}"))
            return results
        if ref.digest is not None and ref.tag is not None:
            ref = ref.with_digest(ref.digest)
        ref = ref.with_default_tag()
        return [await _pull_one(client, local, ref, wanted, emit, retry_delay, config, False)]
    finally:
        await client.close()


async def _pull_one(
    client: RegistryClient,
    local: LocalStore,
    ref: Reference,
    wanted: Platform,
    emit: Emit,
    retry_delay: float | None,
    config: ClientConfig,
    quiet_status: bool,
) -> PullResult:
    from cargobay.image.copy import copy_image, resolve
    from cargobay.transports.docker import RegistrySource
    from cargobay.transports.local import LocalStoreDestination

    def cached(digest: Digest) -> bytes | None:
        try:
            return local.read_blob(digest) if (local.blobs.stat(digest) or 0) <= 4 * 1024 * 1024 else None
        except OSError:
            return None

    before = local.get_reference(ref)
    src = RegistrySource(
        client,
        ref,
        max_concurrency=config.max_concurrent_downloads,
        manifest_cache=cached,
        head_first=before is not None,
    )
    with _errors(ref, pulling=True):
        await src.get_manifest()  # docker announces the pull once the manifest is known
    tag_or_digest = ref.tag if ref.digest is None and ref.tag else str(ref.digest)
    emit(Message(f"Pulling from {ref.path}", tag_or_digest))
    with _errors(ref, pulling=True):
        resolved = await resolve(src, platform=wanted, all_platforms=False)
    source_top = resolved[0]
    dst = LocalStoreDestination(local, ref)
    progress: Callable[[ProgressEvent], None] = _LayerProgress(emit, PULL_WORDS, "Pull complete")
    if all(_has_image(local, image) for image in resolved[2]):
        progress = _silent  # docker prints no layer lines when the image is already here
    with _errors(ref, pulling=True):
        result = await copy_image(
            src, dst, resolved=resolved, progress=progress, retry_delay=_retry_delay(retry_delay)
        )
    emit(Message(f"Digest: {source_top.digest}"))
    updated = not (before is not None and before.digest == source_top.digest and result.blobs_copied == 0)
    if not quiet_status:
        word = "Downloaded newer image" if updated else "Image is up to date"
        emit(Message(f"Status: {word} for {ref.familiar}"))
    return PullResult(ref, str(source_top.digest), updated)


def _silent(_event: ProgressEvent) -> None:
    return None


def _has_image(local: LocalStore, image: Manifest) -> bool:
    parsed = image.parse()
    needed = [*(layer for layer in parsed.layers if not layer.is_nondistributable)]
    if parsed.config is not None:
        needed.append(parsed.config)
    return all(local.blobs.stat(d.digest) == d.size for d in needed)


# --------------------------------------------------------------------------- push


async def push(
    name: str,
    *,
    all_tags: bool = False,
    emit: Emit = _ignore,
    store: LocalStore | None = None,
    retry_delay: float | None = None,
) -> list[PushResult]:
    """docker push NAME[:TAG]; `all_tags` pushes every local tag of the repository."""
    with _errors():
        ref = parse_normalized(name)
    if ref.digest is not None:
        raise ApiError("cannot push a digest reference")
    if all_tags and ref.tag is not None:
        raise ApiError("tag can't be used with --all-tags/-a")
    local = _store(store)
    if all_tags:
        refs = sorted(
            {r for record in local.images() for r in record.tag_references if r.name == ref.name},
            key=lambda r: r.tag or "",
        )
        if not refs:
            raise ApiError(f"An image does not exist locally with the tag: {ref.familiar_name}")
    else:
        tagged = ref.with_default_tag()
        if local.get_reference(tagged) is None:
            in_repo = any(r.name == ref.name for rec in local.images() for r in rec.references)
            if ref.tag is not None and in_repo:
                raise ApiError(f"tag does not exist: {tagged.familiar}")
            raise ApiError(f"An image does not exist locally with the tag: {ref.familiar_name}")
        refs = [tagged]
    config = _config()
    _prefetch(ref, config, "pull,push")
    client = _client(ref.domain, config, for_push=True)
    _adopt(client, ref, "pull,push")
    emit(Message(f"The push refers to repository [{ref.name}]"))
    results: list[PushResult] = []
    try:
        for each in refs:
            results.append(await _push_one(client, local, each, emit, retry_delay, config))
    finally:
        await client.close()
    return results


async def _push_one(
    client: RegistryClient,
    local: LocalStore,
    ref: Reference,
    emit: Emit,
    retry_delay: float | None,
    config: ClientConfig,
) -> PushResult:
    from cargobay.image.copy import copy_image, resolve
    from cargobay.transports.docker import RegistryDestination
    from cargobay.transports.local import LocalStoreSource

    src = LocalStoreSource(local, ref)
    dst = RegistryDestination(client, ref, max_concurrency=config.max_concurrent_uploads)
    with _errors(ref):
        resolved = await resolve(src, platform=None, all_platforms=True)
        candidates = src.mount_candidates(ref.domain)
        progress = _LayerProgress(emit, PUSH_WORDS, None)
        result = await copy_image(
            src,
            dst,
            resolved=resolved,
            progress=progress,
            mount_candidates=lambda d: candidates.get(d.digest, []),
            retry_delay=_retry_delay(retry_delay),
        )
    top = result.manifest
    emit(Message(f"{ref.tag}: digest: {top.digest} size: {len(top.raw)}"))
    return PushResult(ref, str(top.digest), len(top.raw))


# --------------------------------------------------------------------------- copy


def _open_source(target: TransportRef, config: ClientConfig, local: LocalStore | None) -> ImageSource:
    if target.kind == "docker":
        from cargobay.transports.docker import RegistrySource

        assert target.reference is not None
        ref = target.reference.with_default_tag()
        return RegistrySource(_client(ref.domain, config), ref, config.max_concurrent_downloads)
    if target.kind == "oci":
        from cargobay.transports.oci_layout import OciLayoutSource

        assert target.path is not None
        return OciLayoutSource(target.path, target.tag)
    if target.kind == "docker-archive":
        from cargobay.transports.archive import DockerArchiveSource

        assert target.path is not None
        return DockerArchiveSource(target.path, target.reference.familiar if target.reference else None)
    from cargobay.transports.local import LocalStoreSource

    assert target.reference is not None
    ref = target.reference.with_default_tag()
    return LocalStoreSource(_store(local), ref, not_found=f"No such image: {ref.familiar}")


def _open_destination(
    target: TransportRef, config: ClientConfig, local: LocalStore | None, source_ref: Reference | None
) -> ImageDestination:
    if target.kind == "docker":
        from cargobay.transports.docker import RegistryDestination

        assert target.reference is not None
        ref = target.reference.with_default_tag()
        client = _client(ref.domain, config, for_push=True)
        return RegistryDestination(client, ref, config.max_concurrent_uploads)
    if target.kind == "oci":
        from cargobay.transports.oci_layout import OciLayoutDestination

        assert target.path is not None
        return OciLayoutDestination(target.path, target.tag)
    if target.kind == "docker-archive":
        from cargobay.transports.archive import DockerArchiveDestination

        assert target.path is not None
        return DockerArchiveDestination(target.path, target.reference or source_ref)
    from cargobay.transports.local import LocalStoreDestination

    assert target.reference is not None
    return LocalStoreDestination(_store(local), target.reference.with_default_tag())


class _CopyLines:
    """skopeo's lines: `Copying blob sha256:…` / `Copying config sha256:…`."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit

    def __call__(self, event: ProgressEvent) -> None:
        what = "blob" if event.is_layer else "config"
        if event.kind == "exists":
            self.emit(Message(f"Copying {what} {event.digest} skipped: already exists"))
        elif event.kind == "mounted":
            self.emit(Message(f"Copying {what} {event.digest} mounted from {event.detail}"))
        elif event.kind == "started":
            self.emit(Message(f"Copying {what} {event.digest}"))
        elif event.kind == "progress":
            self.emit(Message(f"Copying {what}", event.digest.short, event.current, event.size))
        elif event.kind == "retrying":
            self.emit(Message(f"Retrying {what} {event.digest} in {event.detail}s"))


@dataclass(frozen=True, slots=True)
class CopyOutcome:
    digest: str
    media_type: str
    blobs_copied: int
    blobs_skipped: int


async def copy(
    source: str,
    destination: str,
    *,
    all_platforms: bool = False,
    platform: str | Platform | None = None,
    emit: Emit = _ignore,
    store: LocalStore | None = None,
    retry_delay: float | None = None,
) -> CopyOutcome:
    """skopeo-like copy between `docker://`, `oci:`, `docker-archive:` and the local store."""
    from cargobay.image.copy import copy_image, resolve
    from cargobay.transports import parse_transport

    with _errors():
        src_ref = parse_transport(source)
        dst_ref = parse_transport(destination)
    config = _config()
    wanted = _platform(platform)
    src: ImageSource | None = None
    dst: ImageDestination | None = None
    try:
        with _errors(src_ref.reference, pulling=src_ref.kind == "docker"):
            src = _open_source(src_ref, config, store)
            emit(Message("Getting image source signatures"))
            resolved = await resolve(src, platform=wanted, all_platforms=all_platforms)
        with _errors(src_ref.reference, pulling=src_ref.kind == "docker"):
            dst = _open_destination(dst_ref, config, store, src_ref.reference)
            result = await copy_image(
                src,
                dst,
                resolved=resolved,
                progress=_CopyLines(emit),
                retry_delay=_retry_delay(retry_delay),
            )
        is_list = result.manifest.parse().is_index
        emit(
            Message(
                "Writing manifest list to image destination"
                if is_list
                else "Writing manifest to image destination"
            )
        )
        return CopyOutcome(
            str(result.manifest.digest), result.manifest.media_type, result.blobs_copied, result.blobs_skipped
        )
    finally:
        for end in (src, dst):
            if end is not None:
                await end.close()
