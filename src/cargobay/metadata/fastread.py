"""A lean read path for the hottest queries (manifest and blob lookups, tag lists).

The statements are still SQLAlchemy Core, compiled once per dialect; only their execution
skips the async engine. SQLite reads run inline on the event loop over one WAL connection per
process (an indexed lookup costs microseconds, less than a thread hand-off); PostgreSQL reads
go through an asyncpg pool, which keeps prepared statements per connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Select


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    sql: str
    params: tuple[str, ...]
    defaults: Mapping[str, Any]

    def args(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] if name in values else self.defaults[name] for name in self.params)


def compile_query(statement: Select[Any], dialect: str) -> CompiledQuery:
    if dialect == "sqlite":
        compiled = statement.compile(dialect=sqlite.dialect(paramstyle="qmark"))
    else:
        compiled = statement.compile(dialect=postgresql.asyncpg.dialect())  # type: ignore[no-untyped-call]
    # Literal values SQLAlchemy bound itself (e.g. a default OFFSET 0) come along as defaults.
    return CompiledQuery(str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))


class FastReader(Protocol):
    async def fetchone(self, query: CompiledQuery, values: Mapping[str, Any]) -> Sequence[Any] | None: ...

    async def fetchall(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[Sequence[Any]]: ...

    async def close(self) -> None: ...


class SqliteFastReader:
    def __init__(self, url: str) -> None:
        database = make_url(url).database
        if not database:
            raise ValueError("SQLite URL without a database path")
        self._path = database
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        # Opened lazily, so each forked worker gets its own connection.
        if self._conn is None:
            conn = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, cached_statements=256
            )
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA query_only=ON")
            self._conn = conn
        return self._conn

    async def fetchone(self, query: CompiledQuery, values: Mapping[str, Any]) -> Sequence[Any] | None:
        row: Sequence[Any] | None = self._connection().execute(query.sql, query.args(values)).fetchone()
        return row

    async def fetchall(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[Sequence[Any]]:
        return self._connection().execute(query.sql, query.args(values)).fetchall()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PostgresFastReader:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def _get_pool(self) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    import asyncpg

                    self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=10)
        return self._pool

    async def fetchone(self, query: CompiledQuery, values: Mapping[str, Any]) -> Sequence[Any] | None:
        pool = await self._get_pool()
        row: Sequence[Any] | None = await pool.fetchrow(query.sql, *query.args(values))
        return row

    async def fetchall(self, query: CompiledQuery, values: Mapping[str, Any]) -> list[Sequence[Any]]:
        pool = await self._get_pool()
        return list(await pool.fetch(query.sql, *query.args(values)))

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def create_fast_reader(url: str, dialect: str) -> FastReader:
    return SqliteFastReader(url) if dialect == "sqlite" else PostgresFastReader(url)
