"""What every page needs: the services, the templates, and how to answer with a page.

Page handlers call the services in `cargobay.registry` (the same ones the registry API and the
JSON API use) and render a template; they never touch the database themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web

from cargobay import __version__
from cargobay.registry.accounts import AccountService
from cargobay.registry.catalogue import CatalogueService
from cargobay.registry.hub_repositories import HubRepositories
from cargobay.registry.search import SearchService, display_name
from cargobay.registry.web_sessions import WebSessions
from cargobay.server.web.formatting import FILTERS
from cargobay.server.web.names import page_path
from cargobay.server.web.visitor import VISITOR_KEY, Visitor

STARTED_KEY = web.RequestKey("cargobay.page_started", float)


# Defence in depth behind escaping and README sanitising: no inline or foreign scripts, no
# plugins, no framing; README images may come from any https address.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages can show private repositories and token secrets
}


@dataclass
class Site:
    accounts: AccountService
    sessions: WebSessions
    catalogue: CatalogueService
    repositories: HubRepositories
    search: SearchService
    public_url: str | None
    accounts_enabled: bool  # False when the hub runs with `auth: none`
    open_registration: bool
    delete_enabled: bool
    templates: jinja2.Environment

    @property
    def secure_cookies(self) -> bool:
        return (self.public_url or "").startswith("https://")

    def registry_host(self, request: web.Request) -> str:
        """The host people put in front of image names (`HOST/alice/app`)."""
        if self.public_url:
            return urlsplit(self.public_url).netloc
        return request.host

    def render(
        self, request: web.Request, template: str, *, status: int = 200, **context: Any
    ) -> web.Response:
        started = request.get(STARTED_KEY, time.perf_counter())
        visitor: Visitor | None = request.get(VISITOR_KEY)
        body = self.templates.get_template(template).render(
            request=request,
            visitor=visitor,
            site=self,
            csrf_token=visitor.csrf_token if visitor else "",
            **context,
        )
        response = web.Response(
            text=body, status=status, content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
        )
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"page;dur={elapsed:.1f}"  # handler and rendering
        if visitor is not None:
            visitor.apply_cookies(response, secure=self.secure_cookies)
        return response


def template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("cargobay.server.web", "templates"),
        autoescape=True,  # every page and fragment is HTML
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
    )
    environment.filters.update(FILTERS)
    environment.globals["version"] = __version__
    environment.globals["display_name"] = display_name
    environment.globals["page_path"] = page_path
    environment.globals["static"] = lambda name: f"/static/{name}?v={__version__}"
    return environment
