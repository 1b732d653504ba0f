"""Browser tests of the hub's web site: headless Chromium (Debian's ``chromium``) driven by
Playwright's async API, screenshots and failure artefacts, accounts made over the JSON API.

Why the async API: Playwright's sync API keeps its own event loop marked as running in the
calling thread between calls, so once it has started, ``asyncio.run()`` and every
pytest-asyncio test in the same (xdist worker) process fail with "cannot be called from a
running event loop".  The async API runs on pytest-asyncio's session loop instead and leaves
the rest of the suite alone.

Artefacts (screenshots, and on failure a screenshot, the HTML and the console of the page) go
to ``$CARGOBAY_TEST_ARTEFACTS`` when set, else to ``<repository>/test-artefacts/screenshots/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Page, ViewportSize

from support.http import request

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
DEFAULT_TIMEOUT_MS = 10_000
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
PASSWORD = "Web-tests-S3cret"

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS_ENV = "CARGOBAY_TEST_ARTEFACTS"


def artefacts_dir() -> Path:
    """Where screenshots go (created on first use)."""
    configured = os.environ.get(ARTEFACTS_ENV)
    folder = Path(configured) if configured else REPOSITORY_ROOT / "test-artefacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_stem(name: str) -> str:
    """``name`` made safe as a file name: ``tests/web/test_x.py::test_y[a/b]`` →
    ``tests-web-test_x.py-test_y-a-b``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return stem[:150] or "page"


async def save_screenshot(page: Page, name: str) -> Path:
    """A full-page PNG of ``page`` named ``<name>.png`` in the artefacts folder; returns its path."""
    path = artefacts_dir() / f"{file_stem(name)}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def failure_stem(test_id: str) -> str:
    return "failed-" + file_stem(test_id)


def clear_failure(test_id: str) -> None:
    """Remove what an earlier failed run of the test left, so the folder shows the last run."""
    folder = artefacts_dir()
    stem = failure_stem(test_id)
    for suffix in (".png", ".html", ".console.txt", ".error.txt"):
        (folder / f"{stem}{suffix}").unlink(missing_ok=True)


async def save_failure(page: Page, test_id: str, console: list[str]) -> list[Path]:
    """After a failed test: ``failed-<test>.png`` (full page), ``.html`` (the DOM as it is now)
    and ``.console.txt`` (console messages and page errors), as far as the page still answers."""
    stem = failure_stem(test_id)
    folder = artefacts_dir()
    written: list[Path] = []
    if console:
        log = folder / f"{stem}.console.txt"
        log.write_text("\n".join(console) + "\n")
        written.append(log)
    if page.is_closed():
        return written
    try:
        html = folder / f"{stem}.html"
        html.write_text(await page.content())
        written.append(html)
        png = folder / f"{stem}.png"
        await page.screenshot(path=str(png), full_page=True, timeout=5_000)
        written.append(png)
    except Exception as exc:  # a crashed or hung page: keep what was written
        (folder / f"{stem}.error.txt").write_text(f"{type(exc).__name__}: {exc}\n")
    return written


# --------------------------------------------------------------------------- accounts


@dataclass(frozen=True)
class WebUser:
    username: str
    password: str
    email: str


def unique_username(prefix: str = "web") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def sign_up(base_url: str, username: str | None = None, password: str = PASSWORD) -> WebUser:
    """Create an account through ``POST /api/users`` (open registration); asserts 201."""
    name = username or unique_username()
    user = WebUser(name, password, f"{name}@example.com")
    body = json.dumps({"username": user.username, "email": user.email, "password": user.password})
    answer = request(
        "POST",
        f"{base_url}/api/users",
        headers={"Content-Type": "application/json"},
        data=body.encode(),
    )
    assert answer.status == 201, f"sign-up of {name}: {answer.status} {answer.body[:500]!r}"
    return user


async def sign_up_async(base_url: str, username: str | None = None, password: str = PASSWORD) -> WebUser:
    """:func:`sign_up` on a thread, so the event loop (and Playwright on it) keeps running."""
    return await asyncio.to_thread(sign_up, base_url, username, password)


async def log_in(page: Page, user: WebUser, next_path: str | None = None) -> None:
    """Log in through the ``/login`` form (fields named ``username`` and ``password``) and wait
    for the page it leads to."""
    target = "/login" + (f"?next={next_path}" if next_path else "")
    await page.goto(target)
    form = page.locator("form:has(input[name='password'])").first
    await form.locator("input[name='username']").fill(user.username)
    await form.locator("input[name='password']").fill(user.password)
    async with page.expect_navigation():
        await form.locator("button[type='submit'], input[type='submit']").first.click()
