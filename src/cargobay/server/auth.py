"""Who is calling the registry API: bearer tokens, Basic credentials, or nobody; and the
`WWW-Authenticate` challenges that send clients to the token endpoint."""

from __future__ import annotations

import base64
import binascii
import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from cargobay.oci.errors import ErrorCode, RegistryError
from cargobay.registry.access import AccessPolicy
from cargobay.registry.accounts import AccountService, Actor, InvalidCredentials, TooManyAttempts
from cargobay.registry.tokens import InvalidToken, TokenIssuer, VerifiedToken
from cargobay.server.client_address import client_address

_MAX_AUTHORIZATION = 8192


@dataclass(frozen=True, slots=True)
class Identity:
    actor: Actor | None
    token: VerifiedToken | None
    presented: bool  # some credentials came with the request (even an anonymous token)


ANONYMOUS = Identity(None, None, False)


def realm_base(request: web.Request, public_url: str | None) -> str:
    if public_url:
        return public_url
    return f"{request.scheme}://{request.host}"


def parse_basic(header: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
    except (IndexError, binascii.Error, UnicodeDecodeError):
        raise InvalidCredentials("malformed Basic credentials") from None
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise InvalidCredentials("malformed Basic credentials")
    return username, password


class TokenCache:
    """Verified tokens by their text, until they expire (verifying ES256 costs ~0.1 ms)."""

    def __init__(self, capacity: int = 4096) -> None:
        self._items: OrderedDict[str, VerifiedToken] = OrderedDict()
        self._capacity = capacity

    def get(self, token: str) -> VerifiedToken | None:
        found = self._items.get(token)
        if found is None:
            return None
        if found.expires_at <= time.time():
            del self._items[token]
            return None
        self._items.move_to_end(token)
        return found

    def put(self, token: str, verified: VerifiedToken) -> None:
        self._items[token] = verified
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)


class RegistryAuth:
    def __init__(self, accounts: AccountService, issuer: TokenIssuer, *, public_url: str | None) -> None:
        self.accounts = accounts
        self.issuer = issuer
        self.public_url = public_url
        self._tokens = TokenCache()

    def challenge(
        self,
        request: web.Request,
        scope: str | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> RegistryError:
        parts = [f'realm="{realm_base(request, self.public_url)}/token"', f'service="{self.issuer.service}"']
        if scope:
            parts.append(f'scope="{scope}"')
        if error:
            parts.append(f'error="{error}"')
        return RegistryError(
            ErrorCode.UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer " + ",".join(parts)}
        )

    async def identify(self, request: web.Request, scope_hint: str | None) -> Identity:
        header = request.headers.get("Authorization")
        if not header:
            return ANONYMOUS
        if len(header) > _MAX_AUTHORIZATION:
            raise self.challenge(request, scope_hint, "invalid_token", "credentials too long")
        kind = header.split(" ", 1)[0].lower()
        if kind == "bearer":
            token = header[7:].strip()
            verified = self._tokens.get(token)
            if verified is None:
                try:
                    verified = self.issuer.verify(token)
                except InvalidToken:
                    raise self.challenge(request, scope_hint, "invalid_token") from None
                self._tokens.put(token, verified)
            actor = await self.accounts.actor_for(verified.subject) if verified.subject else None
            if verified.subject and actor is None:
                raise self.challenge(request, scope_hint, "invalid_token", "account no longer exists")
            return Identity(actor, verified, True)
        if kind == "basic":
            try:
                username, password = parse_basic(header)
                actor = await self.accounts.authenticate(username, password, client_address(request))
            except TooManyAttempts as exc:
                raise RegistryError(
                    ErrorCode.TOOMANYREQUESTS, str(exc), headers={"Retry-After": str(exc.retry_after)}
                ) from None
            except InvalidCredentials as exc:
                raise self.challenge(request, scope_hint, None, str(exc)) from None
            return Identity(actor, None, True)
        raise self.challenge(request, scope_hint, "invalid_token", "unsupported authorization scheme")


@dataclass(frozen=True, slots=True)
class Permit:
    identity: Identity
    visible: bool  # False: answer exactly as if the repository did not exist


_SCOPE_ACTIONS = {"pull": "pull", "push": "pull,push", "delete": "delete"}


class RegistryGuard:
    """Decides each registry request: allowed, hidden (answered as missing), 401 or 403."""

    def __init__(self, auth: RegistryAuth, policy: AccessPolicy) -> None:
        self.auth = auth
        self.policy = policy

    async def authorize(self, request: web.Request, repository: str, action: str) -> Permit:
        scope = f"repository:{repository}:{_SCOPE_ACTIONS[action]}"
        identity = await self.auth.identify(request, scope)
        access = await self.policy.check(identity.actor, repository)
        if action == "pull" and not identity.presented:
            if access.exists and access.visible:
                return Permit(identity, True)  # public content needs no token
            raise self.auth.challenge(request, scope)  # missing and private look the same
        if action != "pull" and action not in access.actions:
            if not identity.presented or (identity.actor is None and identity.token is not None):
                raise self.auth.challenge(
                    request, scope, "insufficient_scope" if identity.presented else None
                )
            raise RegistryError(ErrorCode.DENIED)
        if identity.token is not None and not identity.token.allows("repository", repository, action):
            raise self.auth.challenge(request, scope, "insufficient_scope")
        return Permit(identity, access.visible)

    async def can_read(self, identity: Identity, repository: str) -> bool:
        """For cross-repository mounts: may this caller read the source repository?"""
        access = await self.policy.check(identity.actor, repository)
        if not (access.exists and access.visible and "pull" in access.actions):
            return False
        return identity.token is None or identity.token.allows("repository", repository, "pull")

    async def identify_for_listing(self, request: web.Request, scope: str | None) -> Identity:
        identity = await self.auth.identify(request, scope)
        if not identity.presented:
            raise self.auth.challenge(request, scope)
        return identity

    async def visible_namespaces(self, identity: Identity) -> list[str] | None:
        return await self.policy.visible_namespaces(identity.actor)
