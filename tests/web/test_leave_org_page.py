"""Leaving an organisation on the web site: the "Leave organisation" form of the members page
(`POST /orgs/{org}/leave`, with the CSRF token), over plain HTTP against the web hub. The
organisations are set up through the hub's own services; leaving goes through the page."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from support.browser import PASSWORD, WebUser
from support.hubdata import HubServices, run_with_hub_async
from support.servers import Hub
from support.webforms import WebVisitor

MakeUser = Callable[..., Awaitable[WebUser]]
LEAVE_BUTTON = ">Leave organisation</button>"


async def _org(hub: Hub, owner: WebUser, **members: str) -> str:
    """A new organisation owned by `owner`, with `members` (username=role)."""
    org = f"org{uuid.uuid4().hex[:12]}"

    async def make(h: HubServices) -> None:
        actor = await h.accounts.actor_for(owner.username)
        assert actor is not None
        await h.accounts.create_org(actor, org)
        for name, role in members.items():
            await h.accounts.set_member(actor, org, name, role)

    await run_with_hub_async(hub, make)
    return org


async def _members(hub: Hub, org: str) -> dict[str, str]:
    return dict(await run_with_hub_async(hub, lambda h: h.accounts.members(org)))


async def _visitor(web_url: str, user: WebUser) -> WebVisitor:
    visitor = WebVisitor(web_url)
    assert (await visitor.log_in(user.username, PASSWORD)).status == 303
    return visitor


async def test_a_member_leaves_from_the_members_page(web_url: str, web_hub: Hub, make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    org = await _org(web_hub, alice, **{bob.username: "member"})
    async with await _visitor(web_url, bob) as member:
        page = await member.get(f"/orgs/{org}/members")
        assert page.status == 200 and LEAVE_BUTTON in page.text
        assert f'action="/orgs/{org}/leave" method="post"' in page.text
        assert "Add a member" not in page.text  # read-only for a member, as before

        # No CSRF token, or a post from another site: refused, bob stays.
        assert (await member.post(f"/orgs/{org}/leave", csrf=False)).status == 403
        other_site = await member.post(f"/orgs/{org}/leave", headers={"Origin": "https://evil.example"})
        assert other_site.status == 403
        assert (await _members(web_hub, org)).get(bob.username) == "member"

        left = await member.post(f"/orgs/{org}/leave")
        assert left.status == 303 and left.headers["Location"] == "/settings"
        assert await _members(web_hub, org) == {alice.username: "owner"}
        assert (await member.get(f"/orgs/{org}/members")).status == 404
        assert f'href="/orgs/{org}/members"' not in (await member.get("/settings")).text
        assert (await member.post(f"/orgs/{org}/leave")).status == 404  # not twice


async def test_the_last_owner_is_told_to_name_another_owner(
    web_url: str, web_hub: Hub, make_user: MakeUser
) -> None:
    alice, bob = await make_user(), await make_user()
    org = await _org(web_hub, alice, **{bob.username: "member"})
    async with await _visitor(web_url, alice) as owner:
        page = await owner.get(f"/orgs/{org}/members")
        assert LEAVE_BUTTON in page.text and "You are the only owner" in page.text
        refused = await owner.post(f"/orgs/{org}/leave")
        assert refused.status == 409
        assert "an organisation must keep at least one owner" in refused.text
        assert await _members(web_hub, org) == {alice.username: "owner", bob.username: "member"}

        await owner.post(f"/orgs/{org}/members", {"username": bob.username, "role": "owner"})
        page = await owner.get(f"/orgs/{org}/members")
        assert LEAVE_BUTTON in page.text and "You are the only owner" not in page.text
        left = await owner.post(f"/orgs/{org}/leave")
        assert left.status == 303 and left.headers["Location"] == "/settings"
        assert await _members(web_hub, org) == {bob.username: "owner"}


async def test_outsiders_get_the_404_page(web_url: str, web_hub: Hub, make_user: MakeUser) -> None:
    alice, mallory = await make_user(), await make_user()
    org = await _org(web_hub, alice)
    async with await _visitor(web_url, mallory) as outsider:
        missing = await outsider.post(f"/orgs/org{uuid.uuid4().hex[:12]}/leave")
        hidden = await outsider.post(f"/orgs/{org}/leave")
        assert hidden.status == missing.status == 404
        assert LEAVE_BUTTON not in hidden.text and org not in hidden.text
    async with WebVisitor(web_url) as anonymous:
        assert (await anonymous.post(f"/orgs/{org}/leave")).status in (303, 403)
    assert await _members(web_hub, org) == {alice.username: "owner"}
