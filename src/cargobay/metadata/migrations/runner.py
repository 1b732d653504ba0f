"""Runs the migrations in `versions/` (see the package's docstring); imported only when a
database is migrated, since Alembic takes ~0.1-0.2 s to import."""

from __future__ import annotations

import logging
from pathlib import Path

from cargobay.metadata.migrations.quiet import quiet_alembic

quiet_alembic()  # before Alembic is imported: its plugins log at import time

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy import inspect, text  # noqa: E402
from sqlalchemy.engine import Connection  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from cargobay.metadata.migrations import BASELINE, BASELINE_TABLES, HEAD, MigrationError  # noqa: E402

log = logging.getLogger("cargobay.metadata.migrations")

# pg_advisory_xact_lock's key for "migrating this database" (advisory locks are per database).
_POSTGRES_LOCK_KEY = 0x63617267_6F626179  # "cargobay"
_DIRECTORY = Path(__file__).resolve().parent  # holds env.py and versions/


def _config(connection: Connection | None) -> Config:
    config = Config(attributes={"connection": connection})
    config.set_main_option("script_location", str(_DIRECTORY))
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config(None))


def _upgrade_sync(connection: Connection, target: str) -> None:
    """In the caller's transaction: lock, work out where the database is, migrate to `target`."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY})
    # (SQLite: the transaction began with BEGIN IMMEDIATE, so it holds the write lock already.)
    config = _config(connection)
    script = ScriptDirectory.from_config(config)
    tables = set(inspect(connection).get_table_names())
    current: tuple[str, ...] = ()
    if "alembic_version" in tables:
        current = MigrationContext.configure(connection).get_current_heads()
    if current:
        known = {revision.revision for revision in script.walk_revisions()}
        unknown = [revision for revision in current if revision not in known]
        if unknown:
            raise MigrationError(
                f"the database was migrated by a newer cargobay (revision {', '.join(unknown)}); "
                "upgrade cargobay"
            )
    elif tables & BASELINE_TABLES:  # (an empty alembic_version: a stamp that never committed)
        missing = sorted(BASELINE_TABLES - tables)
        if missing:
            raise MigrationError(
                "the database predates cargobay's migrations and is missing tables of its schema "
                f"({', '.join(missing)}); it cannot be upgraded automatically"
            )
        log.info("database made before migrations: taking it as revision %s", BASELINE)
        command.stamp(config, BASELINE)
        current = (BASELINE,)
    wanted = script.get_revisions(target)
    if set(current) == {revision.revision for revision in wanted if revision is not None}:
        return
    log.info(
        "migrating the database from revision %s to %s",
        ", ".join(current) or "(empty)",
        ", ".join(revision.revision for revision in wanted if revision is not None),
    )
    command.upgrade(config, target)


async def upgrade(engine: AsyncEngine, target: str = HEAD) -> None:
    """Bring the database up to `target` (normally the newest revision), safely against other
    migrators. `engine` must begin transactions that lock the database on SQLite (the writer
    engine, BEGIN IMMEDIATE). Raises MigrationError when the database is newer than this code."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_sync, target)
