"""The home page's listings are kept per worker for a short while (`HomeListings`): they are only
ever what an anonymous visitor may see, a change shows no later than the TTL, and views within
the TTL run the catalogue queries once.

The page runs in this process (`HomePage` with the listings it is given, and the log-in pages)
over the services of a real hub (`build_hub` on the database of a `cargobay serve` started for
this module), so the test chooses the TTL and counts the queries that reach `SearchService`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from cargobay.config import load_settings
from cargobay.metadata.catalogue import NewRepository
from cargobay.registry.search import SearchResults, SearchService
from cargobay.server.app import Hub as HubServices
from cargobay.server.app import build_hub
from cargobay.server.web import build_site
from cargobay.server.web.home import HomeListings, HomePage
from cargobay.server.web.login import LoginPages
from support.browser import WebUser, sign_up_async
from support.http import request
from support.hubdata import load_repositories
from support.pushing import basic_auth
from support.servers import Hub, start_hub
from support.webforms import WebVisitor

FUTURE = time.time() + 10 * 365 * 86400  # pushed "later" than anything else: first in "Recently updated"


class CountingSearch:
    """The hub's own SearchService, counting the queries that reach it."""

    def __init__(self, search: SearchService) -> None:
        self.inner = search
        self.calls = 0

    async def search(self, *args: Any, **options: Any) -> SearchResults:
        self.calls += 1
        return await self.inner.search(*args, **options)


@pytest.fixture(scope="module")
def home_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    env = {"CARGOBAY_AUTH": "token", "CARGOBAY_OPEN_REGISTRATION": "true"}
    server = start_hub(tmp_path_factory.mktemp("home-cache-hub"), workers=1, env=env)
    yield server
    server.close()


@pytest.fixture
async def services(home_hub: Hub) -> AsyncIterator[HubServices]:
    settings = load_settings(
        None,
        {"data_dir": home_hub.data_dir, "database_url": home_hub.database_url, "auth": "token"},
        environ={},
    )
    hub = build_hub(settings)
    yield hub
    await hub.close()


class HomeSite:
    """The home page (and log-in) served in this process with the given listings."""

    def __init__(self, services: HubServices, listings: HomeListings) -> None:
        self.app = web.Application()
        site = build_site(services)
        HomePage(site, listings).add_routes(self.app)
        LoginPages(site).add_routes(self.app)
        self.runner = web.AppRunner(self.app)
        self.base_url = ""

    async def __aenter__(self) -> HomeSite:
        await self.runner.setup()
        tcp = web.TCPSite(self.runner, "127.0.0.1", 0)
        await tcp.start()
        port = self.runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.runner.cleanup()


async def home_text(base_url: str) -> str:
    async with WebVisitor(base_url) as visitor:
        page = await visitor.get("/")
        assert page.status == 200
        return page.text


def listed(name: str, text: str) -> bool:
    return f'href="/r/{name}"' in text


async def new_repository(hub: Hub, owner: WebUser, *, private: bool = False) -> str:
    name = f"{owner.username}/home{uuid.uuid4().hex[:8]}"
    await load_repositories(hub, NewRepository(name, private=private, last_pushed_at=FUTURE))
    return name


async def test_views_within_the_ttl_run_the_queries_once(home_hub: Hub, services: HubServices) -> None:
    owner = await sign_up_async(home_hub.base_url)
    name = await new_repository(home_hub, owner)
    counting = CountingSearch(services.search)
    async with HomeSite(services, HomeListings(counting, ttl=600)) as site:
        # concurrent first views share one fetch: three queries
        pages = await asyncio.gather(*(home_text(site.base_url) for _ in range(5)))
        assert all(listed(name, text) for text in pages)
        assert counting.calls == 3
        for _ in range(3):
            assert listed(name, await home_text(site.base_url))
        assert counting.calls == 3


async def test_a_change_shows_no_later_than_the_ttl(home_hub: Hub, services: HubServices) -> None:
    ttl = 1.0
    owner = await sign_up_async(home_hub.base_url)
    shown = await new_repository(home_hub, owner)
    counting = CountingSearch(services.search)
    async with HomeSite(services, HomeListings(counting, ttl=ttl)) as site:
        assert listed(shown, await home_text(site.base_url))

        # made private (as its owner, through the hub's API): gone once the TTL has passed
        changed = time.monotonic()
        api = await asyncio.to_thread(
            _patch_private, home_hub.base_url, shown, owner.username, owner.password
        )
        assert api == 200
        added = await new_repository(home_hub, owner)
        await asyncio.sleep(max(0.0, changed + ttl - time.monotonic()) + 0.05)
        text = await home_text(site.base_url)
        assert not listed(shown, text)
        assert listed(added, text)  # a new public repository appears in the same time
        assert counting.calls in (3, 6)  # the stale view, if it came within the TTL, ran none


async def test_private_repositories_never_enter_the_listings(home_hub: Hub, services: HubServices) -> None:
    owner = await sign_up_async(home_hub.base_url)
    public = await new_repository(home_hub, owner)
    private = await new_repository(home_hub, owner, private=True)
    counting = CountingSearch(services.search)
    async with HomeSite(services, HomeListings(counting, ttl=600)) as site:
        async with WebVisitor(site.base_url) as visitor:
            answer = await visitor.log_in(owner.username, owner.password)
            assert answer.status == 303
            # the owner's view fills the listings: their private repository is not in them
            page = await visitor.get("/")
            assert listed(public, page.text) and not listed(private, page.text)
            assert owner.username in page.text  # logged in
        assert counting.calls == 3
        text = await home_text(site.base_url)
        assert listed(public, text) and not listed(private, text)
        assert counting.calls == 3


def _patch_private(base_url: str, name: str, username: str, password: str) -> int:
    headers = {**basic_auth(username, password), "Content-Type": "application/json"}
    answer = request(
        "PATCH", f"{base_url}/api/repositories/{name}", headers=headers, data=b'{"is_private": true}'
    )
    return answer.status
