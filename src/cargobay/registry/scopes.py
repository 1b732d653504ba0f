"""Docker's token scope grammar: `repository:NAME:pull,push` (and `registry:catalog:*`).

The name may carry `host:port`, so the type is split off at the first colon and the actions at
the last one. Unknown types, bad names and unknown actions are rejected rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from cargobay.oci.names import is_valid_repository

REPOSITORY_ACTIONS = frozenset({"pull", "push", "delete"})
REGISTRY_ACTIONS = frozenset({"*", "search"})
MAX_SCOPE_LENGTH = 1024


class InvalidScope(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    def to_claim(self) -> dict[str, object]:
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def parse_scope(text: str) -> Scope:
    if len(text) > MAX_SCOPE_LENGTH:
        raise InvalidScope("scope too long")
    resource_type, sep, rest = text.partition(":")
    name, sep2, actions_text = rest.rpartition(":")
    if not sep or not sep2 or not name:
        raise InvalidScope(f"malformed scope {text[:80]!r}")
    resource_type = resource_type.split("(", 1)[0]  # `repository(plugin)` classes are ignored
    actions = frozenset(a for a in actions_text.split(",") if a)
    if resource_type == "repository":
        if not is_valid_repository(name):
            raise InvalidScope(f"invalid repository name in scope {text[:80]!r}")
        if "*" in actions:
            actions = (actions - {"*"}) | REPOSITORY_ACTIONS
        if not actions <= REPOSITORY_ACTIONS:
            raise InvalidScope(f"unknown action in scope {text[:80]!r}")
    elif resource_type == "registry":
        if name != "catalog" or not actions <= REGISTRY_ACTIONS:
            raise InvalidScope(f"unknown registry scope {text[:80]!r}")
    else:
        raise InvalidScope(f"unknown resource type in scope {text[:80]!r}")
    return Scope(resource_type, name, actions)


def parse_scopes(values: list[str]) -> list[Scope]:
    """Each value may itself hold several space-separated scopes (the spec allows both)."""
    scopes: list[Scope] = []
    for value in values:
        scopes.extend(parse_scope(part) for part in value.split())
    return scopes
