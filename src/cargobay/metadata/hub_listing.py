"""Queries behind the hub's repository pages (`/api/repositories/...`): a namespace's
repositories, a repository's tags with their manifests, and deleting a repository.

Portable SQLAlchemy Core; names sort in code point order on both databases (COLLATE "C" on
PostgreSQL), as the registry's own listings do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from cargobay.metadata.catalogue import REPOSITORY_COLUMNS, RepositoryRow, repository_row
from cargobay.metadata.engine import Engines
from cargobay.metadata.schema import manifests, repositories, tags, uploads

# `last_updated` is newest first and `-last_updated` oldest first, as on Docker Hub.
Ordering = Literal["last_updated", "-last_updated", "name", "-name"]
ORDERINGS: tuple[Ordering, ...] = ("last_updated", "-last_updated", "name", "-name")


@dataclass(frozen=True, slots=True)
class TagRow:
    name: str
    updated_at: float
    digest: str
    media_type: str
    size: int  # of the manifest itself
    content: bytes


@dataclass(frozen=True, slots=True)
class ChildManifest:
    digest: str
    media_type: str
    content: bytes


class HubListingStore:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        self._postgres = engines.dialect == "postgresql"

    def _by_code_point(self, column: Any) -> Any:
        return column.collate("C") if self._postgres else column

    # -- repositories ---------------------------------------------------------------------

    async def namespace_repositories(
        self, namespace: str, *, with_private: bool, ordering: Ordering, limit: int, offset: int
    ) -> tuple[int, list[RepositoryRow]]:
        """Repositories named `namespace/…` (public ones only unless `with_private`), and how
        many there are in all."""
        # `namespace/…` as a range in code point order ("0" follows "/"), so the name index
        # (`ix_repositories_name_c` on PostgreSQL) finds the rows without scanning the catalogue.
        name = self._by_code_point(repositories.c.name)
        conditions: list[ColumnElement[bool]] = [name >= namespace + "/", name < namespace + "0"]
        if not with_private:
            conditions.append(repositories.c.private.is_(False))
        updated = func.coalesce(repositories.c.last_pushed_at, repositories.c.created_at)
        order: list[Any] = {
            "last_updated": [updated.desc(), name],
            "-last_updated": [updated, name],
            "name": [name],
            "-name": [name.desc()],
        }[ordering]
        query = select(*REPOSITORY_COLUMNS).where(*conditions).order_by(*order).limit(limit).offset(offset)
        counting = select(func.count()).select_from(repositories).where(*conditions)
        async with self.engines.reader.connect() as conn:
            total = int((await conn.execute(counting)).scalar_one())
            rows = [repository_row(r) for r in await conn.execute(query)] if offset < total else []
        return total, rows

    async def repositories_by_name(self, names: Sequence[str]) -> dict[str, RepositoryRow]:
        if not names:
            return {}
        query = select(*REPOSITORY_COLUMNS).where(repositories.c.name.in_(list(names)))
        async with self.engines.reader.connect() as conn:
            return {r[0]: repository_row(r) for r in await conn.execute(query)}

    async def delete_repository(self, name: str) -> list[str] | None:
        """Delete the repository with its tags, manifests, blob links, uploads and stars (the
        blobs themselves stay for garbage collection). Returns the ids of the uploads that were
        in progress (their files are the caller's to remove), or None when there was no such
        repository."""
        async with self.engines.writer.begin() as conn:
            repo_id = await _repository_id(conn, name)
            if repo_id is None:
                return None
            pending = [
                r[0]
                for r in await conn.execute(select(uploads.c.id).where(uploads.c.repository_id == repo_id))
            ]
            # Every other table refers to the repository with ON DELETE CASCADE (and SQLite
            # runs with foreign_keys=ON), as account deletion relies on too.
            await conn.execute(delete(repositories).where(repositories.c.id == repo_id))
        return pending

    # -- tags -----------------------------------------------------------------------------

    async def tags(
        self,
        repository: str,
        *,
        name_contains: str | None,
        ordering: Ordering,
        limit: int,
        offset: int,
    ) -> tuple[int, list[TagRow]] | None:
        """A page of the repository's tags with their manifests, and how many match in all;
        None when the repository does not exist. `name_contains` is case-insensitive."""
        async with self.engines.reader.connect() as conn:
            repo_id = await _repository_id(conn, repository)
            if repo_id is None:
                return None
            conditions: list[ColumnElement[bool]] = [tags.c.repository_id == repo_id]
            if name_contains:
                conditions.append(func.lower(tags.c.name).contains(name_contains.lower(), autoescape=True))
            name = self._by_code_point(tags.c.name)
            order: list[Any] = {
                "last_updated": [tags.c.updated_at.desc(), name],
                "-last_updated": [tags.c.updated_at, name],
                "name": [name],
                "-name": [name.desc()],
            }[ordering]
            counting = select(func.count()).select_from(tags).where(*conditions)
            total = int((await conn.execute(counting)).scalar_one())
            if offset >= total:
                return total, []
            query = _tag_select().where(*conditions).order_by(*order).limit(limit).offset(offset)
            return total, [TagRow(*r) for r in await conn.execute(query)]

    async def tag(self, repository: str, name: str) -> TagRow | None:
        query = _tag_select().where(
            tags.c.repository_id
            == select(repositories.c.id).where(repositories.c.name == repository).scalar_subquery(),
            tags.c.name == name,
        )
        async with self.engines.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else TagRow(*row)

    async def manifests_by_digest(self, repository: str, digests: Sequence[str]) -> dict[str, ChildManifest]:
        """Manifests of the repository among `digests` (an index's children)."""
        wanted = sorted(set(digests))
        if not wanted:
            return {}
        query = (
            select(manifests.c.digest, manifests.c.media_type, manifests.c.content)
            .select_from(manifests.join(repositories, repositories.c.id == manifests.c.repository_id))
            .where(repositories.c.name == repository, manifests.c.digest.in_(wanted))
        )
        async with self.engines.reader.connect() as conn:
            return {r[0]: ChildManifest(r[0], r[1], r[2]) for r in await conn.execute(query)}


def _tag_select() -> Any:
    return select(
        tags.c.name,
        tags.c.updated_at,
        manifests.c.digest,
        manifests.c.media_type,
        manifests.c.size,
        manifests.c.content,
    ).select_from(tags.join(manifests, manifests.c.id == tags.c.manifest_id))


async def _repository_id(conn: AsyncConnection, name: str) -> int | None:
    row = (await conn.execute(select(repositories.c.id).where(repositories.c.name == name))).first()
    return None if row is None else int(row[0])
