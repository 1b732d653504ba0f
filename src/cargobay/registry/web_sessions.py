"""Logging in to the web site: a password log-in opens a server-side session.

The session's secret goes to the browser in a cookie; the database keeps its SHA-256 only, so a
leaked database cannot be replayed as cookies. Each session has its own CSRF token. The password
rules and the login rate limit are the ones of the API and the registry (`AccountService`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cargobay.metadata.web_sessions import WebSessionStore
from cargobay.registry.accounts import AccountService, Actor, InvalidCredentials

SESSION_LIFETIME = 14 * 24 * 3600.0
_MAX_SECRET = 128


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class WebSession:
    secret: str  # the cookie's value ("" once read back from a cookie: not needed again)
    actor: Actor
    csrf_token: str


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


class WebSessions:
    def __init__(
        self, accounts: AccountService, store: WebSessionStore, *, lifetime: float = SESSION_LIFETIME
    ) -> None:
        self.accounts = accounts
        self.store = store
        self.lifetime = lifetime

    async def log_in(self, username: str, password: str, address: str | None) -> WebSession:
        """A password log-in (personal access tokens are for tools, not for the web site)."""
        actor = await self.accounts.authenticate(username.strip(), password, address)
        if actor.token_actions is not None:
            raise InvalidCredentials("log in with your password; access tokens are for tools")
        return await self.open(actor)

    async def open(self, actor: Actor) -> WebSession:
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        await self.store.create(_hash(secret), actor.account_id, csrf, self.lifetime)
        return WebSession(secret, actor, csrf)

    async def open_for(self, name: str) -> WebSession | None:
        """A session for an account that just proved itself another way (it just signed up)."""
        actor = await self.accounts.actor_for(name)
        return None if actor is None else await self.open(actor)

    async def find(self, secret: str) -> WebSession | None:
        if not secret or len(secret) > _MAX_SECRET:
            return None
        row = await self.store.find(_hash(secret))
        if row is None or row.account.kind != "user":
            return None
        account = row.account
        return WebSession("", Actor(account.name, account.id, account.is_admin), row.csrf_token)

    async def close(self, secret: str) -> None:
        if secret and len(secret) <= _MAX_SECRET:
            await self.store.delete(_hash(secret))
