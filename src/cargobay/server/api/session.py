"""Who is calling the JSON API: HTTP Basic with a password or a personal access token.

Registry bearer tokens are not accepted here: they grant repository actions, never account
administration.
"""

from __future__ import annotations

from aiohttp import web

from cargobay.registry.accounts import AccountService, Actor, InvalidCredentials, TooManyAttempts
from cargobay.server.api.errors import ApiError, throttled, unauthorized
from cargobay.server.auth import parse_basic
from cargobay.server.client_address import client_address

_MAX_AUTHORIZATION = 8192


class ApiAuth:
    def __init__(self, accounts: AccountService) -> None:
        self.accounts = accounts

    async def optional(self, request: web.Request) -> Actor | None:
        """The caller, or None when no credentials came; wrong credentials are still a 401."""
        header = request.headers.get("Authorization")
        if header is None:
            return None
        if len(header) > _MAX_AUTHORIZATION:
            raise unauthorized("credentials too long")
        if header.split(" ", 1)[0].lower() != "basic":
            raise unauthorized("use Basic authentication with a password or a personal access token")
        try:
            username, secret = parse_basic(header)
            return await self.accounts.authenticate(username, secret, client_address(request))
        except TooManyAttempts as exc:
            raise throttled(exc) from None
        except InvalidCredentials as exc:
            raise unauthorized(str(exc)) from None

    async def required(self, request: web.Request) -> Actor:
        actor = await self.optional(request)
        if actor is None:
            raise unauthorized()
        return actor

    async def with_password(self, request: web.Request, what: str) -> Actor:
        """Account administration: a password login, never a personal access token."""
        actor = await self.required(request)
        if actor.token_actions is not None:
            raise ApiError(403, f"access tokens cannot {what}; log in with the password")
        return actor
