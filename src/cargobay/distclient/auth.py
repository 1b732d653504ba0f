"""The registry auth flow's pure parts: challenges, scopes and the token cache."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
_SCHEME_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*")


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lower case: "bearer" or "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        return self.params.get("service", "")

    @property
    def scopes(self) -> list[str]:
        scope = self.params.get("scope", "")
        return [s for s in scope.split(" ") if s]

    @property
    def error(self) -> str:
        return self.params.get("error", "")


def parse_challenges(header: str) -> list[Challenge]:
    """Parse `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (several may follow)."""
    out: list[Challenge] = []
    pos = 0
    while pos < len(header):
        scheme_match = _SCHEME_RE.match(header, pos)
        if scheme_match is None:
            break
        scheme = scheme_match.group(1).lower()
        pos = scheme_match.end()
        params: dict[str, str] = {}
        while pos < len(header):
            param = _PARAM_RE.match(header, pos)
            if param is None:
                break
            # A new challenge starts with "Scheme key=…": the regex would not match "Scheme key".
            value = param.group(2) if param.group(2) is not None else param.group(3)
            params[param.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
            pos = param.end()
        out.append(Challenge(scheme, params))
        if pos < len(header) and header[pos] == ",":
            pos += 1
    return out


def pick_challenge(header: str) -> Challenge | None:
    """The challenge a client answers: Bearer when offered, else Basic, else none."""
    challenges = parse_challenges(header)
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def refresh_token_form(identity_token: str, service: str, scopes: Sequence[str]) -> dict[str, str]:
    """The OAuth2 POST body that trades a stored refresh token (`identitytoken`) for a token."""
    return {
        "grant_type": "refresh_token",
        "refresh_token": identity_token,
        "service": service,
        "client_id": "cargobay",
        "scope": " ".join(scopes),
    }


def token_request(
    realm: str, service: str, scopes: Sequence[str], username: str | None, password: str | None
) -> tuple[str, dict[str, str]]:
    """The URL and headers of a token GET: service, scopes, and Basic credentials when given."""
    params: list[tuple[str, str]] = []
    if service:
        params.append(("service", service))
    params += [("scope", s) for s in scopes]
    headers: dict[str, str] = {}
    if username:
        params.append(("account", username))
        pair = f"{username}:{password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    sep = "&" if "?" in realm else "?"
    return f"{realm}{sep}{urlencode(params)}", headers


def repository_scope(repository: str, actions: str) -> str:
    return f"repository:{repository}:{actions}"


def merge_scopes(scopes: list[str]) -> list[str]:
    """Union the actions of scopes naming the same resource, keeping first-seen order."""
    merged: dict[str, list[str]] = {}
    for scope in scopes:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        key = f"{kind}:{name}"
        bucket = merged.setdefault(key, [])
        for action in actions.split(","):
            if action and action not in bucket:
                bucket.append(action)
    return [f"{key}:{','.join(actions)}" for key, actions in merged.items()]


@dataclass(slots=True)
class _Cached:
    token: str
    expires: float


class TokenCache:
    """Bearer tokens per (realm, service, scopes), dropped a little before they expire."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str, tuple[str, ...]], _Cached] = {}

    @staticmethod
    def key(realm: str, service: str, scopes: list[str]) -> tuple[str, str, tuple[str, ...]]:
        return (realm, service, tuple(sorted(scopes)))

    def get(self, key: tuple[str, str, tuple[str, ...]]) -> str | None:
        cached = self._tokens.get(key)
        if cached is None or cached.expires <= time.monotonic():
            return None
        return cached.token

    def put(self, key: tuple[str, str, tuple[str, ...]], token: str, expires_in: int) -> None:
        lifetime = max(60, expires_in)
        self._tokens[key] = _Cached(token, time.monotonic() + lifetime - 10)

    def clear(self) -> None:
        self._tokens.clear()
