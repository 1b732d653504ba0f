"""The metadata store's contract, run against SQLite and (when it answers) PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cargobay.metadata.engine import DatabaseUrlError, create_engines, create_schema, normalise_url
from cargobay.metadata.store import MetadataStore, NewManifest

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
M1 = "sha256:" + "a" * 64
M2 = "sha256:" + "b" * 64


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[MetadataStore]:
    url = database_url
    engines = create_engines(url)
    await create_schema(engines)
    metadata = MetadataStore(engines, url)
    yield metadata
    await metadata.close()


def manifest(
    digest: str, blobs: tuple[str, ...] = (), children: tuple[str, ...] = (), subject: str | None = None
) -> NewManifest:
    return NewManifest(
        digest=digest,
        media_type="application/vnd.oci.image.manifest.v1+json",
        artifact_type="application/x-test" if subject else None,
        subject_digest=subject,
        content=b'{"exact": "bytes" }',
        blob_digests=blobs,
        child_digests=children,
    )


async def test_blob_links_are_per_repository(store: MetadataStore) -> None:
    await store.link_blob("a/one", D1, 10)
    assert await store.blob_size_in_repository("a/one", D1) == 10
    assert await store.blob_size_in_repository("a/two", D1) is None
    assert await store.blob_known(D1) == 10
    assert await store.unlink_blob("a/one", D1)
    assert await store.blob_size_in_repository("a/one", D1) is None
    assert not await store.unlink_blob("a/one", D1)


async def test_manifest_bytes_tags_and_deletion(store: MetadataStore) -> None:
    await store.link_blob("a/one", D1, 10)
    assert await store.missing_references("a/one", [D1, D2], [M2]) == sorted([D2, M2])
    await store.put_manifest("a/one", manifest(M1, blobs=(D1,)), ["latest", "v1"])
    row = await store.manifest_by_tag("a/one", "v1", with_content=True)
    assert row is not None and row.digest == M1 and row.content == b'{"exact": "bytes" }'
    head = await store.manifest_by_digest("a/one", M1, with_content=False)
    assert head is not None and head.content is None and head.size == len(b'{"exact": "bytes" }')
    assert await store.list_tags("a/one", 10, None) == ["latest", "v1"]
    assert await store.delete_tag("a/one", "latest")
    assert await store.manifest_by_tag("a/one", "latest", with_content=False) is None
    assert await store.manifest_by_tag("a/one", "v1", with_content=False) is not None
    assert await store.delete_manifest("a/one", M1)
    assert await store.manifest_by_tag("a/one", "v1", with_content=False) is None
    assert await store.list_tags("a/one", 10, None) == []
    assert await store.list_tags("nope/none", 10, None) is None


async def test_tag_moves_atomically_to_new_manifest(store: MetadataStore) -> None:
    await store.put_manifest("a/one", manifest(M1), ["latest"])
    await store.put_manifest("a/one", manifest(M2), ["latest"])
    row = await store.manifest_by_tag("a/one", "latest", with_content=False)
    assert row is not None and row.digest == M2
    # Pushing the same manifest again is idempotent.
    await store.put_manifest("a/one", manifest(M2), ["latest"])
    assert await store.list_tags("a/one", 10, None) == ["latest"]


async def test_tags_and_catalog_are_in_byte_order_with_paging(store: MetadataStore) -> None:
    names = ["b", "B", "a", "_x", "10", "9", "A-1"]
    await store.put_manifest("z/repo", manifest(M1), names)
    await store.put_manifest("A".lower() + "/repo", manifest(M1), ["t"])
    assert await store.list_tags("z/repo", 100, None) == sorted(names)
    assert await store.list_tags("z/repo", 2, "9") == sorted(names)[sorted(names).index("9") + 1 :][:2]
    assert await store.catalog(10, None) == ["a/repo", "z/repo"]
    assert await store.catalog(10, "a/repo") == ["z/repo"]


async def test_referrers_by_subject_and_artifact_type(store: MetadataStore) -> None:
    await store.put_manifest("a/one", manifest(M1, subject=D1), [])
    await store.put_manifest("a/one", manifest(M2, subject=D1), [])
    rows = await store.referrers("a/one", D1, None, limit=10)
    assert [r.digest for r in rows] == [M1, M2]
    assert await store.referrers("a/one", D1, "application/other", limit=10) == []
    assert [r.digest for r in await store.referrers("a/one", D1, None, limit=10, after=M1)] == [M2]
    assert [r.digest for r in await store.referrers("a/one", D1, None, limit=1)] == [M1]
    assert await store.referrers("a/two", D1, None, limit=10) == []


async def test_upload_offsets_move_only_from_the_expected_size(store: MetadataStore) -> None:
    await store.create_upload("0" * 32, "a/one", "sha256")
    row = await store.get_upload("0" * 32)
    assert row is not None and row.repository == "a/one" and row.size == 0
    assert await store.advance_upload("0" * 32, 0, 100)
    assert not await store.advance_upload("0" * 32, 0, 200)  # a racing writer lost
    assert (await store.get_upload("0" * 32)).size == 100  # type: ignore[union-attr]
    assert await store.stale_uploads(older_than=0) == []
    assert await store.delete_upload("0" * 32)
    assert await store.get_upload("0" * 32) is None


def test_database_urls_are_checked() -> None:
    assert normalise_url("sqlite:////tmp/x.db").startswith("sqlite+aiosqlite")
    assert normalise_url("postgresql://u@h/db").startswith("postgresql+asyncpg")
    with pytest.raises(DatabaseUrlError, match="unsupported database"):
        normalise_url("mysql://root@localhost/x")
    with pytest.raises(DatabaseUrlError, match="invalid database URL"):
        normalise_url("::not a url::")
