"""A repository's settings pages (`/r/{namespace}/{repo}/-/settings`, owners only): descriptions,
visibility, deleting tags and the repository; who may see them; CSRF; escaping; and a hub that
runs with deletion disabled."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.async_api import Page

from cargobay.config import load_settings
from cargobay.metadata.catalogue import NewRepository
from cargobay.server.app import build_hub
from support.browser import PASSWORD, WebUser, log_in, sign_up_async, unique_username
from support.http import Response, request
from support.hubdata import load_repositories
from support.pushing import basic_auth, push_image
from support.servers import Hub, start_hub
from support.webforms import PageResult, WebVisitor

NOT_FOUND = "Page not found"  # the 404 page's heading (templates/not_found.html)


# --------------------------------------------------------------------------- helpers


async def call(
    method: str, url: str, user: WebUser | None = None, body: dict[str, Any] | None = None
) -> Response:
    headers = basic_auth(user.username, user.password) if user else {}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    return await asyncio.to_thread(request, method, url, headers=headers, data=data)


async def push(hub: Hub, user: WebUser, repository: str, *tags: str) -> None:
    for tag in tags or ("v1",):
        await asyncio.to_thread(
            push_image, hub, repository, basic_auth(user.username, user.password), tag, tag.encode()
        )


async def api_repository(hub: Hub, name: str, user: WebUser | None = None) -> Response:
    return await call("GET", f"{hub.base_url}/api/repositories/{name}", user)


async def registry_tags(hub: Hub, name: str, user: WebUser) -> list[str]:
    answer = await call("GET", f"{hub.base_url}/v2/{name}/tags/list", user)
    assert answer.status == 200, (answer.status, answer.body)
    return list(json.loads(answer.body)["tags"] or [])


async def search_names(hub: Hub, q: str, user: WebUser | None = None) -> list[str]:
    answer = await call("GET", f"{hub.base_url}/v1/search?{urlencode({'q': q})}", user)
    assert answer.status == 200, (answer.status, answer.body)
    return [r["name"] for r in json.loads(answer.body)["results"]]


def repo_name() -> str:
    return "app" + uuid.uuid4().hex[:8]


async def owner_with_repository(
    hub: Hub, make_user: Callable[..., Awaitable[WebUser]], *tags: str
) -> tuple[WebUser, str]:
    owner = await make_user()
    name = f"{owner.username}/{repo_name()}"
    await push(hub, owner, name, *tags)
    return owner, name


async def logged_in(base_url: str, user: WebUser) -> WebVisitor:
    visitor = WebVisitor(base_url)
    answer = await visitor.log_in(user.username, user.password)
    assert answer.status == 303, (answer.status, answer.text[:500])
    return visitor


def assert_redirect(answer: PageResult, location: str) -> None:
    assert answer.status == 303, (answer.status, answer.text[:1000])
    assert answer.headers["Location"] == location


# --------------------------------------------------------------------------- descriptions


async def test_owner_edits_the_descriptions_and_the_api_shows_them(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user)
    async with await logged_in(web_hub.base_url, owner) as visitor:
        page = await visitor.get(f"/r/{name}/-/settings")
        assert page.status == 200
        for heading in ("Descriptions", "Visibility", "Tags", "Danger zone"):
            assert f">{heading}</h2>" in page.text
        readme = "# Hello\r\n\r\nSome *markdown*.\r\n"
        answer = await visitor.post(
            f"/r/{name}/-/settings/descriptions",
            {"description": "  A tiny test image  ", "full_description": readme},
        )
        assert_redirect(answer, f"/r/{name}/-/settings?saved=descriptions")
        page = await visitor.get(answer.headers["Location"])
        assert page.status == 200
        assert "The descriptions are saved." in page.text
        assert 'value="A tiny test image"' in page.text
        assert "# Hello\n\nSome *markdown*.\n</textarea>" in page.text
    shown = await api_repository(web_hub, name)
    assert shown.status == 200
    body = json.loads(shown.body)
    assert body["description"] == "A tiny test image"
    assert body["full_description"] == "# Hello\n\nSome *markdown*.\n"


async def test_a_description_over_100_characters_is_refused_with_the_reason(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user)
    async with await logged_in(web_hub.base_url, owner) as visitor:
        await visitor.get(f"/r/{name}/-/settings")
        too_long = "x" * 101
        answer = await visitor.post(
            f"/r/{name}/-/settings/descriptions", {"description": too_long, "full_description": "kept"}
        )
        assert answer.status == 400
        assert "the short description must be at most 100 characters" in answer.text
        assert 'aria-invalid="true" aria-describedby="f-description-error"' in answer.text
        assert f'value="{too_long}"' in answer.text  # what was typed stays in the form
        assert ">kept</textarea>" in answer.text
        answer = await visitor.post(
            f"/r/{name}/-/settings/descriptions",
            {"description": "fine", "full_description": "y" * 25_001},
        )
        assert answer.status == 400
        assert "the full description must be at most 25000 characters" in answer.text
    body = json.loads((await api_repository(web_hub, name)).body)
    assert body["description"] == "" and body["full_description"] == ""


async def test_a_script_in_the_description_is_shown_as_text(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user)
    script = "<script>alert(1)</script>"
    async with await logged_in(web_hub.base_url, owner) as visitor:
        await visitor.get(f"/r/{name}/-/settings")
        answer = await visitor.post(
            f"/r/{name}/-/settings/descriptions",
            {"description": script, "full_description": f"</textarea>{script}"},
        )
        assert answer.status == 303
        page = await visitor.get(f"/r/{name}/-/settings")
        assert page.status == 200
        assert "<script>alert" not in page.text
        assert "</textarea><script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "&lt;/textarea&gt;&lt;script&gt;" in page.text
    assert json.loads((await api_repository(web_hub, name)).body)["description"] == script


# --------------------------------------------------------------------------- visibility


async def test_owner_makes_the_repository_private_and_public_again(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user)
    other = await make_user()
    repo = name.split("/", 1)[1]
    assert name in await search_names(web_hub, repo)
    async with await logged_in(web_hub.base_url, owner) as visitor:
        await visitor.get(f"/r/{name}/-/settings")
        answer = await visitor.post(f"/r/{name}/-/settings/visibility", {"visibility": "private"})
        assert_redirect(answer, f"/r/{name}/-/settings?saved=visibility")
        page = await visitor.get(answer.headers["Location"])
        assert "The repository is now private." in page.text
        assert re.search(r'value="private" checked', page.text)
        assert json.loads((await api_repository(web_hub, name, owner)).body)["is_private"] is True

        # anonymous visitors and other users cannot tell it from a missing repository
        async with WebVisitor(web_hub.base_url) as anonymous:
            hidden = await anonymous.get(f"/r/{name}/-/settings", follow=False)
            assert hidden.status == 303 and hidden.headers["Location"].startswith("/login?next=")
        async with await logged_in(web_hub.base_url, other) as stranger:
            hidden = await stranger.get(f"/r/{name}/-/settings")
            missing = await stranger.get(f"/r/{owner.username}/no-such-repo/-/settings")
            assert hidden.status == missing.status == 404
            assert NOT_FOUND in hidden.text
            assert hidden.text.replace(name, "X") == missing.text.replace(
                f"{owner.username}/no-such-repo", "X"
            )
        manifest = await call("GET", f"{web_hub.base_url}/v2/{name}/manifests/v1")
        assert manifest.status in (401, 404), manifest.status
        assert (await api_repository(web_hub, name)).status == 404
        assert (await api_repository(web_hub, name, other)).status == 404
        assert name not in await search_names(web_hub, repo)
        assert name not in await search_names(web_hub, repo, other)
        assert name in await search_names(web_hub, repo, owner)

        answer = await visitor.post(f"/r/{name}/-/settings/visibility", {"visibility": "public"})
        assert_redirect(answer, f"/r/{name}/-/settings?saved=visibility")
        page = await visitor.get(answer.headers["Location"])
        assert "The repository is now public." in page.text
    assert json.loads((await api_repository(web_hub, name)).body)["is_private"] is False
    assert name in await search_names(web_hub, repo)
    assert (await call("GET", f"{web_hub.base_url}/v2/{name}/manifests/v1")).status in (200, 401)


async def test_a_visibility_other_than_public_or_private_is_refused(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user)
    async with await logged_in(web_hub.base_url, owner) as visitor:
        await visitor.get(f"/r/{name}/-/settings")
        answer = await visitor.post(f"/r/{name}/-/settings/visibility", {"visibility": "secret"})
        assert answer.status == 400
        assert "choose public or private" in answer.text
    assert json.loads((await api_repository(web_hub, name)).body)["is_private"] is False


# --------------------------------------------------------------------------- tags


async def test_a_tag_is_deleted_only_when_its_name_is_typed(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user, "v1", "v2")
    async with await logged_in(web_hub.base_url, owner) as visitor:
        settings = await visitor.get(f"/r/{name}/-/settings")
        assert f'href="/r/{name}/-/tags/v1/delete"' in settings.text
        confirm = await visitor.get(f"/r/{name}/-/tags/v1/delete")
        assert confirm.status == 200
        assert "Type v1 to confirm" in confirm.text

        answer = await visitor.post(f"/r/{name}/-/tags/v1/delete", {"confirm": "v2"})
        assert answer.status == 400
        assert "type v1 exactly to delete this tag" in answer.text
        answer = await visitor.post(f"/r/{name}/-/tags/v1/delete", {})
        assert answer.status == 400
        assert sorted(await registry_tags(web_hub, name, owner)) == ["v1", "v2"]

        answer = await visitor.post(f"/r/{name}/-/tags/v1/delete", {"confirm": "v1"})
        assert_redirect(answer, f"/r/{name}/-/settings?saved=tag&tag=v1")
        page = await visitor.get(answer.headers["Location"])
        assert "The tag <code>v1</code> is deleted." in page.text
        assert f'href="/r/{name}/-/tags/v1/delete"' not in page.text
        assert await registry_tags(web_hub, name, owner) == ["v2"]

        gone = await visitor.get(f"/r/{name}/-/tags/v1/delete")
        assert gone.status == 404 and NOT_FOUND in gone.text
        gone = await visitor.post(f"/r/{name}/-/tags/v1/delete", {"confirm": "v1"})
        assert gone.status == 404


# --------------------------------------------------------------------------- the repository


async def test_owner_deletes_the_repository_after_typing_its_name(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user)
    async with await logged_in(web_hub.base_url, owner) as visitor:
        await visitor.get(f"/r/{name}/-/settings")
        repo = name.split("/", 1)[1]
        for wrong in ("", repo, name.upper(), f"{name}x"):
            answer = await visitor.post(f"/r/{name}/-/settings/delete", {"confirm": wrong})
            assert answer.status == 400, wrong
            assert f"type {name} exactly to delete this repository" in answer.text
        assert (await api_repository(web_hub, name)).status == 200

        answer = await visitor.post(f"/r/{name}/-/settings/delete", {"confirm": name})
        assert_redirect(answer, f"/u/{owner.username}")
        assert (await api_repository(web_hub, name, owner)).status == 404
        gone = await visitor.get(f"/r/{name}/-/settings")
        assert gone.status == 404 and NOT_FOUND in gone.text
        answer = await call("GET", f"{web_hub.base_url}/v2/{name}/tags/list", owner)
        assert answer.status == 404


# --------------------------------------------------------------------------- who may


async def test_anonymous_visitors_are_sent_to_log_in(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    _, name = await owner_with_repository(web_hub, make_user)
    async with WebVisitor(web_hub.base_url) as anonymous:
        answer = await anonymous.get(f"/r/{name}/-/settings", follow=False)
        assert_redirect(answer, f"/login?next=/r/{name}/-/settings")
        await anonymous.get("/login")  # a page with a form: the anonymous CSRF token
        answer = await anonymous.post(f"/r/{name}/-/settings/visibility", {"visibility": "private"})
        assert answer.status == 303 and answer.headers["Location"].startswith("/login?next=")
        answer = await anonymous.post(f"/r/{name}/-/settings/delete", {"confirm": name})
        assert answer.status == 303 and answer.headers["Location"].startswith("/login?next=")
    assert json.loads((await api_repository(web_hub, name)).body)["is_private"] is False


async def test_another_user_gets_403_and_changes_nothing(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user, "v1")
    other = await make_user()
    async with await logged_in(web_hub.base_url, other) as stranger:
        page = await stranger.get(f"/r/{name}/-/settings")
        assert page.status == 403
        assert f"Only the owners of {owner.username} can change the settings of {name}." in page.text
        assert "Danger zone" not in page.text
        assert (await stranger.get(f"/r/{name}/-/tags/v1/delete")).status == 403
        posts = [
            ("/settings/descriptions", {"description": "hacked", "full_description": "hacked"}),
            ("/settings/descriptions", {"description": "x" * 500}),
            ("/settings/visibility", {"visibility": "private"}),
            ("/tags/v1/delete", {"confirm": "v1"}),
            ("/settings/delete", {"confirm": name}),
        ]
        for suffix, form in posts:
            answer = await stranger.post(f"/r/{name}/-{suffix}", form)
            assert answer.status == 403, (suffix, answer.status)
            assert "Settings are for owners" in answer.text
    body = json.loads((await api_repository(web_hub, name)).body)
    assert (body["description"], body["full_description"], body["is_private"]) == ("", "", False)
    assert await registry_tags(web_hub, name, owner) == ["v1"]


async def test_organisation_members_are_refused_and_its_owners_allowed(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    founder, member, co_owner = await make_user(), await make_user(), await make_user()
    org = "org" + uuid.uuid4().hex[:10]
    created = await call("POST", f"{web_hub.base_url}/api/orgs", founder, {"name": org})
    assert created.status == 201, created.body
    for user, role in ((member, "member"), (co_owner, "owner")):
        url = f"{web_hub.base_url}/api/orgs/{org}/members/{user.username}"
        answer = await call("PUT", url, founder, {"role": role})
        assert answer.status == 200, answer.body
    name = f"{org}/{repo_name()}"
    await push(web_hub, founder, name, "v1")

    async with await logged_in(web_hub.base_url, member) as visitor:
        assert (await visitor.get(f"/r/{name}/-/settings")).status == 403
        answer = await visitor.post(f"/r/{name}/-/settings/visibility", {"visibility": "private"})
        assert answer.status == 403
        answer = await visitor.post(f"/r/{name}/-/settings/delete", {"confirm": name})
        assert answer.status == 403
    assert json.loads((await api_repository(web_hub, name)).body)["is_private"] is False

    async with await logged_in(web_hub.base_url, co_owner) as visitor:
        page = await visitor.get(f"/r/{name}/-/settings")
        assert page.status == 200
        assert f"Only you and the members of {org} can see and pull it" in page.text
        answer = await visitor.post(f"/r/{name}/-/settings/visibility", {"visibility": "private"})
        assert_redirect(answer, f"/r/{name}/-/settings?saved=visibility")
    assert (await api_repository(web_hub, name)).status == 404
    async with await logged_in(web_hub.base_url, member) as visitor:
        # a member may see the private repository (and pull it), but still not its settings
        assert (await visitor.get(f"/r/{name}/-/settings")).status == 403


async def test_a_form_without_the_csrf_token_is_refused(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user, "v1")
    async with await logged_in(web_hub.base_url, owner) as visitor:
        posts = [
            ("/settings/descriptions", {"description": "forged"}),
            ("/settings/visibility", {"visibility": "private"}),
            ("/tags/v1/delete", {"confirm": "v1"}),
            ("/settings/delete", {"confirm": name}),
        ]
        for suffix, form in posts:
            answer = await visitor.post(f"/r/{name}/-{suffix}", form, csrf=False)
            assert answer.status == 403, suffix
            assert "Form refused" in answer.text
            answer = await visitor.post(
                f"/r/{name}/-{suffix}", form, headers={"Origin": "https://evil.example"}
            )
            assert answer.status == 403, suffix
    body = json.loads((await api_repository(web_hub, name)).body)
    assert (body["description"], body["is_private"]) == ("", False)
    assert await registry_tags(web_hub, name, owner) == ["v1"]


async def test_settings_of_a_missing_repository_are_the_404_page(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    user = await make_user()
    async with await logged_in(web_hub.base_url, user) as visitor:
        for path in (
            f"/r/{user.username}/nothing-here/-/settings",
            "/r/library/nothing-here/-/settings",
            "/_/nothing-here/-/settings",
            f"/r/{user.username}/nothing-here/-/tags/v1/delete",
            "/r/Not..Valid/x/-/settings",
            f"/r/{user.username}/nothing-here/-/nothing",
        ):
            answer = await visitor.get(path)
            assert answer.status == 404, path
            assert NOT_FOUND in answer.text
        answer = await visitor.post(f"/r/{user.username}/nothing-here/-/settings/delete", {"confirm": "x"})
        assert answer.status == 404


async def make_admin(hub: Hub) -> WebUser:
    """An admin account, made through the hub's own services on its database (no API does it)."""
    username = unique_username("admin")
    user = WebUser(username, PASSWORD, f"{username}@example.com")
    settings = load_settings(None, {"data_dir": hub.data_dir, "database_url": hub.database_url}, environ={})
    services = build_hub(settings)
    try:
        await services.accounts.sign_up(user.username, user.email, user.password, is_admin=True)
    finally:
        await services.close()
    return user


async def test_official_images_settings_are_for_admins(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    admin, user = await make_admin(web_hub), await make_user()
    short = repo_name()
    name = f"library/{short}"
    await push(web_hub, admin, name, "v1")
    async with await logged_in(web_hub.base_url, admin) as visitor:
        moved = await visitor.get(f"/r/{name}/-/settings?page=1", follow=False)
        assert moved.status == 301 and moved.headers["Location"] == f"/_/{short}/-/settings?page=1"
        page = await visitor.get(f"/_/{short}/-/settings")
        assert page.status == 200
        assert f'href="/_/{short}"' in page.text  # back to the official image's page
        assert f"Type {name} to confirm" in page.text
        assert f'action="/_/{short}/-/settings/descriptions"' in page.text
        answer = await visitor.post(
            f"/_/{short}/-/settings/descriptions", {"description": "Official", "full_description": ""}
        )
        assert_redirect(answer, f"/_/{short}/-/settings?saved=descriptions")
    async with await logged_in(web_hub.base_url, user) as visitor:
        page = await visitor.get(f"/_/{short}/-/settings")
        assert page.status == 403
        assert "Only the hub&#39;s administrators can change the settings of official images." in page.text
    assert json.loads((await api_repository(web_hub, name)).body)["description"] == "Official"


# --------------------------------------------------------------------------- deletion disabled


@pytest.fixture(scope="module")
def no_delete_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    env = {
        "CARGOBAY_AUTH": "token",
        "CARGOBAY_OPEN_REGISTRATION": "true",
        "CARGOBAY_DELETE_ENABLED": "false",
    }
    server = start_hub(tmp_path_factory.mktemp("no-delete-hub"), workers=1, env=env)
    yield server
    server.close()


async def test_without_deletion_the_delete_forms_are_gone_and_refused(no_delete_hub: Hub) -> None:
    owner = await sign_up_async(no_delete_hub.base_url)
    name = f"{owner.username}/{repo_name()}"
    await push(no_delete_hub, owner, name, "v1")
    async with await logged_in(no_delete_hub.base_url, owner) as visitor:
        page = await visitor.get(f"/r/{name}/-/settings")
        assert page.status == 200
        assert "Danger zone" not in page.text and "/settings/delete" not in page.text
        assert "/tags/v1/delete" not in page.text
        assert "Deletion is disabled on this hub." in page.text
        assert (await visitor.get(f"/r/{name}/-/tags/v1/delete")).status == 403
        for suffix, form in (
            ("/tags/v1/delete", {"confirm": "v1"}),
            ("/settings/delete", {"confirm": name}),
        ):
            answer = await visitor.post(f"/r/{name}/-{suffix}", form)
            assert answer.status == 403, suffix
            assert "Deletion is disabled" in answer.text
        # the other settings still work
        answer = await visitor.post(f"/r/{name}/-/settings/visibility", {"visibility": "private"})
        assert answer.status == 303
    assert await registry_tags(no_delete_hub, name, owner) == ["v1"]


# --------------------------------------------------------------------------- in a browser


async def test_settings_pages_in_a_browser_by_keyboard(
    web_hub: Hub,
    make_user: Callable[..., Awaitable[WebUser]],
    page: Page,
    screenshot: Callable[..., Awaitable[Path]],
) -> None:
    """Layout at 1280 and 390 pixels, and deleting a tag with the keyboard only (no JS needed)."""
    owner, name = await owner_with_repository(web_hub, make_user, "latest", "1.0")
    await log_in(page, owner)
    await page.goto(f"/r/{name}/-/settings")
    await page.get_by_label("Short description").fill("Shown in search results")
    await page.get_by_role("button", name="Save descriptions").click()
    await page.wait_for_url(re.compile(r"saved=descriptions"))
    await screenshot("repository-settings-desktop")
    await page.set_viewport_size({"width": 390, "height": 844})
    await screenshot("repository-settings-phone")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width

    link = page.get_by_role("link", name="Delete tag 1.0", exact=True)
    await link.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/r/{name}/-/tags/1.0/delete")
    await screenshot("tag-delete-phone")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await screenshot("tag-delete-desktop")
    await page.get_by_label("Type 1.0 to confirm").focus()
    await page.keyboard.type("1.0")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"saved=tag"))
    assert await page.get_by_role("status").inner_text() == "The tag 1.0 is deleted."
    assert await registry_tags(web_hub, name, owner) == ["latest"]


# --------------------------------------------------------------------------- names that look like pages


async def test_a_repository_named_like_a_settings_page_has_its_own_page(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner = await make_user()
    name = f"{owner.username}/{repo_name()}"
    shadows = [f"{name}/settings", f"{name}/tags/v1/delete", f"{name}/star"]
    await load_repositories(
        web_hub,
        NewRepository(name, description="the parent"),
        *(NewRepository(other, description=f"I am {other}") for other in shadows),
    )
    async with await logged_in(web_hub.base_url, owner) as visitor:
        for other in shadows:
            page = await visitor.get(f"/r/{other}")
            assert page.status == 200, other
            assert f"I am {other}" in page.text and "Save descriptions" not in page.text
            assert f'href="/r/{other}/-/settings"' in page.text
            assert f'action="/r/{other}/-/star"' in page.text
        settings = await visitor.get(f"/r/{name}/-/settings")
        assert settings.status == 200 and "Save descriptions" in settings.text
        assert 'value="the parent"' in settings.text
        own = await visitor.get(f"/r/{name}/settings/-/settings")  # the settings of `…/settings`
        assert own.status == 200 and f'value="I am {name}/settings"' in own.text
        answer = await visitor.post(f"/r/{name}/settings/-/settings/descriptions", {"description": "changed"})
        assert_redirect(answer, f"/r/{name}/settings/-/settings?saved=descriptions")
        starred = await visitor.post(f"/r/{name}/star/-/star")
        assert_redirect(starred, f"/r/{name}/star")
    assert json.loads((await api_repository(web_hub, f"{name}/settings")).body)["description"] == "changed"
    assert json.loads((await api_repository(web_hub, name)).body)["description"] == "the parent"
    parent = json.loads((await api_repository(web_hub, name)).body)
    assert parent["star_count"] == 0
    assert json.loads((await api_repository(web_hub, f"{name}/star")).body)["star_count"] == 1


async def test_the_old_settings_addresses_are_missing_pages(
    web_hub: Hub, make_user: Callable[..., Awaitable[WebUser]]
) -> None:
    owner, name = await owner_with_repository(web_hub, make_user, "v1")
    async with await logged_in(web_hub.base_url, owner) as visitor:
        for path in (f"/r/{name}/settings", f"/r/{name}/tags/v1/delete"):
            answer = await visitor.get(path)
            assert answer.status == 404 and NOT_FOUND in answer.text, path
        for path, form in (
            (f"/r/{name}/settings/visibility", {"visibility": "private"}),
            (f"/r/{name}/settings/delete", {"confirm": name}),
            (f"/r/{name}/tags/v1/delete", {"confirm": "v1"}),
            (f"/r/{name}/star", {}),
        ):
            answer = await visitor.post(path, form)
            assert answer.status in (404, 405), (path, answer.status)
    body = json.loads((await api_repository(web_hub, name, owner)).body)
    assert body["is_private"] is False and body["star_count"] == 0
    assert await registry_tags(web_hub, name, owner) == ["v1"]
