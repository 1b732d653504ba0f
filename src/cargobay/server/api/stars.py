"""Stars: `PUT`/`DELETE /api/repositories/{namespace}/{repo}/star` and `GET /api/user/starred`.

Any signed-in user (a personal access token of any scope will do) may star a repository they can
see; both calls are idempotent and answer 204. A star can always be taken back, even from a
repository that has since become private to the user. The caller's starred repositories are
listed newest star first, leaving out those the caller can no longer see.
"""

from __future__ import annotations

from aiohttp import web

from cargobay.registry.catalogue import CatalogueService
from cargobay.registry.hub_repositories import HubRepositories
from cargobay.server.api.errors import timestamp
from cargobay.server.api.pagination import page_body, page_request
from cargobay.server.api.repositories import REPOSITORY_PATH, repository_name
from cargobay.server.api.repository_json import catalogue_errors, repository_summary
from cargobay.server.api.session import ApiAuth


class StarsApi:
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
        """Register before the repository routes (whose `{repo:.+}` would match these paths)."""
        for suffix in ("/star", "/star/"):
            app.router.add_put(REPOSITORY_PATH + suffix, self.star)
            app.router.add_delete(REPOSITORY_PATH + suffix, self.unstar)
        app.router.add_get("/user/starred", self.starred)
        app.router.add_get("/user/starred/", self.starred)

    async def star(self, request: web.Request) -> web.Response:
        actor = await self.auth.required(request)
        name = repository_name(request)
        with catalogue_errors():
            await self.repositories.access(actor, name)
            await self.catalogue.star(actor, name)
        return web.Response(status=204)

    async def unstar(self, request: web.Request) -> web.Response:
        actor = await self.auth.required(request)
        name = repository_name(request)
        with catalogue_errors():
            if not await self.catalogue.unstar(actor, name):
                # Nothing to take back: 204 for a repository the caller sees, else the usual 404.
                await self.repositories.access(actor, name)
        return web.Response(status=204)

    async def starred(self, request: web.Request) -> web.Response:
        actor = await self.auth.required(request)
        wanted = page_request(request, anonymous=False)
        with catalogue_errors():
            page = await self.catalogue.starred(
                actor, actor.name, page=wanted.page, page_size=wanted.page_size
            )
        rows = await self.repositories.listing.repositories_by_name([s.name for s in page.results])
        results = []
        for starred in page.results:
            row = rows.get(starred.name)
            if row is not None:  # deleted meanwhile
                results.append({**repository_summary(row), "starred_at": timestamp(starred.starred_at)})
        return web.json_response(page_body(request, wanted, page.total, results, public_url=self.public_url))
