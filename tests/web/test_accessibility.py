"""Accessibility of the web site (issue 6: "accessible (labels, keyboard, contrast)", "readable on
a phone and a desktop"), checked in Chromium:

* every page, in the states a visitor meets it in (results and none, a form with errors, a new
  token shown, logged in and anonymous), has no axe-core violations of WCAG 2.0/2.1 A and AA
  (labels, names, contrast, landmarks, ARIA...) at a desktop (1280x800) and a phone (390x844)
  viewport; on the desktop every element reached with Tab shows a focus outline; on the phone
  nothing makes the page itself scroll sideways (a table may scroll inside its own
  ``overflow-x: auto`` wrapper);
* the keyboard: the skip link is the first Tab stop and moves focus to ``main``; the search box
  is reached and submitted with keys; the star button toggles with Enter and Space and keeps
  focus through the htmx swap; focus outlines contrast 3:1 with the dark header and the light
  page (WCAG 1.4.11, which axe does not check).

axe-core is vendored in tests/support/axe/ (see its README) and injected into each page; the
browser contexts bypass the site's Content-Security-Policy so that the injected script may run.
Set ``CARGOBAY_A11Y_SCREENSHOTS=1`` to save a screenshot of every page checked.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from cargobay.server.app import Hub as HubServices
from support.browser import DEFAULT_TIMEOUT_MS, PASSWORD, WebUser, log_in, save_screenshot, unique_username
from support.http import request
from support.hubdata import run_with_hub_async
from support.pushing import basic_auth, push_image
from support.servers import Hub
from support.webforms import WebVisitor

AXE = Path(__file__).resolve().parents[1] / "support" / "axe" / "axe.min.js"
AXE_RUN = "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
MakeUser = Callable[..., Awaitable[WebUser]]
# A page state: its name and how to get there in a (logged-in or anonymous) browser page.
Visit = Callable[[Page], Awaitable[None]]

README = """# Webshop

The shop's front end. Run it with **docker run** and see [the docs](https://example.com/docs).

| Setting | Default |
|---|---|
| `PORT` | 8080 |

```
docker run -p 8080:8080 webshop
```
"""


# --------------------------------------------------------------------------- the site's content


@dataclass(frozen=True)
class Content:
    owner: WebUser
    repository: str  # owner/webshop: README, two tags, a star
    official: str  # the short name of an official image (library/NAME)
    org: str


async def _push_token(hub: Hub, user: WebUser, repository: str) -> dict[str, str]:
    scope = quote(f"repository:{repository}:pull,push", safe="")
    url = f"{hub.base_url}/token?service=cargobay&scope={scope}"
    answer = await asyncio.to_thread(request, "GET", url, headers=basic_auth(user.username, user.password))
    assert answer.status == 200, answer.body
    return {"Authorization": "Bearer " + json.loads(answer.body)["token"]}


async def _make_admin(hub: Hub, user: WebUser) -> None:
    async def promote(services: HubServices) -> None:
        account = await services.accounts.store.account_by_name(user.username)
        assert account is not None
        await services.accounts.store.set_admin(account.id, True)

    await run_with_hub_async(hub, promote)


async def build_content(hub: Hub, web_url: str, make_user: MakeUser) -> Content:
    """A user with a repository (README, two tags), an official image and an organisation."""
    owner, admin = await asyncio.gather(make_user(), make_user())
    repository = f"{owner.username}/webshop"
    official = f"a11y{admin.username[-8:]}"
    await _make_admin(hub, admin)
    headers, admin_headers = await asyncio.gather(
        _push_token(hub, owner, repository), _push_token(hub, admin, f"library/{official}")
    )
    for tag in ("1.0", "1.1"):
        await asyncio.to_thread(push_image, hub, repository, headers, tag, tag.encode())
    await asyncio.to_thread(push_image, hub, f"library/{official}", admin_headers, "latest", b"o")
    org = f"org{owner.username[-10:]}"
    async with WebVisitor(web_url) as visitor:
        await visitor.log_in(owner.username, owner.password)
        saved = await visitor.post(
            f"/r/{repository}/-/settings/descriptions",
            {"description": "The shop's front end", "full_description": README},
        )
        assert saved.status == 303, (saved.status, saved.text[:500])
        created = await visitor.post("/orgs", {"name": org})
        assert created.status == 303, (created.status, created.text[:500])
        starred = await visitor.post(f"/r/{repository}/-/star")
        assert starred.status == 303, starred.status
    return Content(owner, repository, official, org)


# --------------------------------------------------------------------------- browser helpers


@pytest.fixture
async def open_context(
    browser: Browser, web_url: str
) -> AsyncIterator[Callable[[ViewportSize], Awaitable[Page]]]:
    """``await open_context(viewport)`` → a page in a new context that lets injected scripts run."""
    made: list[BrowserContext] = []

    async def make(viewport: ViewportSize) -> Page:
        context = await browser.new_context(base_url=web_url, viewport=viewport, bypass_csp=True)
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
        made.append(context)
        return await context.new_page()

    yield make
    for context in made:
        await context.close()


async def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.x A/AA violations on the page as it is now, one line per rule."""
    if not await page.evaluate("typeof axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = await page.evaluate(AXE_RUN)
    lines = []
    for violation in results["violations"]:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {targets}")
    return lines


async def horizontal_overflow(page: Page) -> str | None:
    """How far the page itself scrolls sideways, with the widest offenders, or None."""
    found: dict[str, Any] = await page.evaluate(
        """() => {
          const width = window.innerWidth, root = document.documentElement;
          if (root.scrollWidth <= width) return null;
          const wide = [...document.body.querySelectorAll('*')]
            .filter(e => e.getBoundingClientRect().right > width + 0.5)
            .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : ''))
            .slice(0, 8);
          return {scrollWidth: root.scrollWidth, width, wide};
        }"""
    )
    return (
        None if found is None else f"scrollWidth {found['scrollWidth']} > {found['width']}: {found['wide']}"
    )


async def focus_without_outline(page: Page, limit: int = 80) -> list[str]:
    """Tab through the page (from where focus is) and name each element that shows no focus
    outline; stops when focus wraps round."""
    missing: list[str] = []
    seen: set[str] = set()
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused: dict[str, str] | None = await page.evaluate(
            """() => {
              const e = document.activeElement;
              if (!e || e === document.body) return null;
              const path = [];
              for (let n = e; n && n !== document.body; n = n.parentElement) {
                path.unshift(n.tagName.toLowerCase() + (n.id ? '#' + n.id : '') + ':' + [...n.parentElement.children].indexOf(n));
              }
              const style = getComputedStyle(e);
              return {path: path.join('>'), outline: style.outlineStyle + ' ' + style.outlineWidth,
                      name: e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' “' + (e.textContent || e.name || '').trim().slice(0, 30) + '”'};
            }"""
        )
        if focused is None or focused["path"] in seen:
            break
        seen.add(focused["path"])
        if focused["outline"].startswith("none") or focused["outline"].endswith(" 0px"):
            missing.append(focused["name"])
    return missing


async def _submit(page: Page, button: str) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name=button, exact=True).click()


def _goto(path: str, status: int = 200) -> Visit:
    async def visit(page: Page) -> None:
        response = await page.goto(path)
        assert response is not None and response.status == status, (path, response and response.status)

    return visit


async def _login_error(page: Page) -> None:
    await page.goto("/login")
    await page.get_by_label("Username or email").fill("nobody-here")
    await page.get_by_label("Password").fill("wrong-password-1")
    await _submit(page, "Log in")
    await expect(page.locator(".alert.error")).to_be_visible()


async def _signup_errors(page: Page) -> None:
    await page.goto("/signup")
    await page.get_by_label("Username").fill("Bad Name!")
    await page.get_by_label("Email").fill("someone@example.com")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Repeat the password").fill(PASSWORD + "x")
    await _submit(page, "Sign up")
    await expect(page.locator(".error-text").first).to_be_visible()


async def _token_created(page: Page) -> None:
    await page.goto("/settings/tokens")
    await page.get_by_label("Label").fill("laptop")
    await _submit(page, "Create token")
    await expect(page.locator("#new-token-secret")).to_be_visible()


def anonymous_pages(content: Content) -> list[tuple[str, Visit]]:
    return [
        ("home", _goto("/")),
        ("search-results", _goto("/search?q=webshop")),
        ("search-none", _goto("/search?q=zzznothingmatcheszzz")),
        ("search-bad-parameter", _goto("/search?q=webshop&min_stars=lots&sort=sideways&page=zero")),
        ("repository-anonymous", _goto(f"/r/{content.repository}")),
        ("official-image", _goto(f"/_/{content.official}")),
        ("namespace", _goto(f"/u/{content.owner.username}")),
        ("login", _goto("/login")),
        ("login-error", _login_error),
        ("signup-errors", _signup_errors),
        ("not-found", _goto("/r/nobody/no-such-repository", 404)),
    ]


def owner_pages(content: Content) -> list[tuple[str, Visit]]:
    return [
        ("repository-logged-in", _goto(f"/r/{content.repository}")),
        ("settings", _goto("/settings")),
        ("tokens", _goto("/settings/tokens")),
        ("token-created", _token_created),
        ("repository-settings", _goto(f"/r/{content.repository}/-/settings")),
        ("tag-delete", _goto(f"/r/{content.repository}/-/tags/1.0/delete")),
        ("org-new", _goto("/orgs/new")),
        ("org-members", _goto(f"/orgs/{content.org}/members")),
    ]


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
async def test_every_page_has_no_wcag_violations_and_fits_the_viewport(
    viewport: str,
    web_hub: Hub,
    web_url: str,
    make_user: MakeUser,
    open_context: Callable[[ViewportSize], Awaitable[Page]],
) -> None:
    content = await build_content(web_hub, web_url, make_user)
    anonymous, owner = await asyncio.gather(
        open_context(VIEWPORTS[viewport]), open_context(VIEWPORTS[viewport])
    )
    await log_in(owner, content.owner)
    screenshots = os.environ.get("CARGOBAY_A11Y_SCREENSHOTS") == "1"
    problems: list[str] = []
    for page, pages in ((anonymous, anonymous_pages(content)), (owner, owner_pages(content))):
        for name, visit in pages:
            await visit(page)
            found = [f"  {line}" for line in await axe_violations(page)]
            if viewport == "phone" and (overflow := await horizontal_overflow(page)):
                found.append(f"  page overflows horizontally: {overflow}")
            if viewport == "desktop" and (unmarked := await focus_without_outline(page)):
                found.append(f"  no visible focus outline on {unmarked}")
            if found or screenshots:
                await save_screenshot(page, f"a11y-{viewport}-{name}")
            if found:
                problems.append(f"{name} ({page.url}):\n" + "\n".join(found))
    assert not problems, f"{viewport} ({VIEWPORTS[viewport]}):\n" + "\n".join(problems)


async def _focused(page: Page) -> dict[str, Any]:
    """The focused element: its id, class, text, outline and the background the outline is drawn
    on (that of the nearest ancestor with an opaque background)."""
    return await page.evaluate(  # type: ignore[no-any-return]
        """() => {
          const e = document.activeElement, style = getComputedStyle(e);
          let behind = 'rgb(255, 255, 255)';
          for (let n = e.parentElement; n; n = n.parentElement) {
            const colour = getComputedStyle(n).backgroundColor;
            if (colour !== 'transparent' && !colour.startsWith('rgba')) { behind = colour; break; }
          }
          return {tag: e.tagName.toLowerCase(), id: e.id, cls: e.className, text: e.textContent.trim(),
                  outlineStyle: style.outlineStyle, outlineWidth: style.outlineWidth,
                  outlineColor: style.outlineColor, behind};
        }"""
    )


def _luminance(colour: str) -> float:
    channels = [int(part) / 255 for part in re.findall(r"\d+", colour)[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """WCAG contrast ratio of two computed colours ``rgb(r, g, b)``."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def assert_visible_focus(focused: dict[str, Any]) -> None:
    """A focus outline is drawn, and contrasts 3:1 with what it is drawn on (WCAG 1.4.11)."""
    assert focused["outlineStyle"] != "none" and focused["outlineWidth"] != "0px", focused
    ratio = contrast(focused["outlineColor"], focused["behind"])
    assert ratio >= 3, f"focus outline contrast {ratio:.2f} < 3: {focused}"


async def _tab_to(page: Page, element_id: str, limit: int = 30) -> dict[str, Any]:
    """Press Tab until the element with that id has focus (asserts it gets there)."""
    seen = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await _focused(page)
        if focused["id"] == element_id:
            return focused
        seen.append(focused["id"] or f"{focused['tag']}:{focused['text'][:20]}")
    raise AssertionError(f"#{element_id} not reached with {limit} Tabs; focus went through {seen}")


async def test_skip_link_and_search_box_work_with_the_keyboard(
    open_context: Callable[[ViewportSize], Awaitable[Page]],
) -> None:
    page = await open_context(VIEWPORTS["desktop"])
    await page.goto("/")
    await page.keyboard.press("Tab")
    first = await _focused(page)
    assert "skip-link" in first["cls"] and first["text"] == "Skip to content", first
    assert_visible_focus(first)
    await expect(page.locator(".skip-link")).to_be_in_viewport()  # shown when focused
    await page.keyboard.press("Enter")
    assert (await _focused(page))["id"] == "main"

    await page.goto("/")
    search = await _tab_to(page, "header-q")
    assert_visible_focus(search)  # on the dark header
    await page.keyboard.type("webshop")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url.endswith("/search?q=webshop")
    await expect(page.get_by_role("heading", level=1)).to_be_visible()


async def test_star_button_toggles_with_enter_and_space_and_shows_focus(
    web_hub: Hub,
    make_user: MakeUser,
    open_context: Callable[[ViewportSize], Awaitable[Page]],
) -> None:
    owner = await make_user()
    repository = f"{owner.username}/{unique_username('kb')}"
    headers = await _push_token(web_hub, owner, repository)
    await asyncio.to_thread(push_image, web_hub, repository, headers, "v1", b"k")
    page = await open_context(VIEWPORTS["desktop"])
    await log_in(page, owner)
    await page.goto(f"/r/{repository}")
    star = page.locator("#star-button")
    await expect(star).to_have_attribute("aria-pressed", "false")

    assert_visible_focus(await _tab_to(page, "star-button"))  # on the light page
    await page.keyboard.press("Enter")
    await expect(star).to_have_attribute("aria-pressed", "true")
    await expect(page.locator(".star-count")).to_have_text("1 star")
    # htmx swapped the button: focus is back on it, so Space unstars without another Tab
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'star-button'")
    await page.keyboard.press("Space")
    await expect(star).to_have_attribute("aria-pressed", "false")
    await expect(page.locator(".star-count")).to_have_text("0 stars")
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'star-button'")
    refocused = await _focused(page)
    assert refocused["id"] == "star-button", refocused
    assert_visible_focus(refocused)
