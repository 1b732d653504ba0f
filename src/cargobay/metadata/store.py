"""Queries the registry needs, one method each. No HTTP here, and no SQL outside this package."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from cargobay.metadata.engine import Engines
from cargobay.metadata.fastread import CompiledQuery, FastReader, compile_query, create_fast_reader
from cargobay.metadata.schema import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    tags,
    uploads,
)


@dataclass(frozen=True, slots=True)
class ManifestRow:
    id: int
    digest: str
    media_type: str
    size: int
    content: bytes | None = None


@dataclass(frozen=True, slots=True)
class ReferrerRow:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    content: bytes


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: str
    repository: str
    algorithm: str
    size: int
    created_at: float


@dataclass(frozen=True, slots=True)
class NewManifest:
    digest: str
    media_type: str
    artifact_type: str | None
    subject_digest: str | None
    content: bytes
    blob_digests: tuple[str, ...]
    child_digests: tuple[str, ...]


class MetadataStore:
    def __init__(self, engines: Engines, url: str, *, default_private: bool = False) -> None:
        self.engines = engines
        self.default_private = default_private
        self._insert = sqlite.insert if engines.dialect == "sqlite" else postgresql.insert
        self._fast: FastReader = create_fast_reader(url, engines.dialect)
        self.fast = self._fast  # shared with the other stores over the same database
        self._queries = _hot_queries(engines.dialect)

    async def close(self) -> None:
        await self._fast.close()
        await self.engines.dispose()

    # -- repositories ---------------------------------------------------------------------

    async def _repository_id(self, conn: AsyncConnection, name: str) -> int | None:
        row = (await conn.execute(select(repositories.c.id).where(repositories.c.name == name))).first()
        return None if row is None else int(row[0])

    async def _ensure_repository(self, conn: AsyncConnection, name: str) -> int:
        await conn.execute(
            self._insert(repositories)
            .values(name=name, created_at=time.time(), private=self.default_private)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        repo_id = await self._repository_id(conn, name)
        assert repo_id is not None
        return repo_id

    async def repository_exists(self, name: str) -> bool:
        async with self.engines.reader.connect() as conn:
            return await self._repository_id(conn, name) is not None

    async def repository_private(self, name: str) -> bool | None:
        """Whether the repository is private; None when it does not exist."""
        row = await self._fast.fetchone(self._queries["repository_private"], {"repository": name})
        return None if row is None else bool(row[0])

    async def set_repository_private(self, name: str, private: bool) -> bool:
        async with self.engines.writer.begin() as conn:
            result = await conn.execute(
                update(repositories).where(repositories.c.name == name).values(private=private)
            )
            return bool(result.rowcount)

    async def catalog(
        self, limit: int, last: str | None, namespaces: Sequence[str] | None = None
    ) -> list[str]:
        """Repositories with content, in byte order (COLLATE "C" on PostgreSQL).

        With `namespaces`, private repositories outside them are left out.
        """
        name = repositories.c.name
        if self.engines.dialect == "postgresql":
            name = name.collate("C")  # type: ignore[assignment]
        has_content = select(manifests.c.id).where(manifests.c.repository_id == repositories.c.id).exists()
        query = select(repositories.c.name).where(has_content).order_by(name).limit(limit)
        if namespaces is not None:
            visible: list[Any] = [repositories.c.private.is_(False)]
            visible += [repositories.c.name.startswith(ns + "/", autoescape=True) for ns in namespaces]
            query = query.where(or_(*visible))
        if last is not None:
            query = query.where(name > last)
        async with self.engines.reader.connect() as conn:
            return [r[0] for r in await conn.execute(query)]

    # -- blobs ----------------------------------------------------------------------------

    async def blob_size_in_repository(self, repository: str, digest: str) -> int | None:
        row = await self._fast.fetchone(
            self._queries["blob_size"], {"repository": repository, "digest": digest}
        )
        return None if row is None else int(row[0])

    async def link_blob(self, repository: str, digest: str, size: int) -> None:
        """Record a verified, durable blob and make it visible in `repository`."""
        now = time.time()
        async with self.engines.writer.begin() as conn:
            repo_id = await self._ensure_repository(conn, repository)
            await conn.execute(
                self._insert(blobs)
                .values(digest=digest, size=size, created_at=now)
                .on_conflict_do_nothing(index_elements=["digest"])
            )
            await conn.execute(
                self._insert(repository_blobs)
                .values(repository_id=repo_id, digest=digest, created_at=now)
                .on_conflict_do_nothing(index_elements=["repository_id", "digest"])
            )

    async def unlink_blob(self, repository: str, digest: str) -> bool:
        async with self.engines.writer.begin() as conn:
            repo_id = await self._repository_id(conn, repository)
            if repo_id is None:
                return False
            result = await conn.execute(
                delete(repository_blobs).where(
                    repository_blobs.c.repository_id == repo_id, repository_blobs.c.digest == digest
                )
            )
            return bool(result.rowcount)

    async def blob_known(self, digest: str) -> int | None:
        async with self.engines.reader.connect() as conn:
            row = (await conn.execute(select(blobs.c.size).where(blobs.c.digest == digest))).first()
        return None if row is None else int(row[0])

    # -- manifests ------------------------------------------------------------------------

    async def manifest_by_digest(
        self, repository: str, digest: str, *, with_content: bool
    ) -> ManifestRow | None:
        query = self._queries["manifest_by_digest_full" if with_content else "manifest_by_digest"]
        row = await self._fast.fetchone(query, {"repository": repository, "digest": digest})
        return None if row is None else ManifestRow(*row)

    async def manifest_by_tag(self, repository: str, tag: str, *, with_content: bool) -> ManifestRow | None:
        query = self._queries["manifest_by_tag_full" if with_content else "manifest_by_tag"]
        row = await self._fast.fetchone(query, {"repository": repository, "tag": tag})
        return None if row is None else ManifestRow(*row)

    async def missing_references(
        self, repository: str, blob_digests: Iterable[str], child_digests: Iterable[str]
    ) -> list[str]:
        """Digests a new manifest references that this repository does not hold."""
        wanted_blobs, wanted_children = set(blob_digests), set(child_digests)
        async with self.engines.reader.connect() as conn:
            repo_id = await self._repository_id(conn, repository)
            if repo_id is None:
                return sorted(wanted_blobs | wanted_children)
            have: set[str] = set()
            if wanted_blobs:
                have |= {
                    r[0]
                    for r in await conn.execute(
                        select(repository_blobs.c.digest).where(
                            repository_blobs.c.repository_id == repo_id,
                            repository_blobs.c.digest.in_(wanted_blobs),
                        )
                    )
                }
            if wanted_children:
                have |= {
                    r[0]
                    for r in await conn.execute(
                        select(manifests.c.digest).where(
                            manifests.c.repository_id == repo_id, manifests.c.digest.in_(wanted_children)
                        )
                    )
                }
        return sorted((wanted_blobs | wanted_children) - have)

    async def put_manifest(self, repository: str, manifest: NewManifest, tag_names: Sequence[str]) -> None:
        """Insert the manifest and its references, then move the tags, in one transaction."""
        now = time.time()
        async with self.engines.writer.begin() as conn:
            repo_id = await self._ensure_repository(conn, repository)
            await conn.execute(
                update(repositories).where(repositories.c.id == repo_id).values(last_pushed_at=now)
            )
            # ON CONFLICT: a concurrent push of the same manifest (PostgreSQL does not serialise
            # writers the way SQLite's BEGIN IMMEDIATE does) simply finds the other's row.
            inserted = (
                await conn.execute(
                    self._insert(manifests)
                    .values(
                        repository_id=repo_id,
                        digest=manifest.digest,
                        media_type=manifest.media_type,
                        artifact_type=manifest.artifact_type,
                        subject_digest=manifest.subject_digest,
                        size=len(manifest.content),
                        content=manifest.content,
                        created_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=["repository_id", "digest"])
                    .returning(manifests.c.id)
                )
            ).scalar_one_or_none()
            if inserted is not None:
                manifest_id = int(inserted)
                references = {d: "blob" for d in manifest.blob_digests}
                references.update({d: "manifest" for d in manifest.child_digests})
                if references:
                    await conn.execute(
                        manifest_references.insert(),
                        [{"manifest_id": manifest_id, "digest": d, "kind": k} for d, k in references.items()],
                    )
            else:
                manifest_id = (
                    await conn.execute(
                        select(manifests.c.id).where(
                            manifests.c.repository_id == repo_id, manifests.c.digest == manifest.digest
                        )
                    )
                ).scalar_one()
            for name in tag_names:
                stmt = self._insert(tags).values(
                    repository_id=repo_id, name=name, manifest_id=manifest_id, updated_at=now
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["repository_id", "name"],
                        set_={"manifest_id": manifest_id, "updated_at": now},
                    )
                )

    async def delete_tag(self, repository: str, tag: str) -> bool:
        async with self.engines.writer.begin() as conn:
            repo_id = await self._repository_id(conn, repository)
            if repo_id is None:
                return False
            result = await conn.execute(
                delete(tags).where(tags.c.repository_id == repo_id, tags.c.name == tag)
            )
            return bool(result.rowcount)

    async def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest and every tag pointing at it."""
        async with self.engines.writer.begin() as conn:
            repo_id = await self._repository_id(conn, repository)
            if repo_id is None:
                return False
            row = (
                await conn.execute(
                    select(manifests.c.id).where(
                        manifests.c.repository_id == repo_id, manifests.c.digest == digest
                    )
                )
            ).first()
            if row is None:
                return False
            manifest_id = int(row[0])
            await conn.execute(delete(tags).where(tags.c.manifest_id == manifest_id))
            await conn.execute(
                delete(manifest_references).where(manifest_references.c.manifest_id == manifest_id)
            )
            await conn.execute(delete(manifests).where(manifests.c.id == manifest_id))
            return True

    async def list_tags(self, repository: str, limit: int, last: str | None) -> list[str] | None:
        """Tags in byte order, or None when the repository does not exist."""
        values = {"repository": repository, "limit": limit, "last": last}
        found = await self._fast.fetchall(self._queries["tags" if last is None else "tags_after"], values)
        if not found and await self._fast.fetchone(self._queries["repository_id"], values) is None:
            return None
        return [r[0] for r in found]

    async def referrers(
        self,
        repository: str,
        subject: str,
        artifact_type: str | None,
        *,
        limit: int,
        after: str | None = None,
    ) -> list[ReferrerRow]:
        """Manifests whose subject is `subject`, oldest first, after the referrer `after` (a digest)."""
        query = (
            select(
                manifests.c.digest,
                manifests.c.media_type,
                manifests.c.size,
                manifests.c.artifact_type,
                manifests.c.content,
            )
            .select_from(manifests.join(repositories, repositories.c.id == manifests.c.repository_id))
            .where(repositories.c.name == repository, manifests.c.subject_digest == subject)
            .order_by(manifests.c.id)
            .limit(limit)
        )
        if artifact_type is not None:
            query = query.where(manifests.c.artifact_type == artifact_type)
        if after is not None:
            previous = manifests.alias("previous")
            cursor = (
                select(previous.c.id)
                .where(previous.c.repository_id == repositories.c.id, previous.c.digest == after)
                .scalar_subquery()
            )
            query = query.where(manifests.c.id > func.coalesce(cursor, 0))
        async with self.engines.reader.connect() as conn:
            return [ReferrerRow(*r) for r in await conn.execute(query)]

    # -- uploads --------------------------------------------------------------------------

    async def create_upload(self, upload_id: str, repository: str, algorithm: str) -> None:
        now = time.time()
        async with self.engines.writer.begin() as conn:
            repo_id = await self._ensure_repository(conn, repository)
            await conn.execute(
                uploads.insert().values(
                    id=upload_id,
                    repository_id=repo_id,
                    algorithm=algorithm,
                    size=0,
                    created_at=now,
                    updated_at=now,
                )
            )

    async def get_upload(self, upload_id: str) -> UploadRow | None:
        row = await self._fast.fetchone(self._queries["upload"], {"upload_id": upload_id})
        return None if row is None else UploadRow(*row)

    async def advance_upload(self, upload_id: str, old_size: int, new_size: int) -> bool:
        """Move the upload's offset, only if nobody else moved it meanwhile."""
        async with self.engines.writer.begin() as conn:
            result = await conn.execute(
                update(uploads)
                .where(and_(uploads.c.id == upload_id, uploads.c.size == old_size))
                .values(size=new_size, updated_at=time.time())
            )
            return bool(result.rowcount)

    async def delete_upload(self, upload_id: str) -> bool:
        async with self.engines.writer.begin() as conn:
            result = await conn.execute(delete(uploads).where(uploads.c.id == upload_id))
            return bool(result.rowcount)

    async def stale_uploads(self, older_than: float) -> list[str]:
        async with self.engines.reader.connect() as conn:
            return [
                r[0]
                for r in await conn.execute(select(uploads.c.id).where(uploads.c.updated_at < older_than))
            ]

    async def counts(self) -> dict[str, int]:
        async with self.engines.reader.connect() as conn:
            out = {}
            for table in (repositories, manifests, tags, blobs, uploads):
                out[table.name] = int(
                    (await conn.execute(select(func.count()).select_from(table))).scalar_one()
                )
            return out


def _hot_queries(dialect: str) -> dict[str, CompiledQuery]:
    """The read path's statements, compiled once for the dialect in use."""
    repository: Any = bindparam("repository")
    repo_join = manifests.join(repositories, repositories.c.id == manifests.c.repository_id)
    head_columns = (manifests.c.id, manifests.c.digest, manifests.c.media_type, manifests.c.size)
    repo_id = select(repositories.c.id).where(repositories.c.name == repository).scalar_subquery()
    tag_name = tags.c.name.collate("C") if dialect == "postgresql" else tags.c.name

    def by_digest(*columns: Any) -> Select[Any]:
        return (
            select(*columns)
            .select_from(repo_join)
            .where(repositories.c.name == repository, manifests.c.digest == bindparam("digest"))
        )

    def by_tag(*columns: Any) -> Select[Any]:
        return (
            select(*columns)
            .select_from(repo_join.join(tags, tags.c.manifest_id == manifests.c.id))
            .where(repositories.c.name == repository, tags.c.name == bindparam("tag"))
        )

    tags_query = (
        select(tags.c.name)
        .where(tags.c.repository_id == repo_id)
        .order_by(tag_name)
        .limit(bindparam("limit"))
    )
    statements: dict[str, Select[Any]] = {
        "manifest_by_digest": by_digest(*head_columns),
        "manifest_by_digest_full": by_digest(*head_columns, manifests.c.content),
        "manifest_by_tag": by_tag(*head_columns),
        "manifest_by_tag_full": by_tag(*head_columns, manifests.c.content),
        "blob_size": select(blobs.c.size)
        .select_from(
            repository_blobs.join(repositories, repositories.c.id == repository_blobs.c.repository_id).join(
                blobs, blobs.c.digest == repository_blobs.c.digest
            )
        )
        .where(repositories.c.name == repository, repository_blobs.c.digest == bindparam("digest")),
        "tags": tags_query,
        "tags_after": tags_query.where(tag_name > bindparam("last")),
        "repository_id": select(repositories.c.id).where(repositories.c.name == repository),
        "repository_private": select(repositories.c.private).where(repositories.c.name == repository),
        "upload": select(
            uploads.c.id, repositories.c.name, uploads.c.algorithm, uploads.c.size, uploads.c.created_at
        )
        .select_from(uploads.join(repositories, repositories.c.id == uploads.c.repository_id))
        .where(uploads.c.id == bindparam("upload_id")),
    }
    return {name: compile_query(statement, dialect) for name, statement in statements.items()}
