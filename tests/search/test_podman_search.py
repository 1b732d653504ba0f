"""`podman search HOST/TERM` against the hub: podman asks /v1/search first (and falls back to
/v2/_catalog only when that fails), so it shows our ranking, descriptions and official images."""

from __future__ import annotations

import json
from typing import Any

import pytest
from searchhub import add_users, load, push_image, push_token, repo, run_with_hub

from support.servers import Hub
from support.tools import Podman

pytestmark = pytest.mark.interop


def podman_search(podman: Podman, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        podman("search", "--tls-verify=false", "--format", "json", *args).stdout or "[]"
    )
    return found


@pytest.mark.parametrize("search_hub", ["sqlite"], indirect=True)
def test_podman_search_lists_our_repositories(search_hub: Hub, podman: Podman) -> None:
    host = search_hub.url
    add_users(search_hub, "astro")
    mine = "astro/podsearch-one"
    push_image(search_hub, mine, push_token(search_hub, "astro", mine))
    run_with_hub(search_hub, lambda h: h.catalogue.store.set_descriptions(mine, "Podman finds me", None))
    load(
        search_hub,
        repo("library/podsearch", "The official one"),
        repo("astro/podsearch-hidden", "private", private=True),
        repo("astro/elsewhere", "mentions podsearch in passing", pulls=5),
    )

    found = podman_search(podman, f"{host}/podsearch")
    assert [entry["Name"] for entry in found] == [
        f"{host}/podsearch",  # official: no library/, first
        f"{host}/astro/podsearch-one",  # prefix of the name after the namespace
        f"{host}/astro/elsewhere",  # the word in the description
    ]
    assert [entry["Description"] for entry in found] == [
        "The official one",
        "Podman finds me",
        "mentions podsearch in passing",
    ]
    assert [entry["Official"] for entry in found] == ["[OK]", "", ""]
    assert {entry["Index"] for entry in found} == {host}

    assert [e["Name"] for e in podman_search(podman, "--limit", "1", f"{host}/podsearch")] == [
        f"{host}/podsearch"
    ]
    assert podman_search(podman, f"{host}/no-such-thing-anywhere") == []
    # the names podman prints are pullable references
    tags = podman_search(podman, "--list-tags", f"{host}/{mine}")
    assert [tag for entry in tags for tag in entry["Tags"]] == ["v1"]
