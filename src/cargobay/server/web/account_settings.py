"""`/settings`: the account, its password and its personal access tokens.

Changing the password ends every session of the account (the store deletes them with the old
password hash); the visitor who changed it gets a fresh session at once and stays logged in. A
new access token's secret is shown once, on the page that answers the form, and never again.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from cargobay.registry.accounts import (
    TOKEN_SCOPES,
    AccountError,
    Actor,
    InvalidCredentials,
    TooManyAttempts,
)
from cargobay.server.web.pages import LoginRequired, PageNotFound, page, redirect
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor, checked_form

_MAX_FIELD = 1024
_TOKEN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SCOPE_LABELS = {
    "read": "Read (pull)",
    "read-write": "Read and write (pull, push)",
    "delete": "Read, write and delete",
}
assert set(SCOPE_LABELS) == set(TOKEN_SCOPES)


def field_value(form: dict[str, str], name: str) -> str:
    return form.get(name, "")[:_MAX_FIELD]


def logged_in(visitor: Visitor) -> Actor:
    """The visitor's account; LoginRequired (to the log-in page and back) for anyone else."""
    if visitor.actor is None:
        raise LoginRequired()
    return visitor.actor


async def settings_nav(site: Site, actor: Actor, current: str) -> dict[str, Any]:
    """What `_settings_nav.html` needs: the tab shown, and the account's organisations."""
    return {"nav_current": current, "nav_orgs": await site.accounts.organisations_of(actor)}


class AccountSettingsPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/settings", page(self.site, self.account))
        app.router.add_post("/settings/password", page(self.site, self.change_password))
        app.router.add_get("/settings/tokens", page(self.site, self.tokens))
        app.router.add_post("/settings/tokens", page(self.site, self.create_token))
        app.router.add_post("/settings/tokens/{token_id}/revoke", page(self.site, self.revoke_token))

    # -- account and password -------------------------------------------------------------

    async def _account_page(
        self, request: web.Request, actor: Actor, *, status: int = 200, errors: dict[str, str] | None = None
    ) -> web.Response:
        return self.site.render(
            request,
            "settings.html",
            status=status,
            account=await self.site.accounts.profile(actor),
            errors=errors or {},
            changed=request.rel_url.query.get("changed") == "1" and not errors,
            **await settings_nav(self.site, actor, "account"),
        )

    async def account(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._account_page(request, logged_in(visitor))

    async def change_password(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor = logged_in(visitor)
        form = await checked_form(request, visitor, self.site.public_url)
        current, new = field_value(form, "current_password"), field_value(form, "new_password")
        errors: dict[str, str] = {}
        status = 400
        if not current:
            errors["current_password"] = "enter your current password"
        elif new != field_value(form, "new_password_repeat"):
            errors["new_password_repeat"] = "the new passwords do not match"
        else:
            try:
                await self.site.accounts.change_password(actor, current, new)
            except TooManyAttempts as exc:
                errors[""] = str(exc)
                status = 429
            except InvalidCredentials as exc:
                errors["current_password"] = str(exc)
                status = 403
            except AccountError as exc:
                errors["new_password" if exc.field == "password" else ""] = str(exc)
            else:
                # Every session of the account has just ended, this one too: open a new one.
                visitor.logged_in(await self.site.sessions.open(actor))
                raise redirect("/settings?changed=1")
        return await self._account_page(request, actor, status=status, errors=errors)

    # -- personal access tokens -----------------------------------------------------------

    async def _tokens_page(
        self,
        request: web.Request,
        actor: Actor,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        label: str = "",
        scope: str = "read",
        new_token: Any = None,
    ) -> web.Response:
        response = self.site.render(
            request,
            "settings_tokens.html",
            status=status,
            tokens=await self.site.accounts.list_tokens(actor),
            scopes=SCOPE_LABELS,
            errors=errors or {},
            label=label,
            scope=scope,
            new_token=new_token,
            revoked=request.rel_url.query.get("revoked") == "1",
            registry_host=self.site.registry_host(request),
            **await settings_nav(self.site, actor, "tokens"),
        )
        if new_token is not None:
            response.headers["Cache-Control"] = "no-store"  # the secret must not stay in a cache
        return response

    async def tokens(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._tokens_page(request, logged_in(visitor))

    async def create_token(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor = logged_in(visitor)
        form = await checked_form(request, visitor, self.site.public_url)
        label, scope = field_value(form, "label").strip(), field_value(form, "scope")
        try:
            new = await self.site.accounts.create_token(actor, label, scope)
        except AccountError as exc:
            return await self._tokens_page(
                request,
                actor,
                status=400,
                errors={exc.field or "": str(exc)},
                label=label,
                scope=scope if scope in SCOPE_LABELS else "read",
            )
        return await self._tokens_page(request, actor, new_token=new)

    async def revoke_token(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor = logged_in(visitor)
        await checked_form(request, visitor, self.site.public_url)
        token_id = request.match_info["token_id"]
        if not _TOKEN_ID.fullmatch(token_id):
            raise PageNotFound()
        await self.site.accounts.revoke_token(actor, token_id)  # AccountNotFound: the 404 page
        raise redirect("/settings/tokens?revoked=1")
