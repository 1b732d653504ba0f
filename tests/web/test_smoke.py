"""The web site answers in a real browser: the home page of a hub with token auth."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from support.browser import WebUser, log_in


async def test_home_page_has_title_and_search_box(
    page: Page, screenshot: Callable[..., Awaitable[Path]]
) -> None:
    response = await page.goto("/")
    assert response is not None and response.status == 200, response and response.status
    assert "Cargobay" in await page.title()
    search = page.get_by_label("Search", exact=False).or_(page.get_by_role("searchbox", name="Search"))
    await expect(search.first).to_be_visible()
    await expect(search.first).to_be_editable()
    path = await screenshot("home")
    assert path.stat().st_size > 0


async def test_a_new_user_logs_in_through_the_form(
    page: Page, make_user: Callable[..., Awaitable[WebUser]], screenshot: Callable[..., Awaitable[Path]]
) -> None:
    user = await make_user()
    await log_in(page, user)
    await expect(page.locator(f"a[href='/u/{user.username}']").first).to_be_visible()
    assert any(cookie["name"] == "cargobay_session" for cookie in await page.context.cookies())
    await screenshot("home-logged-in")
