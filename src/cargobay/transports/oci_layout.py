"""`oci:DIR[:TAG]`: an OCI image layout directory, read and written (as skopeo and umoci do)."""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from cargobay.image.types import BlobReader, CopyError, Manifest, ManifestNotFound
from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest, InvalidDigest, digest_bytes
from cargobay.oci.manifest import Descriptor
from cargobay.storage.filesystem import FilesystemBlobStore
from cargobay.transports.common import StoreBlobSink, file_blob, fsync_write, open_store_sink

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = "oci-layout"
LAYOUT_VERSION = b'{"imageLayoutVersion": "1.0.0"}'


class OciLayout:
    """An image layout on disk: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`."""

    def __init__(self, root: Path | str, *, create: bool = False) -> None:
        self.root = Path(root)
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
            if not (self.root / LAYOUT_FILE).exists():
                fsync_write(self.root / LAYOUT_FILE, LAYOUT_VERSION)
            if not (self.root / "index.json").exists():
                self._write_index({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []})
        elif not (self.root / "index.json").is_file():
            raise CopyError(f"open {self.root / 'index.json'}: no such file or directory")
        self._blobs: FilesystemBlobStore | None = None

    @property
    def blobs(self) -> FilesystemBlobStore:
        if self._blobs is None:
            self._blobs = FilesystemBlobStore(self.root)
        return self._blobs

    def blob_path(self, digest: Digest) -> Path:
        return self.root / "blobs" / digest.algorithm / digest.encoded

    def has_blob(self, digest: Digest) -> bool:
        return self.blob_path(digest).is_file()

    def read_index(self) -> dict[str, Any]:
        try:
            doc = json.loads((self.root / "index.json").read_bytes())
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}
        except ValueError as exc:
            raise CopyError(f"invalid {self.root / 'index.json'}: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
            raise CopyError(f"invalid {self.root / 'index.json'}: not an image index")
        return doc

    def _write_index(self, doc: dict[str, Any]) -> None:
        fsync_write(self.root / "index.json", json.dumps(doc, separators=(",", ":")).encode())

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with open(self.root / ".index.lock", "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def find(self, name: str | None) -> Descriptor:
        """The index entry whose ref name is `name` (or the only entry when `name` is None)."""
        entries = [e for e in self.read_index().get("manifests", []) if isinstance(e, dict)]
        if name is None:
            if len(entries) == 1:
                return _descriptor(entries[0])
            raise ManifestNotFound(
                f"more than one image in oci layout {self.root}: choose one with oci:{self.root}:TAG"
                if entries
                else f"no descriptor found for reference in oci layout {self.root}"
            )
        for entry in entries:
            if (entry.get("annotations") or {}).get(REF_NAME) == name:
                return _descriptor(entry)
        raise ManifestNotFound(f'no descriptor found for reference "{name}"')

    def set_reference(
        self, name: str | None, descriptor: Descriptor, extra: dict[str, str] | None = None
    ) -> None:
        """Point `name` at `descriptor` (replacing an older entry of that name), atomically."""
        with self.lock():
            doc = self.read_index()
            entries = [e for e in doc.get("manifests", []) if isinstance(e, dict)]
            if name is not None:
                entries = [e for e in entries if (e.get("annotations") or {}).get(REF_NAME) != name]
            else:
                entries = [
                    e for e in entries if e.get("digest") != str(descriptor.digest) or e.get("annotations")
                ]
            entry = descriptor.to_json()
            annotations = dict(extra or {})
            if name is not None:
                annotations[REF_NAME] = name
            if annotations:
                entry["annotations"] = annotations
            entries.append(entry)
            doc["schemaVersion"] = 2
            doc.setdefault("mediaType", mt.OCI_INDEX)
            doc["manifests"] = entries
            self._write_index(doc)

    def read_manifest(self, digest: Digest, media_type: str | None = None) -> Manifest:
        try:
            raw = self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise ManifestNotFound(f"manifest {digest} not found in {self.root}") from None
        if digest_bytes(raw, digest.algorithm) != digest:
            raise CopyError(f"manifest {digest} in {self.root} does not match its digest")
        return Manifest.from_bytes(raw, media_type) if media_type else Manifest.from_bytes(raw)

    def put_manifest(self, manifest: Manifest) -> None:
        if not self.has_blob(manifest.digest):
            self.blobs.put_bytes(manifest.raw, f"manifest-{manifest.digest.encoded}", manifest.digest)


def _descriptor(entry: dict[str, Any]) -> Descriptor:
    try:
        digest = Digest.parse(str(entry.get("digest")))
    except InvalidDigest as exc:
        raise CopyError(f"invalid index entry: {exc}") from None
    return Descriptor(
        media_type=str(entry.get("mediaType") or mt.OCI_MANIFEST),
        digest=digest,
        size=int(entry.get("size") or 0),
        annotations={str(k): str(v) for k, v in (entry.get("annotations") or {}).items()},
    )


def split_oci_reference(text: str) -> tuple[str, str | None]:
    """`DIR[:TAG]` → (DIR, TAG); a colon followed by a path separator stays in DIR."""
    path, sep, tag = text.rpartition(":")
    if not sep or "/" in tag or not path:
        return text, None
    return path, tag or None


class OciLayoutSource:
    max_concurrency = 8
    registry_domain: str | None = None
    repository: str | None = None

    def __init__(self, path: str, tag: str | None) -> None:
        self.layout = OciLayout(path)
        self.tag = tag
        self.description = f"oci:{path}" + (f":{tag}" if tag else "")

    async def get_manifest(self, digest: Digest | None = None) -> Manifest:
        if digest is None:
            entry = self.layout.find(self.tag)
            return self.layout.read_manifest(entry.digest, entry.media_type)
        return self.layout.read_manifest(digest)

    def open_blob(self, descriptor: Descriptor, offset: int = 0) -> AbstractAsyncContextManager[BlobReader]:
        path = self.layout.blob_path(descriptor.digest)
        if not path.is_file():
            raise CopyError(f"blob {descriptor.digest} not found in {self.layout.root}")
        return file_blob(lambda: open(path, "rb"), offset)

    async def close(self) -> None:
        return None


class OciLayoutDestination:
    max_concurrency = 8
    registry_domain: str | None = None
    repository: str | None = None
    keeps_index = False

    def __init__(self, path: str, tag: str | None, annotations: dict[str, str] | None = None) -> None:
        self.layout = OciLayout(path, create=True)
        self.tag = tag
        self.annotations = annotations
        self.description = f"oci:{path}" + (f":{tag}" if tag else "")

    async def has_blob(self, descriptor: Descriptor) -> bool:
        size = self.layout.blobs.stat(descriptor.digest)
        return size == descriptor.size

    async def mount_blob(self, descriptor: Descriptor, from_repository: str) -> bool:
        return False

    async def blob_sink(self, descriptor: Descriptor) -> StoreBlobSink:
        return await open_store_sink(self.layout.blobs, descriptor)

    async def put_manifest(self, manifest: Manifest) -> None:
        self.layout.put_manifest(manifest)

    async def commit(self, top: Manifest, selected: Manifest | None = None) -> None:
        self.layout.put_manifest(top)
        self.layout.set_reference(self.tag, top.descriptor(), self.annotations)

    async def close(self) -> None:
        return None
