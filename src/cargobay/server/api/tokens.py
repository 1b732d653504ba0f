"""`/api/access-tokens`: personal access tokens (the secret is shown once, on creation)."""

from __future__ import annotations

from aiohttp import web

from cargobay.metadata.accounts import TokenRow
from cargobay.registry.accounts import AccountError, AccountService
from cargobay.server.api.errors import from_account_error, json_body, path_param, string_field, timestamp
from cargobay.server.api.session import ApiAuth


def token_json(row: TokenRow, secret: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {
        "uuid": row.id,
        "token_label": row.label,
        "scope": row.scope,
        "created_at": timestamp(row.created_at),
        "last_used": timestamp(row.last_used_at),
        "is_active": row.revoked_at is None,
        "generated_by": "manual",
    }
    if secret is not None:
        body["token"] = secret
    return body


class TokensApi:
    def __init__(self, accounts: AccountService, auth: ApiAuth) -> None:
        self.accounts = accounts
        self.auth = auth

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/access-tokens", self.create)
        app.router.add_get("/access-tokens", self.list)
        app.router.add_delete("/access-tokens/{uuid}", self.revoke)

    async def create(self, request: web.Request) -> web.Response:
        actor = await self.auth.with_password(request, "create access tokens")
        body = await json_body(request)
        label = string_field(body, "token_label")
        scope = string_field(body, "scope", default="read")
        try:
            new = await self.accounts.create_token(actor, label, scope)
        except AccountError as exc:
            raise from_account_error(exc, {"label": "token_label"}) from None
        return web.json_response(token_json(new.row, new.secret), status=201)

    async def list(self, request: web.Request) -> web.Response:
        actor = await self.auth.required(request)
        rows = await self.accounts.list_tokens(actor)
        results = [token_json(row) for row in rows]
        return web.json_response({"count": len(results), "results": results})

    async def revoke(self, request: web.Request) -> web.Response:
        actor = await self.auth.required(request)
        try:
            token_id = path_param(request, "uuid", "no such active token")
            await self.accounts.revoke_token(actor, token_id)
        except AccountError as exc:
            raise from_account_error(exc, {"token": "uuid"}) from None
        return web.Response(status=204)
