"""`SearchService.search` for the web site: the sorts (stars, pulls, updated), the filters
(official only, minimum stars), `last_pushed_at` on results, and their validation; on SQLite and
PostgreSQL, through the hub's own services on its database."""

from __future__ import annotations

import time
from typing import Any

import pytest
from searchhub import STARGAZERS, actor, load, run_with_hub, search, star

from cargobay.metadata.catalogue import COUNT_CAP, SMALL_MATCH_SET, NewRepository
from cargobay.registry.search import SEARCH_SORTS, SearchError, SearchResults
from cargobay.server.app import Hub as HubServices
from support.servers import Hub

PUSHED = 1_750_000_000.0


def find(hub: Hub, query: str, *, user: str | None = None, **options: Any) -> SearchResults:
    """SearchService.search as `user` (None: anonymous)."""

    async def go(h: HubServices) -> SearchResults:
        who = None if user is None else await actor(h, user)
        return await h.search.search(who, query, **options)

    return run_with_hub(hub, go)


def repositories(found: SearchResults) -> list[str]:
    return [r.repository for r in found.results]


def add_stars(hub: Hub, counts: dict[str, int]) -> None:
    """Give each repository that many stars (at most len(STARGAZERS))."""

    async def go(h: HubServices) -> None:
        for i, user in enumerate(STARGAZERS):
            who = await actor(h, user)
            chosen = [name for name, count in counts.items() if count > i]
            await h.catalogue.store.add_stars(who.account_id, chosen)

    run_with_hub(hub, go)


# (name, description, pulls, stars, last push) around the word "wombat"
WOMBATS = [
    ("library/wombat", "The official wombat", 50, 1, PUSHED + 10),
    ("library/wombat/extra", "not an official image: a further slash", 900, 0, PUSHED + 20),
    ("zoo/wombat", "", 10, 3, PUSHED + 30),
    ("zoo/wombat-tools", "", 700, 2, PUSHED + 5),
    ("keeper/burrow", "where a wombat sleeps", 700, 2, PUSHED + 40),
    ("keeper/marsupials", "wombat and friends", 3000, 0, PUSHED + 40),
    ("starone/wombat-secret", "private wombat", 5000, 3, PUSHED + 50),
]


@pytest.fixture(scope="module")
def wombats(search_hub: Hub) -> Hub:
    load(
        search_hub,
        *(
            NewRepository(
                name, text, pull_count=pulls, last_pushed_at=pushed, private=name.endswith("secret")
            )
            for name, text, pulls, _, pushed in WOMBATS
        ),
        NewRepository("zoo/wombat-never-pushed", "never pushed, never found"),
    )
    add_stars(search_hub, {name: stars for name, _, _, stars, _ in WOMBATS})
    return search_hub


def expected(order: str, *, private: bool = False, official: bool = False, min_stars: int = 0) -> list[str]:
    rows = [w for w in WOMBATS if private or not w[0].endswith("secret")]
    rows = [w for w in rows if w[3] >= min_stars]
    if official:
        rows = [w for w in rows if w[0].startswith("library/") and w[0].count("/") == 1]
    keys = {
        "stars": lambda w: (-w[3], -w[2], w[0]),
        "pulls": lambda w: (-w[2], -w[3], w[0]),
        "updated": lambda w: (-w[4], w[0]),
    }
    return [w[0] for w in sorted(rows, key=keys[order])]


@pytest.mark.parametrize("order", ["stars", "pulls", "updated"])
def test_sorts_replace_the_ranking(wombats: Hub, order: str) -> None:
    found = find(wombats, "wombat", sort=order)
    assert repositories(found) == expected(order)
    assert found.num_results == len(expected(order))
    pushed = {name: at for name, _, _, _, at in WOMBATS}
    for result in found.results:
        assert result.last_pushed_at == pushed[result.repository]
        assert isinstance(result.last_pushed_at, float)
    # private repositories show only to those who may see them, in the same order
    assert repositories(find(wombats, "wombat", sort=order, user="starone")) == expected(order, private=True)
    assert repositories(find(wombats, "wombat", sort=order, user="startwo")) == expected(order)
    # pages
    pages = [repositories(find(wombats, "wombat", sort=order, page=p, page_size=2)) for p in (1, 2, 3, 4)]
    assert [name for page in pages for name in page] == expected(order)


def test_relevance_is_the_v1_ranking_and_filters_apply_to_it(wombats: Hub) -> None:
    found = find(wombats, "wombat")
    v1 = search(wombats, "wombat")
    assert [r.name for r in found.results] == [r["name"] for r in v1["results"]]
    assert found.to_json() == v1  # the v1 body gains no field
    assert repositories(find(wombats, "wombat", sort="relevance")) == repositories(found)

    assert repositories(find(wombats, "wombat", official_only=True)) == ["library/wombat"]
    with_stars = repositories(find(wombats, "wombat", min_stars=2))
    assert with_stars == [name for name in repositories(found) if name in expected("stars", min_stars=2)]
    assert with_stars == ["zoo/wombat", "zoo/wombat-tools", "keeper/burrow"]


@pytest.mark.parametrize("order", SEARCH_SORTS)
def test_filters_apply_in_every_order(wombats: Hub, order: str) -> None:
    ordered = "stars" if order == "relevance" else order
    official = find(wombats, "wombat", official_only=True, sort=order)
    assert repositories(official) == expected(ordered, official=True) == ["library/wombat"]
    assert official.num_results == 1
    assert official.results[0].name == "wombat" and official.results[0].is_official
    for minimum in (1, 2, 3, 4):
        found = find(wombats, "wombat", min_stars=minimum, sort=order)
        assert set(repositories(found)) == set(expected(ordered, min_stars=minimum))
        assert found.num_results == len(expected(ordered, min_stars=minimum))
        if order != "relevance":
            assert repositories(found) == expected(ordered, min_stars=minimum)
    both = find(wombats, "wombat", official_only=True, min_stars=2, sort=order, user="starone")
    assert repositories(both) == []
    assert find(wombats, "wombat", min_stars=10**12, sort=order).num_results == 0  # beyond any count


def test_short_words_with_sorts_find_name_prefixes(wombats: Hub) -> None:
    load(
        wombats,
        NewRepository("qz/one", pull_count=1, last_pushed_at=PUSHED + 3),
        NewRepository("qzteam/two", pull_count=3, last_pushed_at=PUSHED + 1),
        NewRepository("other/qz-three", pull_count=2, last_pushed_at=PUSHED + 2),
        NewRepository("other/three-qz", "qz in the description only", pull_count=9, last_pushed_at=PUSHED),
    )
    assert repositories(find(wombats, "qz", sort="pulls")) == ["qzteam/two", "other/qz-three", "qz/one"]
    assert repositories(find(wombats, "qz", sort="updated")) == ["qz/one", "other/qz-three", "qzteam/two"]
    assert repositories(find(wombats, "qz", sort="pulls", official_only=True)) == []


@pytest.mark.parametrize("order", ["stars", "pulls", "updated"])
def test_the_empty_query_lists_everything_visible_in_order(wombats: Hub, order: str) -> None:
    everything = find(wombats, "", sort=order, page_size=100, user="starone")
    anonymous = find(wombats, "", sort=order, page_size=100)
    key = {  # names break ties in the database's collation: not checked here
        "stars": lambda r: (-r.star_count, -r.pull_count),
        "pulls": lambda r: (-r.pull_count, -r.star_count),
        "updated": lambda r: (-r.last_pushed_at,),
    }[order]
    for found in (everything, anonymous):
        assert found.results == sorted(found.results, key=key)
        assert "zoo/wombat-never-pushed" not in repositories(found)
    assert "starone/wombat-secret" not in repositories(anonymous)
    assert anonymous.num_results == everything.num_results - 1 or everything.num_results == COUNT_CAP
    top = find(wombats, "", sort=order, page_size=5)
    assert top.results == anonymous.results[:5]

    official = find(wombats, "", official_only=True, sort=order, page_size=100)
    assert official.results == sorted(official.results, key=key)
    assert "library/wombat" in repositories(official)
    assert all(r.is_official and "/" not in r.name for r in official.results)
    assert official.num_results == len(official.results)

    # a minimum of stars that leaves few: looked up, then sorted (not walked for)
    starred = find(wombats, "", sort=order, min_stars=3, page_size=100)
    assert starred.results == sorted(starred.results, key=key)
    assert starred.results and all(r.star_count >= 3 for r in starred.results)
    if starred.num_results <= 100:
        assert "zoo/wombat" in repositories(starred)
        assert starred.num_results == len(starred.results)
    none = find(wombats, "", sort=order, min_stars=10**6)
    assert (none.num_results, none.results) == (0, [])


def test_the_home_page_listings(wombats: Hub) -> None:
    load(wombats, NewRepository("latest/pushed", "the newest of all", last_pushed_at=time.time() + 10**6))
    assert repositories(find(wombats, "", sort="updated", page_size=1)) == ["latest/pushed"]
    starred = find(wombats, "", sort="stars", page_size=10)
    assert starred.results[0].star_count == len(STARGAZERS)


def test_many_matches_walk_the_indexes_in_the_same_order(search_hub: Hub) -> None:
    """Past SMALL_MATCH_SET and COUNT_CAP matches the sorts walk their indexes: same order."""
    count = COUNT_CAP + 300
    assert count > SMALL_MATCH_SET
    entries = [
        (f"herd{i % 5}/bilby-{i:05d}", (i * 7919) % 500, (i * 104729) % 4, PUSHED + (i * 31) % 1000)
        for i in range(count)
    ]
    load(search_hub, *(NewRepository(n, pull_count=p, last_pushed_at=t) for n, p, _, t in entries))
    add_stars(search_hub, {n: s for n, _, s, _ in entries})
    keys = {
        "stars": lambda e: (-e[2], -e[1], e[0]),
        "pulls": lambda e: (-e[1], -e[2], e[0]),
        "updated": lambda e: (-e[3], e[0]),
    }
    for order, key in keys.items():
        ranked = [e[0] for e in sorted(entries, key=key)]
        for page in (1, 2, 25):
            found = find(search_hub, "bilby", sort=order, page=page, page_size=100)
            assert found.num_results == COUNT_CAP
            assert repositories(found) == ranked[(page - 1) * 100 : page * 100], (order, page)
        # a filter that leaves fewer than COUNT_CAP: every match is known and sorted
        few = [e for e in entries if e[2] >= 2]
        assert SMALL_MATCH_SET < len(few) < COUNT_CAP
        found = find(search_hub, "bilby", sort=order, min_stars=2, page=2, page_size=100)
        assert found.num_results == len(few)
        assert repositories(found) == [e[0] for e in sorted(few, key=key)][100:200]
    # relevance with min_stars through the bands: the prefix tier, by stars, pulls and name
    relevance = find(search_hub, "bilby", min_stars=2, page_size=100)
    assert all(r.star_count >= 2 for r in relevance.results)
    stars_first = sorted(relevance.results, key=lambda r: (-r.star_count, -r.pull_count, r.repository))
    assert relevance.results == stars_first


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"sort": "name"}, "sort"),
        ({"sort": ""}, "sort"),
        ({"sort": "STARS"}, "sort"),
        ({"min_stars": -1}, "min_stars"),
        ({"page": 0}, "page"),
        ({"page_size": 101}, "n"),
    ],
)
def test_bad_options_name_the_parameter(search_hub: Hub, options: dict[str, Any], parameter: str) -> None:
    with pytest.raises(SearchError) as raised:
        find(search_hub, "anything", **options)
    assert raised.value.parameter == parameter


def test_star_changes_move_a_repository(search_hub: Hub) -> None:
    load(
        search_hub,
        NewRepository("rise/numbat-a", pull_count=5, last_pushed_at=PUSHED),
        NewRepository("rise/numbat-b", pull_count=1, last_pushed_at=PUSHED),
    )
    assert repositories(find(search_hub, "numbat", sort="stars")) == ["rise/numbat-a", "rise/numbat-b"]
    star(search_hub, "rise/numbat-b", STARGAZERS[0])
    assert repositories(find(search_hub, "numbat", sort="stars")) == ["rise/numbat-b", "rise/numbat-a"]
    assert repositories(find(search_hub, "numbat", sort="pulls")) == ["rise/numbat-a", "rise/numbat-b"]
    assert repositories(find(search_hub, "numbat", min_stars=1)) == ["rise/numbat-b"]
