"""Tags list and _catalog: byte order, n/last pagination, Link headers, bad n."""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from hubclient import Client, expect_error

TAGS = ["B", "a", "_x", "10", "9", "A-1", "a.b"]


def _next(link: str | None) -> str | None:
    if link is None:
        return None
    match = re.fullmatch(r'<([^>]+)>;\s*rel="next"', link.strip())
    assert match, f"bad Link header {link!r}"
    return match[1]


@pytest.fixture
def tagged_repo(client: Client, repo_name: str) -> str:
    image = client.push_image(repo_name)
    for tag in TAGS:
        assert client.put_manifest(repo_name, tag, image.raw, image.media_type).status == 201
    return repo_name


def test_tags_in_byte_order(client: Client, tagged_repo: str) -> None:
    resp = client.get(f"/v2/{tagged_repo}/tags/list")
    assert resp.status == 200, resp
    assert resp.json() == {"name": tagged_repo, "tags": sorted(TAGS, key=str.encode)}
    assert resp.h("link") is None, resp


def test_tags_pagination_follows_link(client: Client, tagged_repo: str) -> None:
    expected = sorted(TAGS, key=str.encode)
    seen: list[str] = []
    path: str | None = f"/v2/{tagged_repo}/tags/list?n=3"
    pages = 0
    while path:
        resp = client.get(path)
        assert resp.status == 200, resp
        tags = resp.json()["tags"]
        assert len(tags) <= 3
        seen += tags
        path = _next(resp.h("link"))
        pages += 1
        if path:
            assert len(tags) == 3, "a page shorter than n must be the last one"
            assert parse_qs(urlsplit(path).query)["n"] == ["3"], path
    assert seen == expected
    assert pages == 3


def test_tags_last_is_exclusive(client: Client, tagged_repo: str) -> None:
    expected = sorted(TAGS, key=str.encode)
    resp = client.get(f"/v2/{tagged_repo}/tags/list?n=2&last={expected[1]}")
    assert resp.json()["tags"] == expected[2:4], resp
    # `last` that is not a tag: the tags after it in byte order
    resp = client.get(f"/v2/{tagged_repo}/tags/list?last=Z")
    assert resp.json()["tags"] == [t for t in expected if t.encode() > b"Z"], resp
    resp = client.get(f"/v2/{tagged_repo}/tags/list?n=100&last={expected[-1]}")
    assert resp.json()["tags"] == [] and resp.h("link") is None, resp


def test_tags_exact_page_has_no_link(client: Client, tagged_repo: str) -> None:
    resp = client.get(f"/v2/{tagged_repo}/tags/list?n={len(TAGS)}")
    assert len(resp.json()["tags"]) == len(TAGS)
    assert resp.h("link") is None, resp


def test_tags_n_zero(client: Client, tagged_repo: str) -> None:
    resp = client.get(f"/v2/{tagged_repo}/tags/list?n=0")
    assert resp.status == 200, resp
    assert resp.json()["tags"] == [], resp
    assert resp.h("link") is None, resp


@pytest.mark.parametrize("n", ["1000000000000", "-1", "abc", "1e3", "99999999999999999999999"])
def test_bad_n(client: Client, tagged_repo: str, n: str) -> None:
    expect_error(client.get(f"/v2/{tagged_repo}/tags/list?n={n}"), 400, "PAGINATION_NUMBER_INVALID")
    expect_error(client.get(f"/v2/_catalog?n={n}"), 400, "PAGINATION_NUMBER_INVALID")


def test_tags_of_unknown_repository(client: Client, repo_name: str) -> None:
    expect_error(client.get(f"/v2/{repo_name}/tags/list"), 404, "NAME_UNKNOWN")
    expect_error(client.get(f"/v2/{repo_name}/tags/list?n=0"), 404, "NAME_UNKNOWN")


def test_tags_after_all_deleted(client: Client, repo_name: str) -> None:
    client.push_image(repo_name, "only")
    assert client.delete(f"/v2/{repo_name}/manifests/only").status == 202
    resp = client.get(f"/v2/{repo_name}/tags/list")
    # an existing repository without tags: an empty list (distribution) or unknown
    assert resp.status in (200, 404), resp
    if resp.status == 200:
        assert resp.json()["tags"] in ([], None), resp


def test_catalog_pagination(client: Client) -> None:
    prefix = f"catalog-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}/{s}" for s in ("b", "a", "a-b", "a/c", "z0", "a_b", "a__b")]
    for name in names:
        client.push_image(name, "t")
    expected = sorted(names, key=str.encode)
    # walk the whole catalog from just before our prefix, 2 at a time
    seen: list[str] = []
    path: str | None = f"/v2/_catalog?n=2&last={prefix}"
    while path and len(seen) < len(names):
        resp = client.get(path)
        assert resp.status == 200, resp
        page = resp.json()["repositories"]
        assert len(page) <= 2
        seen += page
        path = _next(resp.h("link"))
        if path:
            assert len(page) == 2 and path.startswith("/v2/_catalog?"), path
    assert seen[: len(names)] == expected
    zero = client.get("/v2/_catalog?n=0")
    assert zero.status == 200 and zero.json()["repositories"] == [] and zero.h("link") is None, zero
    full = client.get("/v2/_catalog?n=10000")
    listed = full.json()["repositories"]
    assert listed == sorted(listed, key=str.encode)
    assert set(names) <= set(listed)
