"""Engines for SQLite and PostgreSQL. The dialect differences live here and in `dialect.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from cargobay.metadata.migrations import MigrationError, upgrade

__all__ = [
    "DatabaseUrlError",
    "Engines",
    "MigrationError",
    "create_engines",
    "create_schema",
    "migrate",
    "normalise_url",
]


class DatabaseUrlError(ValueError):
    pass


def normalise_url(url: str) -> str:
    """Accept plain `sqlite:///…` and `postgresql://…` and pick the async drivers."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise DatabaseUrlError(f"invalid database URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise DatabaseUrlError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://…")


@dataclass
class Engines:
    """`reader` for lock-free reads; `writer` for transactions (BEGIN IMMEDIATE on SQLite)."""

    reader: AsyncEngine
    writer: AsyncEngine
    dialect: str

    async def dispose(self) -> None:
        await self.reader.dispose()
        if self.writer is not self.reader:
            await self.writer.dispose()


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves; the driver's implicit transactions get in the way.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent writers wait (busy_timeout)
        # instead of failing on a lock upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def create_engines(url: str) -> Engines:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return Engines(
            reader=_sqlite_engine(url, immediate=False, pool_size=8),
            writer=_sqlite_engine(url, immediate=True, pool_size=2),
            dialect="sqlite",
        )
    engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=False)
    return Engines(reader=engine, writer=engine, dialect="postgresql")


async def migrate(engines: Engines) -> None:
    """Bring the database's schema up to date (see `metadata/migrations`): create it when empty,
    run the migrations it lacks, one migrator at a time. Raises MigrationError (a clear message)
    when the database was migrated by a newer cargobay."""
    await upgrade(engines.writer)


create_schema = migrate  # the name callers used before there were migrations
