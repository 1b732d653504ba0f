"""Account settings on the web site: the account overview, changing the password (every other
session ends, the changer stays logged in) and personal access tokens (shown once, usable as a
registry password and by `cargobay login`, revocable by their owner only)."""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from support.browser import PASSWORD, WebUser, log_in, save_screenshot
from support.clientenv import isolated_client_env
from support.http import request
from support.pushing import basic_auth, push_image
from support.servers import Hub
from support.webforms import PageResult, WebVisitor

MakeUser = Callable[..., Awaitable[WebUser]]
NEW_PASSWORD = "Changed-S3cret-pw"
_SECRET = re.compile(r'id="new-token-secret">(cbpat_[A-Za-z0-9_-]+)<')
_REVOKE = re.compile(r'action="/settings/tokens/([A-Za-z0-9_-]+)/revoke"')


async def _logged_in(web_url: str, user: WebUser, password: str = PASSWORD) -> WebVisitor:
    visitor = WebVisitor(web_url)
    answer = await visitor.log_in(user.username, password)
    assert answer.status == 303, (answer.status, answer.text[:300])
    return visitor


async def _v2_status(web_url: str, username: str, secret: str) -> int:
    answer = await asyncio.to_thread(request, "GET", f"{web_url}/v2/", headers=basic_auth(username, secret))
    return answer.status


async def _create_token(visitor: WebVisitor, label: str, scope: str = "read") -> tuple[PageResult, str]:
    await visitor.get("/settings/tokens")
    created = await visitor.post("/settings/tokens", {"label": label, "scope": scope})
    assert created.status == 200, (created.status, created.text[:500])
    found = _SECRET.search(created.text)
    assert found, created.text[:2000]
    return created, found.group(1)


# --------------------------------------------------------------------------- log-in and overview


@pytest.mark.parametrize("path", ["/settings", "/settings/tokens", "/orgs/new", "/orgs/someorg/members"])
async def test_settings_pages_send_anonymous_visitors_to_log_in(web_url: str, path: str) -> None:
    async with WebVisitor(web_url) as visitor:
        answer = await visitor.get(path, follow=False)
        assert answer.status == 303
        assert answer.headers["Location"] == f"/login?next={path}"


async def test_anonymous_posts_change_nothing_and_go_to_log_in(web_url: str) -> None:
    async with WebVisitor(web_url) as visitor:
        await visitor.get("/login")
        for path in ("/settings/password", "/settings/tokens", "/orgs"):
            answer = await visitor.post(path, {"label": "x", "name": "anyorgname"})
            assert answer.status == 303, path
            assert answer.headers["Location"].startswith("/login?next="), path


async def test_settings_shows_the_account_and_the_password_form(web_url: str, make_user: MakeUser) -> None:
    user = await make_user()
    async with await _logged_in(web_url, user) as visitor:
        answer = await visitor.get("/settings")
        assert answer.status == 200
        assert f'<a href="/u/{user.username}">{user.username}</a>' in answer.text
        assert user.email in answer.text
        assert 'action="/settings/password"' in answer.text
        for name in ("current_password", "new_password", "new_password_repeat"):
            assert f'name="{name}"' in answer.text
        # the settings navigation
        assert 'href="/settings" aria-current="page"' in answer.text
        assert 'href="/settings/tokens"' in answer.text and 'href="/orgs/new"' in answer.text


# --------------------------------------------------------------------------- password


async def test_password_change_without_csrf_is_refused_and_changes_nothing(
    web_url: str, make_user: MakeUser
) -> None:
    user = await make_user()
    async with await _logged_in(web_url, user) as visitor:
        form = {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_repeat": NEW_PASSWORD,
        }
        refused = await visitor.post("/settings/password", form, csrf=False)
        assert refused.status == 403
        wrong = await visitor.post("/settings/password", {**form, "csrf_token": "x" * 43}, csrf=False)
        assert wrong.status == 403
        foreign = await visitor.post("/settings/password", form, headers={"Origin": "https://evil.example"})
        assert foreign.status == 403
        assert (await visitor.get("/settings")).status == 200  # still logged in
    assert await _v2_status(web_url, user.username, PASSWORD) == 200


async def test_password_change_ends_other_sessions_and_keeps_the_changer_logged_in(
    web_url: str, make_user: MakeUser
) -> None:
    user = await make_user()
    async with await _logged_in(web_url, user) as other, await _logged_in(web_url, user) as changer:
        assert (await other.get("/settings", follow=False)).status == 200
        await changer.get("/settings")
        form = {
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_repeat": NEW_PASSWORD,
        }
        answer = await changer.post("/settings/password", form)
        assert answer.status == 303
        assert answer.headers["Location"] == "/settings?changed=1"
        # The changer has a new session and stays logged in; forms work with its new token.
        after = await changer.get("/settings?changed=1", follow=False)
        assert after.status == 200
        assert "Your password was changed" in after.text
        created, _ = await _create_token(changer, "after-change")
        assert "after-change" in created.text
        # The other browser is logged out.
        ended = await other.get("/settings", follow=False)
        assert ended.status == 303 and ended.headers["Location"] == "/login?next=/settings"
        assert "Log out" not in (await other.get("/")).text
    assert await _v2_status(web_url, user.username, NEW_PASSWORD) == 200
    assert await _v2_status(web_url, user.username, PASSWORD) == 401
    async with WebVisitor(web_url) as fresh:
        assert (await fresh.log_in(user.username, NEW_PASSWORD)).status == 303


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        (
            {
                "current_password": "Not-the-pw-1",
                "new_password": NEW_PASSWORD,
                "new_password_repeat": NEW_PASSWORD,
            },
            403,
            "current password is wrong",
        ),
        (
            {"current_password": PASSWORD, "new_password": "short", "new_password_repeat": "short"},
            400,
            "password must be 8 to 256 characters",
        ),
        (
            {
                "current_password": PASSWORD,
                "new_password": "alllowercase",
                "new_password_repeat": "alllowercase",
            },
            400,
            "password is too simple",
        ),
        (
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_repeat": "Other-S3cret",
            },
            400,
            "the new passwords do not match",
        ),
        (
            {"current_password": "", "new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD},
            400,
            "enter your current password",
        ),
    ],
)
async def test_password_change_mistakes_are_explained_and_change_nothing(
    web_url: str, make_user: MakeUser, form: dict[str, str], status: int, message: str
) -> None:
    user = await make_user()
    async with await _logged_in(web_url, user) as visitor:
        await visitor.get("/settings")
        answer = await visitor.post("/settings/password", form)
        assert answer.status == status
        assert html.escape(message) in answer.text
        assert 'aria-invalid="true"' in answer.text  # next to the field it is about
        assert PASSWORD not in answer.text and NEW_PASSWORD not in answer.text  # never echoed
        assert (await visitor.get("/settings", follow=False)).status == 200  # still logged in
    assert await _v2_status(web_url, user.username, PASSWORD) == 200


async def test_guesses_at_the_current_password_count_against_the_login_limit(
    web_url: str, make_user: MakeUser
) -> None:
    """A stolen session must not be a way to guess the password without the login limit."""
    user = await make_user()
    guess = {
        "current_password": "Wrong-guess-1",
        "new_password": NEW_PASSWORD,
        "new_password_repeat": NEW_PASSWORD,
    }
    async with await _logged_in(web_url, user) as visitor:
        await visitor.get("/settings")
        statuses = [(await visitor.post("/settings/password", guess)).status for _ in range(6)]
        assert statuses == [403] * 5 + [429]
        right = dict(guess, current_password=PASSWORD)
        locked = await visitor.post("/settings/password", right)
        assert locked.status == 429 and "too many failed logins" in locked.text
    # the account is now locked for password logins everywhere, as after wrong logins
    assert await _v2_status(web_url, user.username, PASSWORD) == 429


# --------------------------------------------------------------------------- access tokens


async def test_a_new_token_is_shown_once_and_works_as_a_registry_password(
    web_url: str, web_hub: Hub, make_user: MakeUser, tmp_path: Path
) -> None:
    user = await make_user()
    async with await _logged_in(web_url, user) as visitor:
        created, secret = await _create_token(visitor, "ci <build> & co", "read-write")
        assert created.headers["Cache-Control"] == "no-store"
        assert secret not in str(created.url)
        assert f"cargobay login -u {user.username} --password-stdin {web_hub.url}" in created.text
        assert f"docker login -u {user.username} --password-stdin {web_hub.url}" in created.text
        assert f'data-copy="{secret}"' in created.text
        assert "ci &lt;build&gt; &amp; co" in created.text and "<build>" not in created.text
        listed = await visitor.get("/settings/tokens")
        assert secret not in listed.text and secret[6:] not in listed.text  # shown once only
        assert "ci &lt;build&gt; &amp; co" in listed.text
        assert "read-write" in listed.text and "Active" in listed.text and "never" in listed.text

    # A registry password: Basic on /v2/, the token service, a push into the account's namespace.
    assert await _v2_status(web_url, user.username, secret) == 200
    scope = f"repository:{user.username}/app:pull,push"
    token = await asyncio.to_thread(
        request, "GET", f"{web_url}/token?scope={scope}", headers=basic_auth(user.username, secret)
    )
    assert token.status == 200, token.body
    await asyncio.to_thread(push_image, web_hub, f"{user.username}/app", basic_auth(user.username, secret))

    # `cargobay login` with the token on stdin, as the page says.
    env = isolated_client_env(tmp_path / "client")
    login = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "cargobay", "login", "-u", user.username, "--password-stdin", web_hub.url],
        input=secret + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert login.returncode == 0, login.stderr
    assert "Login Succeeded" in login.stdout

    async with await _logged_in(web_url, user) as visitor:
        listed = await visitor.get("/settings/tokens")
        assert "never" not in listed.text  # last used is now shown


async def test_token_mistakes_are_explained_and_csrf_is_required(web_url: str, make_user: MakeUser) -> None:
    user = await make_user()
    async with await _logged_in(web_url, user) as visitor:
        await visitor.get("/settings/tokens")
        empty = await visitor.post("/settings/tokens", {"label": " ", "scope": "read"})
        assert empty.status == 400 and "token label must be 1 to 100 characters" in empty.text
        bad_scope = await visitor.post("/settings/tokens", {"label": "x", "scope": "admin"})
        assert bad_scope.status == 400 and "scope must be read, read-write or delete" in bad_scope.text
        refused = await visitor.post("/settings/tokens", {"label": "no-csrf", "scope": "read"}, csrf=False)
        assert refused.status == 403
        listed = await visitor.get("/settings/tokens")
        assert "No access tokens yet." in listed.text
        assert "cbpat_" not in empty.text + bad_scope.text + refused.text


async def test_revoking_a_token_stops_it_and_needs_csrf(web_url: str, make_user: MakeUser) -> None:
    user = await make_user()
    async with await _logged_in(web_url, user) as visitor:
        created, secret = await _create_token(visitor, "to-revoke")
        token_id = _REVOKE.search(created.text)
        assert token_id
        path = f"/settings/tokens/{token_id.group(1)}/revoke"
        assert (await visitor.post(path, csrf=False)).status == 403
        assert await _v2_status(web_url, user.username, secret) == 200
        answer = await visitor.post(path)
        assert answer.status == 303 and answer.headers["Location"] == "/settings/tokens?revoked=1"
        listed = await visitor.get("/settings/tokens?revoked=1")
        assert "Token revoked" in listed.text and "Revoked" in listed.text
        assert _REVOKE.search(listed.text) is None  # no Revoke button for a revoked token
        assert (await visitor.post(path)).status == 404  # revoked already
        assert (await visitor.post("/settings/tokens/nosuchtoken/revoke")).status == 404
    assert await _v2_status(web_url, user.username, secret) == 401


async def test_another_user_can_neither_see_nor_revoke_a_token(web_url: str, make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    async with await _logged_in(web_url, alice) as owner, await _logged_in(web_url, bob) as other:
        created, secret = await _create_token(owner, "alice-only-label")
        token_id = _REVOKE.search(created.text)
        assert token_id
        seen = await other.get("/settings/tokens")
        assert "alice-only-label" not in seen.text and token_id.group(1) not in seen.text
        await other.get("/settings/tokens")
        refused = await other.post(f"/settings/tokens/{token_id.group(1)}/revoke")
        assert refused.status == 404
        assert "alice-only-label" in (await owner.get("/settings/tokens")).text
    assert await _v2_status(web_url, alice.username, secret) == 200
    # The token belongs to alice: it is no password for bob.
    assert await _v2_status(web_url, bob.username, secret) == 401


# --------------------------------------------------------------------------- in a browser


async def test_create_and_copy_a_token_in_the_browser(
    page: Page, web_url: str, make_user: MakeUser, screenshot: Callable[..., Awaitable[Path]]
) -> None:
    user = await make_user()
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_url)
    await log_in(page, user, "/settings")
    await expect(page.get_by_role("heading", name="Account settings")).to_be_visible()
    await screenshot("settings-account")
    await page.get_by_role("link", name="Access tokens").click()
    await page.get_by_label("Label").fill("laptop")
    await page.get_by_label("Permissions").select_option("read-write")
    async with page.expect_navigation():  # and its scripts: the copy button needs app.js
        await page.get_by_role("button", name="Create token").click()
    secret_box = page.locator("#new-token-secret")
    await expect(secret_box).to_be_visible()
    secret = (await secret_box.inner_text()).strip()
    assert secret.startswith("cbpat_")
    copy = page.locator(".secret-row").get_by_role("button")  # not by its name: that changes
    await expect(copy).to_have_text("Copy")
    await copy.click()
    await expect(copy).to_have_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await screenshot("settings-token-created")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot("settings-token-created-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})
    assert await _v2_status(web_url, user.username, secret) == 200

    # Revoke through the confirmation dialog; the list shows it revoked, the secret is gone.
    page.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.get_by_role("button", name="Revoke laptop").click()
    await expect(page.get_by_text("Token revoked")).to_be_visible()
    assert secret not in await page.content()
    await page.goto("/settings")
    await page.set_viewport_size({"width": 390, "height": 844})
    await save_screenshot(page, "settings-account-phone")
    assert await _v2_status(web_url, user.username, secret) == 401
