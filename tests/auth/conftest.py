"""Fixtures of the account tests: a hub with token auth (accounts, /token, private repositories)
shared by a test module, a JSON API client for it, and a small image to push."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from apiclient import Api

from support.images import OciImage
from support.servers import Hub, start_hub

TOKEN_AUTH = {"CARGOBAY_AUTH": "token"}


@pytest.fixture(scope="module")
def token_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub with token auth (2 workers, SQLite) for the test module."""
    server = start_hub(tmp_path_factory.mktemp("token-hub"), workers=2, env=TOKEN_AUTH)
    yield server
    server.close()


@pytest.fixture
def api(token_hub: Hub) -> Api:
    return Api(token_hub.url)


@pytest.fixture(scope="module")
def small_image(
    tmp_path_factory: pytest.TempPathFactory, make_oci_image: Callable[..., OciImage]
) -> OciImage:
    """A one-layer OCI image on disk (``oci:PATH:latest``)."""
    path: Path = tmp_path_factory.mktemp("image")
    return make_oci_image(path, layers=1, layer_size=512)
