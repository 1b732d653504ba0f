"""The wrapper every page handler runs in: it finds the visitor, and turns failures into pages
(the same 404 page for a private repository as for a missing one; never a traceback)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from cargobay.registry.accounts import AccountNotFound
from cargobay.registry.catalogue import NotSignedIn, RepositoryNotFound
from cargobay.registry.hub_repositories import TagNotFound
from cargobay.server.web.site import STARTED_KEY, Site
from cargobay.server.web.visitor import VISITOR_KEY, CsrfRejected, Visitor, identify

log = logging.getLogger("cargobay.web")

PageHandler = Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]]


class PageNotFound(Exception):
    """Answer with the 404 page."""


class LoginRequired(Exception):
    """Send the visitor to the log-in page, and back here afterwards."""


def local_path(target: str | None, default: str = "/") -> str:
    """Only paths on this site (never `//evil.example` or `https://…`): no open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(location: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(location=local_path(location))


def page(site: Site, handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def run(request: web.Request) -> web.StreamResponse:
        request[STARTED_KEY] = time.perf_counter()
        visitor = await identify(request, site.sessions if site.accounts_enabled else None)
        request[VISITOR_KEY] = visitor
        try:
            return await handler(request, visitor)
        except web.HTTPRedirection as exc:
            visitor.apply_cookies(exc, secure=site.secure_cookies)
            raise
        except (PageNotFound, RepositoryNotFound, TagNotFound, AccountNotFound):
            return site.render(request, "not_found.html", status=404)
        except (LoginRequired, NotSignedIn):
            back = request.path_qs if request.method == "GET" else request.headers.get("Referer", "/")
            target = f"/login?next={quote(local_path(back), safe='/')}"
            response = web.HTTPSeeOther(location=target)
            visitor.apply_cookies(response, secure=site.secure_cookies)
            raise response from None
        except CsrfRejected as exc:
            return site.render(request, "error.html", status=403, title="Form refused", message=str(exc))
        except web.HTTPException:
            raise
        except Exception:
            log.exception("internal error on %s %s", request.method, request.path)
            return site.render(
                request,
                "error.html",
                status=500,
                title="Something went wrong",
                message="The hub could not show this page. Try again in a moment.",
            )

    return run
