"""Alembic's environment script: migrations run on the connection `cargobay.metadata.migrations`
passes in (`config.attributes["connection"]`, a sync view of the async engine's connection, in
a transaction that connection's caller holds, with the migration lock taken)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes["connection"]
if not isinstance(connection, Connection):  # pragma: no cover - only ever run by migrations/__init__.py
    raise RuntimeError("cargobay's migrations run through cargobay.metadata.migrations, not the alembic CLI")
context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
