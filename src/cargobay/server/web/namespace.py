"""`/u/{namespace}`: a user's or an organisation's repositories, 25 a page (`?page=N`), by name
unless `?ordering=` says otherwise (`name`, `-name`, `last_updated`, `-last_updated`).

- private repositories are listed only to those who may see them (`HubRepositories.namespace`);
- a name that is no account (and has no repositories the visitor may see) is the 404 page;
  `library` is the official images' namespace;
- an organisation's page links to its members for its members; the visitor's own page links to
  creating an organisation and to the account settings.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from cargobay.metadata.hub_listing import ORDERINGS, Ordering
from cargobay.server.web.pages import PageNotFound, page
from cargobay.server.web.params import page_number
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor

REPOSITORIES_PER_PAGE = 25
ORDERING_LABELS: dict[Ordering, str] = {
    "name": "Name, A to Z",
    "-name": "Name, Z to A",
    "last_updated": "Recently updated",
    "-last_updated": "Least recently updated",
}
_MAX_NAME = 255
NamespaceKind = Literal["user", "org", "official", "other"]


class NamespacePage:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/u/{namespace}", page(self.site, self.repositories))

    async def _kind(self, namespace: str, visitor: Visitor) -> tuple[NamespaceKind | None, bool]:
        """What the namespace is (None: no account), and whether the visitor is one of its
        organisation's members (who may see the members' list)."""
        if namespace == "library":
            return "official", False
        if not self.site.accounts_enabled:
            return None, False
        kind = await self.site.accounts.kind_of(namespace)
        if kind != "org":
            return kind, False
        actor = visitor.actor
        member = actor is not None and (
            actor.is_admin or await self.site.accounts.role_in(actor, namespace) is not None
        )
        return "org", member

    async def repositories(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        namespace = request.match_info["namespace"]
        if not namespace or len(namespace) > _MAX_NAME:
            raise PageNotFound()
        query = request.rel_url.query
        wanted = page_number(query.get("page"))
        number = wanted or 1
        ordering_text = query.get("ordering") or "name"
        ordering: Ordering = "name"
        for known in ORDERINGS:
            if known == ordering_text:
                ordering = known
        kind, is_member = await self._kind(namespace, visitor)
        found = await self.site.repositories.namespace(
            visitor.actor,
            namespace,
            ordering=ordering,
            limit=REPOSITORIES_PER_PAGE,
            offset=(number - 1) * REPOSITORIES_PER_PAGE,
        )
        if kind is None:
            if not found.total:
                raise PageNotFound()
            kind = "other"  # repositories pushed without accounts (auth: none)
        num_pages = max(1, -(-found.total // REPOSITORIES_PER_PAGE))
        base_url = f"/u/{namespace}" + ("" if ordering == "name" else f"?ordering={ordering}")
        return self.site.render(
            request,
            "namespace.html",
            namespace=namespace,
            kind=kind,
            is_member=is_member,
            is_own=visitor.name == namespace,
            found=found,
            page=number,
            num_pages=num_pages,
            bad_page=wanted is None,
            ordering=ordering,
            orderings=ORDERING_LABELS,
            base_url=base_url,
        )
