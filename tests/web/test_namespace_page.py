"""`/u/{namespace}`: a user's or an organisation's repositories, by name, 25 a page; private ones
only for those who may see them; 404 for names that are no account; links for the owner."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from playwright.async_api import Page, expect

from support.browser import WebUser, log_in
from support.http import Response, request
from support.pushing import basic_auth, push_image
from support.servers import Hub
from support.webforms import WebVisitor

MakeUser = Callable[..., Awaitable[WebUser]]
Shot = Callable[..., Awaitable[Path]]


def auth(user: WebUser) -> dict[str, str]:
    return basic_auth(user.username, user.password)


async def push_as(hub: Hub, user: WebUser, *repositories: str) -> None:
    """Push a small image to each repository with one registry token for all of them."""
    query = urlencode(
        [("service", "cargobay"), *(("scope", f"repository:{r}:pull,push") for r in repositories)]
    )
    answer = await asyncio.to_thread(request, "GET", f"{hub.base_url}/token?{query}", headers=auth(user))
    assert answer.status == 200, answer.body
    headers = {"Authorization": "Bearer " + json.loads(answer.body)["token"]}
    for number, repository in enumerate(repositories):
        await asyncio.to_thread(push_image, hub, repository, headers, "v1", str(number).encode())


def api(hub: Hub, method: str, path: str, user: WebUser, body: dict[str, Any] | None = None) -> Response:
    return request(
        method,
        f"{hub.base_url}/api{path}",
        headers={**auth(user), "Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode(),
    )


def make_private(hub: Hub, user: WebUser, name: str) -> None:
    answer = api(hub, "PATCH", f"/repositories/{name}/", user, {"is_private": True})
    assert answer.status == 200, (answer.status, answer.body)


async def visitor_for(web_url: str, user: WebUser | None = None) -> WebVisitor:
    visitor = WebVisitor(web_url)
    if user is not None:
        await visitor.log_in(user.username, user.password)
    return visitor


def listed(html: str) -> list[str]:
    """The repository names of the page's cards, in order."""
    return re.findall(r'<a class="repo-name" href="/r/[^"]+">([^<]+)</a>', html)


def card_of(html: str, name: str) -> str:
    found = re.search(
        rf'<li class="repo-card">(?:(?!</li>).)*>{re.escape(name)}</a>(?:(?!</li>).)*</li>', html, re.S
    )
    assert found, name
    return found.group(0)


async def test_a_users_repositories_by_name_with_private_ones_for_the_owner(
    web_hub: Hub, web_url: str, make_user: MakeUser
) -> None:
    owner = await make_user()
    other = await make_user()
    ns = owner.username
    await push_as(web_hub, owner, f"{ns}/bravo", f"{ns}/alpha", f"{ns}/charlie")
    make_private(web_hub, owner, f"{ns}/charlie")

    async with await visitor_for(web_url) as anonymous, await visitor_for(web_url, other) as outsider:
        for visitor in (anonymous, outsider):
            shown = await visitor.get(f"/u/{ns}")
            assert shown.status == 200
            assert listed(shown.text) == [f"{ns}/alpha", f"{ns}/bravo"]
            assert "2 repositories" in shown.text and "charlie" not in shown.text
            assert 'href="/orgs/new"' not in shown.text and "namespace-links" not in shown.text
            assert "User" in shown.text
            reversed_ = await visitor.get(f"/u/{ns}?ordering=-name")
            assert listed(reversed_.text) == [f"{ns}/bravo", f"{ns}/alpha"]
            assert '<option value="-name" selected>' in reversed_.text
            unknown = await visitor.get(f"/u/{ns}?ordering=stars")  # an unknown order: by name
            assert listed(unknown.text) == [f"{ns}/alpha", f"{ns}/bravo"]

    async with await visitor_for(web_url, owner) as mine:
        own = await mine.get(f"/u/{ns}")
        newest_first = await mine.get(f"/u/{ns}?ordering=last_updated")
    assert listed(own.text) == [f"{ns}/alpha", f"{ns}/bravo", f"{ns}/charlie"]
    assert '<span class="badge private">Private</span>' in card_of(own.text, f"{ns}/charlie")
    assert "Private" not in card_of(own.text, f"{ns}/alpha")
    assert listed(newest_first.text) == [f"{ns}/charlie", f"{ns}/alpha", f"{ns}/bravo"]
    # the visitor's own page: create an organisation, settings
    links = own.text.split('<nav class="namespace-links"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/orgs/new"' in links and 'href="/settings"' in links


async def test_unknown_names_are_404_and_empty_accounts_are_not(
    web_hub: Hub, web_url: str, make_user: MakeUser
) -> None:
    owner = await make_user()
    quiet = await make_user()
    ns = owner.username
    await push_as(web_hub, owner, f"{ns}/concealed")
    make_private(web_hub, owner, f"{ns}/concealed")
    async with await visitor_for(web_url) as anonymous:
        missing = await anonymous.get("/u/nosuchaccount9x")
        invalid = await anonymous.get("/u/" + "x" * 300)
        hostile = await anonymous.get("/u/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        empty = await anonymous.get(f"/u/{quiet.username}")
        only_private = await anonymous.get(f"/u/{ns}")
    assert missing.status == 404 and "Page not found" in missing.text
    assert invalid.status == 404
    assert hostile.status == 404 and "<script>alert" not in hostile.text
    assert empty.status == 200 and f"{quiet.username} has no public repositories yet." in empty.text
    assert only_private.status == 200 and f"{ns} has no public repositories yet." in only_private.text
    assert "concealed" not in only_private.text and "0 repositories" in only_private.text
    async with await visitor_for(web_url, quiet) as mine:
        own = await mine.get(f"/u/{quiet.username}")
    assert "You have no repositories yet." in own.text
    assert f"docker push {web_url.split('://', 1)[1]}/{quiet.username}/IMAGE:TAG" in own.text


async def test_repositories_are_paged_25_at_a_time(web_hub: Hub, web_url: str, make_user: MakeUser) -> None:
    owner = await make_user()
    ns = owner.username
    names = [f"{ns}/repo{number:02d}" for number in range(26)]
    await push_as(web_hub, owner, *names)
    async with await visitor_for(web_url) as visitor:
        first = await visitor.get(f"/u/{ns}")
        second = await visitor.get(f"/u/{ns}?page=2")
        reversed_second = await visitor.get(f"/u/{ns}?ordering=-name&page=2")
        past = await visitor.get(f"/u/{ns}?page=5")
        bad = await visitor.get(f"/u/{ns}?page=-1")
    assert listed(first.text) == names[:25] and "26 repositories" in first.text
    assert f'rel="next" href="/u/{ns}?page=2"' in first.text and "Page 1 of 2" in first.text
    assert listed(second.text) == names[25:] and f'rel="prev" href="/u/{ns}?page=1"' in second.text
    assert listed(reversed_second.text) == names[:1]
    assert f'href="/u/{ns}?ordering=-name&amp;page=1"' in reversed_second.text
    assert past.status == 200 and "There are only 2 pages of repositories" in past.text
    assert "That page number does not exist" in bad.text and listed(bad.text) == names[:25]


async def test_an_organisations_page_links_its_members_for_members(
    web_hub: Hub, web_url: str, make_user: MakeUser
) -> None:
    owner = await make_user()
    member = await make_user()
    outsider = await make_user()
    org = "org" + owner.username[-10:]
    answer = api(web_hub, "POST", "/orgs", owner, {"name": org})
    assert answer.status == 201, answer.body
    answer = api(web_hub, "PUT", f"/orgs/{org}/members/{member.username}", owner, {"role": "member"})
    assert answer.status == 200, answer.body
    await push_as(web_hub, owner, f"{org}/public", f"{org}/internal")
    make_private(web_hub, owner, f"{org}/internal")

    members_link = f'href="/orgs/{org}/members"'
    async with await visitor_for(web_url) as anonymous, await visitor_for(web_url, outsider) as stranger:
        for visitor in (anonymous, stranger):
            shown = await visitor.get(f"/u/{org}")
            assert shown.status == 200 and "Organisation" in shown.text
            assert listed(shown.text) == [f"{org}/public"]
            assert members_link not in shown.text
    for user in (owner, member):
        async with await visitor_for(web_url, user) as visitor:
            shown = await visitor.get(f"/u/{org}")
        assert listed(shown.text) == [f"{org}/internal", f"{org}/public"]
        assert members_link in shown.text and 'href="/orgs/new"' not in shown.text


async def test_official_namespace(web_hub: Hub, web_url: str) -> None:
    async with await visitor_for(web_url) as visitor:
        shown = await visitor.get("/u/library")
    assert shown.status == 200 and "<h1>Official images</h1>" in shown.text


async def test_namespace_page_on_desktop_and_phone(
    web_hub: Hub, make_user: MakeUser, page: Page, screenshot: Shot
) -> None:
    owner = await make_user()
    ns = owner.username
    await push_as(
        web_hub,
        owner,
        f"{ns}/web-frontend",
        f"{ns}/api-server",
        f"{ns}/a-very-long-repository-name-for-phones",
    )
    make_private(web_hub, owner, f"{ns}/api-server")
    await asyncio.to_thread(
        api,
        web_hub,
        "PATCH",
        f"/repositories/{ns}/web-frontend/",
        owner,
        {"description": "The public web site, served by nginx"},
    )
    await log_in(page, owner, f"/u/{ns}")
    await expect(page.locator("h1")).to_have_text(ns)
    await expect(page.locator(".repo-card")).to_have_count(3)
    await screenshot("namespace-desktop")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await expect(page.get_by_role("link", name="Create an organisation")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot("namespace-phone")
    # keyboard: the sort form works without a mouse
    await page.get_by_label("Sort by").select_option("-name")
    await page.get_by_role("button", name="Sort").press("Enter")
    await expect(page).to_have_url(re.compile(r"ordering=-name"))
    await expect(page.locator(".repo-name").first).to_have_text(f"{ns}/web-frontend")


async def test_a_hub_without_accounts_lists_namespaces_that_have_repositories(
    start_hub: Callable[..., Hub],
) -> None:
    """With `auth: none` there are no accounts: a namespace exists when it has repositories,
    and the repository page has no star button (nobody can log in)."""
    open_hub = await asyncio.to_thread(start_hub)
    await asyncio.to_thread(push_image, open_hub, "team/tool", {}, "v1", b"t")
    async with await visitor_for(open_hub.base_url) as visitor:
        listing = await visitor.get("/u/team")
        nobody = await visitor.get("/u/nobody")
        repository = await visitor.get("/r/team/tool")
    assert listing.status == 200 and listed(listing.text) == ["team/tool"]
    assert "Namespace" in listing.text
    assert nobody.status == 404
    assert repository.status == 200 and "0 stars" in repository.text
    assert 'id="star-button"' not in repository.text and "/login" not in repository.text
