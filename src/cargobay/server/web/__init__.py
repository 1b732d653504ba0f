"""The hub's web site: server-rendered pages (Jinja2) with htmx, over the registry services.

`add_web_routes` registers every page on the hub's application; see docs/web.md for the URLs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from cargobay.server.web.account_settings import AccountSettingsPages
from cargobay.server.web.home import HomePage
from cargobay.server.web.login import LoginPages
from cargobay.server.web.namespace import NamespacePage
from cargobay.server.web.not_found import add_not_found_route
from cargobay.server.web.orgs import OrgPages
from cargobay.server.web.repository import RepositoryPages
from cargobay.server.web.repository_settings import RepositorySettingsPages
from cargobay.server.web.search import SearchPage
from cargobay.server.web.site import Site, template_environment
from cargobay.server.web.static_files import static_routes

if TYPE_CHECKING:
    from cargobay.server.app import Hub


def build_site(hub: Hub) -> Site:
    settings = hub.settings
    return Site(
        accounts=hub.accounts,
        sessions=hub.sessions,
        catalogue=hub.catalogue,
        repositories=hub.repositories,
        search=hub.search,
        public_url=settings.public_url,
        accounts_enabled=settings.auth == "token",
        open_registration=settings.open_registration,
        delete_enabled=settings.delete_enabled,
        templates=template_environment(),
    )


def add_web_routes(app: web.Application, hub: Hub) -> None:
    """Register the pages; call last, after every API route (it adds the catch-all 404 page)."""
    site = build_site(hub)
    static_routes(app)
    for pages in (
        HomePage(site),
        SearchPage(site),
        LoginPages(site),
        # before RepositoryPages: `/r/{namespace}/{repo:.+}` would swallow the settings paths
        RepositorySettingsPages(site),
        RepositoryPages(site),
        NamespacePage(site),
        AccountSettingsPages(site),
        OrgPages(site),
    ):
        pages.add_routes(app)
    add_not_found_route(app, site)
