"""The 404 page for any other path a browser asks for (registry and API paths keep their own
plain 404s: `/v2/` clients expect no HTML)."""

from __future__ import annotations

from aiohttp import web

from cargobay.server.web.pages import PageNotFound, page
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor

_MACHINE_PREFIXES = ("/v2/", "/v1/", "/api/", "/token")


def add_not_found_route(app: web.Application, site: Site) -> None:
    async def not_found(request: web.Request, _visitor: Visitor) -> web.StreamResponse:
        if request.path.startswith(_MACHINE_PREFIXES):
            raise web.HTTPNotFound()
        raise PageNotFound()

    app.router.add_get("/{tail:.*}", page(site, not_found))
