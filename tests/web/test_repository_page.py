"""The repository page (`/r/{namespace}/{repo}`, `/_/{name}`): descriptions, README, the tags
table and its pages, pull commands, stars (plain forms and htmx), private repositories as 404s,
and hostile content (README, description, tag names) rendered inert."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.async_api import Dialog, Page, expect

from support.browser import WebUser, log_in
from support.http import Response, request
from support.hubdata import HubServices, run_with_hub_async
from support.pushing import OCI_MANIFEST, basic_auth, digest_of, push_image, put_manifest, upload_blob
from support.servers import Hub
from support.webforms import WebVisitor

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MakeUser = Callable[..., Awaitable[WebUser]]
Shot = Callable[..., Awaitable[Path]]


# --------------------------------------------------------------------------- content on the hub


def auth(user: WebUser) -> dict[str, str]:
    """Basic credentials (the hub checks the password on each request: slow for many requests)."""
    return basic_auth(user.username, user.password)


async def push_auth(hub: Hub, user: WebUser, repository: str) -> dict[str, str]:
    """A registry token to pull and push `repository` (one password check for a whole push)."""
    scope = quote(f"repository:{repository}:pull,push", safe="")
    url = f"{hub.base_url}/token?service=cargobay&scope={scope}"
    answer = await asyncio.to_thread(request, "GET", url, headers=auth(user))
    assert answer.status == 200, answer.body
    return {"Authorization": "Bearer " + json.loads(answer.body)["token"]}


def _image(
    hub: Hub, repository: str, headers: dict[str, str], arch: str, variant: str | None, layer: bytes
) -> bytes:
    """Upload one platform image's blobs; returns its manifest (not yet put)."""
    platform: dict[str, Any] = {"architecture": arch, "os": "linux"}
    if variant:
        platform["variant"] = variant
    config = json.dumps({**platform, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    upload_blob(hub, repository, headers, layer)
    upload_blob(hub, repository, headers, config)
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(layer),
                    "size": len(layer),
                }
            ],
        }
    ).encode()


def push_index(hub: Hub, repository: str, headers: dict[str, str], tag: str) -> str:
    """A two-platform index (linux/amd64 with a 3,000-byte layer, linux/arm64/v8 with 5,000);
    returns its digest."""
    children = []
    for arch, variant, size in (("amd64", None, 3000), ("arm64", "v8", 5000)):
        manifest = _image(hub, repository, headers, arch, variant, bytes([len(arch)]) * size)
        put_manifest(hub, repository, headers, digest_of(manifest), manifest, OCI_MANIFEST)
        platform = {"architecture": arch, "os": "linux", **({"variant": variant} if variant else {})}
        children.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": digest_of(manifest),
                "size": len(manifest),
                "platform": platform,
            }
        )
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()
    put_manifest(hub, repository, headers, tag, index, OCI_INDEX)
    return digest_of(index)


def push_tags(hub: Hub, repository: str, headers: dict[str, str], tags: list[str]) -> None:
    """One small image under many tags (one upload, one manifest put per tag)."""
    manifest = _image(hub, repository, headers, "amd64", None, b"many-tags")
    for tag in tags:
        put_manifest(hub, repository, headers, tag, manifest, OCI_MANIFEST)


def api(hub: Hub, method: str, path: str, user: WebUser, body: dict[str, Any] | None = None) -> Response:
    return request(
        method,
        f"{hub.base_url}/api{path}",
        headers={**auth(user), "Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode(),
    )


def set_repository(hub: Hub, user: WebUser, name: str, **changes: Any) -> None:
    answer = api(hub, "PATCH", f"/repositories/{name}/", user, changes)
    assert answer.status == 200, (answer.status, answer.body)


async def make_admin(hub: Hub, make_user: MakeUser) -> WebUser:
    """An account made an administrator through the hub's own services (as `cargobay admin` does)."""
    user = await make_user()

    async def promote(services: HubServices) -> None:
        account = await services.accounts.store.account_by_name(user.username)
        assert account is not None
        await services.accounts.store.set_admin(account.id, True)

    await run_with_hub_async(hub, promote)
    return user


async def visitor_for(web_url: str, user: WebUser | None = None) -> WebVisitor:
    visitor = WebVisitor(web_url)
    if user is not None:
        await visitor.log_in(user.username, user.password)
    else:
        await visitor.get("/")
    return visitor


def host_of(web_url: str) -> str:
    return web_url.split("://", 1)[1]


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>.*?</tr>", body, flags=re.S)


# --------------------------------------------------------------------------- the page


async def test_page_shows_descriptions_counts_commands_and_the_tags_table(
    web_hub: Hub, web_url: str, make_user: MakeUser
) -> None:
    owner = await make_user()
    name = f"{owner.username}/app"
    single = await asyncio.to_thread(
        push_image, web_hub, name, await push_auth(web_hub, owner, name), "v1", b"s"
    )
    index_digest = await asyncio.to_thread(
        push_index, web_hub, name, await push_auth(web_hub, owner, name), "multi"
    )
    set_repository(web_hub, owner, name, description="A tiny test app", full_description="# Hello\n\n*world*")

    async with WebVisitor(web_url) as visitor:
        result = await visitor.get(f"/r/{name}")
    assert result.status == 200
    html = result.text
    assert f"<h1>{name}</h1>" in html
    assert "A tiny test app" in html
    assert "<h3>Hello</h3>" in html  # under the page's h1 and h2 and "<em>world</em>" in html
    assert "Private" not in html and "badge official" not in html
    host = host_of(web_url)
    # the newest tag in the pull commands, with copy buttons
    assert f'data-copy="docker pull {host}/{name}:multi"' in html
    assert f'data-copy="cargobay pull {host}/{name}:multi"' in html
    assert "Last pushed" in html and "pulls" in html
    table = rows(html)
    assert len(table) == 2
    newest, oldest = table
    assert ">multi</th>" in newest and ">v1</th>" in oldest  # newest first
    assert f'title="{index_digest}"' in newest and index_digest[:19] in newest
    assert "linux/amd64" in newest and "linux/arm64/v8" in newest
    # each platform's size, and their sum: configs are ~80 bytes, layers 3,000 and 5,000
    assert re.search(r"3\.\d\d KB", newest) and re.search(r"5\.\d\d KB", newest) and "8.1" in newest
    assert f'title="{single.digest}"' in oldest and "linux/amd64" in oldest
    layer_and_config = len(b"layer:" + b"s" * 100) + len(
        json.dumps({"architecture": "amd64", "os": "linux", "seed": "s"})
    )
    assert f">{layer_and_config} B<" in oldest
    assert f'data-copy="docker pull {host}/{name}:v1"' in oldest
    # an anonymous visitor is offered the log-in page instead of a star form
    assert f'href="/login?next=/r/{name}"' in html and f'action="/r/{name}/-/star"' not in html
    assert f'href="/r/{name}/-/settings"' not in html


async def test_tags_are_paged_25_at_a_time(web_hub: Hub, web_url: str, make_user: MakeUser) -> None:
    owner = await make_user()
    name = f"{owner.username}/many"
    tags = [f"t{number:02d}" for number in range(27)]
    await asyncio.to_thread(push_tags, web_hub, name, await push_auth(web_hub, owner, name), tags)
    async with WebVisitor(web_url) as visitor:
        first = await visitor.get(f"/r/{name}")
        second = await visitor.get(f"/r/{name}?page=2")
        bad = await visitor.get(f"/r/{name}?page=zero")
        past = await visitor.get(f"/r/{name}?page=7")
    assert len(rows(first.text)) == 25 and 'Tags <span class="tag-total">(27)</span>' in first.text
    assert f'rel="next" href="/r/{name}?page=2"' in first.text and 'rel="prev"' not in first.text
    assert "Page 1 of 2" in first.text
    assert len(rows(second.text)) == 2 and f'rel="prev" href="/r/{name}?page=1"' in second.text
    shown = {re.search(r">(t\d\d)</th>", row).group(1) for row in rows(first.text) + rows(second.text)}  # type: ignore[union-attr]
    assert shown == set(tags)
    # the pull commands name the newest tag on every page
    assert f"docker pull {host_of(web_url)}/{name}:t26" in second.text
    assert bad.status == 200 and "That page number does not exist" in bad.text and len(rows(bad.text)) == 25
    assert past.status == 200 and "There are only 2 pages of tags" in past.text


async def test_official_images_live_at_underscore_and_r_library_redirects(
    web_hub: Hub, web_url: str, make_user: MakeUser
) -> None:
    admin = await make_admin(web_hub, make_user)
    short = f"off{admin.username[-8:]}"
    await asyncio.to_thread(
        push_image,
        web_hub,
        f"library/{short}",
        await push_auth(web_hub, admin, f"library/{short}"),
        "1.0",
        b"o",
    )
    async with WebVisitor(web_url) as visitor:
        shown = await visitor.get(f"/_/{short}")
        moved = await visitor.get(f"/r/library/{short}?page=1", follow=False)
        missing = await visitor.get("/_/no-such-official-image")
    assert shown.status == 200
    assert f"<h1>{short}</h1>" in shown.text and '<span class="badge official">Official</span>' in shown.text
    assert f'data-copy="docker pull {host_of(web_url)}/{short}:1.0"' in shown.text
    assert f"/library/{short}:" not in shown.text
    assert moved.status == 301 and moved.headers["Location"] == f"/_/{short}?page=1"
    assert missing.status == 404 and "Page not found" in missing.text
    # starring from the official page comes back to it
    async with await visitor_for(web_url, admin) as visitor:
        page_text = (await visitor.get(f"/_/{short}")).text
        assert f'action="/_/{short}/-/star"' in page_text
        starred = await visitor.post(f"/_/{short}/-/star")
        assert starred.status == 303 and starred.headers["Location"] == f"/_/{short}"
        assert "1 star<" in (await visitor.get(f"/_/{short}")).text


async def test_empty_states_no_tags_and_no_readme(web_hub: Hub, web_url: str, make_user: MakeUser) -> None:
    owner = await make_user()
    other = await make_user()
    name = f"{owner.username}/bare"
    await asyncio.to_thread(push_image, web_hub, name, await push_auth(web_hub, owner, name), "only", b"b")
    answer = api(web_hub, "DELETE", f"/repositories/{name}/tags/only/", owner)
    assert answer.status == 204, (answer.status, answer.body)
    async with await visitor_for(web_url, owner) as mine, await visitor_for(web_url, other) as theirs:
        as_owner = await mine.get(f"/r/{name}")
        as_other = await theirs.get(f"/r/{name}")
    host = host_of(web_url)
    for result in (as_owner, as_other):
        assert result.status == 200
        assert "No tags yet." in result.text and f"docker push {host}/{name}:latest" in result.text
        assert "No description yet." in result.text
        assert "<tbody>" not in result.text and "docker pull" not in result.text
    # owners get a hint and the settings link; others neither
    assert (
        "write a README in the settings" in as_owner.text and f'href="/r/{name}/-/settings"' in as_owner.text
    )
    assert "write a README" not in as_other.text and f'href="/r/{name}/-/settings"' not in as_other.text


# --------------------------------------------------------------------------- private repositories


async def test_a_private_repository_is_the_same_404_as_a_missing_one(
    web_hub: Hub, web_url: str, make_user: MakeUser
) -> None:
    owner = await make_user()
    other = await make_user()
    secret = f"{owner.username}/secret"
    missing = f"{owner.username}/nothing"
    await asyncio.to_thread(push_image, web_hub, secret, await push_auth(web_hub, owner, secret), "v1", b"p")
    set_repository(web_hub, owner, secret, is_private=True, description="hush")

    async with await visitor_for(web_url) as anonymous, await visitor_for(web_url, other) as outsider:
        for visitor in (anonymous, outsider):
            hidden = await visitor.get(f"/r/{secret}")
            absent = await visitor.get(f"/r/{missing}")
            assert hidden.status == absent.status == 404
            assert hidden.text.replace(secret, "X") == absent.text.replace(missing, "X")
            assert "hush" not in hidden.text
            for verb in ("star", "unstar"):
                hidden = await visitor.post(f"/r/{secret}/{verb}")
                absent = await visitor.post(f"/r/{missing}/{verb}")
                assert hidden.status == absent.status
                assert hidden.text.replace(secret, "X") == absent.text.replace(missing, "X")
            paged = await visitor.get(f"/r/{secret}?page=2")
            assert paged.status == 404

    async with await visitor_for(web_url, owner) as mine:
        shown = await mine.get(f"/r/{secret}")
    assert shown.status == 200 and '<span class="badge private">Private</span>' in shown.text
    assert "hush" in shown.text and f'href="/r/{secret}/-/settings"' in shown.text


# --------------------------------------------------------------------------- stars


async def test_star_and_unstar_with_plain_forms(web_hub: Hub, web_url: str, make_user: MakeUser) -> None:
    owner = await make_user()
    fan = await make_user()
    name = f"{owner.username}/liked"
    await asyncio.to_thread(push_image, web_hub, name, await push_auth(web_hub, owner, name), "v1", b"l")
    async with await visitor_for(web_url, fan) as visitor:
        before = await visitor.get(f"/r/{name}")
        assert "0 stars" in before.text and f'action="/r/{name}/-/star"' in before.text
        assert 'aria-pressed="false"' in before.text

        refused = await visitor.post(f"/r/{name}/-/star", csrf=False)
        assert refused.status == 403
        assert "0 stars" in (await visitor.get(f"/r/{name}")).text

        starred = await visitor.post(f"/r/{name}/-/star")
        assert starred.status == 303 and starred.headers["Location"] == f"/r/{name}"
        after = await visitor.get(f"/r/{name}")
        assert "1 star<" in after.text and f'action="/r/{name}/-/unstar"' in after.text
        assert 'aria-pressed="true"' in after.text
        again = await visitor.post(f"/r/{name}/-/star")  # starring twice counts once
        assert again.status == 303 and "1 star<" in (await visitor.get(f"/r/{name}")).text

        unstarred = await visitor.post(f"/r/{name}/-/unstar")
        assert unstarred.status == 303
        assert "0 stars" in (await visitor.get(f"/r/{name}")).text


async def test_star_over_htmx_answers_with_the_button(
    web_hub: Hub, web_url: str, make_user: MakeUser
) -> None:
    owner = await make_user()
    fan = await make_user()
    name = f"{owner.username}/swapped"
    await asyncio.to_thread(push_image, web_hub, name, await push_auth(web_hub, owner, name), "v1", b"h")
    async with await visitor_for(web_url, fan) as visitor:
        await visitor.get(f"/r/{name}")
        fragment = await visitor.post(f"/r/{name}/-/star", headers={"HX-Request": "true"})
        assert fragment.status == 200
        assert fragment.text.lstrip().startswith('<div class="star-box" id="star-box">')
        assert "<html" not in fragment.text and "1 star<" in fragment.text
        assert f'hx-post="/r/{name}/-/unstar"' in fragment.text
        fragment = await visitor.post(f"/r/{name}/-/unstar", headers={"HX-Request": "true"})
        assert "0 stars" in fragment.text and f'hx-post="/r/{name}/-/star"' in fragment.text


async def test_anonymous_star_goes_to_the_log_in_page(
    web_hub: Hub, web_url: str, make_user: MakeUser
) -> None:
    owner = await make_user()
    name = f"{owner.username}/anon"
    await asyncio.to_thread(push_image, web_hub, name, await push_auth(web_hub, owner, name), "v1", b"a")
    async with await visitor_for(web_url) as visitor:
        plain = await visitor.post(f"/r/{name}/-/star")
        assert plain.status == 303 and plain.headers["Location"] == f"/login?next=/r/{name}"
        htmx = await visitor.post(f"/r/{name}/-/star", headers={"HX-Request": "true"})
        assert htmx.status == 200 and htmx.headers["HX-Redirect"] == f"/login?next=/r/{name}"
        assert "0 stars" in (await visitor.get(f"/r/{name}")).text


async def test_star_button_swaps_in_the_browser(
    web_hub: Hub, make_user: MakeUser, page: Page, screenshot: Shot
) -> None:
    owner = await make_user()
    fan = await make_user()
    name = f"{owner.username}/browser"
    await asyncio.to_thread(push_image, web_hub, name, await push_auth(web_hub, owner, name), "v1", b"w")
    await log_in(page, fan, f"/r/{name}")
    await expect(page.locator("h1")).to_have_text(name)
    await page.evaluate("window.__notReloaded = true")
    button = page.locator("#star-button")
    count = page.locator(".star-count")
    await expect(count).to_have_text("0 stars")
    await expect(button).to_have_attribute("aria-pressed", "false")
    await button.click()
    await expect(count).to_have_text("1 star")
    await expect(button).to_have_attribute("aria-pressed", "true")
    await expect(button).to_be_focused()  # htmx keeps the focus on the swapped button
    assert await page.evaluate("window.__notReloaded === true")  # swapped, not reloaded
    await screenshot("repository-starred")
    await button.click()
    await expect(count).to_have_text("0 stars")
    await expect(button).to_have_attribute("aria-pressed", "false")
    assert await page.evaluate("window.__notReloaded === true")
    await page.reload()
    await expect(page.locator(".star-count")).to_have_text("0 stars")


async def test_anonymous_star_click_in_the_browser_opens_log_in(
    web_hub: Hub, make_user: MakeUser, page: Page
) -> None:
    owner = await make_user()
    name = f"{owner.username}/anonclick"
    await asyncio.to_thread(push_image, web_hub, name, await push_auth(web_hub, owner, name), "v1", b"c")
    await page.goto(f"/r/{name}")
    async with page.expect_navigation():
        await page.locator("#star-button").click()
    assert page.url.endswith(f"/login?next=/r/{name}")
    await expect(page.locator("input[name='next']")).to_have_value(f"/r/{name}")


# --------------------------------------------------------------------------- hostile content

HOSTILE_README = """# Readme

<script>alert('script')</script>

<img src="x" onerror="alert('img')">

[click me](javascript:alert('md-link'))

<a href="javascript:alert('html-link')">html link</a>

<a href=" JaVaScRiPt:alert('spaced')">spaced</a>

<iframe src="javascript:alert('iframe')"></iframe>

<svg onload="alert('svg')"><circle r="5"/></svg>

<div style="background:url(javascript:alert('style'))" onclick="alert('click')">styled</div>

<details open ontoggle="alert('toggle')"><summary>more</summary>text</details>

<form action="/logout" method="post"><button>log out</button></form>

![pixel](https://example.invalid/p.png) ![local](/static/app.css)
"""


async def test_hostile_readme_description_and_tag_are_inert(
    web_hub: Hub, web_url: str, make_user: MakeUser, page: Page
) -> None:
    owner = await make_user()
    name = f"{owner.username}/hostile"
    tag = "_onerror-alert.1"  # a legal OCI tag
    await asyncio.to_thread(push_image, web_hub, name, await push_auth(web_hub, owner, name), tag, b"x")
    set_repository(
        web_hub,
        owner,
        name,
        description="<script>alert('description')</script>\"><img src=x onerror=alert(1)>",
        full_description=HOSTILE_README,
    )
    async with WebVisitor(web_url) as visitor:
        html = (await visitor.get(f"/r/{name}")).text
    readme = html.split('<div class="readme">', 1)[1].split("</section>", 1)[0]
    for element in ("<script", "<iframe", "<svg", "<form", "<style", "<object"):
        assert element not in readme.lower(), element
    assert not re.search(r"<[^>]*\s(on[a-z]+|style)\s*=", readme, flags=re.I), readme
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript:", readme, flags=re.I), readme
    assert "[click me](javascript:alert('md-link'))" in readme  # a link markdown refused: text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;description&#39;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert '<img src="https://example.invalid/p.png" alt="pixel">' in readme
    assert '<img alt="local">' in readme  # only absolute http(s) image sources
    assert readme.count('rel="noopener noreferrer nofollow"') == readme.count("<a ")
    assert f'<th scope="row" class="tag-name mono">{tag}</th>' in html
    async with WebVisitor(web_url) as visitor:
        listing = (await visitor.get(f"/u/{owner.username}")).text
    assert "&lt;script&gt;alert(&#39;description&#39;)&lt;/script&gt;" in listing
    assert "<script>alert" not in listing and "<img src=x" not in listing

    dialogs: list[str] = []

    async def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    await page.goto(f"/r/{name}")
    await expect(page.locator(".readme h3")).to_have_text("Readme")
    for text in ("html link", "spaced", "more", "styled"):
        await page.get_by_text(text, exact=True).first.click()
    await page.wait_for_timeout(300)
    assert dialogs == []
    assert await page.locator(".readme script, .readme iframe, .readme svg, .readme form").count() == 0
    assert await page.locator("#main [onerror], #main [onload], #main [onclick]").count() == 0
    assert page.url.endswith(f"/r/{name}")  # the links went nowhere


# --------------------------------------------------------------------------- layout

SAMPLE_README = """# Web frontend

The public web site, built from `nginx:alpine` with our static files.

## Usage

```sh
docker run -p 8080:80 IMAGE
```

| Variable | Default | Meaning |
|:--|:-:|--:|
| `PORT` | 80 | where nginx listens |
| `WORKERS` | auto | worker processes |

- small: **8 MB**
- ~~slow~~ fast

See the [documentation](https://example.com/docs).
"""


async def test_repository_page_on_desktop_and_phone(
    web_hub: Hub, web_url: str, make_user: MakeUser, page: Page, screenshot: Shot
) -> None:
    owner = await make_user()
    name = f"{owner.username}/web-frontend-with-a-long-name"
    headers = await push_auth(web_hub, owner, name)
    await asyncio.to_thread(push_image, web_hub, name, headers, "1.25.3-alpine-slim", b"d")
    await asyncio.to_thread(push_index, web_hub, name, headers, "latest")
    set_repository(
        web_hub,
        owner,
        name,
        description="The public web site, served by nginx",
        full_description=SAMPLE_README,
    )
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await log_in(page, owner, f"/r/{name}")
    await expect(page.locator("h1")).to_have_text(name)
    await expect(page.locator(".tags-table tbody tr")).to_have_count(2)
    copy = page.get_by_role("button", name="Copy the docker pull command")
    await copy.click()
    await expect(copy).to_have_text("Copied")
    pull = f"docker pull {web_url.split('://', 1)[1]}/{name}:latest"
    assert await page.evaluate("navigator.clipboard.readText()") == pull
    await expect(page.get_by_role("link", name="Settings", exact=True).last).to_be_visible()
    await screenshot("repository-desktop")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await expect(page.locator(".readme h3")).to_have_text("Web frontend")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot("repository-phone")
