"""Repository search, as `docker search` and `podman search` see it (Docker Hub's v1 format).

What a query means (the SQL lives in `metadata/catalogue.py`):
- the query is lower-cased, control characters dropped, cut to 255 characters and split into
  at most 10 words; every word must occur in the name or the short description (substrings,
  so `sql` finds `mysql`); any character is plain text, never syntax;
- ranking: exact name (`nginx` is `library/nginx`; `bob/nginx` also counts) > name starting with
  the query (or its part after the namespace) > the rest; official images (`library/`) first
  among equals, then stars, then pulls;
- a query with no word holding 3 letters or digits in a row (`go`, `k8`, `a-b`, `'`) finds names
  (or name parts after the namespace) starting with it: trigram indexes cannot look such words
  up anywhere else; in a query with other words, such words are checked as substrings;
- private repositories show only to those who may see them; a hub without access control
  (`auth: none`) shows everything, as its catalog does;
- totals stop counting at 2,500 (COUNT_CAP), so at most 2,500 results can be paged through:
  counting every match of a common word is what costs most, and nobody reads page 101;
- for the web site: `official_only` (`library/NAME`, no further `/`) and `min_stars` filter in
  every order; `sort` "stars", "pulls" or "updated" replaces the ranking (see SearchSort); the
  empty query lists every visible repository (the home page's listings).
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

from cargobay.metadata.catalogue import OFFICIAL_PREFIX, CatalogueStore
from cargobay.metadata.catalogue import SEARCH_SORTS as SEARCH_SORTS
from cargobay.metadata.catalogue import SearchSort as SearchSort
from cargobay.registry.access import AccessPolicy
from cargobay.registry.accounts import Actor

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_QUERY_CHARS = 255
MAX_WORDS = 10


class SearchError(ValueError):
    """A parameter is out of range; `parameter` names it."""

    def __init__(self, message: str, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One repository found. `last_pushed_at` is unix time (seconds since the epoch, a float),
    as everywhere in the catalogue; search finds only pushed repositories, so it is never None.
    It is not part of the v1 JSON (`SearchResults.to_json`)."""

    name: str  # as docker search shows it: `nginx` for `library/nginx`
    repository: str  # the full repository name
    description: str
    star_count: int
    pull_count: int
    is_official: bool
    last_pushed_at: float  # unix time of the last push
    is_private: bool = False  # only those who may see a private repository ever get it


@dataclass(frozen=True, slots=True)
class SearchResults:
    query: str  # as the client sent it
    page: int
    page_size: int
    num_results: int
    results: list[SearchResult]

    @property
    def num_pages(self) -> int:
        return math.ceil(self.num_results / self.page_size)

    def to_json(self) -> dict[str, object]:
        """Docker Hub's v1 search body."""
        return {
            "num_results": self.num_results,
            "num_pages": self.num_pages,
            "page": self.page,
            "page_size": self.page_size,
            "query": self.query,
            "results": [
                {
                    "name": r.name,
                    "description": r.description,
                    "star_count": r.star_count,
                    "is_official": r.is_official,
                    "is_automated": False,
                }
                for r in self.results
            ],
        }


def parse_int(value: str | None, parameter: str, *, default: int, low: int, high: int | None) -> int:
    """A decimal integer in [low, high]; SearchError otherwise (never an exception from int())."""
    if value is None or value == "":
        return default
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise SearchError(f"{parameter} must be a whole number, not {value[:40]!r}", parameter)
    number = int(text)
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise SearchError(f"{parameter} must be {bound}, not {number}", parameter)
    return number


def normalise_query(query: str) -> tuple[str, list[str]]:
    """The words a query looks for, and those words joined by single spaces."""
    cleaned = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in query)
    words: list[str] = []
    for word in cleaned.lower()[:MAX_QUERY_CHARS].split():
        if word not in words:
            words.append(word)
    words = words[:MAX_WORDS]
    return " ".join(words), words


def display_name(repository: str) -> str:
    """Docker Hub names official images without `library/`."""
    rest = repository.removeprefix(OFFICIAL_PREFIX)
    return rest if rest != repository and "/" not in rest else repository


class SearchService:
    def __init__(self, catalogue: CatalogueStore, policy: AccessPolicy | None) -> None:
        """`policy` None: the hub runs without access control and every repository shows."""
        self.catalogue = catalogue
        self.policy = policy

    async def search(
        self,
        actor: Actor | None,
        query: str,
        *,
        page: int = 1,
        page_size: int = DEFAULT_PAGE_SIZE,
        official_only: bool = False,
        min_stars: int = 0,
        sort: SearchSort = "relevance",
    ) -> SearchResults:
        """A page of the repositories `actor` may see that match `query` (empty: all of them).

        sort: "relevance" (the ranking above), "stars" (stars, pulls, name), "pulls" (pulls,
        stars, name) or "updated" (last push, newest first, then name); `official_only` and
        `min_stars` (star_count >= min_stars) apply in every order. SearchError names the bad
        parameter: "n" (page_size), "page", "sort" or "min_stars".
        """
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise SearchError(f"n must be between 1 and {MAX_PAGE_SIZE}", "n")
        if page < 1:
            raise SearchError("page must be at least 1", "page")
        if sort not in SEARCH_SORTS:
            raise SearchError(
                f"sort must be one of {', '.join(SEARCH_SORTS)}, not {str(sort)[:40]!r}", "sort"
            )
        if isinstance(min_stars, bool) or not isinstance(min_stars, int) or min_stars < 0:
            raise SearchError(
                f"min_stars must be a whole number of at least 0, not {min_stars!r}", "min_stars"
            )
        normalised, words = normalise_query(query)
        namespaces = None if self.policy is None else await self.policy.visible_namespaces(actor)
        found = await self.catalogue.search(
            normalised,
            words,
            namespaces,
            limit=page_size,
            offset=(page - 1) * page_size,
            official_only=official_only,
            min_stars=min_stars,
            sort=sort,
        )
        results = [
            SearchResult(
                display_name(row.name),
                row.name,
                row.description,
                row.star_count,
                row.pull_count,
                row.name.startswith(OFFICIAL_PREFIX),
                row.last_pushed_at,
                row.private,
            )
            for row in found.rows
        ]
        return SearchResults(query, page, page_size, found.total, results)
