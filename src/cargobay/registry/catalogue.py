"""Stars, descriptions and what the hub shows about a repository (Docker Hub's repository page).

Rules:
- reading a repository's information needs only that the caller may see it (anyone, for a public
  one); a private repository the caller may not see is `RepositoryNotFound`, like a missing one;
- any signed-in user may star or unstar a repository they can see; a user's stars are listed
  only where the viewer can see the repository;
- the short description (at most 100 characters, one line: it is what `docker search` shows) and
  the full description (Markdown, at most 25,000 characters) are set by those who own the
  namespace: the user, the organisation's owners, admins. A personal access token of such an
  owner needs at least the read-write scope (Docker Hub refuses READMEs to tokens; we do not);
- names are given as on the registry API: `nginx` means `library/nginx`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cargobay.metadata.catalogue import OFFICIAL_PREFIX, CatalogueStore
from cargobay.oci.names import InvalidName, validate_repository
from cargobay.registry.access import AccessPolicy
from cargobay.registry.accounts import Actor
from cargobay.registry.grants import official_name

MAX_DESCRIPTION = 100
MAX_FULL_DESCRIPTION = 25_000
MAX_STARRED_PAGE = 100


class CatalogueError(ValueError):
    """A request the rules refuse; `field` names the wrong input when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class RepositoryNotFound(CatalogueError):
    """No such repository, or a private one the caller may not see (indistinguishable)."""


class NotSignedIn(CatalogueError):
    """The operation needs a signed-in user."""


class NotAllowed(CatalogueError):
    """The caller may see the repository but not change it."""


@dataclass(frozen=True, slots=True)
class RepositoryInfo:
    name: str  # full name, e.g. `library/nginx` or `alice/app`
    namespace: str  # `library`, `alice`
    repository: str  # the rest: `nginx`, `app`
    description: str
    full_description: str
    star_count: int
    pull_count: int
    created_at: float  # unix time
    last_pushed_at: float | None  # unix time of the last manifest PUT; None if never pushed
    is_private: bool
    is_official: bool
    has_starred: bool  # by the caller (always False for anonymous callers)
    can_edit: bool  # whether the caller may change the descriptions


@dataclass(frozen=True, slots=True)
class StarredRepository:
    name: str
    starred_at: float  # unix time


@dataclass(frozen=True, slots=True)
class StarredPage:
    total: int
    results: list[StarredRepository]


def repository_name(name: str) -> str:
    """`nginx` → `library/nginx`; RepositoryNotFound for names the registry would refuse."""
    try:
        return official_name(validate_repository(name.strip("/")))
    except InvalidName:
        raise RepositoryNotFound(f"no such repository: {name[:300]}", "repository") from None


def check_description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION:
        raise CatalogueError(
            f"the short description must be at most {MAX_DESCRIPTION} characters", "description"
        )
    if any(c in text for c in "\r\n\x00"):
        raise CatalogueError("the short description must be a single line", "description")
    return text


def check_full_description(text: str) -> str:
    if len(text) > MAX_FULL_DESCRIPTION:
        raise CatalogueError(
            f"the full description must be at most {MAX_FULL_DESCRIPTION} characters", "full_description"
        )
    if "\x00" in text:
        raise CatalogueError("the full description must not contain NUL characters", "full_description")
    return text


class CatalogueService:
    def __init__(self, store: CatalogueStore, policy: AccessPolicy) -> None:
        self.store = store
        self.policy = policy

    async def _visible(self, actor: Actor | None, name: str) -> str:
        full = repository_name(name)
        access = await self.policy.check(actor, full)
        if not (access.exists and access.visible):
            raise RepositoryNotFound(f"no such repository: {full}", "repository")
        return full

    async def _may_edit(self, actor: Actor | None, full: str) -> bool:
        if actor is None:
            return False
        if actor.token_actions is not None and "push" not in actor.token_actions:
            return False
        owner = Actor(actor.name, actor.account_id, actor.is_admin)  # the role, not the token
        return "delete" in await self.policy.namespace_actions(owner, full.split("/", 1)[0])

    async def info(self, actor: Actor | None, name: str) -> RepositoryInfo:
        """What the hub shows about a repository (RepositoryNotFound if the caller cannot see it)."""
        full = await self._visible(actor, name)
        row = await self.store.repository(full)
        if row is None:
            raise RepositoryNotFound(f"no such repository: {full}", "repository")
        namespace, _, rest = full.partition("/")
        starred = actor is not None and await self.store.has_starred(actor.account_id, full)
        return RepositoryInfo(
            name=full,
            namespace=namespace,
            repository=rest,
            description=row.description,
            full_description=row.full_description,
            star_count=row.star_count,
            pull_count=row.pull_count,
            created_at=row.created_at,
            last_pushed_at=row.last_pushed_at,
            is_private=row.private,
            is_official=full.startswith(OFFICIAL_PREFIX),
            has_starred=starred,
            can_edit=await self._may_edit(actor, full),
        )

    async def set_descriptions(
        self,
        actor: Actor | None,
        name: str,
        *,
        description: str | None = None,
        full_description: str | None = None,
    ) -> RepositoryInfo:
        """Change either or both descriptions (None leaves one as it is); returns the new state."""
        if actor is None:
            raise NotSignedIn("sign in to change a repository's descriptions")
        full = await self._visible(actor, name)
        if description is not None:
            check_description(description)
        if full_description is not None:
            check_full_description(full_description)
        if not await self._may_edit(actor, full):
            raise NotAllowed(f"only owners of {full.split('/', 1)[0]} can change its descriptions")
        if not await self.store.set_descriptions(full, description, full_description):
            raise RepositoryNotFound(f"no such repository: {full}", "repository")
        return await self.info(actor, full)

    async def star(self, actor: Actor | None, name: str) -> bool:
        """Star a repository; True if newly starred, False if the actor had already."""
        if actor is None:
            raise NotSignedIn("sign in to star repositories")
        full = await self._visible(actor, name)
        starred = await self.store.star(actor.account_id, full)
        if starred is None:
            raise RepositoryNotFound(f"no such repository: {full}", "repository")
        return starred

    async def unstar(self, actor: Actor | None, name: str) -> bool:
        """Remove the actor's star; True if there was one. Works on any repository the actor
        starred, even one since made private to them (so stars can always be taken back)."""
        if actor is None:
            raise NotSignedIn("sign in to star repositories")
        return await self.store.unstar(actor.account_id, repository_name(name))

    async def starred(
        self, viewer: Actor | None, username: str, *, page: int = 1, page_size: int = 25
    ) -> StarredPage:
        """Repositories `username` starred, newest first, leaving out those `viewer` cannot see."""
        if page < 1:
            raise CatalogueError("page must be at least 1", "page")
        if not 1 <= page_size <= MAX_STARRED_PAGE:
            raise CatalogueError(f"page_size must be between 1 and {MAX_STARRED_PAGE}", "page_size")
        account = await self.policy.accounts.account_by_name(username)
        if account is None or account.kind != "user":
            raise CatalogueError(f"no such user: {username[:64]}", "username")
        namespaces = await self.policy.visible_namespaces(viewer)
        total, rows = await self.store.starred(
            account.id, namespaces, limit=page_size, offset=(page - 1) * page_size
        )
        return StarredPage(total, [StarredRepository(r.name, r.starred_at) for r in rows])
