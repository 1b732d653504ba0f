"""`/r/{namespace}/{repo}/-/settings` (`/_/{name}/-/settings` for official images): descriptions,
visibility, deleting tags and the repository; `…/-/tags/{tag}/delete` deletes a tag.

Who sees what:
- anonymous visitors are sent to the log-in page (before anything about the repository is
  looked up, so nothing is revealed);
- a signed-in visitor who may not see the repository gets the 404 page, like for a missing one;
- one who may see it but does not own it (another user; an organisation's member who is not an
  owner) gets a 403 page saying the settings are for owners;
- owners (the user, the organisation's owners, admins) get the page and its forms.

Every change goes through `HubRepositories` (update_settings, delete_tag, delete_repository), the
same operations as the JSON API; a successful change redirects (303) back to the settings page
with `?saved=…`. When the hub runs with deletion disabled, the delete forms are not shown and
the delete URLs answer with an error page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from cargobay.oci.names import is_valid_tag
from cargobay.registry.access import OFFICIAL_NAMESPACE, Access
from cargobay.registry.accounts import Actor
from cargobay.registry.catalogue import (
    MAX_DESCRIPTION,
    MAX_FULL_DESCRIPTION,
    CatalogueError,
    NotAllowed,
    NotSignedIn,
    RepositoryNotFound,
)
from cargobay.registry.hub_repositories import DeletionDisabled, TagNotFound
from cargobay.server.web.names import is_official, page_path, subpages_path
from cargobay.server.web.pages import LoginRequired, PageHandler, page, redirect
from cargobay.server.web.params import page_number
from cargobay.server.web.repository import (
    OFFICIAL_SUBPAGES,
    REPOSITORY_SUBPAGES,
    TAGS_PER_PAGE,
    newest_tags,
    repository_name,
)
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor, checked_form

_MAX_CONFIRM = 512
SAVED = frozenset({"descriptions", "visibility", "tag"})  # `?saved=…` after a change


class _DeletionOff(Exception):
    """The hub runs with deletion disabled: answer with the error page."""


def _passes_through(exc: CatalogueError) -> bool:
    """Errors the page wrapper turns into the 404 page or the log-in redirect."""
    return isinstance(exc, (RepositoryNotFound, TagNotFound, NotSignedIn))


class RepositorySettingsPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        """Register before the repository page (`/r/{namespace}/{repo:.+}` would match these)."""
        routes: list[tuple[str, str, PageHandler]] = [
            ("GET", "/settings", self.settings),
            ("POST", "/settings/descriptions", self.save_descriptions),
            ("POST", "/settings/visibility", self.save_visibility),
            ("POST", "/settings/delete", self.delete_repository),
            ("GET", "/tags/{tag}/delete", self.confirm_tag_deletion),
            ("POST", "/tags/{tag}/delete", self.delete_tag),
        ]
        for method, suffix, handler in routes:
            wrapped = page(self.site, self._guarded(handler))
            for base in (OFFICIAL_SUBPAGES, REPOSITORY_SUBPAGES):
                app.router.add_route(method, base + suffix, wrapped)

    # ------------------------------------------------------------------ refusals

    def _guarded(self, handler: PageHandler) -> PageHandler:
        """Anonymous visitors → the log-in page; NotAllowed → the 403 page; deletion disabled →
        its error page."""

        async def run(request: web.Request, visitor: Visitor) -> web.StreamResponse:
            name = repository_name(request)
            if request.method == "GET" and "namespace" in request.match_info and is_official(name):
                # `/r/library/nginx/-/settings` → `/_/nginx/-/settings`, like the repository page
                canonical = request.rel_url.path.replace(f"/r/{name}", page_path(name), 1)
                query = request.rel_url.query_string
                raise web.HTTPMovedPermanently(location=canonical + (f"?{query}" if query else ""))
            if visitor.actor is None:
                # before a form's CSRF check: a form sent after the session ended (its token was
                # the session's) leads to the log-in page and from there back to its page
                raise LoginRequired()
            try:
                return await handler(request, visitor)
            except NotAllowed:
                return self._not_owner(request)
            except (_DeletionOff, DeletionDisabled):
                return self.site.render(
                    request,
                    "error.html",
                    status=403,
                    title="Deletion is disabled",
                    message="This hub runs with deletion disabled, so its tags and repositories "
                    "cannot be deleted. Ask the hub's administrator.",
                )

        return run

    def _not_owner(self, request: web.Request) -> web.Response:
        name = repository_name(request)
        namespace = name.split("/", 1)[0]
        if namespace == OFFICIAL_NAMESPACE:
            message = "Only the hub's administrators can change the settings of official images."
        else:
            message = f"Only the owners of {namespace} can change the settings of {name}."
        return self.site.render(
            request, "error.html", status=403, title="Settings are for owners", message=message
        )

    async def _owned(self, visitor: Visitor, name: str) -> tuple[Actor, Access]:
        """The signed-in owner and their access; LoginRequired, RepositoryNotFound (404 page) or
        NotAllowed (403 page) otherwise."""
        if visitor.actor is None:
            raise LoginRequired()
        access = await self.site.repositories.access(visitor.actor, name)
        if "delete" not in access.actions:
            raise NotAllowed("only owners can change a repository's settings")
        return visitor.actor, access

    def _deletion_enabled(self) -> None:
        if not self.site.delete_enabled:
            raise _DeletionOff()

    # ------------------------------------------------------------------ the settings page

    async def _render(
        self,
        request: web.Request,
        actor: Actor,
        name: str,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        values: dict[str, str] | None = None,
    ) -> web.Response:
        info = await self.site.catalogue.info(actor, name)
        number = page_number(request.rel_url.query.get("page")) or 1
        tags = await newest_tags(self.site, actor, name, number)
        query = request.rel_url.query
        saved = query.get("saved", "") if status == 200 else ""
        deleted_tag = query.get("tag", "") if saved == "tag" else ""
        context: dict[str, Any] = {
            "info": info,
            "subpages": subpages_path(info.name),
            "description": info.description,
            "full_description": info.full_description,
            "visibility": "private" if info.is_private else "public",
            "confirm": "",
        }
        context.update(values or {})
        return self.site.render(
            request,
            "repository_settings.html",
            status=status,
            errors=errors or {},
            saved=saved if saved in SAVED else "",
            deleted_tag=deleted_tag if is_valid_tag(deleted_tag) else "",
            tags=tags,
            tags_page=number,
            tags_pages=max(1, -(-tags.total // TAGS_PER_PAGE)),
            max_description=MAX_DESCRIPTION,
            max_full_description=MAX_FULL_DESCRIPTION,
            **context,
        )

    async def settings(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor, _ = await self._owned(visitor, repository_name(request))
        return await self._render(request, actor, repository_name(request))

    async def save_descriptions(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await checked_form(request, visitor, self.site.public_url)
        name = repository_name(request)
        actor, _ = await self._owned(visitor, name)
        description = form.get("description")
        full_description = form.get("full_description")
        if description is not None:
            description = description.strip()
        if full_description is not None:
            full_description = full_description.replace("\r\n", "\n")
        try:
            await self.site.repositories.update_settings(
                actor, name, description=description, full_description=full_description
            )
        except CatalogueError as exc:
            if _passes_through(exc) or isinstance(exc, NotAllowed):
                raise
            values = {
                "description": description or "",
                "full_description": full_description or "",
            }
            return await self._render(
                request, actor, name, status=400, errors={exc.field or "": str(exc)}, values=values
            )
        raise redirect(f"{subpages_path(name)}/settings?saved=descriptions")

    async def save_visibility(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await checked_form(request, visitor, self.site.public_url)
        name = repository_name(request)
        actor, _ = await self._owned(visitor, name)
        chosen = form.get("visibility", "")
        if chosen not in ("public", "private"):
            return await self._render(
                request, actor, name, status=400, errors={"visibility": "choose public or private"}
            )
        await self.site.repositories.update_settings(actor, name, private=chosen == "private")
        raise redirect(f"{subpages_path(name)}/settings?saved=visibility")

    async def delete_repository(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await checked_form(request, visitor, self.site.public_url)
        name = repository_name(request)
        actor, _ = await self._owned(visitor, name)
        self._deletion_enabled()
        confirm = form.get("confirm", "")[:_MAX_CONFIRM].strip()
        if confirm != name:
            return await self._render(
                request,
                actor,
                name,
                status=400,
                errors={"confirm": f"type {name} exactly to delete this repository"},
                values={"confirm": confirm},
            )
        await self.site.repositories.delete_repository(actor, name)
        raise redirect(f"/u/{name.split('/', 1)[0]}")

    # ------------------------------------------------------------------ deleting a tag

    async def _tag_page(
        self,
        request: web.Request,
        actor: Actor,
        *,
        status: int = 200,
        confirm: str = "",
        error: str = "",
    ) -> web.Response:
        name, tag = repository_name(request), request.match_info["tag"]
        details = await self.site.repositories.tag(actor, name, tag)  # TagNotFound → 404 page
        info = await self.site.catalogue.info(actor, name)
        return self.site.render(
            request,
            "tag_delete.html",
            status=status,
            info=info,
            subpages=subpages_path(info.name),
            tag=details,
            confirm=confirm,
            errors={"confirm": error} if error else {},
        )

    async def confirm_tag_deletion(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor, _ = await self._owned(visitor, repository_name(request))
        self._deletion_enabled()
        return await self._tag_page(request, actor)

    async def delete_tag(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        form = await checked_form(request, visitor, self.site.public_url)
        name, tag = repository_name(request), request.match_info["tag"]
        actor, _ = await self._owned(visitor, name)
        self._deletion_enabled()
        confirm = form.get("confirm", "")[:_MAX_CONFIRM].strip()
        if confirm != tag:
            return await self._tag_page(
                request,
                actor,
                status=400,
                confirm=confirm,
                error=f"type {tag} exactly to delete this tag",
            )
        await self.site.repositories.delete_tag(actor, name, tag)
        raise redirect(f"{subpages_path(name)}/settings?" + urlencode({"saved": "tag", "tag": tag}))
