"""`HubRepositories.update_settings` called directly (as the web site's pages call it), on the
API tests' hub database: what the API cannot reach (an anonymous caller, nothing to change), the
errors' types and fields, and the constructor's default CatalogueService."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from apiclient import Api
from hubapi import ok, push

from cargobay.config import load_settings
from cargobay.metadata.hub_listing import HubListingStore
from cargobay.registry.accounts import Actor
from cargobay.registry.catalogue import CatalogueError, NotAllowed, NotSignedIn, RepositoryNotFound
from cargobay.registry.hub_repositories import HubRepositories
from cargobay.server.app import Hub as HubServices
from cargobay.server.app import build_hub
from support.servers import Hub

T = TypeVar("T")


def with_services(hub: Hub, action: Callable[[HubServices, HubRepositories], Awaitable[T]]) -> T:
    """Run `action` with the hub's services built on its database (as `cargobay admin` does)."""

    async def go() -> T:
        settings = load_settings(
            None, {"data_dir": hub.data_dir, "database_url": hub.database_url, "auth": "token"}, environ={}
        )
        services = build_hub(settings)
        listing = HubListingStore(services.metadata.engines)
        repositories = HubRepositories(
            listing, services.metadata, services.registry, services.policy, services.catalogue
        )
        try:
            return await action(services, repositories)
        finally:
            await services.close()

    return asyncio.run(go())


async def actor(services: HubServices, name: str, token: frozenset[str] | None = None) -> Actor:
    found = await services.accounts.actor_for(name)
    assert found is not None
    return Actor(found.name, found.account_id, found.is_admin, token)


def test_update_settings_rules(api: Api, api_hub: Hub) -> None:
    owner, other = api.sign_up(pat=True), api.sign_up(pat=True)
    name = f"{owner.name}/direct"
    push(api, api_hub, owner, name)

    async def check(services: HubServices, repositories: HubRepositories) -> None:
        me, stranger = await actor(services, owner.name), await actor(services, other.name)
        with pytest.raises(NotSignedIn):
            await repositories.update_settings(None, name, private=True)
        with pytest.raises(RepositoryNotFound):
            await repositories.update_settings(me, f"{owner.name}/no-such-repository", description="x")
        with pytest.raises(RepositoryNotFound):
            await repositories.update_settings(me, "Not A Valid Name", description="x")
        with pytest.raises(CatalogueError) as bad:
            await repositories.update_settings(me, name, description="two\nlines")
        assert bad.value.field == "description"
        with pytest.raises(NotAllowed):
            await repositories.update_settings(stranger, name, private=True)
        with pytest.raises(NotAllowed):
            await repositories.update_settings(stranger, name, description="mine")
        read_write = await actor(services, owner.name, frozenset({"pull", "push"}))
        with pytest.raises(NotAllowed):
            await repositories.update_settings(read_write, name, private=True)
        await repositories.update_settings(read_write, name, full_description="# Direct")
        await repositories.update_settings(me, name)  # nothing to change: only the checks

        await repositories.update_settings(me, name, private=True, description="Set directly")
        info = await services.catalogue.info(me, name)
        assert (info.is_private, info.description, info.full_description) == (
            True,
            "Set directly",
            "# Direct",
        )
        with pytest.raises(RepositoryNotFound):  # now hidden from the stranger
            await repositories.update_settings(stranger, name, private=False)

        # without a CatalogueService the constructor builds one on the same database
        default = HubRepositories(repositories.listing, services.metadata, services.registry, services.policy)
        await default.update_settings(me, name, private=False, description="Public again")

    with_services(api_hub, check)
    page = ok(api.call("GET", f"/api/repositories/{name}/"))
    assert (page["is_private"], page["description"], page["full_description"]) == (
        False,
        "Public again",
        "# Direct",
    )
