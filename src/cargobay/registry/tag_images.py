"""What the hub shows about a tag: its compressed size and one entry per platform image.

- an image manifest: `full_size` is its config plus its layers (what a pull downloads); its one
  image's platform comes from the config blob (read through the registry's blob store);
- an index: one image per child manifest, each sized the same way, with the platform its
  descriptor declares (or, failing that, its config's); `full_size` is the sum of the images.
  Attestation manifests (buildx's `vnd.docker.reference.type: attestation-manifest`) are not
  platform images and are left out; a nested index contributes its descriptor only;
- anything else (an artifact with a non-image config) is sized the same way, without a platform.

Configs are content-addressed, so the platforms read from them are cached per process.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from cargobay.metadata.hub_listing import ChildManifest, HubListingStore, TagRow
from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest, InvalidDigest
from cargobay.oci.manifest import InvalidManifest, ParsedManifest, Platform, parse_manifest
from cargobay.storage.filesystem import FilesystemBlobStore

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # configs larger than this are not read for their platform
_IMAGE_CONFIGS = frozenset({mt.OCI_CONFIG, mt.DOCKER_CONFIG})
_REFERENCE_TYPE = "vnd.docker.reference.type"


@dataclass(frozen=True, slots=True)
class ImageInfo:
    digest: str
    size: int  # config + layers, compressed
    os: str | None
    architecture: str | None
    variant: str | None


@dataclass(frozen=True, slots=True)
class TagDetails:
    name: str
    digest: str
    media_type: str
    last_updated: float
    full_size: int
    images: list[ImageInfo]


def _parse(content: bytes, media_type: str) -> ParsedManifest | None:
    try:
        return parse_manifest(content, media_type)
    except InvalidManifest:
        return None


def _image_size(parsed: ParsedManifest) -> int:
    parts = [parsed.config, *parsed.layers] if parsed.config else list(parsed.layers)
    return sum(d.size for d in parts if d is not None)


def _config_digest(parsed: ParsedManifest | None) -> str | None:
    if parsed is None or parsed.is_index or parsed.config is None:
        return None
    if parsed.config.media_type not in _IMAGE_CONFIGS:
        return None
    return str(parsed.config.digest)


class ConfigPlatforms:
    """Platforms read from config blobs, with a per-process cache (configs never change)."""

    def __init__(self, blobs: FilesystemBlobStore, capacity: int = 4096) -> None:
        self.blobs = blobs
        self.capacity = capacity
        self._cache: OrderedDict[str, Platform | None] = OrderedDict()

    async def lookup(self, digests: Iterable[str]) -> dict[str, Platform | None]:
        found: dict[str, Platform | None] = {}
        missing: list[str] = []
        for digest in dict.fromkeys(digests):
            if digest in self._cache:
                self._cache.move_to_end(digest)
                found[digest] = self._cache[digest]
            else:
                missing.append(digest)
        if missing:
            read = await asyncio.to_thread(self._read_all, missing)
            for digest, platform in read.items():
                found[digest] = platform
                self._cache[digest] = platform
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return found

    def _read_all(self, digests: list[str]) -> dict[str, Platform | None]:
        return {digest: self._read(digest) for digest in digests}

    def _read(self, digest: str) -> Platform | None:
        try:
            parsed = Digest.parse(digest)
            size = self.blobs.stat(parsed)
            if size is None or size > MAX_CONFIG_BYTES:
                return None
            return Platform.from_json(json.loads(self.blobs.read(parsed)))
        except (InvalidDigest, OSError, ValueError, RecursionError):
            return None


class TagImages:
    def __init__(self, listing: HubListingStore, platforms: ConfigPlatforms) -> None:
        self.listing = listing
        self.platforms = platforms

    async def describe(self, repository: str, rows: list[TagRow]) -> list[TagDetails]:
        """Details of a page of tags: one query for all child manifests, one batch of config reads."""
        parsed = {row.digest: _parse(row.content, row.media_type) for row in rows}
        child_digests = [
            str(d.digest)
            for manifest in parsed.values()
            if manifest is not None and manifest.is_index
            for d in manifest.manifests
        ]
        children: dict[str, ChildManifest] = await self.listing.manifests_by_digest(repository, child_digests)
        parsed_children = {c.digest: _parse(c.content, c.media_type) for c in children.values()}
        configs = [_config_digest(p) for p in (*parsed.values(), *parsed_children.values())]
        platforms = await self.platforms.lookup(c for c in configs if c is not None)

        def platform_of(manifest: ParsedManifest | None) -> Platform | None:
            config = _config_digest(manifest)
            return None if config is None else platforms.get(config)

        details: list[TagDetails] = []
        for row in rows:
            manifest = parsed[row.digest]
            images: list[ImageInfo] = []
            if manifest is not None and manifest.is_index:
                for descriptor in manifest.manifests:
                    if descriptor.annotations.get(_REFERENCE_TYPE) == "attestation-manifest":
                        continue
                    child = parsed_children.get(str(descriptor.digest))
                    size = _image_size(child) if child is not None and not child.is_index else 0
                    platform = descriptor.platform or platform_of(child)
                    images.append(_image(str(descriptor.digest), size, platform))
            elif manifest is not None:
                images.append(_image(row.digest, _image_size(manifest), platform_of(manifest)))
            details.append(
                TagDetails(
                    name=row.name,
                    digest=row.digest,
                    media_type=row.media_type,
                    last_updated=row.updated_at,
                    full_size=sum(i.size for i in images),
                    images=images,
                )
            )
        return details


def _image(digest: str, size: int, platform: Platform | None) -> ImageInfo:
    if platform is None:
        return ImageInfo(digest, size, None, None, None)
    return ImageInfo(digest, size, platform.os, platform.architecture, platform.variant)
