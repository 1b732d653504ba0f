"""`docker-archive:FILE[:REF]`: the tar `docker save` writes and `docker load` reads.

Reading accepts both layouts: Engine v25+ (an OCI layout plus `manifest.json`) and the legacy
one (`<id>/layer.tar`, `<hex>.json`). When the archive carries the real manifest (index.json),
its bytes are used as they are; otherwise a Docker schema2 manifest is built from
`manifest.json`, the config and the layer files (uncompressed layers keep the uncompressed media type).

Writing produces the v25+ layout (`blobs/sha256/…`, `index.json`, `oci-layout`,
`manifest.json`, `repositories`) with the blobs as they are (layers stay compressed; docker
load and podman decompress them). Blobs are staged in a directory beside FILE and the tar is
renamed into place only when complete.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import tarfile
import threading
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from cargobay.image.types import BlobReader, CopyError, Manifest, ManifestNotFound
from cargobay.oci import mediatypes as mt
from cargobay.oci.digest import Digest, Digester, digest_bytes
from cargobay.oci.manifest import Descriptor
from cargobay.oci.reference import InvalidReference, Reference, parse_normalized
from cargobay.storage.filesystem import FilesystemBlobStore
from cargobay.transports.common import StoreBlobSink, file_blob, open_store_sink

DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _norm(name: str) -> str:
    return name.lstrip("./") if name.startswith("./") else name


class _Archive:
    """Random access to the members of a tar file (thread-safe through one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.tar = tarfile.open(path, "r:")  # noqa: SIM115
        except FileNotFoundError:
            raise CopyError(f"open {path}: no such file or directory") from None
        except tarfile.TarError as exc:
            raise CopyError(f"invalid archive {path}: {exc}") from None
        self.members = {_norm(m.name): m for m in self.tar.getmembers() if m.isfile()}
        self.lock = threading.Lock()

    def read(self, name: str) -> bytes:
        member = self.members.get(_norm(name))
        if member is None:
            raise CopyError(f"invalid archive: {name} not found in {self.path}")
        with self.lock:
            f = self.tar.extractfile(member)
            assert f is not None
            return f.read()

    def open(self, name: str) -> _MemberFile:
        member = self.members[_norm(name)]
        # An independent handle per reader: a view on the member's byte range of the file.
        return _MemberFile(self.path, member.offset_data, member.size)

    def digest_of(self, name: str) -> tuple[Digest, int, bytes]:
        """(sha256, size, first bytes) of a member, streamed."""
        digester = Digester()
        head = b""
        with self.open(name) as f:
            while chunk := f.read(1024 * 1024):
                if not head:
                    head = chunk[:4]
                digester.update(chunk)
        return digester.digest(), digester.size, head

    def close(self) -> None:
        self.tar.close()


class _MemberFile:
    def __init__(self, path: Path, start: int, size: int) -> None:
        self._f = open(path, "rb")  # noqa: SIM115
        self._start, self._size, self._pos = start, size, 0
        self._f.seek(start)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, min(self._size, base + offset))
        self._f.seek(self._start + self._pos)
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        left = self._size - self._pos
        n = left if n is None or n < 0 else min(n, left)
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> _MemberFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _layer_media_type(head: bytes) -> str:
    if head.startswith(_GZIP_MAGIC):
        return mt.DOCKER_LAYER_GZIP
    if head.startswith(_ZSTD_MAGIC):
        return mt.OCI_LAYER_ZSTD
    return DOCKER_LAYER_TAR


def split_archive_reference(text: str) -> tuple[str, str | None]:
    """`FILE[:REF]`: the part after the last colon is a reference only when it parses as one."""
    head, sep, tail = text.rpartition(":")
    if sep and head and "/" not in tail:
        # `file.tar:name:tag` → the reference itself may contain a colon.
        first, sep2, rest = text.partition(":")
        if sep2 and rest:
            try:
                parse_normalized(rest)
                return first, rest
            except InvalidReference:
                pass
    return text, None


class DockerArchiveSource:
    max_concurrency = 4
    registry_domain: str | None = None
    repository: str | None = None

    def __init__(self, path: str, reference: str | None) -> None:
        self.archive = _Archive(Path(path))
        self.description = f"docker-archive:{path}" + (f":{reference}" if reference else "")
        self.reference = reference
        self.blobs: dict[Digest, str] = {}  # digest → member name
        self._top: Manifest | None = None
        self._manifests: dict[Digest, Manifest] = {}

    def _entry(self) -> dict[str, Any]:
        if "manifest.json" not in self.archive.members:
            raise CopyError("invalid archive: does not contain a manifest.json")
        try:
            entries = json.loads(self.archive.read("manifest.json"))
        except ValueError as exc:
            raise CopyError(f"invalid archive: manifest.json: {exc}") from None
        if not isinstance(entries, list) or not entries:
            raise CopyError("invalid archive: manifest.json lists no image")
        if self.reference is None:
            if len(entries) > 1:
                raise CopyError(
                    "archive contains more than one image: name one with docker-archive:FILE:REFERENCE"
                )
            return dict(entries[0])
        wanted = parse_normalized(self.reference).with_default_tag()
        for entry in entries:
            for tag in entry.get("RepoTags") or []:
                try:
                    if parse_normalized(str(tag)).with_default_tag() == wanted:
                        return dict(entry)
                except InvalidReference:
                    continue
        raise ManifestNotFound(f"reference {self.reference} not found in {self.archive.path}")

    def _build(self) -> Manifest:
        entry = self._entry()
        config_name = str(entry.get("Config") or "")
        layers = [str(x) for x in entry.get("Layers") or []]
        config_raw = self.archive.read(config_name)
        config_digest = digest_bytes(config_raw)
        self.blobs[config_digest] = config_name
        # Engine v25+: use the real manifest when index.json names one with this config.
        real = self._manifest_from_layout(config_digest)
        if real is not None:
            return real
        layer_docs = []
        for name in layers:
            digest, size, head = self.archive.digest_of(name)
            self.blobs[digest] = name
            layer_docs.append({"mediaType": _layer_media_type(head), "size": size, "digest": str(digest)})
        doc = {
            "schemaVersion": 2,
            "mediaType": mt.DOCKER_MANIFEST,
            "config": {"mediaType": mt.DOCKER_CONFIG, "size": len(config_raw), "digest": str(config_digest)},
            "layers": layer_docs,
        }
        raw = json.dumps(doc, indent=3).encode()
        return Manifest(raw, mt.DOCKER_MANIFEST, digest_bytes(raw))

    def _manifest_from_layout(self, config_digest: Digest) -> Manifest | None:
        if "index.json" not in self.archive.members:
            return None
        for name in self.archive.members:
            if name.startswith("blobs/sha256/"):
                self.blobs.setdefault(Digest("sha256", name.rsplit("/", 1)[1]), name)
        try:
            index = json.loads(self.archive.read("index.json"))
        except ValueError:
            return None
        stack: list[dict[str, Any]] = [d for d in index.get("manifests", []) if isinstance(d, dict)]
        while stack:
            desc = stack.pop(0)
            digest = Digest.parse(str(desc.get("digest")))
            member = self.blobs.get(digest)
            if member is None:
                continue
            raw = self.archive.read(member)
            if digest_bytes(raw) != digest:
                continue
            manifest = Manifest.from_bytes(raw)
            parsed = manifest.parse()
            if parsed.is_index:
                stack += [c.to_json() for c in parsed.manifests]
            elif (
                parsed.config is not None
                and parsed.config.digest == config_digest
                and all(layer.digest in self.blobs for layer in parsed.layers)
            ):
                return manifest
        return None

    async def get_manifest(self, digest: Digest | None = None) -> Manifest:
        if self._top is None:
            self._top = await asyncio.to_thread(self._build)
        if digest is None or digest == self._top.digest:
            return self._top
        raise ManifestNotFound(f"manifest {digest} not found in {self.archive.path}")

    def open_blob(self, descriptor: Descriptor, offset: int = 0) -> AbstractAsyncContextManager[BlobReader]:
        name = self.blobs.get(descriptor.digest)
        if name is None:
            raise CopyError(f"blob {descriptor.digest} not found in {self.archive.path}")
        return file_blob(lambda: self.archive.open(name), offset)

    async def close(self) -> None:
        self.archive.close()


class DockerArchiveDestination:
    """Writes one image; the archive replaces FILE atomically when complete."""

    max_concurrency = 8
    registry_domain: str | None = None
    repository: str | None = None
    keeps_index = False

    def __init__(self, path: str, reference: Reference | None) -> None:
        self.path = Path(path)
        self.reference = reference
        self.description = f"docker-archive:{path}"
        self.staging = self.path.with_name(f".{self.path.name}.cargobay-staging")
        self.store = FilesystemBlobStore(self.staging)
        self.manifests: list[Manifest] = []

    async def has_blob(self, descriptor: Descriptor) -> bool:
        return self.store.stat(descriptor.digest) == descriptor.size

    async def mount_blob(self, descriptor: Descriptor, from_repository: str) -> bool:
        return False

    async def blob_sink(self, descriptor: Descriptor) -> StoreBlobSink:
        return await open_store_sink(self.store, descriptor)

    async def put_manifest(self, manifest: Manifest) -> None:
        self.manifests.append(manifest)

    async def commit(self, top: Manifest, selected: Manifest | None = None) -> None:
        parsed = top.parse()
        if parsed.is_index or parsed.config is None:
            raise CopyError("docker-archive holds single-platform images only: choose one with --platform")
        await asyncio.to_thread(self._write, top)

    def _write(self, top: Manifest) -> None:
        parsed = top.parse()
        assert parsed.config is not None
        if self.store.stat(top.digest) is None:
            self.store.put_bytes(top.raw, "manifest", top.digest)
        ref = self.reference.with_default_tag() if self.reference is not None else None
        repo_tags = [ref.familiar] if ref is not None and ref.tag else []

        def blob_name(d: Digest) -> str:
            return f"blobs/{d.algorithm}/{d.encoded}"

        index_entry: dict[str, Any] = top.descriptor().to_json()
        if ref is not None:
            index_entry["annotations"] = {
                "io.containerd.image.name": str(ref),
                "org.opencontainers.image.ref.name": ref.tag or str(ref.digest),
            }
        index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [index_entry]}
        manifest_json = [
            {
                "Config": blob_name(parsed.config.digest),
                "RepoTags": repo_tags,
                "Layers": [blob_name(layer.digest) for layer in parsed.layers],
            }
        ]
        files: list[tuple[str, bytes]] = [
            ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'),
            ("index.json", json.dumps(index, separators=(",", ":")).encode()),
            ("manifest.json", json.dumps(manifest_json, separators=(",", ":")).encode()),
        ]
        if ref is not None and ref.tag and parsed.layers:
            top_layer = parsed.layers[-1].digest.encoded
            files.append(("repositories", json.dumps({ref.familiar_name: {ref.tag: top_layer}}).encode()))
        digests = [top.digest, parsed.config.digest, *(layer.digest for layer in parsed.layers)]
        temp = self.path.with_name(f".{self.path.name}.cargobay-tmp")
        try:
            self._write_tar(temp, digests, files, blob_name)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        os.replace(temp, self.path)
        shutil.rmtree(self.staging, ignore_errors=True)

    def _write_tar(
        self, temp: Path, digests: list[Digest], files: list[tuple[str, bytes]], blob_name: Any
    ) -> None:
        with tarfile.open(temp, "w", format=tarfile.PAX_FORMAT) as tar:
            for directory in ("blobs", "blobs/sha256"):
                info = tarfile.TarInfo(directory)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
                tar.addfile(info)
            for digest in dict.fromkeys(digests):
                blob = self.store.path(digest)
                info = tarfile.TarInfo(blob_name(digest))
                info.size, info.mode, info.mtime = blob.stat().st_size, 0o444, 0
                with open(blob, "rb") as f:
                    tar.addfile(info, f)
            for name, data in files:
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = len(data), 0o444, 0
                tar.addfile(info, io.BytesIO(data))
        with open(temp, "rb") as synced:
            os.fsync(synced.fileno())

    async def close(self) -> None:
        return None
