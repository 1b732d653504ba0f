"""`/token`: Docker's token spec (GET, Basic or anonymous) and its OAuth2 form (POST)."""

from __future__ import annotations

import datetime
import json
from typing import Any

from aiohttp import web

from cargobay.registry.access import AccessPolicy
from cargobay.registry.accounts import AccountService, Actor, InvalidCredentials, TooManyAttempts
from cargobay.registry.grants import grant
from cargobay.registry.scopes import InvalidScope, parse_scopes
from cargobay.registry.tokens import InvalidToken, TokenIssuer
from cargobay.server.auth import parse_basic
from cargobay.server.client_address import client_address


def _rfc3339(epoch: int) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps({"errors": [{"code": code, "message": message, "detail": None}]})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


def _oauth_error(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = json.dumps({"error": error, "error_description": description})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)


class TokenEndpoint:
    def __init__(self, accounts: AccountService, policy: AccessPolicy, issuer: TokenIssuer) -> None:
        self.accounts = accounts
        self.policy = policy
        self.issuer = issuer

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/token", self.get)
        app.router.add_post("/token", self.post)

    async def _token_body(self, actor: Actor | None, scope_values: list[str]) -> dict[str, Any]:
        scopes = await grant(self.policy, actor, parse_scopes(scope_values))
        token, issued_at, expires_in = self.issuer.issue(actor.name if actor else "", scopes)
        return {
            "token": token,
            "access_token": token,
            "expires_in": expires_in,
            "issued_at": _rfc3339(issued_at),
            "scope": " ".join(str(s) for s in scopes),
        }

    async def get(self, request: web.Request) -> web.Response:
        query = request.rel_url.query
        service = query.get("service")
        if service is not None and service != self.issuer.service:
            return _errors(400, "UNSUPPORTED", f"unknown service {service[:80]!r}")
        actor: Actor | None = None
        header = request.headers.get("Authorization", "")
        try:
            if header.lower().startswith("basic "):
                username, password = parse_basic(header[:8192])
                actor = await self.accounts.authenticate(username, password, client_address(request))
            elif header:
                return _errors(401, "UNAUTHORIZED", "unsupported authorization scheme")
            body = await self._token_body(actor, query.getall("scope", []))
        except TooManyAttempts as exc:
            return _errors(429, "TOOMANYREQUESTS", str(exc), {"Retry-After": str(exc.retry_after)})
        except InvalidCredentials:
            return _errors(
                401,
                "UNAUTHORIZED",
                "incorrect username or password",
                {"WWW-Authenticate": 'Basic realm="cargobay"'},
            )
        except InvalidScope as exc:
            return _errors(400, "UNSUPPORTED", f"invalid scope: {exc}")
        if actor is not None and actor.token_actions is None and query.get("offline_token") == "true":
            body["refresh_token"] = self.issuer.issue_refresh(actor.name)
        return web.json_response(body)

    async def post(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant_type = str(form.get("grant_type", ""))
        service = form.get("service")
        if service is not None and service != self.issuer.service:
            return _oauth_error(400, "invalid_request", "unknown service")
        actor: Actor | None
        try:
            if grant_type == "password":
                actor = await self.accounts.authenticate(
                    str(form.get("username", "")), str(form.get("password", "")), client_address(request)
                )
            elif grant_type == "refresh_token":
                subject, issued_at = self.issuer.verify_refresh(str(form.get("refresh_token", "")))
                actor = await self.accounts.actor_for(subject, issued_at=issued_at)
                if actor is None:
                    raise InvalidCredentials("account no longer exists")
            else:
                return _oauth_error(400, "unsupported_grant_type", "use password or refresh_token")
            body = await self._token_body(actor, [str(form.get("scope", ""))] if form.get("scope") else [])
        except TooManyAttempts as exc:
            return _oauth_error(429, "slow_down", str(exc), {"Retry-After": str(exc.retry_after)})
        except (InvalidCredentials, InvalidToken):
            return _oauth_error(401, "invalid_grant", "incorrect username or password")
        except InvalidScope as exc:
            return _oauth_error(400, "invalid_scope", str(exc))
        body.pop("token")
        if grant_type == "password" and actor.token_actions is None and form.get("access_type") == "offline":
            body["refresh_token"] = self.issuer.issue_refresh(actor.name)
        return web.json_response(body)
