"""What a token may carry: the intersection of what was asked and what the actor may do."""

from __future__ import annotations

from cargobay.registry.access import AccessPolicy
from cargobay.registry.accounts import Actor
from cargobay.registry.scopes import Scope


def official_name(name: str) -> str:
    """Docker Hub's rule: a single-component repository name means `library/NAME`."""
    return name if "/" in name else f"library/{name}"


async def grant(policy: AccessPolicy, actor: Actor | None, requested: list[Scope]) -> list[Scope]:
    granted: list[Scope] = []
    for scope in requested:
        if scope.type == "registry":
            # The catalog is filtered per caller, so asking for it reveals nothing.
            granted.append(scope)
            continue
        name = official_name(scope.name)
        access = await policy.check(actor, name)
        allowed = set(access.actions)
        if not access.visible and (
            actor is None or actor.token_actions is None or "pull" in actor.token_actions
        ):
            # A hidden private repository is treated like a missing one, whose pull is granted
            # (the registry then answers "unknown"); refusing here would reveal that it exists.
            allowed.add("pull")
        actions = scope.actions & allowed
        if actions:
            granted.append(Scope(scope.type, name, frozenset(actions)))
    return granted
