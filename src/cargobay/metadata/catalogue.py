"""The catalogue's queries: search, stars, descriptions, pull counts, repository information.

The dialect-specific pieces (FTS5 / pg_trgm, triggers, string functions) come from
`metadata/search_index.py`; everything here is portable SQLAlchemy Core.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, case, delete, false, func, literal, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, FromClause

from cargobay.metadata.engine import Engines
from cargobay.metadata.schema import repositories, stars
from cargobay.metadata.search_index import SearchDialect, indexable

OFFICIAL_PREFIX = "library/"
SMALL_MATCH_SET = 1000  # up to this many matches are ranked in one query
SMALL_BAND = 500  # a band of a larger ranking up to this size is sorted, beyond it walked
COUNT_CAP = 2500  # search totals, and so paging, stop here: 100 pages of 25 (counting costs)
_FLUSH_BATCH = 500  # repositories per UPDATE when adding pull counts
MAX_MIN_STARS = 2**31 - 1  # star_count is a 32-bit integer: a larger minimum matches nothing anyway

# "relevance": tiers of name match, official first, then popularity; the others ignore the tiers:
# "stars": stars, pulls, name; "pulls": pulls, stars, name; "updated": last push (newest first), name.
SearchSort = Literal["relevance", "stars", "pulls", "updated"]
SEARCH_SORTS: tuple[SearchSort, ...] = ("relevance", "stars", "pulls", "updated")


@dataclass(frozen=True, slots=True)
class SearchRow:
    name: str  # full repository name (`library/x` for official images)
    description: str
    star_count: int
    pull_count: int
    last_pushed_at: float  # unix time of the last push (search finds only pushed repositories)
    private: bool = False


@dataclass(frozen=True, slots=True)
class SearchPage:
    total: int  # every match the caller may see, not just this page
    rows: list[SearchRow]


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    name: str
    private: bool
    description: str
    full_description: str
    star_count: int
    pull_count: int
    created_at: float
    last_pushed_at: float | None


@dataclass(frozen=True, slots=True)
class StarredRow:
    name: str
    starred_at: float


@dataclass(frozen=True, slots=True)
class NewRepository:
    """A repository for bulk loading (benchmarks, imports): no content is created."""

    name: str
    description: str = ""
    full_description: str = ""
    private: bool = False
    pull_count: int = 0
    last_pushed_at: float | None = None


_SEARCH_COLUMNS = (
    repositories.c.name,
    repositories.c.description,
    repositories.c.star_count,
    repositories.c.pull_count,
    repositories.c.last_pushed_at,
    repositories.c.private,
)
_POPULARITY = (repositories.c.star_count.desc(), repositories.c.pull_count.desc(), repositories.c.name)
# The orders of the other sorts, each matching an index of `repositories` (metadata/schema.py).
_ORDERS: dict[str, tuple[Any, ...]] = {
    "stars": _POPULARITY,
    "pulls": (repositories.c.pull_count.desc(), repositories.c.star_count.desc(), repositories.c.name),
    "updated": (repositories.c.last_pushed_at.desc(), repositories.c.name),
}
_IS_OFFICIAL = func.substr(repositories.c.name, 1, len(OFFICIAL_PREFIX)) == OFFICIAL_PREFIX
_OFFICIAL_LAST = case((_IS_OFFICIAL, 0), else_=1)


@dataclass(frozen=True, slots=True)
class _Band:
    """Part of a ranking: `conditions` select it (index-friendly, for counting and sorting);
    `walk`, when set, are row-by-row conditions to read it in popularity order instead (only
    for bands without official images); `last`: read by walking, never counted."""

    conditions: list[Any]
    walk: list[Any] | None = None
    last: bool = False


REPOSITORY_COLUMNS = (
    repositories.c.name,
    repositories.c.private,
    repositories.c.description,
    repositories.c.full_description,
    repositories.c.star_count,
    repositories.c.pull_count,
    repositories.c.created_at,
    repositories.c.last_pushed_at,
)


def repository_row(row: Any) -> RepositoryRow:
    """A row of REPOSITORY_COLUMNS (raw drivers give SQLite booleans as integers)."""
    return RepositoryRow(
        name=row[0],
        private=bool(row[1]),
        description=row[2],
        full_description=row[3],
        star_count=int(row[4]),
        pull_count=int(row[5]),
        created_at=float(row[6]),
        last_pushed_at=None if row[7] is None else float(row[7]),
    )


def _search_row(row: Any) -> SearchRow:
    return SearchRow(row[0], row[1], int(row[2]), int(row[3]), float(row[4]), bool(row[5]))


def visible_to(namespaces: Sequence[str] | None) -> ColumnElement[bool]:
    """Public repositories, plus private ones in `namespaces` (None: every repository)."""
    if namespaces is None:
        return repositories.c.id.is_not(None)
    allowed: list[ColumnElement[bool]] = [repositories.c.private.is_(False)]
    allowed += [repositories.c.name.startswith(ns + "/", autoescape=True) for ns in namespaces]
    return or_(*allowed)


class CatalogueStore:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines
        self._search = SearchDialect(engines.dialect, repositories)
        self._insert = sqlite.insert if engines.dialect == "sqlite" else postgresql.insert

    # -- search ---------------------------------------------------------------------------

    async def search(
        self,
        query: str,
        words: Sequence[str],
        namespaces: Sequence[str] | None,
        *,
        limit: int,
        offset: int,
        official_only: bool = False,
        min_stars: int = 0,
        sort: SearchSort = "relevance",
    ) -> SearchPage:
        """Repositories (ever pushed, visible to `namespaces`) where every word occurs in the
        name or description; `query` is the words joined by single spaces, in lower case.
        `official_only` keeps official images (`library/NAME`, no further `/`), `min_stars`
        those with at least that many stars; no words: every such repository.

        "relevance" order: exact name (`library/` implied, or the part after the namespace) >
        name or that part starting with the query > the rest; within each, official images
        first, then stars, pulls and name. A query with no word holding 3 letters or digits in a
        row (which trigram indexes cannot look up) finds names or name parts starting with it.
        Other sorts: see SearchSort.

        Up to SMALL_MATCH_SET matches are ranked in one query. Beyond that the ranking is read
        band by band (exact; official prefix; prefix; official; the rest), each band either
        sorted (when small) or read by walking the popularity index (when large, so matches are
        dense and the walk stops soon), so no request sorts a large share of the catalogue.
        The other sorts sort the matches when fewer than COUNT_CAP, and otherwise walk their
        own index. Official images are few: they are always sorted. `total` stops counting at
        COUNT_CAP.
        """
        if sort not in SEARCH_SORTS:
            raise ValueError(f"unknown sort {sort!r}")
        words = list(words)
        base = [repositories.c.last_pushed_at.is_not(None), visible_to(namespaces)]
        if min_stars > 0:
            base.append(repositories.c.star_count >= min(min_stars, MAX_MIN_STARS))
        single = len(words) == 1
        async with self.engines.reader.connect() as conn:
            for statement in self._search.session_setup:
                await conn.exec_driver_sql(statement)
            if official_only:
                return await self._official(conn, query, words, base, sort, limit, offset)
            if sort != "relevance":
                order = _ORDERS[sort]
                selective = min_stars > 0
                return await self._in_order(
                    conn, query, words, base, order, limit, offset, selective=selective
                )
            if words and not any(indexable(w) for w in words):
                total = await self._count(conn, repositories, [*base, self._anchored(query)], COUNT_CAP)
                bands = self._anchored_bands(query, base)
            else:
                if words:
                    found = await self._probe(conn, words, base)
                    total = len(found)
                    if total <= SMALL_MATCH_SET:  # rank the few found, without the index again
                        chosen = [repositories.c.id.in_(found)] if found else [false()]
                        rows = await self._ranked(conn, query, repositories, chosen, limit, offset)
                        return SearchPage(total, rows)
                else:
                    total = await self._count(conn, repositories, base, COUNT_CAP)
                bands = self._anchored_bands(query, base) if single else []
                bands += self._word_bands(query, words, base, anchored=single)
            rows = [] if offset >= total else await self._read_bands(conn, bands, limit, offset)
        return SearchPage(total, rows)

    async def _probe(self, conn: AsyncConnection, words: list[str], base: list[Any]) -> list[int]:
        """Ids of up to COUNT_CAP repositories matching the words, found through the text index
        (at least one word must be `indexable`)."""
        source, match = self._search.indexed_match(words)
        probe = select(repositories.c.id).select_from(source).where(*base, *match)
        for statement in self._search.probe_setup:
            await conn.exec_driver_sql(statement)
        found = [r[0] for r in await conn.execute(probe.limit(COUNT_CAP))]
        for statement in self._search.probe_reset:
            await conn.exec_driver_sql(statement)
        return found

    def _rowwise(self, query: str, words: list[str]) -> list[ColumnElement[bool]]:
        """The words' match, tested on each row (no index)."""
        if not words:
            return []
        if not any(indexable(w) for w in words):
            return [self._anchored_rowwise(query)]
        return self._search.rowwise_match(words)

    def _official_only(self) -> ColumnElement[bool]:
        """`library/NAME` with no further `/` (an index range on the name, then a row check)."""
        return and_(self._official_range(), self._search.position(self._search.repo_part, "/") == 0)

    async def _official(
        self,
        conn: AsyncConnection,
        query: str,
        words: list[str],
        base: list[Any],
        sort: SearchSort,
        limit: int,
        offset: int,
    ) -> SearchPage:
        """Official images only: few (an index range on `library/`), so matched row by row and
        sorted."""
        conditions = [*base, self._official_only(), *self._rowwise(query, words)]
        total = await self._count(conn, repositories, conditions, COUNT_CAP)
        if offset >= total:
            return SearchPage(total, [])
        if sort == "relevance":
            rows = await self._ranked(conn, query, repositories, conditions, limit, offset)
        else:
            rows = await self._ordered(conn, conditions, _ORDERS[sort], limit, offset)
        return SearchPage(total, rows)

    async def _in_order(
        self,
        conn: AsyncConnection,
        query: str,
        words: list[str],
        base: list[Any],
        order: tuple[Any, ...],
        limit: int,
        offset: int,
        *,
        selective: bool,
    ) -> SearchPage:
        """Matches in `order` (stars, pulls or last push): sorted when fewer than COUNT_CAP
        (they are all known), otherwise read by walking the order's index (matches are then
        dense enough for the walk to fill a page soon). `selective`: `base` alone may leave few
        rows (a minimum of stars), so even without words they are looked up first rather than
        walked for."""
        if words and any(indexable(w) for w in words):
            found = await self._probe(conn, words, base)
        elif words or selective:
            conditions = [*base, self._anchored(query)] if words else base
            lookup = select(repositories.c.id).where(*conditions).limit(COUNT_CAP)
            found = [r[0] for r in await conn.execute(lookup)]
        else:  # the whole catalogue (as the caller may see it)
            total = await self._count(conn, repositories, base, COUNT_CAP)
            rows = [] if offset >= total else await self._ordered(conn, base, order, limit, offset)
            return SearchPage(total, rows)
        total = len(found)
        if offset >= total:
            return SearchPage(total, [])
        if total < COUNT_CAP:
            rows = await self._ordered(conn, [repositories.c.id.in_(found)], order, limit, offset)
        else:
            rows = await self._ordered(conn, [*base, *self._rowwise(query, words)], order, limit, offset)
        return SearchPage(total, rows)

    def _exact(self, query: str) -> ColumnElement[bool]:
        name = repositories.c.name
        return or_(name == query, name == OFFICIAL_PREFIX + query, self._search.repo_part == query)

    def _prefix_ranges(self, query: str) -> list[ColumnElement[bool]]:
        d, high = self._search, query + "\U0010ffff"
        return [
            and_(d.name_key >= query, d.name_key < high),
            and_(d.repo_part >= query, d.repo_part < high),
        ]

    def _anchored(self, query: str) -> ColumnElement[bool]:
        """Exact and prefix matches, as index ranges (name, and the part after the namespace)."""
        return or_(*self._prefix_ranges(query), repositories.c.name == OFFICIAL_PREFIX + query)

    def _anchored_rowwise(self, query: str) -> ColumnElement[bool]:
        position, name = self._search.position, repositories.c.name
        return or_(
            position(name, query) == 1,
            position(self._search.repo_part, query) == 1,
            name == OFFICIAL_PREFIX + query,
        )

    def _official_range(self) -> ColumnElement[bool]:
        key = self._search.name_key
        return and_(key >= OFFICIAL_PREFIX, key < OFFICIAL_PREFIX[:-1] + chr(ord("/") + 1))

    def _anchored_bands(self, query: str, base: list[Any]) -> list[_Band]:
        """Exact matches; official prefix matches; other prefix matches."""
        high = OFFICIAL_PREFIX + query + "\U0010ffff"
        key = self._search.name_key
        official_prefix = or_(
            and_(key >= OFFICIAL_PREFIX + query, key < high),
            and_(*self._prefix_ranges(query)[:1], self._official_range()),
        )
        not_exact = not_(self._exact(query))
        prefix = [*base, not_exact, not_(_IS_OFFICIAL)]
        return [
            _Band([*base, self._exact(query)]),
            _Band([*base, official_prefix, not_exact]),
            _Band([*prefix, self._anchored(query)], walk=[*prefix, self._anchored_rowwise(query)]),
        ]

    def _word_bands(self, query: str, words: list[str], base: list[Any], *, anchored: bool) -> list[_Band]:
        """Official images, then the rest (a walk), leaving out the anchored matches."""
        rest = [*base, *self._search.rowwise_match(words)]
        if anchored:
            rest.append(not_(self._anchored_rowwise(query)))
        walk = [*rest, not_(_IS_OFFICIAL)]
        return [_Band([*rest, self._official_range()]), _Band(walk, walk=walk, last=True)]

    async def _read_bands(
        self, conn: AsyncConnection, bands: list[_Band], limit: int, offset: int
    ) -> list[SearchRow]:
        rows: list[SearchRow] = []
        for band in bands:
            need = limit - len(rows)
            if need <= 0:
                break
            if band.last:
                return rows + await self._popular(conn, band.walk or band.conditions, need, offset)
            if band.walk is None and offset == 0:  # sorted anyway: no need to count it first
                rows += await self._sorted(conn, band.conditions, need, 0)
                continue
            # Enough to tell whether the band reaches this page and whether it is small.
            size = await self._count(conn, repositories, band.conditions, max(offset + need, SMALL_BAND) + 1)
            if size <= offset:
                offset -= size
                continue
            if band.walk is not None and size > SMALL_BAND:
                rows += await self._popular(conn, band.walk, need, offset)
            else:
                rows += await self._sorted(conn, band.conditions, need, offset)
            offset = 0
        return rows

    async def _count(self, conn: AsyncConnection, source: FromClause, conditions: list[Any], cap: int) -> int:
        capped = select(literal(1)).select_from(source).where(*conditions).limit(cap).subquery()
        return int((await conn.execute(select(func.count()).select_from(capped))).scalar_one())

    async def _ranked(
        self,
        conn: AsyncConnection,
        query: str,
        source: FromClause,
        conditions: list[Any],
        limit: int,
        offset: int,
    ) -> list[SearchRow]:
        name, position = repositories.c.name, self._search.position
        tier = case(
            (self._exact(query), 0),
            (or_(position(name, query) == 1, position(self._search.repo_part, query) == 1), 1),
            else_=2,
        )
        statement = (
            select(*_SEARCH_COLUMNS)
            .select_from(source)
            .where(*conditions)
            .order_by(tier, _OFFICIAL_LAST, *_POPULARITY)
            .limit(limit)
            .offset(offset)
        )
        return [_search_row(r) for r in await conn.execute(statement)]

    async def _sorted(
        self, conn: AsyncConnection, conditions: list[Any], limit: int, offset: int
    ) -> list[SearchRow]:
        statement = (
            select(*_SEARCH_COLUMNS)
            .where(*conditions)
            .order_by(_OFFICIAL_LAST, *_POPULARITY)
            .limit(limit)
            .offset(offset)
        )
        return [_search_row(r) for r in await conn.execute(statement)]

    async def _popular(
        self, conn: AsyncConnection, conditions: list[Any], limit: int, offset: int
    ) -> list[SearchRow]:
        """In popularity order, row by row along its index (conditions must not offer another)."""
        return await self._ordered(conn, conditions, _POPULARITY, limit, offset)

    async def _ordered(
        self, conn: AsyncConnection, conditions: list[Any], order: tuple[Any, ...], limit: int, offset: int
    ) -> list[SearchRow]:
        statement = select(*_SEARCH_COLUMNS).where(*conditions).order_by(*order).limit(limit).offset(offset)
        return [_search_row(r) for r in await conn.execute(statement)]

    # -- pulls ----------------------------------------------------------------------------

    async def add_pulls(self, counts: Mapping[str, int]) -> None:
        """Add pulls per repository name, in one transaction (one UPDATE per 500 names)."""
        items = [(name, n) for name, n in counts.items() if n > 0]
        if not items:
            return
        async with self.engines.writer.begin() as conn:
            for start in range(0, len(items), _FLUSH_BATCH):
                batch = dict(items[start : start + _FLUSH_BATCH])
                increment = case(batch, value=repositories.c.name, else_=0)
                await conn.execute(
                    update(repositories)
                    .where(repositories.c.name.in_(list(batch)))
                    .values(pull_count=repositories.c.pull_count + increment)
                )

    # -- repository information -----------------------------------------------------------

    async def repository(self, name: str) -> RepositoryRow | None:
        async with self.engines.reader.connect() as conn:
            row = (await conn.execute(select(*REPOSITORY_COLUMNS).where(repositories.c.name == name))).first()
        return None if row is None else repository_row(row)

    async def set_descriptions(
        self, name: str, description: str | None, full_description: str | None
    ) -> bool:
        """Change the short and/or full description; False when the repository does not exist."""
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = description
        if full_description is not None:
            values["full_description"] = full_description
        async with self.engines.writer.begin() as conn:
            if not values:
                return (
                    await conn.execute(select(repositories.c.id).where(repositories.c.name == name))
                ).first() is not None
            result = await conn.execute(
                update(repositories).where(repositories.c.name == name).values(**values)
            )
            return bool(result.rowcount)

    # -- stars ----------------------------------------------------------------------------

    async def star(self, account_id: int, name: str) -> bool | None:
        """Star the repository: True if newly starred, False if it already was, None if missing."""
        async with self.engines.writer.begin() as conn:
            repo_id = (
                await conn.execute(select(repositories.c.id).where(repositories.c.name == name))
            ).scalar()
            if repo_id is None:
                return None
            result = await conn.execute(
                self._insert(stars)
                .values(account_id=account_id, repository_id=repo_id, starred_at=time.time())
                .on_conflict_do_nothing(index_elements=["account_id", "repository_id"])
            )
            return bool(result.rowcount)

    async def unstar(self, account_id: int, name: str) -> bool:
        """Remove a star; False when there was none (or no such repository)."""
        repo_id = select(repositories.c.id).where(repositories.c.name == name).scalar_subquery()
        async with self.engines.writer.begin() as conn:
            result = await conn.execute(
                delete(stars).where(stars.c.account_id == account_id, stars.c.repository_id == repo_id)
            )
            return bool(result.rowcount)

    async def has_starred(self, account_id: int, name: str) -> bool:
        query = (
            select(stars.c.starred_at)
            .select_from(stars.join(repositories, repositories.c.id == stars.c.repository_id))
            .where(stars.c.account_id == account_id, repositories.c.name == name)
        )
        async with self.engines.reader.connect() as conn:
            return (await conn.execute(query)).first() is not None

    async def starred(
        self, account_id: int, namespaces: Sequence[str] | None, *, limit: int, offset: int
    ) -> tuple[int, list[StarredRow]]:
        """Repositories the account starred that `namespaces` may see, newest star first, and
        how many there are in all."""
        base = (
            select(repositories.c.name, stars.c.starred_at, func.count().over())
            .select_from(stars.join(repositories, repositories.c.id == stars.c.repository_id))
            .where(stars.c.account_id == account_id, visible_to(namespaces))
        )
        query = base.order_by(stars.c.starred_at.desc(), repositories.c.name).limit(limit).offset(offset)
        async with self.engines.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
            if rows:
                total = int(rows[0][2])
            else:
                counting = select(func.count()).select_from(base.subquery())
                total = int((await conn.execute(counting)).scalar_one())
        return total, [StarredRow(r[0], float(r[1])) for r in rows]

    # -- bulk loading ---------------------------------------------------------------------

    async def add_repositories(self, entries: Sequence[NewRepository], batch: int = 5000) -> None:
        """Insert many repositories at once (existing names are left alone)."""
        now = time.time()
        for start in range(0, len(entries), batch):
            rows = [
                {
                    "name": e.name,
                    "created_at": now,
                    "private": e.private,
                    "description": e.description,
                    "full_description": e.full_description,
                    "pull_count": e.pull_count,
                    "last_pushed_at": e.last_pushed_at,
                }
                for e in entries[start : start + batch]
            ]
            async with self.engines.writer.begin() as conn:
                await conn.execute(
                    self._insert(repositories).on_conflict_do_nothing(index_elements=["name"]), rows
                )

    async def add_stars(self, account_id: int, names: Sequence[str]) -> None:
        """Star many repositories for one account in one statement (bulk loading)."""
        chosen = select(literal(account_id), repositories.c.id, literal(time.time())).where(
            repositories.c.name.in_(list(names))
        )
        async with self.engines.writer.begin() as conn:
            await conn.execute(
                self._insert(stars)
                .from_select(["account_id", "repository_id", "starred_at"], chosen)
                .on_conflict_do_nothing(index_elements=["account_id", "repository_id"])
            )

    async def analyze(self) -> None:
        """Refresh the query planner's statistics, e.g. after a bulk load (PostgreSQL's
        autovacuum does this by itself in time; SQLite only when asked)."""
        async with self.engines.writer.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
            await conn.commit()
