"""The wrapper every page handler runs in: it finds the visitor, and turns failures into pages
(the same 404 page for a private repository as for a missing one; never a traceback)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import SplitResult, quote, urlsplit

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


_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")  # controls, spaces and backslashes: never in a path we send


def local_path(target: str | None, default: str = "/") -> str:
    """Only paths on this site (never `//evil.example` or `https://…`): no open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or _UNSAFE.search(target):
        return default
    return target


def _origin(url: SplitResult) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) address without credentials; None otherwise."""
    scheme = url.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not url.hostname or "@" in url.netloc:
        return None
    try:
        port = url.port
    except ValueError:
        return None
    return scheme, url.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme]


def site_origins(request: web.Request, public_url: str | None) -> set[tuple[str, str, int]]:
    """The site's own origins: as this request reached it, and `public_url` when configured."""
    found = set()
    for base in (f"{request.scheme}://{request.host}", public_url):
        if base:
            try:
                origin = _origin(urlsplit(base))
            except ValueError:
                origin = None
            if origin is not None:
                found.add(origin)
    return found


def referer_path(request: web.Request, public_url: str | None, default: str = "/") -> str:
    """The path and query of the page a form was on, when its `Referer` is a page of this site
    (an address of the site's own origin, or a bare local path); `default` otherwise."""
    referer = request.headers.get("Referer", "")
    if referer.startswith("/"):
        return local_path(referer, default)
    if _UNSAFE.search(referer):
        return default  # urlsplit would quietly drop tabs and newlines
    try:
        url = urlsplit(referer)
        origin = _origin(url)
    except ValueError:
        return default
    if origin is None or origin not in site_origins(request, public_url):
        return default
    return local_path(url.path + (f"?{url.query}" if url.query else ""), default)


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
            if request.method == "GET":
                back = local_path(request.path_qs)
            else:  # the page the form was on
                back = referer_path(request, site.public_url)
            target = f"/login?next={quote(back, safe='/')}"
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
