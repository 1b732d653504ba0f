"""`/orgs/...`: create organisations, add and remove members."""

from __future__ import annotations

from aiohttp import web

from cargobay.server.web.site import Site


class OrgPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        """Not written yet."""
