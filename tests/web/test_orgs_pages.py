"""Organisations on the web site: creating one (the creator owns it), the members page (members
and administrators see it; to anyone else it is the 404 page of a missing organisation), adding
and removing members (owners only; the last owner stays)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from support.browser import PASSWORD, WebUser, log_in, unique_username
from support.servers import Hub, hub_env
from support.webforms import PageResult, WebVisitor

MakeUser = Callable[..., Awaitable[WebUser]]


def _org_name() -> str:
    return f"org{uuid.uuid4().hex[:12]}"


async def _logged_in(web_url: str, user: WebUser) -> WebVisitor:
    visitor = WebVisitor(web_url)
    answer = await visitor.log_in(user.username, PASSWORD)
    assert answer.status == 303, (answer.status, answer.text[:300])
    return visitor


async def _create_org(visitor: WebVisitor, name: str) -> PageResult:
    await visitor.get("/orgs/new")
    answer = await visitor.post("/orgs", {"name": name})
    assert answer.status == 303, (answer.status, answer.text[:500])
    assert answer.headers["Location"] == f"/orgs/{name}/members?done=created"
    return answer


def _member_row(text: str, username: str, role: str) -> bool:
    return f'<a href="/u/{username}">{username}</a>' in text and f'class="badge role-{role}"' in text


async def test_creating_an_organisation_makes_the_creator_its_owner(
    web_url: str, make_user: MakeUser
) -> None:
    alice = await make_user()
    org = _org_name()
    async with await _logged_in(web_url, alice) as visitor:
        form = await visitor.get("/orgs/new")
        assert form.status == 200 and 'action="/orgs"' in form.text and 'name="name"' in form.text
        await _create_org(visitor, org)
        members = await visitor.get(f"/orgs/{org}/members?done=created")
        assert members.status == 200
        assert "Organisation created" in members.text
        assert _member_row(members.text, alice.username, "owner")
        assert "Members (1)" in members.text
        assert f'action="/orgs/{org}/members"' in members.text  # owners get the add form
        assert "last owner" in members.text  # ... and no Remove button for the only owner
        assert f"/orgs/{org}/members/{alice.username}/remove" not in members.text
        # The settings navigation lists the organisation.
        settings = await visitor.get("/settings")
        assert f'href="/orgs/{org}/members"' in settings.text


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("No Spaces", 400, "username must be 4 to 30 lowercase letters or digits"),
        ("abc", 400, "username must be 4 to 30 lowercase letters or digits"),
        ("library", 400, "the name &#39;library&#39; is reserved"),
    ],
)
async def test_organisation_name_mistakes_are_explained(
    web_url: str, make_user: MakeUser, name: str, status: int, message: str
) -> None:
    user = await make_user()
    async with await _logged_in(web_url, user) as visitor:
        await visitor.get("/orgs/new")
        answer = await visitor.post("/orgs", {"name": name})
        assert answer.status == status
        assert message in answer.text
        assert 'aria-invalid="true"' in answer.text


async def test_a_taken_name_is_a_conflict_and_csrf_is_required(web_url: str, make_user: MakeUser) -> None:
    user = await make_user()
    org = _org_name()
    async with await _logged_in(web_url, user) as visitor:
        await visitor.get("/orgs/new")
        taken = await visitor.post("/orgs", {"name": user.username})
        assert taken.status == 409 and "this name is taken" in taken.text
        refused = await visitor.post("/orgs", {"name": org}, csrf=False)
        assert refused.status == 403
        assert (await visitor.get(f"/orgs/{org}/members")).status == 404  # not created


async def test_members_page_is_a_404_to_non_members_as_for_a_missing_org(
    web_url: str, make_user: MakeUser
) -> None:
    alice, mallory = await make_user(), await make_user()
    org = _org_name()
    async with await _logged_in(web_url, alice) as owner, await _logged_in(web_url, mallory) as outsider:
        await _create_org(owner, org)
        hidden = await outsider.get(f"/orgs/{org}/members")
        missing = await outsider.get(f"/orgs/{_org_name()}/members")
        assert hidden.status == missing.status == 404
        assert alice.username not in hidden.text
        assert hidden.text == missing.text  # the same page: nothing tells them apart
        # Posting to it reveals nothing either, and changes nothing.
        await outsider.get("/settings")
        add = await outsider.post(f"/orgs/{org}/members", {"username": mallory.username, "role": "owner"})
        assert add.status == 404
        remove = await outsider.post(f"/orgs/{org}/members/{alice.username}/remove")
        assert remove.status == 404
        after = await owner.get(f"/orgs/{org}/members")
        assert "Members (1)" in after.text and mallory.username not in after.text


async def test_owners_add_members_who_then_see_the_list_but_cannot_manage_it(
    web_url: str, make_user: MakeUser
) -> None:
    alice, bob, carol = await make_user(), await make_user(), await make_user()
    org = _org_name()
    async with (
        await _logged_in(web_url, alice) as owner,
        await _logged_in(web_url, bob) as member,
    ):
        await _create_org(owner, org)
        await owner.get(f"/orgs/{org}/members")
        added = await owner.post(f"/orgs/{org}/members", {"username": bob.username.upper(), "role": "member"})
        assert added.status == 303 and added.headers["Location"] == f"/orgs/{org}/members?done=added"
        page = await owner.get(f"/orgs/{org}/members?done=added")
        assert "Member saved." in page.text and "Members (2)" in page.text
        assert _member_row(page.text, bob.username, "member")
        assert f"/orgs/{org}/members/{bob.username}/remove" in page.text

        seen = await member.get(f"/orgs/{org}/members")
        assert seen.status == 200
        assert _member_row(seen.text, alice.username, "owner") and "you are a member" in seen.text
        assert "Add a member" not in seen.text and "/remove" not in seen.text
        assert f'href="/orgs/{org}/members" aria-current="page"' in seen.text  # in bob's navigation
        # A member posting the owners' forms anyway is refused and changes nothing.
        refused = await member.post(f"/orgs/{org}/members", {"username": carol.username, "role": "member"})
        assert refused.status == 403 and f"only owners of {org} can manage its members" in refused.text
        refused = await member.post(f"/orgs/{org}/members/{alice.username}/remove")
        assert refused.status == 403
        refused = await member.post(f"/orgs/{org}/members", {"username": bob.username, "role": "owner"})
        assert refused.status == 403
        after = await owner.get(f"/orgs/{org}/members")
        assert "Members (2)" in after.text and carol.username not in after.text
        assert _member_row(after.text, bob.username, "member")


async def test_add_member_mistakes_and_csrf(web_url: str, make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    org = _org_name()
    async with await _logged_in(web_url, alice) as owner:
        await _create_org(owner, org)
        await owner.get(f"/orgs/{org}/members")
        nobody = await owner.post(f"/orgs/{org}/members", {"username": "nosuchuser42", "role": "member"})
        assert nobody.status == 400 and "no such user: nosuchuser42" in nobody.text
        assert 'value="nosuchuser42"' in nobody.text  # the form keeps what was typed
        bad_role = await owner.post(f"/orgs/{org}/members", {"username": bob.username, "role": "admin"})
        assert bad_role.status == 400 and "role must be owner or member" in bad_role.text
        an_org = await owner.post(f"/orgs/{org}/members", {"username": org, "role": "member"})
        assert an_org.status == 400 and f"no such user: {org}" in an_org.text
        refused = await owner.post(
            f"/orgs/{org}/members", {"username": bob.username, "role": "member"}, csrf=False
        )
        assert refused.status == 403
        after = await owner.get(f"/orgs/{org}/members")
        assert "Members (1)" in after.text and bob.username not in after.text
        xss = await owner.post(f"/orgs/{org}/members", {"username": "<script>x</script>", "role": "member"})
        assert xss.status == 400 and "<script>x</script>" not in xss.text


async def test_the_last_owner_cannot_be_removed_or_demoted(web_url: str, make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    org = _org_name()
    async with await _logged_in(web_url, alice) as owner, await _logged_in(web_url, bob) as member:
        await _create_org(owner, org)
        await owner.get(f"/orgs/{org}/members")
        removed = await owner.post(f"/orgs/{org}/members/{alice.username}/remove")
        assert removed.status == 409
        assert "an organisation must keep at least one owner" in removed.text
        demoted = await owner.post(f"/orgs/{org}/members", {"username": alice.username, "role": "member"})
        assert demoted.status == 400
        assert "an organisation must keep at least one owner" in demoted.text
        page = await owner.get(f"/orgs/{org}/members")
        assert _member_row(page.text, alice.username, "owner")

        # With a second owner, the first may leave: the page is then a 404 for her.
        promoted = await owner.post(f"/orgs/{org}/members", {"username": bob.username, "role": "owner"})
        assert promoted.status == 303
        page = await owner.get(f"/orgs/{org}/members")
        assert _member_row(page.text, bob.username, "owner") and "last owner" not in page.text
        left = await owner.post(f"/orgs/{org}/members/{alice.username}/remove")
        assert left.status == 303 and left.headers["Location"] == "/settings"
        assert (await owner.get(f"/orgs/{org}/members")).status == 404
        assert f'href="/orgs/{org}/members"' not in (await owner.get("/settings")).text

        # bob, now the only owner, removes nobody who is not a member.
        await member.get(f"/orgs/{org}/members")
        gone = await member.post(f"/orgs/{org}/members/{alice.username}/remove")
        assert gone.status == 404 and f"{alice.username} is not a member of {org}" in gone.text


async def test_an_owner_removes_a_member_who_then_gets_the_404_page(
    web_url: str, make_user: MakeUser
) -> None:
    alice, bob = await make_user(), await make_user()
    org = _org_name()
    async with await _logged_in(web_url, alice) as owner, await _logged_in(web_url, bob) as member:
        await _create_org(owner, org)
        await owner.get(f"/orgs/{org}/members")
        assert (
            await owner.post(f"/orgs/{org}/members", {"username": bob.username, "role": "member"})
        ).status == 303
        assert (await member.get(f"/orgs/{org}/members")).status == 200
        refused = await owner.post(f"/orgs/{org}/members/{bob.username}/remove", csrf=False)
        assert refused.status == 403
        assert (await member.get(f"/orgs/{org}/members")).status == 200
        removed = await owner.post(f"/orgs/{org}/members/{bob.username}/remove")
        assert removed.status == 303 and removed.headers["Location"] == f"/orgs/{org}/members?done=removed"
        page = await owner.get(f"/orgs/{org}/members?done=removed")
        assert "Member removed." in page.text and "Members (1)" in page.text
        assert (await member.get(f"/orgs/{org}/members")).status == 404


async def _make_admin(hub: Hub) -> WebUser:
    """An administrator, made as the operator does: `cargobay admin user create --admin`."""
    name = unique_username("admin")
    command = [sys.executable, "-m", "cargobay", "admin", "user", "create", "--username", name]
    command += [
        "--email",
        f"{name}@example.com",
        "--password-stdin",
        "--admin",
        "--data-dir",
        str(hub.data_dir),
    ]
    made = await asyncio.to_thread(
        subprocess.run,
        command,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=hub_env(hub.database_url, {"CARGOBAY_AUTH": "token"}),
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, (made.stdout, made.stderr)
    return WebUser(name, PASSWORD, f"{name}@example.com")


async def test_an_administrator_sees_and_manages_any_organisation(
    web_url: str, web_hub: Hub, make_user: MakeUser
) -> None:
    alice, bob, root = await make_user(), await make_user(), await _make_admin(web_hub)
    org = _org_name()
    async with await _logged_in(web_url, alice) as owner, await _logged_in(web_url, root) as admin:
        await _create_org(owner, org)
        seen = await admin.get(f"/orgs/{org}/members")
        assert seen.status == 200
        assert "you manage it as an administrator" in seen.text and "Add a member" in seen.text
        assert f'href="/orgs/{org}/members"' not in (await admin.get("/settings")).text  # not a member
        await admin.get(f"/orgs/{org}/members")
        added = await admin.post(f"/orgs/{org}/members", {"username": bob.username, "role": "member"})
        assert added.status == 303
        removed = await admin.post(f"/orgs/{org}/members/{bob.username}/remove")
        assert removed.status == 303 and removed.headers["Location"] == f"/orgs/{org}/members?done=removed"
        page = await owner.get(f"/orgs/{org}/members")
        assert "Members (1)" in page.text and root.username not in page.text


async def test_organisation_pages_in_the_browser(
    page: Page, web_url: str, make_user: MakeUser, screenshot: Callable[..., Awaitable[Path]]
) -> None:
    alice, bob = await make_user(), await make_user()
    org = _org_name()
    await log_in(page, alice, "/orgs/new")
    await expect(page.get_by_role("heading", name="New organisation")).to_be_visible()
    await screenshot("orgs-new")
    await page.get_by_label("Organisation name").fill(org)
    await page.get_by_role("button", name="Create organisation").click()
    await expect(page.get_by_text("Organisation created")).to_be_visible()
    await page.get_by_label("Username").fill(bob.username)
    await page.get_by_role("button", name="Add member").click()
    await expect(page.get_by_text("Member saved.")).to_be_visible()
    await expect(page.get_by_role("link", name=bob.username)).to_be_visible()
    nav = page.get_by_role("navigation", name="Settings")
    await expect(nav.get_by_role("link", name=org)).to_have_attribute("aria-current", "page")
    await screenshot("orgs-members")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot("orgs-members-phone")
    await page.goto("/orgs/new")
    await screenshot("orgs-new-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.goto(f"/orgs/{org}/members")
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name=f"Remove {bob.username}").click()
    await expect(page.get_by_text("Member removed.")).to_be_visible()
    await expect(page.get_by_role("link", name=bob.username)).to_have_count(0)
