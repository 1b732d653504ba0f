"""A form that needs a log-in (sent after the session ended) leads to the log-in page and, once
logged in, back to the page the form was on: the `Referer` names that page, and only a `Referer`
of the site's own origin is believed (no open redirects)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from aiohttp.test_utils import make_mocked_request
from playwright.async_api import BrowserContext, Page

from cargobay.metadata.catalogue import NewRepository
from cargobay.server.web.pages import local_path, referer_path
from support.browser import WebUser, log_in
from support.hubdata import load_repositories
from support.servers import Hub
from support.webforms import WebVisitor

MakeUser = Callable[..., Awaitable[WebUser]]


async def owned_repository(hub: Hub, make_user: MakeUser) -> tuple[WebUser, str]:
    owner = await make_user()
    name = f"{owner.username}/back{uuid.uuid4().hex[:8]}"
    await load_repositories(hub, NewRepository(name, description="before"))
    return owner, name


def settings_path(name: str) -> str:
    return f"/r/{name}/-/settings"


def login_next(location: str) -> str:
    """The `next` of a `/login?next=…` redirect."""
    parts = urlsplit(location)
    assert parts.path == "/login", location
    return parse_qs(parts.query)["next"][0]


async def test_a_form_sent_after_the_session_ended_returns_to_its_page_after_log_in(
    web_hub: Hub, make_user: MakeUser, page: Page, context: BrowserContext
) -> None:
    owner, name = await owned_repository(web_hub, make_user)
    form_page = settings_path(name) + "?page=1"
    await log_in(page, owner, quote(form_page, safe="/"))
    assert page.url == web_hub.base_url + form_page

    await context.clear_cookies(name="cargobay_session")  # the session ended (expired, logged out)
    await page.locator("#f-description").fill("after")
    async with page.expect_navigation():
        await page.get_by_role("button", name="Save descriptions").click()
    assert urlsplit(page.url).path == "/login"
    assert login_next(page.url) == form_page  # the Referer's path and query

    form = page.locator("form:has(input[name='password'])")
    await form.locator("input[name='username']").fill(owner.username)
    await form.locator("input[name='password']").fill(owner.password)
    async with page.expect_navigation():
        await form.get_by_role("button", name="Log in").click()
    assert page.url == web_hub.base_url + form_page
    # the form sent without a session changed nothing
    assert await page.locator("#f-description").input_value() == "before"


async def test_only_a_referer_of_this_site_is_followed_back(web_hub: Hub, make_user: MakeUser) -> None:
    owner, name = await owned_repository(web_hub, make_user)
    base = web_hub.base_url
    port = urlsplit(base).port
    assert port is not None
    form_action = settings_path(name) + "/descriptions"
    own = settings_path(name) + "?page=2"
    cases = {
        f"{base}{own}": own,
        f"{base}{own}#section": own,
        f"HTTP://127.0.0.1:{port}{own}": own,  # scheme and host are case-insensitive
        own: own,  # a bare local path (not what browsers send, but harmless)
        # other origins
        f"http://localhost:{port}{own}": "/",
        f"https://127.0.0.1:{port}{own}": "/",
        f"http://127.0.0.1:{port + 1}{own}": "/",
        f"http://127.0.0.1{own}": "/",
        f"https://evil.example{own}": "/",
        f"http://evil.example@127.0.0.1:{port}{own}": "/",
        f"http://127.0.0.1:{port}@evil.example{own}": "/",
        # not an address of ours at all
        "//evil.example/x": "/",
        "///evil.example/x": "/",
        "javascript:alert(1)": "/",
        "data:text/html,<script>alert(1)</script>": "/",
        "/\\evil.example": "/",
        "\\\\evil.example": "/",
        f"{base}//evil.example/x": "/",
        f"{base}/\\evil.example": "/",
        f"{base}/\t/evil.example": "/",
        f"{base}:99999/x": "/",
        "": "/",
        "not a url": "/",
        # encoded tricks stay paths of this site
        f"{base}/%2F%2Fevil.example": "/%2F%2Fevil.example",
        f"{base}/%5Cevil.example": "/%5Cevil.example",
    }
    async with WebVisitor(base) as anonymous:
        await anonymous.get("/")
        for referer, expected in cases.items():
            answer = await anonymous.post(form_action, {"description": "x"}, headers={"Referer": referer})
            assert answer.status == 303, (referer, answer.status)
            assert login_next(answer.headers["Location"]) == expected, referer
        # and the log-in form itself only ever leads to local paths
        await anonymous.get("/login")
        for next_path in (
            "//evil.example",
            "https://evil.example/",
            "/\\evil.example",
            "/%2F%2Fevil.example",
        ):
            logged = await anonymous.post(
                "/login", {"username": owner.username, "password": owner.password, "next": next_path}
            )
            assert logged.status == 303
            assert logged.headers["Location"] == local_path(next_path), next_path
            assert logged.headers["Location"].startswith("/")
            assert not logged.headers["Location"].startswith(("//", "/\\"))
            await anonymous.get("/")  # the session's CSRF token
            await anonymous.post("/logout")
            await anonymous.get("/login")


@pytest.mark.parametrize(
    ("public_url", "host", "referer", "expected"),
    [
        ("https://hub.example.com", "10.0.0.5:5000", "https://hub.example.com/r/a/b?x=1", "/r/a/b?x=1"),
        ("https://hub.example.com", "10.0.0.5:5000", "https://hub.example.com:443/r/a/b", "/r/a/b"),
        ("https://hub.example.com:8443", "10.0.0.5:5000", "https://hub.example.com:8443/r/a", "/r/a"),
        ("https://hub.example.com", "10.0.0.5:5000", "http://10.0.0.5:5000/r/a", "/r/a"),  # as requested
        ("https://hub.example.com", "10.0.0.5:5000", "http://hub.example.com/r/a", "/"),  # not https
        ("https://hub.example.com", "10.0.0.5:5000", "https://hub.example.com:8443/r/a", "/"),
        ("https://hub.example.com", "10.0.0.5:5000", "https://evil.hub.example.com/r/a", "/"),
        ("https://hub.example.com", "10.0.0.5:5000", "https://hub.example.com.evil/r/a", "/"),
        (None, "hub.example.com", "http://hub.example.com:80/r/a", "/r/a"),
        (None, "hub.example.com", "https://hub.example.com/r/a", "/"),
    ],
)
def test_referer_origins_with_a_public_url(
    public_url: str | None, host: str, referer: str, expected: str
) -> None:
    request = make_mocked_request("POST", "/r/a/-/star", headers={"Host": host, "Referer": referer})
    assert referer_path(request, public_url) == expected
