"""Pull counts (manifest GETs, never HEADs, written about once a second and at shutdown), stars and
descriptions through the Python API the /api/ layer uses, and what search shows of them."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from searchhub import (
    OCI_MANIFEST,
    PASSWORD,
    actor,
    add_users,
    names,
    push_image,
    push_token,
    run_with_hub,
    search,
)

from cargobay.registry.accounts import TOKEN_SCOPES, Actor
from cargobay.registry.catalogue import (
    CatalogueError,
    NotAllowed,
    NotSignedIn,
    RepositoryInfo,
    RepositoryNotFound,
)
from cargobay.server.app import Hub as HubServices
from support.http import request
from support.servers import Hub


def info(hub: Hub, repository: str, user: str | None = None) -> RepositoryInfo:
    async def go(h: HubServices) -> RepositoryInfo:
        return await h.catalogue.info(await actor(h, user) if user else None, repository)

    return run_with_hub(hub, go)


def wait_for_pulls(hub: Hub, repository: str, expected: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = info(hub, repository).pull_count
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def test_manifest_gets_count_as_pulls_heads_do_not(search_hub: Hub) -> None:
    add_users(search_hub, "puller")
    repository = "puller/counted"
    digest = push_image(search_hub, repository, push_token(search_hub, "puller", repository))
    assert info(search_hub, repository).pull_count == 0
    assert info(search_hub, repository).last_pushed_at is not None

    accept = {"Accept": OCI_MANIFEST}
    for reference in ("v1", "v1", digest):  # by tag and by digest, anonymously (public)
        assert (
            request(
                "GET", f"{search_hub.base_url}/v2/{repository}/manifests/{reference}", headers=accept
            ).status
            == 200
        )
    for reference in ("v1", digest, "v1"):
        assert request("HEAD", f"{search_hub.base_url}/v2/{repository}/manifests/{reference}").status == 200
    assert request("GET", f"{search_hub.base_url}/v2/{repository}/manifests/nope").status == 404

    assert wait_for_pulls(search_hub, repository, 3) == 3
    time.sleep(1.5)  # another flush: still 3 (HEADs and misses never counted)
    assert info(search_hub, repository).pull_count == 3


def test_pulls_are_written_when_the_hub_stops(start_hub: Callable[..., Hub]) -> None:
    hub = start_hub(workers=1, env={"CARGOBAY_AUTH": "token"})
    add_users(hub, "stopper")
    repository = "stopper/last-words"
    push_image(hub, repository, push_token(hub, "stopper", repository))
    for _ in range(2):
        assert request("GET", f"{hub.base_url}/v2/{repository}/manifests/v1").status == 200
    hub.stop()  # SIGTERM right away: the final flush writes them
    assert info(hub, repository).pull_count == 2


def test_pulls_rank_search_results(search_hub: Hub) -> None:
    add_users(search_hub, "ranker")
    first, second = "ranker/pullrank-a", "ranker/pullrank-b"
    headers = push_token(search_hub, "ranker", first, second)
    push_image(search_hub, first, headers)
    push_image(search_hub, second, headers)
    assert names(search(search_hub, "pullrank")) == [first, second]  # a tie: by name
    for _ in range(3):
        assert request("GET", f"{search_hub.base_url}/v2/{second}/manifests/v1").status == 200
    assert wait_for_pulls(search_hub, second, 3) == 3
    assert names(search(search_hub, "pullrank")) == [second, first]


def test_stars_and_descriptions(search_hub: Hub) -> None:
    add_users(search_hub, "stella", "steve", "stan")
    galaxy, nebula = "stella/galaxy", "stella/nebula"
    headers = push_token(search_hub, "stella", galaxy, nebula)
    push_image(search_hub, galaxy, headers)
    push_image(search_hub, nebula, headers)
    assert run_with_hub(search_hub, lambda h: h.metadata.set_repository_private(nebula, True))

    async def stars(h: HubServices) -> None:
        stella, steve, stan = await actor(h, "stella"), await actor(h, "steve"), await actor(h, "stan")
        catalogue = h.catalogue
        assert await catalogue.star(steve, galaxy) is True
        assert await catalogue.star(steve, galaxy) is False  # already starred
        seen = await catalogue.info(steve, galaxy)
        assert (seen.star_count, seen.has_starred, seen.can_edit) == (1, True, False)
        assert (seen.namespace, seen.repository, seen.is_private, seen.is_official) == (
            "stella",
            "galaxy",
            False,
            False,
        )
        with pytest.raises(RepositoryNotFound):
            await catalogue.star(steve, nebula)  # private: as if missing
        with pytest.raises(RepositoryNotFound):
            await catalogue.info(None, nebula)
        with pytest.raises(RepositoryNotFound):
            await catalogue.star(steve, "stella/no-such-thing")
        with pytest.raises(NotSignedIn):
            await catalogue.star(None, galaxy)

        assert await catalogue.star(stella, nebula) is True
        assert await catalogue.star(stella, galaxy) is True
        own = await catalogue.starred(stella, "stella")
        assert own.total == 2 and [r.name for r in own.results] == [galaxy, nebula]  # newest first
        assert [r.name for r in (await catalogue.starred(steve, "stella")).results] == [galaxy]
        assert [r.name for r in (await catalogue.starred(None, "steve")).results] == [galaxy]
        paged = await catalogue.starred(stella, "stella", page=2, page_size=1)
        assert paged.total == 2 and [r.name for r in paged.results] == [nebula]
        with pytest.raises(CatalogueError):
            await catalogue.starred(None, "nobody-here")

        # descriptions: namespace owners only; a token needs read-write
        with pytest.raises(NotAllowed):
            await catalogue.set_descriptions(steve, galaxy, description="mine now")
        read_only = Actor(stella.name, stella.account_id, False, TOKEN_SCOPES["read"])
        with pytest.raises(NotAllowed):
            await catalogue.set_descriptions(read_only, galaxy, description="from a read token")
        read_write = Actor(stella.name, stella.account_id, False, TOKEN_SCOPES["read-write"])
        changed = await catalogue.set_descriptions(
            read_write, galaxy, description="Stars and dust", full_description="# Galaxy\n\nA *big* one."
        )
        assert (changed.description, changed.full_description) == (
            "Stars and dust",
            "# Galaxy\n\nA *big* one.",
        )
        assert changed.can_edit
        kept = await catalogue.set_descriptions(stella, galaxy, full_description="# Galaxy 2")
        assert (kept.description, kept.full_description) == ("Stars and dust", "# Galaxy 2")
        for bad in ("x" * 101, "two\nlines"):
            with pytest.raises(CatalogueError) as caught:
                await catalogue.set_descriptions(stella, galaxy, description=bad)
            assert caught.value.field == "description"
        with pytest.raises(CatalogueError):
            await catalogue.set_descriptions(stella, galaxy, full_description="y" * 25_001)
        assert (await catalogue.info(None, galaxy)).description == "Stars and dust"

        # stars go with their account (the count stays exact)
        assert await catalogue.star(stan, galaxy) is True
        assert (await catalogue.info(None, galaxy)).star_count == 3
        await h.accounts.delete_account(stan, PASSWORD)
        assert (await catalogue.info(None, galaxy)).star_count == 2
        assert await catalogue.unstar(steve, galaxy) is True
        assert await catalogue.unstar(steve, galaxy) is False
        assert (await catalogue.info(steve, galaxy)).has_starred is False

    run_with_hub(search_hub, stars)

    (found,) = search(search_hub, "galaxy")["results"]
    assert found == {
        "name": galaxy,
        "description": "Stars and dust",
        "star_count": 1,
        "is_official": False,
        "is_automated": False,
    }
    assert names(search(search_hub, "dust")) == [galaxy]  # the description is searched
