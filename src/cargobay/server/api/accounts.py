"""`/api/users` (sign-up) and `/api/user` (the caller: profile, password, deletion)."""

from __future__ import annotations

from aiohttp import web

from cargobay.metadata.accounts import AccountRow
from cargobay.registry.accounts import AccountError, AccountService, InvalidCredentials, TooManyAttempts
from cargobay.server.api.errors import (
    ApiError,
    from_account_error,
    json_body,
    string_field,
    throttled,
    timestamp,
)
from cargobay.server.api.session import ApiAuth


def user_json(account: AccountRow, *, private: bool) -> dict[str, object]:
    body: dict[str, object] = {
        "id": account.id,
        "username": account.name,
        "type": "User",
        "date_joined": timestamp(account.created_at),
    }
    if private:
        body["email"] = account.email
        body["is_admin"] = account.is_admin
    return body


class AccountsApi:
    def __init__(self, accounts: AccountService, auth: ApiAuth) -> None:
        self.accounts = accounts
        self.auth = auth

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/users", self.sign_up)
        app.router.add_get("/user", self.me)
        app.router.add_delete("/user", self.delete_me)
        app.router.add_put("/user/password", self.change_password)

    async def sign_up(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        username = string_field(body, "username")
        email = string_field(body, "email")
        password = string_field(body, "password")
        # Only these three fields count: anything else in the body (is_admin, role, ...) is
        # ignored, so self-registration can never create an administrator (CVE-2019-16097).
        try:
            account = await self.accounts.register(username, email, password)
        except AccountError as exc:
            raise from_account_error(exc) from None
        return web.json_response(user_json(account, private=True), status=201)

    async def _account(self, name: str) -> AccountRow:
        account = await self.accounts.store.account_by_name(name)
        if account is None:
            raise ApiError(401, "account no longer exists")
        return account

    async def me(self, request: web.Request) -> web.Response:
        actor = await self.auth.required(request)
        return web.json_response(user_json(await self._account(actor.name), private=True))

    async def change_password(self, request: web.Request) -> web.Response:
        actor = await self.auth.with_password(request, "change passwords")
        body = await json_body(request)
        old = string_field(body, "old_password")
        new = string_field(body, "new_password")
        try:
            await self.accounts.change_password(actor, old, new)
        except TooManyAttempts as exc:
            raise throttled(exc) from None
        except InvalidCredentials as exc:
            raise ApiError(403, str(exc), "old_password") from None
        except AccountError as exc:
            raise from_account_error(exc, {"password": "new_password"}) from None
        return web.Response(status=204)

    async def delete_me(self, request: web.Request) -> web.Response:
        actor = await self.auth.with_password(request, "delete accounts")
        body = await json_body(request)
        password = string_field(body, "password")
        try:
            await self.accounts.delete_account(actor, password)
        except InvalidCredentials as exc:
            raise ApiError(403, str(exc), "password") from None
        return web.Response(status=204)
