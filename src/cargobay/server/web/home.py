"""`/`: the search box, official images, the most-starred and the recently updated repositories."""

from __future__ import annotations

import asyncio

from aiohttp import web

from cargobay.server.web.pages import page
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor

LISTED = 8


class HomePage:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", page(self.site, self.home))

    async def home(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        search = self.site.search.search
        actor = visitor.actor
        official, starred, updated = await asyncio.gather(
            search(actor, "", page_size=LISTED, official_only=True, sort="stars"),
            search(actor, "", page_size=LISTED, sort="stars"),
            search(actor, "", page_size=LISTED, sort="updated"),
        )
        return self.site.render(
            request,
            "home.html",
            official=official.results,
            starred=starred.results,
            updated=updated.results,
        )
