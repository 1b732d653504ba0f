"""`/settings`: password and personal access tokens."""

from __future__ import annotations

from aiohttp import web

from cargobay.server.web.site import Site


class AccountSettingsPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        """Not written yet."""
