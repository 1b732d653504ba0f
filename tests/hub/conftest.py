"""Fixtures of the hub API tests: HTTP clients of the session hub (see tests/conftest.py) and of
a PostgreSQL-backed hub, for tests parametrised over both metadata backends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubclient import Client

from support import postgres
from support.servers import Hub, ServerProcess, start_hub


@pytest.fixture
def client(hub_url: str) -> Client:
    """A client of the session hub (SQLite, 2 workers)."""
    return Client(hub_url)


@pytest.fixture
def hub_storage(hub: ServerProcess) -> Path:
    """``<data_dir>/storage`` of the session hub (skips against another registry)."""
    data_dir = getattr(hub, "data_dir", None)
    if data_dir is None or os.environ.get("CARGOBAY_TEST_HUB"):
        pytest.skip("inspects the cargobay hub's storage layout")
    return Path(data_dir) / "storage"


@pytest.fixture(scope="session")
def postgres_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub (2 workers) on a fresh PostgreSQL database, for this session; skipped without PostgreSQL."""
    why = postgres.available()
    if why is not None:
        pytest.skip(f"PostgreSQL does not answer on {postgres.HOST}:{postgres.PORT}: {why}")
    url = postgres.create_database()
    try:
        server = start_hub(tmp_path_factory.mktemp("hub-postgres"), workers=2, database_url=url)
        try:
            yield server
        finally:
            server.close()
    finally:
        postgres.drop_database(url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend_client(request: pytest.FixtureRequest) -> Client:
    """A client of the session hub (SQLite), then of the PostgreSQL hub."""
    if request.param == "sqlite":
        return Client(request.getfixturevalue("hub_url"))
    if os.environ.get("CARGOBAY_TEST_HUB"):
        pytest.skip("the PostgreSQL hub is a cargobay hub")
    hub: Hub = request.getfixturevalue("postgres_hub")
    return Client(hub.url)
