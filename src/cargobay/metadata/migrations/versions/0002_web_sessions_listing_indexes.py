"""Web site log-ins (`web_sessions`) and the indexes for the most-pulled and recently-pushed
listings (`ix_repositories_pulls`, `ix_repositories_updated`).

Databases made before migrations by a hub newer than 3cc3f4b may have some of these already
(`metadata.create_all` created the table, never the indexes on an existing table): what exists
is left alone.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _index_names(table: str) -> set[str]:
    """From the catalogue (reflection would warn about the expression indexes it cannot read)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :table"
    return set(bind.execute(sa.text(query), {"table": table}).scalars())


def upgrade() -> None:
    repository_indexes = _index_names("repositories")
    if "ix_repositories_pulls" not in repository_indexes:
        op.create_index(
            "ix_repositories_pulls",
            "repositories",
            [sa.text("pull_count DESC"), sa.text("star_count DESC"), "name"],
        )
    if "ix_repositories_updated" not in repository_indexes:
        op.create_index("ix_repositories_updated", "repositories", [sa.text("last_pushed_at DESC"), "name"])
    if not sa.inspect(op.get_bind()).has_table("web_sessions"):
        op.create_table(
            "web_sessions",
            sa.Column("id_hash", sa.String(64), primary_key=True),
            sa.Column(
                "account_id",
                sa.Integer,
                sa.ForeignKey("accounts.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("csrf_token", sa.String(64), nullable=False),
            sa.Column("created_at", sa.Double, nullable=False),
            sa.Column("expires_at", sa.Double, nullable=False),
        )
    if "ix_web_sessions_account" not in _index_names("web_sessions"):
        op.create_index("ix_web_sessions_account", "web_sessions", ["account_id"])


def downgrade() -> None:
    op.drop_table("web_sessions")
    op.drop_index("ix_repositories_updated", table_name="repositories")
    op.drop_index("ix_repositories_pulls", table_name="repositories")
