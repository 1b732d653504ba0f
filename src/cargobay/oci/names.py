"""Repository name and tag grammar of the distribution spec."""

from __future__ import annotations

import re

# distribution-spec: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
REPOSITORY_MAX_LENGTH = 255


class InvalidName(ValueError):
    pass


def validate_repository(name: str) -> str:
    if not name:
        raise InvalidName("repository name must have at least one component")
    if len(name) > REPOSITORY_MAX_LENGTH:
        raise InvalidName(f"repository name must not be more than {REPOSITORY_MAX_LENGTH} characters")
    if name != name.lower() and REPOSITORY_RE.fullmatch(name.lower()):
        raise InvalidName(f"repository name ({name}) must be lowercase")
    if not REPOSITORY_RE.fullmatch(name):
        raise InvalidName(f"invalid repository name: {name[:80]!r}")
    return name


def is_valid_repository(name: str) -> bool:
    return len(name) <= REPOSITORY_MAX_LENGTH and bool(REPOSITORY_RE.fullmatch(name))


def is_valid_tag(tag: str) -> bool:
    return bool(TAG_RE.fullmatch(tag))
