"""The search page and the home page: ranking, filters, sort, pages, private repositories,
empty and error states, and search terms rendered inert."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest

from cargobay.metadata.catalogue import NewRepository
from cargobay.server.web.home import HOME_CACHE_TTL
from support.browser import sign_up_async
from support.hubdata import load_repositories, star_as
from support.servers import Hub, start_hub
from support.webforms import WebVisitor

NOW = time.time()


@pytest.fixture(scope="module")
def catalogue_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    server = start_hub(tmp_path_factory.mktemp("web-search"), workers=1, env={"CARGOBAY_AUTH": "token"})
    yield server
    server.close()


def _repo(
    name: str, description: str = "", *, pulls: int = 0, private: bool = False, age: float = 0
) -> NewRepository:
    return NewRepository(name, description, pull_count=pulls, private=private, last_pushed_at=NOW - age)


def _order(text: str, names: list[str]) -> list[str]:
    """`names` in the order their links appear on the page (absent ones left out)."""
    found = [(text.find(f'href="{n}"'), n) for n in names]
    return [n for at, n in sorted(found) if at >= 0]


async def test_search_ranks_filters_sorts_and_pages(catalogue_hub: Hub) -> None:
    word = "zq" + uuid.uuid4().hex[:6]
    await load_repositories(
        catalogue_hub,
        _repo(f"library/{word}", "the official one", pulls=40, age=300),
        _repo(f"alice/{word}-tools", "tools", pulls=900, age=10),
        _repo(f"bob/{word}-app", "an app", pulls=50, age=100),
        _repo(f"carol/secret-{word}", "private", private=True),
        *[_repo(f"bulk/{word}-{i:02}", "bulk", pulls=i, age=1000) for i in range(30)],
    )
    async with WebVisitor(catalogue_hub.base_url) as visitor:
        page = await visitor.get(f"/search?q={word}")
        assert page.status == 200
        assert "33 repositories" in page.text
        # exact name first (shown as an official image), then by popularity; private hidden
        assert _order(page.text, [f"/_/{word}", f"/r/alice/{word}-tools", f"/r/bob/{word}-app"]) == [
            f"/_/{word}",
            f"/r/alice/{word}-tools",
            f"/r/bob/{word}-app",
        ]
        assert f"secret-{word}" not in page.text
        assert "Page 1 of 2" in page.text and f'href="/search?q={word}&amp;page=2"' in page.text
        second = await visitor.get(f"/search?q={word}&page=2")
        assert "Page 2 of 2" in second.text and f"/r/bulk/{word}-00" in second.text

        official = await visitor.get(f"/search?q={word}&official=1")
        assert "1 repository" in official.text and f"/_/{word}" in official.text
        assert "Official" in official.text

        updated = await visitor.get(f"/search?q={word}&sort=updated")
        assert _order(updated.text, [f"/_/{word}", f"/r/alice/{word}-tools", f"/r/bob/{word}-app"])[0] == (
            f"/r/alice/{word}-tools"
        )
        by_pulls = await visitor.get(f"/search?q={word}&sort=pulls")
        assert _order(by_pulls.text, [f"/_/{word}", f"/r/alice/{word}-tools", f"/r/bob/{word}-app"]) == [
            f"/r/alice/{word}-tools",
            f"/r/bob/{word}-app",
            f"/_/{word}",
        ]


async def test_min_stars_filter_and_private_repositories_for_their_owner(catalogue_hub: Hub) -> None:
    word = "zs" + uuid.uuid4().hex[:6]
    owner = await sign_up_async(catalogue_hub.base_url)
    fan = await sign_up_async(catalogue_hub.base_url)
    await load_repositories(
        catalogue_hub,
        _repo(f"{owner.username}/{word}-starred"),
        _repo(f"{owner.username}/{word}-plain"),
        _repo(f"{owner.username}/{word}-hidden", private=True),
    )
    await star_as(catalogue_hub, f"{owner.username}/{word}-starred", fan.username)
    async with WebVisitor(catalogue_hub.base_url) as visitor:
        starred = await visitor.get(f"/search?q={word}&min_stars=1")
        assert f"{word}-starred" in starred.text and f"{word}-plain" not in starred.text
        assert f"{word}-hidden" not in (await visitor.get(f"/search?q={word}")).text
        await visitor.log_in(owner.username, owner.password)
        mine = await visitor.get(f"/search?q={word}")
        assert f"{word}-hidden" in mine.text
        card = mine.text.split(f"{word}-hidden", 1)[1].split("</li>", 1)[0]
        assert "Private" in card


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("sort=sideways", "Unknown sort order"),
        ("min_stars=-3", "Minimum stars must be a whole number"),
        ("min_stars=lots", "Minimum stars must be a whole number"),
        ("page=0", "That page number does not exist"),
        ("page=99999999999999999999", "That page number does not exist"),
    ],
)
async def test_bad_parameters_are_explained_not_refused(catalogue_hub: Hub, query: str, message: str) -> None:
    async with WebVisitor(catalogue_hub.base_url) as visitor:
        page = await visitor.get(f"/search?q=abc&{query}")
        assert page.status == 200
        assert message in page.text


async def test_no_results_says_what_to_do(catalogue_hub: Hub) -> None:
    async with WebVisitor(catalogue_hub.base_url) as visitor:
        page = await visitor.get("/search?q=nothingmatchesthisatall&official=1")
        assert "No repositories match" in page.text and "remove the filters" in page.text
        beyond = await visitor.get("/search?q=&page=5000")
        assert beyond.status == 200


@pytest.mark.parametrize(
    "term",
    ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "javascript:alert(1)", "{{7*7}}"],
)
async def test_search_terms_are_rendered_inert(catalogue_hub: Hub, term: str) -> None:
    async with WebVisitor(catalogue_hub.base_url) as visitor:
        async with visitor.http.get(f"{visitor.base_url}/search", params={"q": term}) as response:
            assert response.status == 200
            text = await response.text()
        assert "<script>alert" not in text
        assert "<img src=x" not in text
        assert 'href="javascript:' not in text
        assert "49" not in text.split("<main", 1)[1].split("</main>", 1)[0] or term != "{{7*7}}"


async def test_home_lists_official_most_starred_and_recent(catalogue_hub: Hub) -> None:
    word = "zh" + uuid.uuid4().hex[:6]
    fan = await sign_up_async(catalogue_hub.base_url)
    await load_repositories(
        catalogue_hub,
        _repo(f"library/{word}", "official image", age=-50),
        _repo(f"dave/{word}-fresh", "just pushed", age=-100),  # in the future: newest of all
        _repo(f"dave/{word}-private", "hidden", private=True, age=-200),
    )
    await star_as(catalogue_hub, f"library/{word}", fan.username)
    # each worker keeps the listings for HOME_CACHE_TTL seconds: past that, the changes show
    await asyncio.sleep(HOME_CACHE_TTL + 0.1)
    async with WebVisitor(catalogue_hub.base_url) as visitor:
        home = await visitor.get("/")
        assert home.status == 200
        assert 'id="official"' in home.text and f'href="/_/{word}"' in home.text
        recent = home.text.split('id="updated"', 1)[1]
        assert recent.find(f"/r/dave/{word}-fresh") < recent.find(f"/_/{word}")
        assert f"{word}-private" not in home.text


async def test_pages_that_do_not_exist(catalogue_hub: Hub) -> None:
    async with WebVisitor(catalogue_hub.base_url) as visitor:
        missing = await visitor.get("/no/such/page")
        assert missing.status == 404 and "Page not found" in missing.text
        assert missing.headers["Content-Type"].startswith("text/html")
        registry = await visitor.get("/v2/no/such/thing/x")
        assert registry.status == 404 and "<html" not in registry.text
        css = await visitor.get("/static/app.css")
        assert css.status == 200 and css.headers["Cache-Control"] == "public, max-age=86400"
        assert (await visitor.get("/static/..%2Fsite.py")).status == 404
        assert (await visitor.get("/static/site.py")).status == 404
