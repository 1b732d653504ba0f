"""`/search`: the same ranking as `/v1/search`, with filters (official, minimum stars), sort and
pages. Bad parameters are explained on the page rather than refused."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from cargobay.registry.search import MAX_PAGE_SIZE, SearchError, SearchResults
from cargobay.server.web.pages import page
from cargobay.server.web.params import page_number, whole_number
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor

PAGE_SIZE = 25
SORTS = {
    "relevance": "Best match",
    "stars": "Most stars",
    "pulls": "Most pulls",
    "updated": "Recently updated",
}
_MAX_QUERY = 200


class SearchPage:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/search", page(self.site, self.results))

    async def results(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        params = request.rel_url.query
        query = params.get("q", "").strip()[:_MAX_QUERY]
        sort = params.get("sort") or "relevance"
        official = params.get("official") in ("1", "on", "true")
        problems: list[str] = []
        if sort not in SORTS:
            problems.append(f"Unknown sort order “{sort}”; showing the best matches.")
            sort = "relevance"
        min_stars = whole_number(params.get("min_stars"), 0, 0, 10**9)
        if min_stars is None:
            problems.append("Minimum stars must be a whole number; the filter was left out.")
            min_stars = 0
        number = page_number(params.get("page"))
        if number is None:
            problems.append("That page number does not exist; showing the first page.")
            number = 1
        found: SearchResults | None = None
        status = 200
        try:
            found = await self.site.search.search(
                visitor.actor,
                query,
                page=number,
                page_size=min(PAGE_SIZE, MAX_PAGE_SIZE),
                official_only=official,
                min_stars=min_stars,
                sort=sort,  # type: ignore[arg-type]  # checked against SORTS above
            )
        except SearchError as exc:
            status, problems = 400, [str(exc)]
        kept = {"q": query, "sort": sort if sort != "relevance" else "", "official": "1" if official else ""}
        if min_stars:
            kept["min_stars"] = str(min_stars)
        base_url = "/search?" + urlencode({k: v for k, v in kept.items() if v})
        return self.site.render(
            request,
            "search.html",
            status=status,
            query=query,
            found=found,
            problems=problems,
            sort=sort,
            official=official,
            min_stars=min_stars,
            sorts=SORTS,
            base_url=base_url,
        )
