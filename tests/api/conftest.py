"""Fixtures of the hub API tests: one hub with token auth per test session (per xdist worker),
a JSON API client for it, and accounts with personal access tokens.

``CARGOBAY_TEST_HUB=postgres`` runs that hub on a fresh PostgreSQL database instead of SQLite
(as for the session hub of tests/conftest.py).

The account tests' client and helpers (tests/auth/apiclient.py, authhub.py) are shared."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "auth"))

from apiclient import Api

from support import postgres
from support.servers import Hub, start_hub

TOKEN_AUTH = {"CARGOBAY_AUTH": "token"}


@pytest.fixture(scope="session")
def api_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub with token auth (2 workers, SQLite), shared by the session's API tests: each test
    signs up accounts of its own, so their repositories never meet."""
    database: str | None = None
    if os.environ.get("CARGOBAY_TEST_HUB") == "postgres":
        why = postgres.available()
        if why is not None:
            pytest.skip(f"PostgreSQL does not answer on {postgres.HOST}:{postgres.PORT}: {why}")
        database = postgres.create_database()
    server = start_hub(tmp_path_factory.mktemp("api-hub"), workers=2, database_url=database, env=TOKEN_AUTH)
    yield server
    server.close()
    if database is not None:
        postgres.drop_database(database)


@pytest.fixture
def api(api_hub: Hub) -> Api:
    return Api(api_hub.url)
