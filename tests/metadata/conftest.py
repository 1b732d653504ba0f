"""The database every metadata contract test runs on: SQLite, then PostgreSQL when it answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hub.db'}"
    new_postgres_url: Callable[[], str] = request.getfixturevalue("new_postgres_url")
    return new_postgres_url()
