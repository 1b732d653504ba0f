"""Migrations, on SQLite and (when it answers) PostgreSQL.

- The schema the migrations build equals the one `metadata/schema.py` declares (tables, columns,
  keys, indexes, triggers, functions, extensions): a schema change without a migration, or a
  migration that differs from schema.py, fails here.
- A database made before migrations (the 3cc3f4b schema, no `alembic_version`) keeps its data,
  gains today's table and indexes, and search and star counts still work; a hub starts on it.
- A database migrated by a newer cargobay is refused with a clear message, by `migrate`,
  `cargobay serve` and `cargobay admin`.
- Migrators running at once wait for each other.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from cargobay.metadata.catalogue import CatalogueStore
from cargobay.metadata.engine import Engines, MigrationError, create_engines, migrate
from cargobay.metadata.migrations import BASELINE, upgrade
from cargobay.metadata.migrations.runner import script_directory
from cargobay.metadata.schema import metadata
from cargobay.metadata.search_index import indexable
from support.servers import Hub, free_port, hub_env, probe

HEAD = script_directory().get_current_head()
M1 = "sha256:" + "a" * 64


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Factory: each call gives a new empty database of the parameter's kind."""
    if request.param == "postgresql":
        new_postgres_url: Callable[[], str] = request.getfixturevalue("new_postgres_url")
        return new_postgres_url
    count = iter(range(1000))
    return lambda: f"sqlite:///{tmp_path / f'hub{next(count)}.db'}"


# --------------------------------------------------------------------------- schema snapshots


def _norm(sql: str | None) -> str | None:
    return None if sql is None else re.sub(r"\s+", " ", sql).strip()


def _snapshot(conn: Connection) -> dict[str, Any]:
    """Everything a schema is made of, in comparable form (alembic_version left out)."""
    inspector = inspect(conn)
    shot: dict[str, Any] = {}
    if conn.dialect.name == "sqlite":
        rows = conn.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master")).all()
        tables = sorted(r.name for r in rows if r.type == "table" and r.name != "alembic_version")
        # Index and trigger DDL is kept as written; table DDL is compared column by column below.
        shot["objects"] = sorted(
            (r.type, r.name, r.tbl_name, _norm(r.sql))
            for r in rows
            if r.type in ("index", "trigger") and r.tbl_name != "alembic_version"
        )
        virtual = {r.name for r in rows if r.type == "table" and "VIRTUAL TABLE" in (r.sql or "").upper()}
        shot["virtual"] = sorted((r.name, _norm(r.sql)) for r in rows if r.name in virtual)
    else:
        tables = sorted(t for t in inspector.get_table_names() if t != "alembic_version")
        virtual = set()
        shot["indexes"] = sorted(
            conn.execute(
                text(
                    "SELECT tablename, indexname, indexdef FROM pg_indexes "
                    "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
                )
            ).all()
        )
        shot["triggers"] = sorted(
            conn.execute(
                text(
                    "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
                )
            ).all()
        )
        shot["functions"] = sorted(
            (name, _norm(source))
            for name, source in conn.execute(
                text(
                    "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                    "WHERE d.objid = p.oid AND d.deptype = 'e')"
                )
            ).all()
        )
        shot["extensions"] = sorted(conn.execute(text("SELECT extname FROM pg_extension")).scalars())
    shot["tables"] = tables
    for table in tables:
        if table in virtual:
            continue
        shot[f"{table}.columns"] = [
            (
                c["name"],
                str(c["type"]),
                c["nullable"],
                _norm(str(c["default"])) if c.get("default") is not None else None,
                _norm(str(c["computed"]["sqltext"])) if c.get("computed") else None,
            )
            for c in inspector.get_columns(table)
        ]
        shot[f"{table}.primary_key"] = inspector.get_pk_constraint(table)["constrained_columns"]
        shot[f"{table}.foreign_keys"] = sorted(
            (
                tuple(fk["constrained_columns"]),
                fk["referred_table"],
                tuple(fk["referred_columns"]),
                str(fk.get("options", {}).get("ondelete")),
            )
            for fk in inspector.get_foreign_keys(table)
        )
        shot[f"{table}.unique"] = sorted(
            (u["name"] if conn.dialect.name == "postgresql" else None, tuple(u["column_names"]))
            for u in inspector.get_unique_constraints(table)
        )
    return shot


async def _snapshot_of(engines: Engines) -> dict[str, Any]:
    async with engines.reader.connect() as conn:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa_exc.SAWarning)  # expression indexes, FTS5 tables
            return await conn.run_sync(_snapshot)


def _metadata_differences(conn: Connection) -> list[Any]:
    """alembic's autogenerate comparison with schema.py. Objects only the database has (the
    per-dialect search DDL, FTS5 tables) are left to the snapshot comparison."""

    def include(_obj: Any, _name: str | None, _type: str, reflected: bool, compare_to: Any) -> bool:
        return not (reflected and compare_to is None)

    context = MigrationContext.configure(conn, opts={"include_object": include})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa_exc.SAWarning)
        return list(compare_metadata(context, metadata))


async def _create_all(engines: Engines) -> None:
    async with engines.writer.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def _assert_schema_py(engines: Engines, fresh_url: str) -> None:
    """The database has the schema `create_all` gives a new database (at `fresh_url`)."""
    fresh = create_engines(fresh_url)
    try:
        await _create_all(fresh)
        assert await _snapshot_of(engines) == await _snapshot_of(fresh)
    finally:
        await fresh.dispose()


async def _revision(engines: Engines) -> str | None:
    async with engines.reader.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


# --------------------------------------------------------------------------- migrations = schema.py


async def test_migrations_build_exactly_the_schema_of_schema_py(new_url: Callable[[], str]) -> None:
    migrated, created = create_engines(new_url()), create_engines(new_url())
    try:
        await migrate(migrated)
        await _create_all(created)
        assert await _revision(migrated) == HEAD
        got, wanted = await _snapshot_of(migrated), await _snapshot_of(created)
        assert got.keys() == wanted.keys()
        for key in wanted:
            assert got[key] == wanted[key], f"migrations and schema.py differ in {key}"
        async with migrated.reader.connect() as conn:
            assert await conn.run_sync(_metadata_differences) == []
    finally:
        await migrated.dispose()
        await created.dispose()


async def test_migrating_twice_changes_nothing(new_url: Callable[[], str]) -> None:
    engines = create_engines(new_url())
    try:
        await migrate(engines)
        before = await _snapshot_of(engines)
        await migrate(engines)
        assert await _snapshot_of(engines) == before
        assert await _revision(engines) == HEAD
    finally:
        await engines.dispose()


# --------------------------------------------------------------------------- upgrading an old hub


async def _old_hub_database(url: str) -> None:
    """What a hub without migrations left: revision 0001's schema, no alembic_version, and data
    (an account, a repository with a manifest and a tag, a star)."""
    engines = create_engines(url)
    try:
        await upgrade(engines.writer, BASELINE)
        async with engines.writer.begin() as conn:
            await conn.execute(text("DROP TABLE alembic_version"))
            await conn.execute(
                text(
                    "INSERT INTO accounts (name, kind, email, password_hash, created_at) "
                    "VALUES ('alice', 'user', 'alice@example.com', 'x', 1.0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO repositories (name, created_at, description, last_pushed_at) "
                    "VALUES ('alice/tinyweb', 1.0, 'A tiny web server', 2.0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO manifests (repository_id, digest, media_type, size, content, created_at) "
                    "SELECT id, :digest, 'application/vnd.oci.image.manifest.v1+json', 2, :content, 2.0 "
                    "FROM repositories"
                ),
                {"digest": M1, "content": b"{}"},
            )
            await conn.execute(
                text(
                    "INSERT INTO tags (repository_id, name, manifest_id, updated_at) "
                    "SELECT repository_id, 'latest', id, 2.0 FROM manifests"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO stars (account_id, repository_id, starred_at) "
                    "SELECT accounts.id, repositories.id, 3.0 FROM accounts, repositories"
                )
            )
    finally:
        await engines.dispose()


async def _search(engines: Engines, words: str) -> list[str]:
    split = words.lower().split()
    assert all(indexable(w) for w in split)  # through the FTS5 / pg_trgm lookup
    page = await CatalogueStore(engines).search(" ".join(split), split, None, limit=10, offset=0)
    return [row.name for row in page.rows]


async def test_a_database_from_before_migrations_is_upgraded_with_its_data(
    new_url: Callable[[], str],
) -> None:
    url = new_url()
    await _old_hub_database(url)
    engines = create_engines(url)
    try:
        await migrate(engines)
        assert await _revision(engines) == HEAD
        async with engines.reader.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert "web_sessions" in names
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sa_exc.SAWarning)
                indexes = await conn.run_sync(
                    lambda c: {i["name"] for i in inspect(c).get_indexes("repositories")}
                )
            assert {
                "ix_repositories_pulls",
                "ix_repositories_updated",
                "ix_repositories_popularity",
            } <= indexes
            row = (await conn.execute(text("SELECT name, description, star_count FROM repositories"))).one()
            assert tuple(row) == ("alice/tinyweb", "A tiny web server", 1)
            content = (
                await conn.execute(text("SELECT content FROM manifests WHERE digest = :d"), {"d": M1})
            ).scalar()
            assert content == b"{}"
            assert (await conn.execute(text("SELECT name FROM tags"))).scalar() == "latest"
            assert (await conn.execute(text("SELECT name FROM accounts"))).scalar() == "alice"
        # The search index and star-count triggers made by revision 0001 still work.
        assert await _search(engines, "tiny") == ["alice/tinyweb"]
        async with engines.writer.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO repositories (name, created_at, description, last_pushed_at) "
                    "VALUES ('alice/other', 1.0, 'Another tiny thing', 5.0)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO web_sessions (id_hash, account_id, csrf_token, created_at, expires_at) "
                    "SELECT 'h', id, 'c', 1.0, 2.0 FROM accounts"
                )
            )
            await conn.execute(text("DELETE FROM stars"))
        assert sorted(await _search(engines, "tiny")) == ["alice/other", "alice/tinyweb"]
        async with engines.reader.connect() as conn:
            assert (await conn.execute(text("SELECT max(star_count) FROM repositories"))).scalar() == 0
        # And the result is the schema of schema.py, as for a new database.
        await _assert_schema_py(engines, new_url())
    finally:
        await engines.dispose()


async def test_a_pre_migrations_database_made_by_a_later_hub_is_upgraded(new_url: Callable[[], str]) -> None:
    """Hubs between 3cc3f4b and migrations created web_sessions (create_all makes new tables)
    but not the new indexes on existing tables."""
    url = new_url()
    await _old_hub_database(url)
    engines = create_engines(url)
    try:
        async with engines.writer.begin() as conn:
            await conn.run_sync(lambda c: metadata.tables["web_sessions"].create(c))  # and its index
        await migrate(engines)
        assert await _revision(engines) == HEAD
        await _assert_schema_py(engines, new_url())
    finally:
        await engines.dispose()


async def test_an_empty_alembic_version_is_taken_as_no_migrations_yet(new_url: Callable[[], str]) -> None:
    url = new_url()
    await _old_hub_database(url)
    engines = create_engines(url)
    try:
        async with engines.writer.begin() as conn:
            await conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        await migrate(engines)
        assert await _revision(engines) == HEAD
    finally:
        await engines.dispose()


async def test_a_database_with_only_some_old_tables_is_refused(new_url: Callable[[], str]) -> None:
    engines = create_engines(new_url())
    try:
        async with engines.writer.begin() as conn:
            await conn.execute(text("CREATE TABLE accounts (id INTEGER PRIMARY KEY)"))
        with pytest.raises(MigrationError, match="predates cargobay's migrations"):
            await migrate(engines)
    finally:
        await engines.dispose()


# --------------------------------------------------------------------------- concurrency


async def test_migrators_starting_at_once_take_turns(new_url: Callable[[], str]) -> None:
    url = new_url()
    await _old_hub_database(url)  # the racy case: stamp, then upgrade
    many = [create_engines(url) for _ in range(4)]
    try:
        await asyncio.gather(*(migrate(engines) for engines in many))
        assert await _revision(many[0]) == HEAD
        async with many[0].reader.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar() == 1
    finally:
        for engines in many:
            await engines.dispose()


# --------------------------------------------------------------------------- a newer database


async def _from_the_future(url: str) -> None:
    engines = create_engines(url)
    try:
        await migrate(engines)
        async with engines.writer.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engines.dispose()


FUTURE_ERROR = "the database was migrated by a newer cargobay (revision 9999); upgrade cargobay"


async def test_a_database_migrated_by_a_newer_cargobay_is_refused(new_url: Callable[[], str]) -> None:
    url = new_url()
    await _from_the_future(url)
    engines = create_engines(url)
    try:
        with pytest.raises(MigrationError) as raised:
            await migrate(engines)
        assert str(raised.value) == FUTURE_ERROR
        assert await _revision(engines) == "9999"  # untouched
    finally:
        await engines.dispose()


def _cargobay(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cargobay", *args, "--data-dir", str(data_dir)],
        env=hub_env(None, None),
        capture_output=True,
        text=True,
        timeout=60,
        input="S3cret-pass\n",
    )


async def test_serve_and_admin_refuse_a_newer_database_with_a_clear_error(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    await _from_the_future(f"sqlite:///{data / 'hub.db'}")
    serve = await asyncio.to_thread(_cargobay, ["serve", "--listen", f"127.0.0.1:{free_port()}"], data)
    assert serve.returncode == 1
    assert f"Error: {FUTURE_ERROR}" in serve.stderr
    assert "Traceback" not in serve.stderr + serve.stdout
    admin = await asyncio.to_thread(
        _cargobay,
        ["admin", "user", "create", "--username", "bobby", "--email", "b@example.com", "--password-stdin"],
        data,
    )
    assert admin.returncode == 1
    assert admin.stderr.strip() == f"Error: {FUTURE_ERROR}"


# --------------------------------------------------------------------------- a hub on an old database


async def test_a_hub_starts_on_a_database_from_before_migrations(
    tmp_path: Path, start_hub: Callable[..., Hub], new_url: Callable[[], str]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    url = new_url()
    if url.startswith("sqlite"):
        url = f"sqlite:///{data / 'hub.db'}"  # where `serve --data-dir` looks
    await _old_hub_database(url)
    hub = await asyncio.to_thread(
        start_hub, data_dir=data, database_url=None if url.startswith("sqlite") else url
    )
    catalog = await asyncio.to_thread(probe, f"{hub.base_url}/v2/_catalog")
    assert catalog is not None and catalog[0] == 200
    status, body = await asyncio.to_thread(_get, f"{hub.base_url}/v1/search?q=tiny")
    assert status == 200 and "alice/tinyweb" in body
    engines = create_engines(url)
    try:
        assert await _revision(engines) == HEAD
    finally:
        await engines.dispose()
    assert "Traceback" not in hub.log()
    assert f"migrating the database from revision {BASELINE} to {HEAD}" in hub.log()


def _get(url: str) -> tuple[int, str]:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return response.status, response.read().decode()
