"""`/api/repositories/{namespace}/` and `/api/repositories/{namespace}/{repo}/`: a namespace's
repositories, a repository's page (descriptions, counts, the caller's star and permissions),
its settings (visibility, descriptions) and its deletion.

A private repository the caller may not read is answered exactly like a missing one (404), and
left out of its namespace's list. Repositories are created by their first push, never here.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cargobay.registry.access import Access
from cargobay.registry.accounts import Actor
from cargobay.registry.catalogue import CatalogueService
from cargobay.registry.hub_repositories import HubRepositories
from cargobay.server.api.errors import ApiError, bool_field, json_body, path_param, string_field
from cargobay.server.api.pagination import ordering, page_body, page_request
from cargobay.server.api.repository_json import (
    REPOSITORY_NOT_FOUND,
    catalogue_errors,
    repository_detail,
    repository_summary,
)
from cargobay.server.api.session import ApiAuth

REPOSITORY_PATH = "/repositories/{namespace}/{repo:.+}"


def repository_name(request: web.Request) -> str:
    """`namespace/repo` from the URL (a trailing slash is allowed, as on Docker Hub)."""
    namespace = path_param(request, "namespace", REPOSITORY_NOT_FOUND)
    repo = path_param(request, "repo", REPOSITORY_NOT_FOUND).rstrip("/")
    return f"{namespace}/{repo}"


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    if name not in body:
        return None
    if not isinstance(body[name], str):
        raise ApiError(400, f"{name} must be a string", name)
    return string_field(body, name)


class RepositoriesApi:
    def __init__(
        self,
        repositories: HubRepositories,
        catalogue: CatalogueService,
        auth: ApiAuth,
        *,
        public_url: str | None = None,
    ) -> None:
        self.repositories = repositories
        self.catalogue = catalogue
        self.auth = auth
        self.public_url = public_url

    def add_routes(self, app: web.Application) -> None:
        """Register after the tag and star routes: `{repo:.+}` would swallow their paths."""
        app.router.add_get("/repositories/{namespace}", self.list)
        app.router.add_get("/repositories/{namespace}/", self.list)
        app.router.add_get(REPOSITORY_PATH, self.get)
        app.router.add_patch(REPOSITORY_PATH, self.patch)
        app.router.add_delete(REPOSITORY_PATH, self.delete)

    async def list(self, request: web.Request) -> web.Response:
        actor = await self.auth.optional(request)
        namespace = path_param(request, "namespace", "namespace not found")
        wanted = page_request(request, anonymous=actor is None)
        order = ordering(request, default="name")
        page = await self.repositories.namespace(
            actor, namespace, ordering=order, limit=wanted.page_size, offset=wanted.offset
        )
        results = [repository_summary(row) for row in page.results]
        return web.json_response(page_body(request, wanted, page.total, results, public_url=self.public_url))

    async def _detail(self, actor: Actor | None, name: str, access: Access) -> dict[str, Any]:
        with catalogue_errors():
            info = await self.catalogue.info(actor, name)
        return repository_detail(info, access)

    async def get(self, request: web.Request) -> web.Response:
        actor = await self.auth.optional(request)
        name = repository_name(request)
        with catalogue_errors():
            access = await self.repositories.access(actor, name)
        return web.json_response(await self._detail(actor, name, access))

    async def patch(self, request: web.Request) -> web.Response:
        """`is_private` needs the "delete" action (owners, admins; a token with the delete scope);
        the descriptions need ownership too, and a token of at least the read-write scope (the
        rules live in `HubRepositories.update_settings`)."""
        actor = await self.auth.required(request)
        name = repository_name(request)
        with catalogue_errors():
            access = await self.repositories.access(actor, name)
        body = await json_body(request)
        private = bool_field(body, "is_private") if "is_private" in body else None
        description = _optional_text(body, "description")
        full_description = _optional_text(body, "full_description")
        if private is None and description is None and full_description is None:
            raise ApiError(400, "send is_private, description or full_description")
        with catalogue_errors():
            await self.repositories.update_settings(
                actor, name, private=private, description=description, full_description=full_description
            )
        return web.json_response(await self._detail(actor, name, access))

    async def delete(self, request: web.Request) -> web.Response:
        """Owners, admins, or a token with the delete scope; the blobs stay for garbage collection."""
        actor = await self.auth.required(request)
        name = repository_name(request)
        with catalogue_errors():
            await self.repositories.delete_repository(actor, name)
        return web.Response(status=204)
