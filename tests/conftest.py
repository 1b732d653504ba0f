"""Shared fixtures: real servers on loopback, real tools, images built on disk.

All session fixtures are per pytest-xdist worker (each worker has its own tmp dirs, ports,
servers and PostgreSQL database), so the suite can run with ``-n 2``.

Fixtures:
  hub / hub_url           a running ``cargobay serve`` (SQLite, 2 workers) for the session
  start_hub(**options)    start another hub for one test (see support.servers.start_hub)
  distribution(_url)      a running CNCF distribution registry (docker-registry)
  postgres_url            a PostgreSQL database for the session (dropped at the end)
  new_postgres_url()      a fresh PostgreSQL database for one test
  make_oci_image(dir, layers=, layer_size=, media=, platforms=, tag=)  an OCI layout on disk
  skopeo, podman, make_podman   the tools, isolated from the user's config
  repo_name               a repository name unique to the test

``CARGOBAY_TEST_HUB=postgres`` runs the session hub on a fresh PostgreSQL database instead of
SQLite; ``CARGOBAY_TEST_HUB=distribution`` puts the distribution registry in its place (to check
a test itself, never in CI).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from cargobay.distclient.config import PROXY_VARIABLES
from support import postgres
from support.images import OciImage, build_oci_image
from support.servers import RUNNING, Distribution, Hub, ServerProcess, start_distribution
from support.servers import start_hub as _start_hub
from support.tools import Podman, Skopeo, require_binary

# The tests talk to servers on loopback and to made-up host names; a proxy set for the machine
# (HTTP_PROXY etc., which the client honours) must not reroute them. Proxy tests set their own.
for _proxy_variable in (*PROXY_VARIABLES, "NO_PROXY", "no_proxy"):
    os.environ.pop(_proxy_variable, None)


# --------------------------------------------------------------------------- failure reports


# A failed test's report gets a section per running server with what it logged during the test.
_LOG_OFFSETS = pytest.StashKey[dict[int, int]]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, None]:
    item.stash[_LOG_OFFSETS] = {id(server): server.log_size() for server in RUNNING}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    offsets = item.stash.get(_LOG_OFFSETS, {})
    for server in RUNNING:
        text = server.log_since(offsets.get(id(server), 0))
        if text.strip():
            report.sections.append((f"{server.name} log ({server.url}, {server.log_path})", text))


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The session's hub: ``cargobay serve`` with SQLite in a temp data dir and 2 workers."""
    base = tmp_path_factory.mktemp("hub")
    server: ServerProcess
    database: str | None = None
    kind = os.environ.get("CARGOBAY_TEST_HUB", "")
    if kind == "distribution":
        server = start_distribution(require_binary("docker-registry"), base)
    else:
        if kind == "postgres":
            _require_postgres()
            database = postgres.create_database()
        elif kind:
            raise pytest.UsageError(
                f"CARGOBAY_TEST_HUB must be empty, 'postgres' or 'distribution', not {kind!r}"
            )
        # access log on: a failing test's report shows the requests the hub saw (see above)
        server = _start_hub(base, workers=2, database_url=database, env={"CARGOBAY_ACCESS_LOG": "true"})
    yield server
    server.close()
    if database is not None:
        postgres.drop_database(database)


@pytest.fixture(scope="session")
def hub_url(hub: ServerProcess) -> str:
    """``127.0.0.1:PORT`` of the session's hub."""
    return hub.url


@pytest.fixture
def start_hub(tmp_path: Path) -> Iterator[Callable[..., Hub]]:
    """Factory: ``start_hub(**options)`` starts a hub of the test's own; all are stopped afterwards.

    Options (see support.servers.start_hub): workers, data_dir, database_url, config (path or
    mapping written as YAML), env, args, port, ready_timeout.  The handle has url, base_url,
    data_dir, process, log(), stop(), kill() and restart().
    """
    started: list[Hub] = []

    def start(**options: Any) -> Hub:
        handle = _start_hub(tmp_path / f"hub{len(started)}", **options)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.close()


@pytest.fixture(scope="session")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distribution]:
    """A CNCF distribution registry (filesystem storage in tmp, deletes enabled)."""
    binary = require_binary("docker-registry")
    server = start_distribution(binary, tmp_path_factory.mktemp("distribution"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def distribution_url(distribution: Distribution) -> str:
    """``127.0.0.1:PORT`` of the distribution registry."""
    return distribution.url


# --------------------------------------------------------------------------- PostgreSQL


def _require_postgres() -> None:
    why = postgres.available()
    if why is not None:
        pytest.skip(f"PostgreSQL does not answer on {postgres.HOST}:{postgres.PORT}: {why}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database for this session (per xdist worker), dropped at the end."""
    _require_postgres()
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture
def new_postgres_url() -> Iterator[Callable[[], str]]:
    """Factory: each call creates a fresh database, dropped after the test."""
    _require_postgres()
    created: list[str] = []

    def create() -> str:
        url = postgres.create_database()
        created.append(url)
        return url

    yield create
    for url in created:
        postgres.drop_database(url)


# --------------------------------------------------------------------------- images and tools


@pytest.fixture(scope="session")
def make_oci_image() -> Callable[..., OciImage]:
    """``make_oci_image(path, layers=2, layer_size=1024, media="oci"|"docker", platforms=None, tag="latest")``.

    Writes an OCI image layout in a new directory under ``path`` and returns an :class:`support.images.OciImage`
    (path, tag, ref "oci:path:tag", digest and raw bytes of the top manifest, per-platform
    manifests with config and layer digests, and all blob bytes).
    """

    def make(path: Path, **options: Any) -> OciImage:
        # a new directory each call, so one tmp_path can hold several images
        return build_oci_image(Path(path) / f"oci-layout-{uuid.uuid4().hex[:8]}", **options)

    return make


@pytest.fixture(scope="session")
def skopeo(tmp_path_factory: pytest.TempPathFactory) -> Skopeo:
    """skopeo with a private home and empty auth file: ``skopeo("copy", ...)`` → CompletedProcess."""
    return Skopeo(tmp_path_factory.mktemp("skopeo-home"))


@pytest.fixture
def make_podman(tmp_path: Path) -> Iterator[Callable[[], Podman]]:
    """Factory: each call returns podman with new, empty private storage."""
    made: list[Podman] = []

    def make() -> Podman:
        podman = Podman(tmp_path / f"podman{len(made) + 1}")
        made.append(podman)
        return podman

    yield make
    for podman in made:
        podman.close()


@pytest.fixture
def podman(make_podman: Callable[[], Podman]) -> Podman:
    """podman (root, vfs) with private storage for this test: ``podman("pull", ...)``."""
    return make_podman()


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test, e.g. ``tests/test-copy-image-1a2b3c``."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:60].strip("-")
    return f"tests/{base}-{uuid.uuid4().hex[:6]}"
