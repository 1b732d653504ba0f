"""Fixtures of the hub API tests: an HTTP client on the session hub (see tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hubclient import Client

from support.servers import ServerProcess


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


def is_cargobay(hub: ServerProcess) -> bool:
    return getattr(hub, "data_dir", None) is not None
