"""Docker Hub's pagination, for every list of the JSON API: `?page=N&page_size=M` in, and
`{"count", "next", "previous", "results"}` out, where `next` and `previous` are absolute URLs
(the request's own, with only `page` changed) or null.

A page past the end is an empty `results` (not an error). Anonymous callers may not page
deeper than MAX_ANONYMOUS_OFFSET results, as on Docker Hub.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from yarl import URL

from cargobay.metadata.hub_listing import ORDERINGS, Ordering
from cargobay.server.api.errors import ApiError

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_ANONYMOUS_OFFSET = 10_000
_MAX_PAGE = 1_000_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def _integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9 or not low <= int(text) <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}", name)
    return int(text)


def page_request(
    request: web.Request, *, anonymous: bool, default_size: int = DEFAULT_PAGE_SIZE
) -> PageRequest:
    """`page` (from 1) and `page_size` (1 to 100) from the query; 400 naming the bad one."""
    page = _integer(request, "page", 1, 1, _MAX_PAGE)
    size = _integer(request, "page_size", default_size, 1, MAX_PAGE_SIZE)
    wanted = PageRequest(page, size)
    if anonymous and wanted.offset >= MAX_ANONYMOUS_OFFSET:
        raise ApiError(400, "pagination offset too large for anonymous requests", "page")
    return wanted


def ordering(request: web.Request, default: Ordering = "last_updated") -> Ordering:
    """`ordering`: `last_updated` (newest first), `-last_updated` (oldest first), `name`, `-name`."""
    text = request.query.get("ordering", default)
    for choice in ORDERINGS:
        if text == choice:
            return choice
    raise ApiError(400, f"ordering must be one of {', '.join(ORDERINGS)}", "ordering")


def _page_url(request: web.Request, base: str | None, page: int) -> str:
    query = {**request.rel_url.query, "page": str(page)}
    if base is None:
        return str(request.url.with_query(query))
    return str(URL(base + request.rel_url.raw_path, encoded=True).with_query(query))


def page_body(
    request: web.Request,
    wanted: PageRequest,
    total: int,
    results: Sequence[Any],
    *,
    public_url: str | None = None,
) -> dict[str, Any]:
    """The page's JSON; `public_url` (the hub's configured address) replaces the request's host."""
    last_page = max(1, -(-total // wanted.page_size))
    following = wanted.page + 1 if wanted.page < last_page else None
    preceding = min(wanted.page - 1, last_page) if wanted.page > 1 else None
    return {
        "count": total,
        "next": None if following is None else _page_url(request, public_url, following),
        "previous": None if preceding is None else _page_url(request, public_url, preceding),
        "results": list(results),
    }
