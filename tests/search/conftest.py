"""Fixtures of the search tests: a hub with token auth per test session, on SQLite and on
PostgreSQL. Tests share it, so each one uses names and words of its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from searchhub import STARGAZERS, add_users

from support import postgres
from support.servers import Hub, start_hub

TOKEN_AUTH = {"CARGOBAY_AUTH": "token"}


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def search_hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub (2 workers, token auth) on SQLite, then on a fresh PostgreSQL database; users
    STARGAZERS exist."""
    database_url = None
    if request.param == "postgresql":
        why = postgres.available()
        if why is not None:
            pytest.skip(f"PostgreSQL does not answer on {postgres.HOST}:{postgres.PORT}: {why}")
        database_url = postgres.create_database()
    server = start_hub(
        tmp_path_factory.mktemp(f"search-{request.param}"),
        workers=2,
        database_url=database_url,
        env=TOKEN_AUTH,
    )
    try:
        add_users(server, *STARGAZERS)
        yield server
    finally:
        server.close()
        if database_url is not None:
            postgres.drop_database(database_url)
