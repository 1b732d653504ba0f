"""The filesystem blob store: verify → fsync → rename, and nothing published on failure."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cargobay.oci.digest import Digest, digest_bytes
from cargobay.storage import DigestMismatch, SizeMismatch
from cargobay.storage.filesystem import FilesystemBlobStore


def test_blob_is_published_only_after_verification(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    data = b"hello world" * 1000
    writer = store.writer("s1")
    writer.write(data[:500])
    assert store.stat(digest_bytes(data)) is None  # nothing visible mid-upload
    writer.write(data[500:])
    digest = writer.commit(digest_bytes(data), len(data))
    assert store.stat(digest) == len(data)
    assert store.read(digest) == data
    assert store.path(digest) == tmp_path / "blobs" / "sha256" / hashlib.sha256(data).hexdigest()
    assert list(store.iter_digests()) == [digest]
    assert not any((tmp_path / "uploads").iterdir())


def test_digest_mismatch_discards_the_data(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    writer = store.writer("s1")
    writer.write(b"actual")
    with pytest.raises(DigestMismatch):
        writer.commit(digest_bytes(b"expected"))
    assert list(store.iter_digests()) == []
    assert not any((tmp_path / "uploads").iterdir())


def test_size_mismatch_discards_the_data(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    writer = store.writer("s1")
    writer.write(b"12345")
    with pytest.raises(SizeMismatch):
        writer.commit(digest_bytes(b"12345"), 6)
    assert list(store.iter_digests()) == []


def test_resumed_writer_rehashes_from_the_file(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    first = store.writer("s1")
    first.write(b"part one, ")
    first.close()
    second = store.writer("s1", append=True)
    assert second.size == len(b"part one, ")
    second.write(b"part two")
    digest = second.commit(digest_bytes(b"part one, part two"))
    assert store.read(digest) == b"part one, part two"


def test_sha512_blobs(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    expected = Digest("sha512", hashlib.sha512(b"x").hexdigest())
    assert store.put_bytes(b"x", "s1", expected) == expected
    assert store.stat(expected) == 1


def test_existing_blob_is_kept_and_the_copy_dropped(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    digest = store.put_bytes(b"same", "s1")
    inode = store.path(digest).stat().st_ino
    assert store.put_bytes(b"same", "s2") == digest
    assert store.path(digest).stat().st_ino == inode
    assert not any((tmp_path / "uploads").iterdir())


@pytest.mark.parametrize("session", ["../etc", "a/b", "", "x" * 200, "a\x00b"])
def test_session_ids_cannot_name_paths(tmp_path: Path, session: str) -> None:
    store = FilesystemBlobStore(tmp_path)
    with pytest.raises(ValueError, match="invalid upload session id"):
        store.writer(session)
