"""`/api/orgs`: organisations and their members (owners manage, members may look and leave)."""

from __future__ import annotations

from aiohttp import web

from cargobay.registry.accounts import AccountError, AccountService, Actor
from cargobay.server.api.errors import (
    ApiError,
    from_account_error,
    json_body,
    path_param,
    string_field,
    timestamp,
)
from cargobay.server.api.session import ApiAuth

_NO_ORG = "no such organisation"


class OrgsApi:
    def __init__(self, accounts: AccountService, auth: ApiAuth) -> None:
        self.accounts = accounts
        self.auth = auth

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/orgs", self.create)
        app.router.add_get("/orgs/{org}/members", self.members)
        app.router.add_put("/orgs/{org}/members/{username}", self.set_member)
        app.router.add_delete("/orgs/{org}/members/{username}", self.remove_member)

    async def create(self, request: web.Request) -> web.Response:
        actor = await self.auth.with_password(request, "create organisations")
        body = await json_body(request)
        name = string_field(body, "name")
        try:
            org = await self.accounts.create_org(actor, name)
        except AccountError as exc:
            raise from_account_error(exc, {"username": "name"}) from None
        return web.json_response(
            {"id": org.id, "orgname": org.name, "type": "Org", "date_joined": timestamp(org.created_at)},
            status=201,
        )

    async def _visible_org(self, actor: Actor, org: str) -> None:
        """Members (and admins) may see an organisation's members; to others it does not exist."""
        role = await self.accounts.store.role_in(org, actor.account_id)
        if role is None and not actor.is_admin:
            raise ApiError(404, f"{_NO_ORG}: {org}", "org")

    async def members(self, request: web.Request) -> web.Response:
        actor = await self.auth.required(request)
        org = path_param(request, "org", _NO_ORG)
        await self._visible_org(actor, org)
        try:
            found = await self.accounts.members(org)
        except AccountError as exc:
            raise from_account_error(exc) from None
        results = [{"username": name, "role": role} for name, role in found]
        return web.json_response({"count": len(results), "results": results})

    async def set_member(self, request: web.Request) -> web.Response:
        actor = await self.auth.with_password(request, "manage organisations")
        org = path_param(request, "org", _NO_ORG)
        username = path_param(request, "username", "no such user")
        await self._visible_org(actor, org)
        body = await json_body(request)
        role = string_field(body, "role")
        try:
            await self.accounts.set_member(actor, org, username, role)
        except AccountError as exc:
            raise from_account_error(exc) from None
        return web.json_response({"username": username, "role": role})

    async def remove_member(self, request: web.Request) -> web.Response:
        actor = await self.auth.with_password(request, "manage organisations")
        org = path_param(request, "org", _NO_ORG)
        username = path_param(request, "username", "no such user")
        await self._visible_org(actor, org)
        try:
            if username.lower() == actor.name and not actor.is_admin:  # leaving (owners: while one remains)
                await self.accounts.leave_org(actor, org)
            else:
                await self.accounts.remove_member(actor, org, username)
        except AccountError as exc:
            raise from_account_error(exc) from None
        return web.Response(status=204)
