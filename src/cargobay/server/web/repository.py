"""`/r/{namespace}/{repo}` and `/_/{name}`: a repository's page; star and unstar.

- `/_/{name}` is the official image `library/{name}`; `/r/library/{name}` answers 301 there;
- the page shows the descriptions (the README rendered from Markdown and sanitised), the counts,
  the pull commands and a page of tags (25, newest first; `?page=N`);
- a private repository the visitor may not see is the same 404 page as a missing one;
- `POST …/-/star` and `…/-/unstar`: htmx gets the star button back (`_star.html`), a plain form a
  303 back to the page; an anonymous visitor is sent to the log-in page.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from aiohttp import web
from markupsafe import Markup

from cargobay.metadata.catalogue import OFFICIAL_PREFIX
from cargobay.registry.accounts import Actor
from cargobay.registry.hub_repositories import Page
from cargobay.registry.search import display_name
from cargobay.registry.tag_images import TagDetails
from cargobay.server.web.markdown import render_markdown
from cargobay.server.web.names import image_reference, is_official, page_path, subpages_path
from cargobay.server.web.pages import page, redirect
from cargobay.server.web.params import page_number
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor, checked_form

TAGS_PER_PAGE = 25
# a repository's other pages, after a `/-/` (see names.py): `/r/alice/app/-/…`, `/_/nginx/-/…`
REPOSITORY_SUBPAGES = "/r/{namespace}/{repo:.+}/-"
OFFICIAL_SUBPAGES = "/_/{name}/-"


async def newest_tags(site: Site, actor: Actor | None, name: str, number: int) -> Page[TagDetails]:
    """Page `number` of the repository's tags, newest first, TAGS_PER_PAGE a page."""
    return await site.repositories.tags(
        actor,
        name,
        name_contains=None,
        ordering="last_updated",
        limit=TAGS_PER_PAGE,
        offset=(number - 1) * TAGS_PER_PAGE,
    )


def repository_name(request: web.Request) -> str:
    """The repository of a sub-page's route (REPOSITORY_SUBPAGES or OFFICIAL_SUBPAGES)."""
    if "name" in request.match_info:
        return OFFICIAL_PREFIX + request.match_info["name"]
    return f"{request.match_info['namespace']}/{request.match_info['repo']}"


def _is_htmx(request: web.Request) -> bool:
    return request.headers.get("HX-Request") == "true"


class RepositoryPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/_/{name}", page(self.site, self.official))
        for base in (OFFICIAL_SUBPAGES, REPOSITORY_SUBPAGES):
            app.router.add_post(base + "/star", page(self.site, self.star))
            app.router.add_post(base + "/unstar", page(self.site, self.unstar))
        app.router.add_get("/r/{namespace}/{repo:.+}", page(self.site, self.repository))

    async def official(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._show(request, visitor, OFFICIAL_PREFIX + request.match_info["name"])

    async def repository(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        name = self._name(request)
        if is_official(name):
            query = request.rel_url.query_string
            raise web.HTTPMovedPermanently(location=page_path(name) + (f"?{query}" if query else ""))
        return await self._show(request, visitor, name)

    @staticmethod
    def _name(request: web.Request) -> str:
        return f"{request.match_info['namespace']}/{request.match_info['repo'].rstrip('/')}"

    async def _show(self, request: web.Request, visitor: Visitor, name: str) -> web.StreamResponse:
        actor = visitor.actor
        wanted = page_number(request.rel_url.query.get("page"))
        number = wanted or 1
        info, access, tags = await asyncio.gather(
            self.site.catalogue.info(actor, name),
            self.site.repositories.access(actor, name),
            newest_tags(self.site, actor, name, number),
        )
        newest = tags.results[0].name if tags.results and number == 1 else None
        if newest is None and tags.total:
            first = await self.site.repositories.tags(
                actor, name, name_contains=None, ordering="last_updated", limit=1, offset=0
            )
            newest = first.results[0].name if first.results else None
        num_pages = max(1, -(-tags.total // TAGS_PER_PAGE))
        readme = render_markdown(info.full_description, heading_offset=2)  # under h1, h2
        return self.site.render(
            request,
            "repository.html",
            info=info,
            display_name=display_name(name),
            page_path=page_path(name),
            subpages=subpages_path(name),
            reference=image_reference(self.site.registry_host(request), name),
            readme=Markup(readme),  # sanitised by render_markdown (nh3)
            tags=tags,
            newest_tag=newest,
            page=number,
            num_pages=num_pages,
            bad_page=wanted is None,
            may_edit=info.can_edit or "delete" in access.actions,
            may_push="push" in access.actions,
        )

    async def star(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._set_star(request, visitor, starred=True)

    async def unstar(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._set_star(request, visitor, starred=False)

    async def _set_star(self, request: web.Request, visitor: Visitor, *, starred: bool) -> web.StreamResponse:
        name = repository_name(request)
        back = page_path(name)
        if visitor.actor is None:
            login = f"/login?next={quote(back, safe='/')}"
            if _is_htmx(request):
                # htmx would follow a 303 inside the button; HX-Redirect makes it load the page
                response = web.Response(status=200, text="")
                response.headers["HX-Redirect"] = login
                visitor.apply_cookies(response, secure=self.site.secure_cookies)
                return response
            raise redirect(login)
        await checked_form(request, visitor, self.site.public_url)
        if starred:
            await self.site.catalogue.star(visitor.actor, name)
        else:
            await self.site.catalogue.unstar(visitor.actor, name)
        if not _is_htmx(request):
            raise redirect(back)
        info = await self.site.catalogue.info(visitor.actor, name)
        return self.site.render(
            request, "_star.html", info=info, page_path=back, subpages=subpages_path(name)
        )
