"""The hub's repository pages as operations: a namespace's repositories, a repository's tags,
its settings (visibility, descriptions), deleting a tag or a whole repository.

Rules (the same as the registry's, see `registry/access.py`):
- a private repository the caller may not see is `RepositoryNotFound`, exactly like a missing
  one; a namespace's list leaves such repositories out;
- deleting a tag or a repository needs the "delete" action: the user's own namespace, an
  organisation's owners, admins, and a personal access token with the delete scope;
- deleting a repository removes its tags, manifests, blob links, uploads and stars; the blobs
  stay until garbage collection, as after the registry's own deletes;
- when the hub runs with deletion disabled, neither delete is allowed;
- changing the visibility needs the "delete" action too; changing the descriptions needs
  ownership of the namespace and, for a personal access token, at least the read-write scope
  (`CatalogueService`'s `can_edit`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Generic, TypeVar

from cargobay.metadata.catalogue import CatalogueStore, RepositoryRow
from cargobay.metadata.hub_listing import HubListingStore, Ordering
from cargobay.metadata.store import MetadataStore
from cargobay.oci.names import InvalidName, is_valid_tag, validate_repository
from cargobay.registry.access import Access, AccessPolicy
from cargobay.registry.accounts import Actor
from cargobay.registry.catalogue import (
    CatalogueError,
    CatalogueService,
    NotAllowed,
    NotSignedIn,
    RepositoryNotFound,
    check_description,
    check_full_description,
)
from cargobay.registry.service import RegistryService
from cargobay.registry.tag_images import ConfigPlatforms, TagDetails, TagImages


class TagNotFound(CatalogueError):
    """No such tag in a repository the caller can see."""


class DeletionDisabled(CatalogueError):
    """The hub runs with deletion disabled."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    total: int
    results: list[T]


class HubRepositories:
    def __init__(
        self,
        listing: HubListingStore,
        metadata: MetadataStore,
        registry: RegistryService,
        policy: AccessPolicy,
        catalogue: CatalogueService | None = None,
    ) -> None:
        """`catalogue`: the hub's CatalogueService (`Hub.catalogue`), for the description rules;
        None builds an equivalent one on the same database and policy."""
        self.listing = listing
        self.metadata = metadata
        self.registry = registry
        self.policy = policy
        self.catalogue = catalogue or CatalogueService(CatalogueStore(metadata.engines), policy)
        self.images = TagImages(listing, ConfigPlatforms(registry.blobs))

    async def access(self, actor: Actor | None, name: str) -> Access:
        """What the caller may do to the repository; RepositoryNotFound when it cannot see it."""
        try:
            validate_repository(name)
        except InvalidName:
            raise RepositoryNotFound("repository not found", "repository") from None
        access = await self.policy.check(actor, name)
        if not (access.exists and access.visible):
            raise RepositoryNotFound("repository not found", "repository")
        return access

    async def namespace(
        self, actor: Actor | None, namespace: str, *, ordering: Ordering, limit: int, offset: int
    ) -> Page[RepositoryRow]:
        """The namespace's repositories the caller may see (private ones need a role there)."""
        with_private = "pull" in await self.policy.namespace_actions(actor, namespace)
        total, rows = await self.listing.namespace_repositories(
            namespace, with_private=with_private, ordering=ordering, limit=limit, offset=offset
        )
        return Page(total, rows)

    async def tags(
        self,
        actor: Actor | None,
        name: str,
        *,
        name_contains: str | None,
        ordering: Ordering,
        limit: int,
        offset: int,
    ) -> Page[TagDetails]:
        await self.access(actor, name)
        found = await self.listing.tags(
            name, name_contains=name_contains, ordering=ordering, limit=limit, offset=offset
        )
        if found is None:  # deleted meanwhile
            raise RepositoryNotFound("repository not found", "repository")
        total, rows = found
        return Page(total, await self.images.describe(name, rows))

    async def tag(self, actor: Actor | None, name: str, tag: str) -> TagDetails:
        await self.access(actor, name)
        row = await self.listing.tag(name, tag) if is_valid_tag(tag) else None
        if row is None:
            raise TagNotFound("tag not found", "tag")
        return (await self.images.describe(name, [row]))[0]

    async def update_settings(
        self,
        actor: Actor | None,
        name: str,
        *,
        private: bool | None = None,
        description: str | None = None,
        full_description: str | None = None,
    ) -> None:
        """Change the visibility and/or the descriptions (None leaves a setting as it is).

        Checked in this order, nothing changed until all pass: NotSignedIn (anonymous);
        RepositoryNotFound (missing, or hidden from the caller); CatalogueError with `field`
        "description" or "full_description" (too long, not one line, NUL); NotAllowed when
        `private` is given without the "delete" action, or a description without `can_edit`.
        Then the descriptions are written, then the visibility. Nothing given: only the checks.
        """
        if actor is None:
            raise NotSignedIn("sign in to change a repository's settings")
        access = await self.access(actor, name)
        if description is not None:
            check_description(description)
        if full_description is not None:
            check_full_description(full_description)
        if private is not None and "delete" not in access.actions:
            raise NotAllowed("only owners of the namespace can change a repository's settings")
        if description is not None or full_description is not None:
            if not (await self.catalogue.info(actor, name)).can_edit:
                raise NotAllowed("only owners of the namespace can change a repository's descriptions")
            await self.catalogue.set_descriptions(
                actor, name, description=description, full_description=full_description
            )
        if private is not None and not await self.metadata.set_repository_private(name, private):
            raise RepositoryNotFound("repository not found", "repository")

    async def _deletable(self, actor: Actor | None, name: str, what: str) -> None:
        if actor is None:
            raise NotSignedIn(f"sign in to delete {what}")
        access = await self.access(actor, name)
        if "delete" not in access.actions:
            raise NotAllowed(f"only owners of {name.split('/', 1)[0]} can delete {what}")
        if not self.registry.delete_enabled:
            raise DeletionDisabled("deletion is disabled on this hub")

    async def delete_tag(self, actor: Actor | None, name: str, tag: str) -> None:
        """Remove the tag only; the manifest stays, reachable by its digest."""
        await self._deletable(actor, name, "tags")
        if not is_valid_tag(tag) or not await self.metadata.delete_tag(name, tag):
            raise TagNotFound("tag not found", "tag")

    async def delete_repository(self, actor: Actor | None, name: str) -> None:
        await self._deletable(actor, name, "repositories")
        pending = await self.listing.delete_repository(name)
        if pending is None:
            raise RepositoryNotFound("repository not found", "repository")
        for upload_id in pending:
            await asyncio.to_thread(self.registry.blobs.discard_session, upload_id)
