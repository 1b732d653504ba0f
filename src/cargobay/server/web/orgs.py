"""`/orgs/...`: create organisations, list their members, add and remove members, leave.

Who may see what is the JSON API's rule (`/api/orgs/{org}/members`): members and administrators
see an organisation's members; to anyone else it answers the same 404 page as an organisation
that does not exist. Owners (and administrators) add and remove members; any member may leave
(the "Leave organisation" button of the members page). An organisation always keeps an owner
(the service refuses to remove, demote or let go the last one).
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from cargobay.registry.accounts import AccountConflict, AccountError, AccountNotFound, Actor, NotAllowed
from cargobay.server.web.account_settings import field_value, logged_in, settings_nav
from cargobay.server.web.pages import PageNotFound, page, redirect
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor, checked_form

ROLES = {"member": "Member", "owner": "Owner"}
_MAX_NAME = 64
_NOTICES = {
    "added": "Member saved.",
    "removed": "Member removed.",
    "created": "Organisation created: you are its owner.",
}


def _name(request: web.Request, key: str) -> str:
    """A name from the path; one no account can have is the 404 page."""
    value = request.match_info[key]
    if not value or len(value) > _MAX_NAME:
        raise PageNotFound()
    return value


def _members_url(org: str, notice: str | None = None) -> str:
    return f"/orgs/{quote(org, safe='')}/members" + (f"?done={notice}" if notice else "")


class OrgPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/orgs/new", page(self.site, self.new_form))
        app.router.add_post("/orgs", page(self.site, self.create))
        app.router.add_get("/orgs/{org}/members", page(self.site, self.members))
        app.router.add_post("/orgs/{org}/members", page(self.site, self.add_member))
        app.router.add_post("/orgs/{org}/members/{username}/remove", page(self.site, self.remove_member))
        app.router.add_post("/orgs/{org}/leave", page(self.site, self.leave))

    # -- creating ---------------------------------------------------------------------------

    async def _new_page(
        self,
        request: web.Request,
        actor: Actor,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        name: str = "",
    ) -> web.Response:
        return self.site.render(
            request,
            "orgs_new.html",
            status=status,
            errors=errors or {},
            name=name,
            **await settings_nav(self.site, actor, "new-org"),
        )

    async def new_form(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._new_page(request, logged_in(visitor))

    async def create(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor = logged_in(visitor)
        form = await checked_form(request, visitor, self.site.public_url)
        name = field_value(form, "name").strip()
        try:
            org = await self.site.accounts.create_org(actor, name)
        except AccountError as exc:
            status = 409 if isinstance(exc, AccountConflict) else 403 if isinstance(exc, NotAllowed) else 400
            field = "name" if exc.field in ("name", "username") else ""
            return await self._new_page(request, actor, status=status, errors={field: str(exc)}, name=name)
        raise redirect(_members_url(org.name, "created"))

    # -- members ----------------------------------------------------------------------------

    async def _members_page(
        self,
        request: web.Request,
        actor: Actor,
        org: str,
        *,
        status: int = 200,
        errors: dict[str, str] | None = None,
        username: str = "",
        role: str = "member",
    ) -> web.Response:
        members = await self.site.accounts.members_for(actor, org)  # AccountNotFound: 404 page
        my_role = await self.site.accounts.role_in(actor, org)
        notice = None if errors else _NOTICES.get(request.rel_url.query.get("done", ""))
        return self.site.render(
            request,
            "orgs_members.html",
            status=status,
            org=org,
            members=members,
            owners=sum(1 for _, member_role in members if member_role == "owner"),
            my_role=my_role,
            can_manage=my_role == "owner" or actor.is_admin,
            roles=ROLES,
            errors=errors or {},
            username=username,
            role=role if role in ROLES else "member",
            notice=notice,
            **await settings_nav(self.site, actor, f"org:{org}"),
        )

    async def members(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        return await self._members_page(request, logged_in(visitor), _name(request, "org"))

    async def add_member(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor = logged_in(visitor)
        org = _name(request, "org")
        form = await checked_form(request, visitor, self.site.public_url)
        await self.site.accounts.members_for(actor, org)  # to non-members it does not exist
        username = field_value(form, "username").strip().lower()
        role = field_value(form, "role")
        try:
            await self.site.accounts.set_member(actor, org, username, role)
        except AccountError as exc:
            if exc.field == "org" and isinstance(exc, AccountNotFound):
                raise PageNotFound() from None
            status = 403 if isinstance(exc, NotAllowed) else 400
            field = exc.field if exc.field in ("username", "role") and status == 400 else ""
            return await self._members_page(
                request, actor, org, status=status, errors={field: str(exc)}, username=username, role=role
            )
        raise redirect(_members_url(org, "added"))

    async def remove_member(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor = logged_in(visitor)
        org, username = _name(request, "org"), _name(request, "username")
        await checked_form(request, visitor, self.site.public_url)
        await self.site.accounts.members_for(actor, org)  # to non-members it does not exist
        try:
            await self.site.accounts.remove_member(actor, org, username)
        except AccountError as exc:
            if exc.field == "org" and isinstance(exc, AccountNotFound):
                raise PageNotFound() from None
            status = 403 if isinstance(exc, NotAllowed) else 404 if isinstance(exc, AccountNotFound) else 409
            return await self._members_page(request, actor, org, status=status, errors={"": str(exc)})
        if username == actor.name and not actor.is_admin:
            raise redirect("/settings")  # no longer a member: the page would be a 404
        raise redirect(_members_url(org, "removed"))

    async def leave(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        actor = logged_in(visitor)
        org = _name(request, "org")
        await checked_form(request, visitor, self.site.public_url)
        try:
            await self.site.accounts.leave_org(actor, org)
        except AccountNotFound:
            raise PageNotFound() from None  # not a member: the organisation does not exist
        except AccountError as exc:  # the last owner
            return await self._members_page(request, actor, org, status=409, errors={"": str(exc)})
        raise redirect("/settings")  # no longer a member: the members page would be a 404
