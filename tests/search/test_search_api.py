"""`GET /v1/search`: Docker Hub's format, pagination, ranking, private repositories, odd input."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from searchhub import (
    PASSWORD,
    STARGAZERS,
    add_users,
    basic,
    load,
    names,
    push_image,
    repo,
    run_with_hub,
    search,
    search_raw,
    star,
)

from cargobay.metadata.catalogue import SMALL_MATCH_SET, NewRepository
from support.http import request
from support.servers import Hub

RESULT_FIELDS = {"name", "description", "star_count", "is_official", "is_automated"}


def test_format_and_pagination(search_hub: Hub) -> None:
    load(search_hub, *(repo(f"fmt/item{i:02d}", f"Item number {i}") for i in range(30)))
    load(search_hub, repo("fmt/unrelated", "nothing to see"))

    first = search(search_hub, "item")
    assert set(first) == {"num_results", "num_pages", "page", "page_size", "query", "results"}
    assert (first["num_results"], first["num_pages"], first["page"], first["page_size"]) == (30, 2, 1, 25)
    assert first["query"] == "item"
    assert len(first["results"]) == 25
    for result in first["results"]:
        assert set(result) == RESULT_FIELDS
        assert result["is_automated"] is False
        assert result["is_official"] is False
        assert result["star_count"] == 0
        assert result["description"].startswith("Item number ")

    pages = [search(search_hub, "item", n=7, page=p) for p in range(1, 7)]
    assert [len(p["results"]) for p in pages] == [7, 7, 7, 7, 2, 0]
    assert {p["num_results"] for p in pages} == {30}
    assert {p["num_pages"] for p in pages} == {5}
    seen = [name for p in pages for name in names(p)]
    assert sorted(seen) == [f"fmt/item{i:02d}" for i in range(30)]  # every match once, none twice


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"n": "0"}, "n"),
        ({"n": "101"}, "n"),
        ({"n": "abc"}, "n"),
        ({"n": "-5"}, "n"),
        ({"n": "1e3"}, "n"),
        ({"n": "9" * 40}, "n"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "two"}, "page"),
        ({"page": "\uff11"}, "page"),  # a fullwidth digit: int() would take it
    ],
)
def test_bad_parameters_are_400_json(search_hub: Hub, params: dict[str, str], parameter: str) -> None:
    status, body = search_raw(search_hub, "x", **params)
    assert status == 400
    (error,) = body["errors"]
    assert error["code"] == "PAGINATION_NUMBER_INVALID"
    assert error["detail"] == {"parameter": parameter}
    assert parameter in error["message"]


def test_limits_of_n_and_page_are_accepted(search_hub: Hub) -> None:
    load(search_hub, repo("lim/quokka"))
    assert names(search(search_hub, "quokka", n=1)) == ["lim/quokka"]
    assert search(search_hub, "quokka", n=100)["page_size"] == 100
    deep = search(search_hub, "quokka", page=100000)
    assert deep["results"] == [] and deep["num_results"] == 1


def crafted(term: str) -> list[tuple[str, str, int, int]]:
    """(name, description, pulls, stars) of repositories crafted around `term`."""
    return [
        (f"library/{term}", f"{term.title()} is an in-memory data store", 10, 0),
        (f"bob/{term}", f"my {term}", 50, 3),
        (f"carol/{term}-cluster", "", 0, 1),
        (f"dave/{term}-tools", "", 0, 2),
        (f"{term}fan/app", "", 500, 0),
        (f"library/{term[:2]}db", f"A fast {term.title()}-compatible store", 0, 0),
        (f"erin/my-{term}", "", 0, 1),
        (f"frank/{term[::-1]}", f"A cache that speaks {term}", 1000, 0),
        (f"gina/{term[::-1]}s", f"Backed by {term.upper()}", 10, 0),
        (f"henry/{term[::-1]}x", "postgres things", 99999, 3),
    ]


def expected_order(term: str) -> list[str]:
    return [
        term,  # exact, official (shown without library/)
        f"bob/{term}",  # exact name after the namespace
        f"dave/{term}-tools",  # prefix: 2 stars
        f"carol/{term}-cluster",  # prefix: 1 star
        f"{term}fan/app",  # prefix of the whole name: 0 stars
        f"{term[:2]}db",  # words: official first
        f"erin/my-{term}",  # words: 1 star
        f"frank/{term[::-1]}",  # words: 0 stars, 1000 pulls
        f"gina/{term[::-1]}s",  # words: 0 stars, 10 pulls (case-insensitive description)
    ]


def load_crafted(hub: Hub, term: str) -> None:
    entries = crafted(term)
    load(hub, *(repo(name, description, pulls=pulls) for name, description, pulls, _ in entries))
    for name, _, _, stars in entries:
        if stars:
            star(hub, name, *STARGAZERS[:stars])


def test_ranking_exact_prefix_words_official_stars_pulls(search_hub: Hub) -> None:
    load_crafted(search_hub, "redis")
    expected = expected_order("redis")

    body = search(search_hub, "Redis")
    assert names(body) == expected
    assert body["num_results"] == len(expected)
    by_name = {r["name"]: r for r in body["results"]}
    assert by_name["redis"]["is_official"] is True and by_name["redb"]["is_official"] is True
    assert by_name["bob/redis"]["star_count"] == 3
    assert by_name["bob/redis"]["is_official"] is False
    # the same order however it is paged
    paged = [name for p in range(1, 5) for name in names(search(search_hub, "redis", n=3, page=p))]
    assert paged == expected
    # the full official name is an exact match too; words must all occur
    assert names(search(search_hub, "library/redis"))[0] == "redis"
    assert names(search(search_hub, "redis cluster")) == ["carol/redis-cluster"]
    assert names(search(search_hub, "cache redis")) == ["frank/sider"]


def test_ranking_stays_the_same_when_too_many_match_to_sort_at_once(search_hub: Hub) -> None:
    """Past SMALL_MATCH_SET matches the hub ranks by walking indexes: same order, same totals."""
    load_crafted(search_hub, "valkey")
    count = SMALL_MATCH_SET + 300
    filler = [repo(f"fill{i % 7}/valkey-clone-{i:05d}", pulls=(i * 7919) % 1000) for i in range(count)]
    filler += [repo(f"fill/db-{i:04d}", f"stores data like valkey, copy {i}", pulls=i) for i in range(300)]
    load(search_hub, *filler)

    # exact; prefix by stars, then the 0-star prefix matches (valkeyfan/app among the clones) by
    # pulls and name; then the word matches: official vadb, erin (1 star), the rest by pulls, name
    def pulls_then_name(entries: list[tuple[str, int]]) -> list[str]:
        return [name for name, _ in sorted(entries, key=lambda entry: (-entry[1], entry[0]))]

    clones = [(f"fill{i % 7}/valkey-clone-{i:05d}", (i * 7919) % 1000) for i in range(count)]
    copies = [(f"fill/db-{i:04d}", i) for i in range(300)]
    expected = ["valkey", "bob/valkey", "dave/valkey-tools", "carol/valkey-cluster"]
    expected += pulls_then_name([("valkeyfan/app", 500), *clones])
    expected += ["vadb", "erin/my-valkey"]
    expected += pulls_then_name([("frank/yeklav", 1000), ("gina/yeklavs", 10), *copies])

    first = search(search_hub, "valkey", n=100)
    assert first["num_results"] == len(expected)
    assert names(first) == expected[:100]
    last_pages = len(expected) // 100
    for page in (last_pages - 1, last_pages, last_pages + 1):
        body = search(search_hub, "valkey", n=100, page=page)
        assert names(body) == expected[(page - 1) * 100 : page * 100], page


def token(hub: Hub, user: str, *scopes: str) -> dict[str, str]:
    query = urlencode([("service", "cargobay"), *(("scope", scope) for scope in scopes)])
    answer = request("GET", f"{hub.base_url}/token?{query}", headers=basic(user))
    assert answer.status == 200, answer.body
    return {"Authorization": "Bearer " + json.loads(answer.body)["token"]}


def test_private_repositories_only_for_those_who_may_see_them(search_hub: Hub) -> None:
    add_users(search_hub, "alice", "bobby")
    secret, public = "alice/secret-sauce", "alice/public-sauce"
    pusher = token(search_hub, "alice", f"repository:{secret}:pull,push", f"repository:{public}:pull,push")
    push_image(search_hub, secret, pusher)
    push_image(search_hub, public, pusher)
    assert run_with_hub(search_hub, lambda h: h.metadata.set_repository_private(secret, True))

    assert names(search(search_hub, "sauce")) == [public]
    assert search(search_hub, "secret")["num_results"] == 0
    assert names(search(search_hub, "sauce", basic("bobby"))) == [public]
    assert names(search(search_hub, "sauce", token(search_hub, "bobby", "registry:catalog:search"))) == [
        public
    ]
    assert sorted(names(search(search_hub, "sauce", basic("alice")))) == [public, secret]
    # a token from /token: with the catalog search scope docker asks for, and without it
    for scope, expected in (
        ("registry:catalog:search", 2),
        ("registry:catalog:*", 2),
        (f"repository:{public}:pull", 1),
    ):
        assert search(search_hub, "sauce", token(search_hub, "alice", scope))["num_results"] == expected
    # wrong credentials are refused, not silently anonymous
    status, body = search_raw(search_hub, "sauce", basic("alice", PASSWORD + "x"))
    assert status == 401
    assert body["errors"][0]["code"] == "UNAUTHORIZED"


ODD_QUERIES = [
    "%",
    "_",
    "%%",
    "___",
    "'",
    "''",
    "\\",
    "\\\\",
    '"',
    '""',
    "*",
    "AND",
    "OR NOT",
    "a AND b",
    "NEAR(abc def)",
    "redis*",
    "^redis",
    "doc:redis",
    "-redis",
    "'; DROP TABLE repositories; --",
    '" OR 1=1 --',
    "x" * 1000,
    "ab " * 400,
    "日本語のイメージ",
    "ünïcødé",
    "💥🐳",
    "\x00\x01\x1f",
    "\u200b",
    "%25",
    "[a-z]",
    "(redis)",
    "{}",
    "name COLLATE",
]


def test_odd_input_is_plain_text(search_hub: Hub) -> None:
    load(
        search_hub,
        repo("odd/w_th-underscore", "has an underscore"),
        repo("odd/with-plain", "percent 100% sure, it's a 'quote' and a \\ backslash"),
        repo("odd/unicode", "Ünïcødé café 日本語のイメージ"),
        repo("odd/rock", "Rock and roll"),
    )
    for q in ODD_QUERIES:
        body = search(search_hub, q)
        assert isinstance(body["query"], str)
        assert body["num_results"] >= len(body["results"])

    def found(q: str) -> list[str]:
        return [name for name in names(search(search_hub, q)) if name.startswith("odd/")]

    for q in ("%", "_", "%%", "___", "*", "'", '"', "\\", "x" * 1000):
        assert search(search_hub, q)["num_results"] == 0, q
    assert found("w_th") == ["odd/w_th-underscore"]  # `_` is not a wildcard
    assert found("100%") == ["odd/with-plain"]  # nor is `%`
    assert found("sure, it's") == ["odd/with-plain"]
    assert found("'quote'") == ["odd/with-plain"]
    assert found("\\ backslash") == ["odd/with-plain"]
    assert found("café") == ["odd/unicode"]
    assert found("日本語") == ["odd/unicode"]
    assert found("AND") == ["odd/rock", "odd/with-plain"]  # a word, not an operator
    assert found("redis*") == []
    assert found("x" * 1000) == []


def test_empty_query_lists_the_catalogue_by_popularity(search_hub: Hub) -> None:
    load(search_hub, repo("pop/low", pulls=10**9), repo("pop/high", pulls=10**9 + 1), repo("library/popbase"))
    load(search_hub, NewRepository("pop/never-pushed"))  # never pushed: not listed
    for q in ("", None, "   "):
        body = search(search_hub, q, n=100)
        listed = names(body)
        assert "pop/never-pushed" not in listed
        assert listed.index("popbase") < listed.index("pop/high") == listed.index("pop/low") - 1
        official = [r["is_official"] for r in body["results"]]
        assert official == sorted(official, reverse=True)  # official images first
        stars = [r["star_count"] for r in body["results"] if not r["is_official"]]
        assert stars == sorted(stars, reverse=True)


def test_short_words_find_name_prefixes(search_hub: Hub) -> None:
    load(
        search_hub,
        repo("library/go", "The Go language"),
        repo("gopher/tools"),
        repo("team/go-kit"),
        repo("team/mongo", "go nowhere"),
    )
    assert names(search(search_hub, "go")) == ["go", "gopher/tools", "team/go-kit"]
    assert names(search(search_hub, "go tools")) == ["gopher/tools"]
    assert names(search(search_hub, "ongo")) == ["team/mongo"]


def test_ping_for_docker(search_hub: Hub) -> None:
    answer = request("GET", f"{search_hub.base_url}/v1/_ping")
    assert answer.status == 200
    assert json.loads(answer.body) == {"standalone": True}
    assert answer.header("X-Docker-Registry-Standalone") == "true"
