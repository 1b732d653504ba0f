"""The database's schema history, as Alembic migrations in `versions/`, and the one function that
brings a database up to date: `upgrade`.

- an empty database is migrated from nothing to the newest revision;
- a database with an `alembic_version` table is migrated from the revision it records;
- a database made before cargobay had migrations (our tables, no `alembic_version`: every hub
  up to commit 3cc3f4b built its tables with `metadata.create_all`) is stamped with revision
  0001, the schema as of then, and migrated from there;
- a database at a revision this code does not know was migrated by a newer cargobay: refused.

Only one migrator at a time works on a database: all of the above runs in one transaction that
first takes a lock (PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE,
the write lock, which the writer engine takes at every BEGIN). A second hub or `cargobay admin`
starting meanwhile waits, then finds the database up to date. Both databases run DDL inside
transactions, so a failed migration leaves the database as it was.

Alembic is configured in code (`runner.py`, imported only when migrating: no alembic.ini);
`env.py` only runs the migrations on the connection passed in. There is no `alembic revision`: write `versions/000N_name.py` by hand
(see docs/operations.md); tests/metadata/test_migrations.py fails when the migrations and
`metadata/schema.py` disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

HEAD = "head"
# The schema of the last hubs without migrations (commit 3cc3f4b): what a database that has our
# tables but no alembic_version is taken to be at.
BASELINE = "0001"
BASELINE_TABLES = frozenset(
    {
        "repositories",
        "blobs",
        "repository_blobs",
        "manifests",
        "manifest_references",
        "tags",
        "uploads",
        "accounts",
        "retired_names",
        "memberships",
        "access_tokens",
        "login_failures",
        "stars",
    }
)


class MigrationError(Exception):
    """The database cannot be brought up to date by this code; the message says why."""


async def upgrade(engine: AsyncEngine, target: str = HEAD) -> None:
    """Bring the database up to `target` (normally the newest revision), safely against other
    migrators. `engine` must begin transactions that lock the database on SQLite (the writer
    engine, BEGIN IMMEDIATE). Raises MigrationError when the database is newer than this code."""
    from cargobay.metadata.migrations.runner import upgrade as run

    await run(engine, target)
