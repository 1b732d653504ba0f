"""`GET /v1/search?q=&n=&page=` (Docker Hub's v1 search, what `docker search` and `podman search`
call) and `GET /v1/_ping` (which docker asks before searching a registry other than Docker Hub).

Search never challenges: anonymous callers see public repositories. Credentials, when sent
(Basic, or a Bearer token from /token), let the caller also see the private repositories they
may read; a Bearer token must carry `registry:catalog:search` (or `registry:catalog:*`) for that,
as docker asks for. Wrong credentials are refused (401) rather than silently ignored.
"""

from __future__ import annotations

from aiohttp import web

from cargobay.oci.errors import ErrorCode, RegistryError
from cargobay.registry.accounts import Actor
from cargobay.registry.search import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SearchError, SearchService, parse_int
from cargobay.server.auth import RegistryAuth
from cargobay.server.http import API_VERSION_HEADER

_MAX_QUERY_PARAMETER = 4096


class SearchEndpoint:
    def __init__(self, search: SearchService, auth: RegistryAuth | None) -> None:
        self.search = search
        self.auth = auth

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/search", self.handle)
        app.router.add_get("/v1/_ping", self.ping)

    async def _actor(self, request: web.Request) -> Actor | None:
        if self.auth is None:
            return None
        identity = await self.auth.identify(request, None)
        token = identity.token
        if token is not None and not (
            token.allows("registry", "catalog", "search") or token.allows("registry", "catalog", "*")
        ):
            return None
        return identity.actor

    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = request.rel_url.query
        try:
            page_size = parse_int(query.get("n"), "n", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
            page = parse_int(query.get("page"), "page", default=1, low=1, high=None)
        except SearchError as exc:
            raise RegistryError(
                ErrorCode.PAGINATION_NUMBER_INVALID, str(exc), detail={"parameter": exc.parameter}
            ) from None
        text = query.get("q", "")[:_MAX_QUERY_PARAMETER]
        results = await self.search.search(await self._actor(request), text, page=page, page_size=page_size)
        return web.json_response(results.to_json(), headers=API_VERSION_HEADER)

    async def ping(self, _request: web.Request) -> web.StreamResponse:
        # "standalone": not tied to a Docker Hub index; docker then sends its Basic credentials.
        return web.json_response(
            {"standalone": True},
            headers={**API_VERSION_HEADER, "X-Docker-Registry-Standalone": "true"},
        )
