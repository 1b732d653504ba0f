"""`/`: the search box, official images, the most-starred and the recently updated repositories.

The three listings are the same for every visitor: they are what an anonymous visitor may see
(public repositories only; a signed-in visitor's private repositories are not listed here), so
each worker keeps them for `HOME_CACHE_TTL` seconds (`HomeListings`) instead of running three
catalogue queries for every view. A repository made private leaves the home page, and a new one
appears there, at most that long after the change; concurrent views while the listings are
being fetched wait for the same queries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from cargobay.registry.accounts import Actor
from cargobay.registry.search import SearchResult, SearchResults, SearchSort
from cargobay.server.web.pages import page
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor

LISTED = 8
HOME_CACHE_TTL = 5.0  # seconds


class Searcher(Protocol):
    """What the listings need of `registry.search.SearchService`."""

    async def search(
        self,
        actor: Actor | None,
        query: str,
        *,
        page_size: int = ...,
        official_only: bool = ...,
        sort: SearchSort = ...,
    ) -> SearchResults: ...


@dataclass(frozen=True)
class Listings:
    official: list[SearchResult]
    starred: list[SearchResult]
    updated: list[SearchResult]


class HomeListings:
    """The home page's listings, fetched as an anonymous visitor (so never a private repository)
    at most once every `ttl` seconds; `clock` is a monotonic clock in seconds."""

    def __init__(
        self,
        search: Searcher,
        *,
        ttl: float = HOME_CACHE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.search = search
        self.ttl = ttl
        self.clock = clock
        self._listings: Listings | None = None
        self._expires = 0.0
        self._fetching: asyncio.Task[Listings] | None = None

    async def get(self) -> Listings:
        if self._listings is not None and self.clock() < self._expires:
            return self._listings
        if self._fetching is None:
            self._fetching = asyncio.create_task(self._fetch())
            self._fetching.add_done_callback(_retrieve_exception)
        # shielded: a visitor who goes away does not cancel the queries the others wait for
        return await asyncio.shield(self._fetching)

    async def _fetch(self) -> Listings:
        started = self.clock()  # the listings are at least this fresh
        try:
            official, starred, updated = await asyncio.gather(
                self.search.search(None, "", page_size=LISTED, official_only=True, sort="stars"),
                self.search.search(None, "", page_size=LISTED, sort="stars"),
                self.search.search(None, "", page_size=LISTED, sort="updated"),
            )
        finally:
            self._fetching = None
        self._listings = Listings(official.results, starred.results, updated.results)
        self._expires = started + self.ttl
        return self._listings


def _retrieve_exception(task: asyncio.Task[Listings]) -> None:
    """A failed fetch is reported to the views that waited for it, not again by asyncio."""
    if not task.cancelled():
        task.exception()


class HomePage:
    def __init__(self, site: Site, listings: HomeListings | None = None) -> None:
        self.site = site
        self.listings = listings if listings is not None else HomeListings(site.search)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", page(self.site, self.home))

    async def home(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        listings = await self.listings.get()
        return self.site.render(
            request,
            "home.html",
            official=listings.official,
            starred=listings.starred,
            updated=listings.updated,
        )
