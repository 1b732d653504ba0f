"""Helpers for the search tests: the hub's own services on its database (accounts, catalogue),
pushes over the registry API, and /v1/search requests."""

from __future__ import annotations

import base64
import json
from typing import Any, TypeVar
from urllib.parse import urlencode

from cargobay.metadata.catalogue import NewRepository
from cargobay.registry.accounts import Actor
from cargobay.server.app import Hub as HubServices
from support.http import request
from support.hubdata import run_with_hub
from support.pushing import push_image as push_one_layer
from support.servers import Hub

T = TypeVar("T")
PASSWORD = "Sup3r-secret"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PUSHED_AT = 1_700_000_000.0
STARGAZERS = ("starone", "startwo", "starthree")  # users every search hub has


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def add_users(hub: Hub, *names: str) -> None:
    async def create(h: HubServices) -> None:
        for name in names:
            await h.accounts.sign_up(name, f"{name}@example.com", PASSWORD)

    run_with_hub(hub, create)


async def actor(h: HubServices, name: str) -> Actor:
    found = await h.accounts.actor_for(name)
    assert found is not None, name
    return found


def load(hub: Hub, *entries: NewRepository) -> None:
    """Insert repositories straight through the metadata layer (pushed, no content)."""
    run_with_hub(hub, lambda h: h.catalogue.store.add_repositories(list(entries)))


def repo(name: str, description: str = "", *, pulls: int = 0, private: bool = False) -> NewRepository:
    return NewRepository(name, description, pull_count=pulls, private=private, last_pushed_at=PUSHED_AT)


def star(hub: Hub, repository: str, *users: str) -> None:
    async def go(h: HubServices) -> None:
        for user in users:
            assert await h.catalogue.star(await actor(h, user), repository)

    run_with_hub(hub, go)


def search(hub: Hub, q: str | None = None, headers: dict[str, str] | None = None, **params: Any) -> Any:
    """GET /v1/search; asserts 200 and returns the JSON body."""
    status, body = search_raw(hub, q, headers, **params)
    assert status == 200, (status, body)
    return body


def search_raw(
    hub: Hub, q: str | None = None, headers: dict[str, str] | None = None, **params: Any
) -> tuple[int, Any]:
    query = ({"q": q} if q is not None else {}) | {k: str(v) for k, v in params.items()}
    answer = request("GET", f"{hub.base_url}/v1/search?{urlencode(query)}", headers=headers)
    assert (answer.header("content-type") or "").startswith("application/json"), answer.headers
    return answer.status, json.loads(answer.body)


def names(body: Any) -> list[str]:
    return [r["name"] for r in body["results"]]


def push_image(hub: Hub, repository: str, headers: dict[str, str], tag: str = "v1") -> str:
    """Push a one-layer image over the registry API; returns the manifest digest."""
    return push_one_layer(hub, repository, headers, tag, seed=repository.encode()).digest


def push_token(hub: Hub, user: str, *repositories: str) -> dict[str, str]:
    """A bearer token from /token allowing `user` to push to `repositories`."""
    scopes = [("scope", f"repository:{name}:pull,push") for name in repositories]
    answer = request(
        "GET", f"{hub.base_url}/token?{urlencode([('service', 'cargobay'), *scopes])}", headers=basic(user)
    )
    assert answer.status == 200, answer.body
    return {"Authorization": "Bearer " + json.loads(answer.body)["token"]}
