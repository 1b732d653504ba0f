"""The hub's JSON API under `/api/` (accounts, organisations, access tokens, repositories, tags
and stars), separate from the registry API under `/v2/`.

It runs as an aiohttp sub-application so that its own middleware renders every error as
`{"message": ..., "field"?: ...}` rather than the registry's OCI error format.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from cargobay import __version__
from cargobay.server.api.accounts import AccountsApi
from cargobay.server.api.errors import api_errors
from cargobay.server.api.openapi import openapi_document
from cargobay.server.api.orgs import OrgsApi
from cargobay.server.api.repositories import RepositoriesApi
from cargobay.server.api.session import ApiAuth
from cargobay.server.api.stars import StarsApi
from cargobay.server.api.tags import TagsApi
from cargobay.server.api.tokens import TokensApi

if TYPE_CHECKING:
    from cargobay.server.app import Hub

PREFIX = "/api"


def create_api_app(hub: Hub) -> web.Application:
    api = web.Application(middlewares=[api_errors])
    auth = ApiAuth(hub.accounts)
    AccountsApi(hub.accounts, auth).add_routes(api)
    OrgsApi(hub.accounts, auth).add_routes(api)
    TokensApi(hub.accounts, auth).add_routes(api)
    repositories = hub.repositories
    public_url = hub.settings.public_url
    # Tag and star routes first: the repository routes' `{repo:.+}` would match their paths.
    TagsApi(repositories, auth, public_url=public_url).add_routes(api)
    StarsApi(repositories, hub.catalogue, auth, public_url=public_url).add_routes(api)
    RepositoriesApi(repositories, hub.catalogue, auth, public_url=public_url).add_routes(api)
    document = openapi_document(__version__)

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(document)

    api.router.add_get("/openapi.json", openapi)
    return api


def add_api_routes(app: web.Application, hub: Hub) -> None:
    """Mount the API under /api/ on the hub's application."""
    app.add_subapp(PREFIX, create_api_app(hub))
