"""Fixtures of the browser tests: headless Chromium (Playwright's async API) against a real hub
with token auth and open registration.

Web tests are ``async def`` tests (they run on pytest-asyncio's session loop, like the rest of
the suite) and use Playwright's async API: ``await page.goto("/")``.  See support/browser.py
for why not the sync API.

Fixtures:
  web_hub           a ``cargobay serve`` with ``CARGOBAY_AUTH=token`` and open registration for
                    the session (per xdist worker; 2 workers, SQLite, access log on)
  web_url           its base URL, ``http://127.0.0.1:PORT``
  browser           headless Chromium for the session; skips when /usr/bin/chromium is missing
  context           a fresh browser context per test (no cookies shared between tests),
                    ``base_url=web_url``, default timeout 10 s (also for ``expect``)
  page              a page in that context: ``await page.goto("/search?q=x")``
  new_page()        another page in a context of its own (a second visitor, e.g. another user)
  make_user()       ``await make_user()`` → WebUser(username, password, email), signed up
                    through ``POST /api/users``; ``make_user("alice")`` for a chosen name
  screenshot(name)  ``await screenshot("home")`` → full-page PNG of ``page`` named ``home.png``
                    in the artefacts folder (``await screenshot("x", other_page)`` for another)

On a failed test the ``page`` (and every ``new_page()``) leaves ``failed-<test>.png``,
``.html`` and ``.console.txt`` in the artefacts folder: ``$CARGOBAY_TEST_ARTEFACTS``, default
``<repository>/test-artefacts/screenshots/``.  Log in with ``support.browser.log_in(page, user)``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from support.browser import (
    CHROMIUM,
    DEFAULT_TIMEOUT_MS,
    LAUNCH_ARGS,
    VIEWPORT,
    WebUser,
    clear_failure,
    save_failure,
    save_screenshot,
    sign_up_async,
)
from support.servers import Hub, start_hub

WEB_HUB_ENV = {
    "CARGOBAY_AUTH": "token",
    "CARGOBAY_OPEN_REGISTRATION": "true",
    "CARGOBAY_ACCESS_LOG": "true",  # a failed test's report shows the requests (tests/conftest.py)
}

_CALL_REPORT = pytest.StashKey[pytest.TestReport]()

# `expect(...)` retries for as long as actions and navigations may take (its own default is 5 s)
expect.set_options(timeout=DEFAULT_TIMEOUT_MS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Keep the call phase's report on the item, so the page fixtures know in their teardown
    whether the test failed."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL_REPORT] = report


def _failed(request: pytest.FixtureRequest) -> bool:
    report = request.node.stash.get(_CALL_REPORT, None)
    return report is not None and report.failed


# --------------------------------------------------------------------------- the hub


@pytest.fixture(scope="session")
def web_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub with token auth and open registration for the session (per xdist worker)."""
    server = start_hub(tmp_path_factory.mktemp("web-hub"), workers=2, env=WEB_HUB_ENV)
    yield server
    server.close()


@pytest.fixture(scope="session")
def web_url(web_hub: Hub) -> str:
    """``http://127.0.0.1:PORT`` of the web hub."""
    return web_hub.base_url


@pytest.fixture
def make_user(web_url: str) -> Callable[..., Awaitable[WebUser]]:
    """``await make_user(username=None, password=PASSWORD)`` → a new account on the web hub."""

    async def make(username: str | None = None, **options: Any) -> WebUser:
        return await sign_up_async(web_url, username, **options)

    return make


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium for the session (per xdist worker)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium; scripts/test installs it)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        await launched.close()


async def _new_context(browser: Browser, base_url: str) -> BrowserContext:
    context = await browser.new_context(base_url=base_url, viewport=VIEWPORT)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.set_default_navigation_timeout(DEFAULT_TIMEOUT_MS)
    return context


def _record_console(page: Page, lines: list[str]) -> None:
    page.on("console", lambda message: lines.append(f"console.{message.type}: {message.text}"))
    page.on("pageerror", lambda error: lines.append(f"pageerror: {error}"))


@pytest.fixture
async def context(browser: Browser, web_url: str) -> AsyncIterator[BrowserContext]:
    """A browser context of the test's own (cookies, storage), ``base_url`` = the web hub."""
    made = await _new_context(browser, web_url)
    yield made
    await made.close()


@pytest.fixture
async def page(context: BrowserContext, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A page of the test's context; on failure its screenshot, HTML and console are saved."""
    clear_failure(request.node.nodeid)
    opened = await context.new_page()
    console: list[str] = []
    _record_console(opened, console)
    yield opened
    if _failed(request):
        await save_failure(opened, request.node.nodeid, console)


@pytest.fixture
async def new_page(
    browser: Browser, web_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[[], Awaitable[Page]]]:
    """Factory: ``await new_page()`` → a page in a new context (another visitor)."""
    opened: list[tuple[BrowserContext, Page, list[str]]] = []

    async def make() -> Page:
        made = await _new_context(browser, web_url)
        fresh = await made.new_page()
        console: list[str] = []
        _record_console(fresh, console)
        opened.append((made, fresh, console))
        return fresh

    yield make
    failed = _failed(request)
    for number, (made, fresh, console) in enumerate(opened, start=2):
        clear_failure(f"{request.node.nodeid}-page{number}")
        if failed:
            await save_failure(fresh, f"{request.node.nodeid}-page{number}", console)
        await made.close()


@pytest.fixture
def screenshot(page: Page) -> Callable[..., Awaitable[Path]]:
    """``await screenshot(name, of=page)`` → a full-page PNG ``<name>.png`` in the artefacts folder."""

    async def take(name: str, of: Page | None = None) -> Path:
        return await save_screenshot(of or page, name)

    return take
