"""The whole story in a real browser, as a new user lives it: sign up, log in, create a token,
`cargobay login` with it, push, find the repository by search, open it, star it, change its
description, make it private (a logged-out visitor then gets the 404 page), delete a tag.
Screenshots of each main page go to the test artefacts folder."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from support.browser import PASSWORD, unique_username
from support.clientenv import isolated_client_env
from support.images import build_oci_image
from support.servers import Hub

Screenshot = Callable[..., Awaitable[Path]]


def _client(tmp_path: Path) -> Callable[..., Awaitable[subprocess.CompletedProcess[str]]]:
    """`await run("push", ref)`: the cargobay CLI with a store and credentials of its own."""
    env = isolated_client_env(tmp_path / "client")

    async def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "cargobay", *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"cargobay {' '.join(args)}: {done.stderr}"
        return done

    return run


async def _submit(page: Page, button: str) -> None:
    async with page.expect_navigation():
        await page.get_by_role("button", name=button, exact=True).click()


async def test_sign_up_to_private_repository_in_the_browser(
    page: Page,
    new_page: Callable[[], Awaitable[Page]],
    web_hub: Hub,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    name = unique_username("e2e")
    host = web_hub.url
    repository = f"{name}/webshop"

    # Sign up (the form logs the new account in), then log out and back in through the forms.
    await page.goto("/signup")
    await screenshot("signup")
    await page.get_by_label("Username").fill(name)
    await page.get_by_label("Email").fill(f"{name}@example.com")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Repeat the password").fill(PASSWORD)
    await _submit(page, "Sign up")
    await expect(page.get_by_role("navigation", name="Account")).to_contain_text(name)
    await _submit(page, "Log out")
    await page.goto("/login")
    await screenshot("login")
    await page.get_by_label("Username or email").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await _submit(page, "Log in")
    await expect(page.get_by_role("navigation", name="Account")).to_contain_text(name)

    # A personal access token, shown once.
    await page.goto("/settings/tokens")
    await page.get_by_label("Label").fill("laptop")
    await page.get_by_label("Permissions").select_option("read-write")
    await _submit(page, "Create token")
    secret = (await page.locator("#new-token-secret").inner_text()).strip()
    assert secret.startswith("cbpat_")
    await screenshot("settings-tokens")

    # `cargobay login` with that token, then push two tags of an image.
    cargobay = _client(tmp_path)
    login = await cargobay("login", "-u", name, "--password-stdin", host, stdin=secret + "\n")
    assert "Login Succeeded" in login.stdout
    image = await asyncio.to_thread(build_oci_image, tmp_path / "image", layers=2, tag="v1")
    for tag in ("v1", "v2"):
        await cargobay("copy", f"oci:{image.path}:v1", f"{host}/{repository}:{tag}")
        pushed = await cargobay("push", f"{host}/{repository}:{tag}")
        assert f"{tag}: digest: sha256:" in pushed.stdout

    # Find it by search from the header's search box, and open it.
    await page.goto("/")
    await screenshot("home-logged-in-e2e")
    await page.get_by_role("searchbox", name="Search").first.fill("webshop")
    async with page.expect_navigation():
        await page.get_by_role("searchbox", name="Search").first.press("Enter")
    await screenshot("search-results")
    async with page.expect_navigation():
        await page.get_by_role("link", name=repository).click()
    assert page.url.endswith(f"/r/{repository}")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(repository)
    await expect(page.get_by_text(f"docker pull {host}/{repository}:v2")).to_be_visible()

    # Star it (htmx swaps the button in place: no navigation).
    star = page.locator("#star-button")
    await expect(star).to_have_attribute("aria-pressed", "false")
    await star.click()
    await expect(page.locator("#star-button")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator(".star-count")).to_have_text("1 star")
    await screenshot("repository")

    # Change its description and README in its settings.
    await page.goto(f"/r/{repository}/-/settings")
    await page.get_by_label("Short description").fill("Our shop's front end")
    await page.get_by_label("README").fill("# Webshop\n\nRun it with **docker run**.")
    await _submit(page, "Save descriptions")
    await screenshot("repository-settings")
    await page.goto(f"/r/{repository}")
    await expect(page.get_by_text("Our shop's front end").first).to_be_visible()
    await expect(page.locator(".readme strong")).to_have_text("docker run")

    # Make it private: a logged-out visitor gets the same 404 page as for a missing repository.
    await page.goto(f"/r/{repository}/-/settings")
    await page.locator("#f-visibility-private").check()
    await _submit(page, "Save visibility")
    stranger = await new_page()
    hidden = await stranger.goto(f"/r/{repository}")
    assert hidden is not None and hidden.status == 404
    hidden_text = await stranger.locator("main").inner_text()
    missing = await stranger.goto(f"/r/{name}/no-such-repository")
    assert missing is not None and missing.status == 404
    assert await stranger.locator("main").inner_text() == hidden_text
    await screenshot("not-found", stranger)
    search = await stranger.goto("/search?q=webshop")
    assert search is not None and search.status == 200
    await expect(stranger.get_by_role("link", name=repository)).to_have_count(0)
    owner_view = await page.goto(f"/r/{repository}")
    assert owner_view is not None and owner_view.status == 200
    await expect(page.get_by_text("Private").first).to_be_visible()

    # Delete a tag, confirming by typing its name.
    await page.goto(f"/r/{repository}/-/settings")
    async with page.expect_navigation():
        await page.get_by_role("link", name="Delete tag v1").click()
    await page.get_by_label("Type v1 to confirm").fill("v1")
    await _submit(page, "Delete tag")
    await page.goto(f"/r/{repository}")
    tags = page.locator("table").filter(has_text="v2").first
    await expect(tags).to_be_visible()
    await expect(page.get_by_role("cell", name="v1", exact=True)).to_have_count(0)
