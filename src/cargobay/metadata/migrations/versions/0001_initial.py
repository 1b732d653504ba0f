"""The schema of the last hubs without migrations (commit 3cc3f4b), written out in full.

A database with these tables and no `alembic_version` table is stamped with this revision
before it is migrated further (see `cargobay.metadata.migrations`). Frozen: never edit it; add a
revision instead. The search and star-count DDL is copied here as it was then (from
`metadata/search_index.py`), so later changes to that module do not change this revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None

_SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS repository_search USING fts5(doc, tokenize='trigram')",
    """CREATE TRIGGER IF NOT EXISTS repositories_search_insert AFTER INSERT ON repositories BEGIN
        INSERT INTO repository_search(rowid, doc) VALUES (new.id, new.name || ' ' || new.description);
    END""",
    """CREATE TRIGGER IF NOT EXISTS repositories_search_update
        AFTER UPDATE OF name, description ON repositories BEGIN
        UPDATE repository_search SET doc = new.name || ' ' || new.description WHERE rowid = new.id;
    END""",
    "CREATE INDEX IF NOT EXISTS ix_repositories_repo_part ON repositories "
    "(substr(name, instr(name, '/') + 1))",
    """CREATE TRIGGER IF NOT EXISTS repositories_search_delete AFTER DELETE ON repositories BEGIN
        DELETE FROM repository_search WHERE rowid = old.id;
    END""",
]
_SQLITE_STARS = [
    """CREATE TRIGGER IF NOT EXISTS stars_count_insert AFTER INSERT ON stars BEGIN
        UPDATE repositories SET star_count = star_count + 1 WHERE id = new.repository_id;
    END""",
    """CREATE TRIGGER IF NOT EXISTS stars_count_delete AFTER DELETE ON stars BEGIN
        UPDATE repositories SET star_count = star_count - 1 WHERE id = old.repository_id;
    END""",
]
# (Run as sa.DDL, as metadata.create_all ran them: `%%` is a literal `%`.)
_POSTGRES_SEARCH = [
    'CREATE INDEX IF NOT EXISTS ix_repositories_name_c ON repositories ((name COLLATE "C"))',
    "CREATE INDEX IF NOT EXISTS ix_repositories_repo_part ON repositories "
    "((substr(name, strpos(name, '/') + 1) COLLATE \"C\"))",
    """DO $$ BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'cargobay: pg_trgm unavailable (%%), search will scan', SQLERRM;
    END $$""",
    """DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            CREATE INDEX IF NOT EXISTS ix_repositories_search ON repositories
                USING gin (search_text gin_trgm_ops);
        END IF;
    END $$""",
]
_POSTGRES_STARS = [
    """CREATE OR REPLACE FUNCTION cargobay_count_stars() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            UPDATE repositories SET star_count = star_count + 1 WHERE id = NEW.repository_id;
        ELSE
            UPDATE repositories SET star_count = star_count - 1 WHERE id = OLD.repository_id;
        END IF;
        RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS stars_count ON stars",
    """CREATE TRIGGER stars_count AFTER INSERT OR DELETE ON stars
        FOR EACH ROW EXECUTE FUNCTION cargobay_count_stars()""",
]


def _run(sqlite: list[str], postgresql: list[str]) -> None:
    statements = sqlite if op.get_bind().dialect.name == "sqlite" else postgresql
    for statement in statements:
        op.execute(sa.DDL(statement))  # type: ignore[no-untyped-call]


def _fk(column: str, *, ondelete: str | None = "CASCADE") -> sa.ForeignKey:
    return sa.ForeignKey(column, ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("description", sa.String(100), nullable=False, server_default=""),
        sa.Column("full_description", sa.Text, nullable=False, server_default=""),
        sa.Column("pull_count", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("star_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_pushed_at", sa.Double, nullable=True),
        sa.Column("search_text", sa.Text, sa.Computed("lower(name || ' ' || description)", persisted=True)),
    )
    op.create_index(
        "ix_repositories_popularity",
        "repositories",
        [sa.text("star_count DESC"), sa.text("pull_count DESC"), "name"],
    )
    _run(_SQLITE_SEARCH, _POSTGRES_SEARCH)

    op.create_table(
        "blobs",
        sa.Column("digest", sa.String(140), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_table(
        "repository_blobs",
        sa.Column("repository_id", sa.Integer, _fk("repositories.id"), primary_key=True),
        sa.Column("digest", sa.String(140), _fk("blobs.digest", ondelete=None), primary_key=True),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_index("ix_repository_blobs_digest", "repository_blobs", ["digest"])

    op.create_table(
        "manifests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("repository_id", sa.Integer, _fk("repositories.id"), nullable=False),
        sa.Column("digest", sa.String(140), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("artifact_type", sa.String(255), nullable=True),
        sa.Column("subject_digest", sa.String(140), nullable=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.UniqueConstraint("repository_id", "digest", name="uq_manifests_repository_digest"),
    )
    op.create_index("ix_manifests_subject", "manifests", ["repository_id", "subject_digest"])

    op.create_table(
        "manifest_references",
        sa.Column("manifest_id", sa.Integer, _fk("manifests.id"), primary_key=True),
        sa.Column("digest", sa.String(140), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
    )
    op.create_index("ix_manifest_references_digest", "manifest_references", ["digest"])

    op.create_table(
        "tags",
        sa.Column("repository_id", sa.Integer, _fk("repositories.id"), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("manifest_id", sa.Integer, _fk("manifests.id"), nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_index("ix_tags_manifest", "tags", ["manifest_id"])

    op.create_table(
        "uploads",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("repository_id", sa.Integer, _fk("repositories.id"), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("email", sa.String(254), nullable=True, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("credentials_changed_at", sa.Double, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "retired_names",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("retired_at", sa.Double, nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("org_id", sa.Integer, _fk("accounts.id"), primary_key=True),
        sa.Column("user_id", sa.Integer, _fk("accounts.id"), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
    )
    op.create_index("ix_memberships_user", "memberships", ["user_id"])

    op.create_table(
        "access_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.Integer, _fk("accounts.id"), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("last_used_at", sa.Double, nullable=True),
        sa.Column("revoked_at", sa.Double, nullable=True),
    )
    op.create_index("ix_access_tokens_account", "access_tokens", ["account_id"])

    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("window_start", sa.Double, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )

    op.create_table(
        "stars",
        sa.Column("account_id", sa.Integer, _fk("accounts.id"), primary_key=True),
        sa.Column("repository_id", sa.Integer, _fk("repositories.id"), primary_key=True),
        sa.Column("starred_at", sa.Double, nullable=False),
    )
    op.create_index("ix_stars_repository", "stars", ["repository_id"])
    _run(_SQLITE_STARS, _POSTGRES_STARS)


def downgrade() -> None:
    raise NotImplementedError("revision 0001 is the first; there is nothing to go back to")
