"""`/api/repositories/{namespace}/{repo}/tags/` and `.../tags/{tag}/`: a repository's tags
with their sizes and platforms (Docker Hub's tag objects), one tag, and deleting one tag.

Query of the list: `page`, `page_size` (up to 100), `ordering` (`last_updated`: newest first,
the default; `-last_updated`: oldest first; `name`; `-name`) and `name` (a case-insensitive
substring of the tag's name).
"""

from __future__ import annotations

from aiohttp import web

from cargobay.registry.hub_repositories import HubRepositories
from cargobay.server.api.errors import ApiError, path_param
from cargobay.server.api.pagination import ordering, page_body, page_request
from cargobay.server.api.repositories import REPOSITORY_PATH, repository_name
from cargobay.server.api.repository_json import TAG_NOT_FOUND, catalogue_errors, tag_json
from cargobay.server.api.session import ApiAuth

_MAX_FILTER = 128  # a tag name is at most 128 characters


def _is_text(value: str) -> bool:
    """No NUL characters (PostgreSQL refuses them) and no lone surrogates (not UTF-8)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


class TagsApi:
    def __init__(
        self, repositories: HubRepositories, auth: ApiAuth, *, public_url: str | None = None
    ) -> None:
        self.repositories = repositories
        self.auth = auth
        self.public_url = public_url

    def add_routes(self, app: web.Application) -> None:
        """Register before the repository routes (whose `{repo:.+}` would match these paths);
        the single-tag routes first, so a tag named `tags` is still a tag."""
        for suffix in ("/tags/{tag}", "/tags/{tag}/"):
            app.router.add_get(REPOSITORY_PATH + suffix, self.get)
            app.router.add_delete(REPOSITORY_PATH + suffix, self.delete)
        for suffix in ("/tags", "/tags/"):
            app.router.add_get(REPOSITORY_PATH + suffix, self.list)

    async def list(self, request: web.Request) -> web.Response:
        actor = await self.auth.optional(request)
        name = repository_name(request)
        wanted = page_request(request, anonymous=actor is None)
        order = ordering(request, default="last_updated")
        contains = request.query.get("name") or None
        if contains is not None and (len(contains) > _MAX_FILTER or not _is_text(contains)):
            raise ApiError(400, f"name must be at most {_MAX_FILTER} characters of text", "name")
        with catalogue_errors():
            page = await self.repositories.tags(
                actor,
                name,
                name_contains=contains,
                ordering=order,
                limit=wanted.page_size,
                offset=wanted.offset,
            )
        results = [tag_json(tag) for tag in page.results]
        return web.json_response(page_body(request, wanted, page.total, results, public_url=self.public_url))

    async def get(self, request: web.Request) -> web.Response:
        actor = await self.auth.optional(request)
        name = repository_name(request)
        tag = path_param(request, "tag", TAG_NOT_FOUND)
        with catalogue_errors():
            details = await self.repositories.tag(actor, name, tag)
        return web.json_response(tag_json(details))

    async def delete(self, request: web.Request) -> web.Response:
        """Removes the tag only: the manifest stays, reachable by digest (and by other tags)."""
        actor = await self.auth.required(request)
        name = repository_name(request)
        tag = path_param(request, "tag", TAG_NOT_FOUND)
        with catalogue_errors():
            await self.repositories.delete_tag(actor, name, tag)
        return web.Response(status=204)
