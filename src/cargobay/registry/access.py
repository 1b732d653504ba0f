"""Who may do what to which repository (Docker Hub's namespace model).

- every user owns `USER/*`; organisation owners may pull, push and delete in `ORG/*`, members
  may pull and push; `library/*` (official images) is writable only by admins; admins may do
  anything;
- anyone may pull a public repository; a private one is visible only to those who may write to
  its namespace — to everyone else it does not exist, exactly like a missing repository;
- a personal access token narrows this further to its scope.
"""

from __future__ import annotations

from dataclasses import dataclass

from cargobay.metadata.accounts import AccountStore
from cargobay.metadata.store import MetadataStore
from cargobay.registry.accounts import Actor

ALL_ACTIONS = frozenset({"pull", "push", "delete"})
OFFICIAL_NAMESPACE = "library"


@dataclass(frozen=True, slots=True)
class Access:
    """`actions` the actor holds on the repository; `visible`: whether it may know it exists."""

    actions: frozenset[str]
    visible: bool
    exists: bool


class AccessPolicy:
    def __init__(self, metadata: MetadataStore, accounts: AccountStore) -> None:
        self.metadata = metadata
        self.accounts = accounts

    async def namespace_actions(self, actor: Actor | None, namespace: str) -> frozenset[str]:
        """What the actor may do to any repository of `namespace` by its role there."""
        if actor is None:
            return frozenset()
        if actor.is_admin:
            granted = ALL_ACTIONS
        elif namespace == OFFICIAL_NAMESPACE:
            granted = frozenset()
        elif namespace == actor.name:
            granted = ALL_ACTIONS
        else:
            role = await self.accounts.role_in(namespace, actor.account_id)
            granted = ALL_ACTIONS if role == "owner" else frozenset({"pull", "push"}) if role else frozenset()
        if actor.token_actions is not None:
            granted &= actor.token_actions
        return granted

    async def check(self, actor: Actor | None, repository: str) -> Access:
        namespace = repository.split("/", 1)[0]
        private = await self.metadata.repository_private(repository)
        granted = await self.namespace_actions(actor, namespace)
        # Reading a private repository needs a role in its namespace (a token still needs pull).
        readable = private is not True or "pull" in granted
        if readable and (actor is None or actor.token_actions is None or "pull" in actor.token_actions):
            granted |= {"pull"}
        return Access(frozenset(granted), visible=readable, exists=private is not None)

    async def visible_namespaces(self, actor: Actor | None) -> list[str] | None:
        """Namespaces whose private repositories the actor may see; None means all (admins)."""
        if actor is None:
            return []
        if actor.is_admin:
            return None
        return [actor.name, *await self.accounts.namespaces_of(actor.account_id)]
