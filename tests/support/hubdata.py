"""A running hub's data, changed through the hub's own services on its database (as `cargobay
admin` does while the hub runs): accounts, bulk-loaded repositories, stars."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cargobay.config import load_settings
from cargobay.metadata.catalogue import NewRepository
from cargobay.server.app import Hub as HubServices
from cargobay.server.app import build_hub
from support.servers import Hub

T = TypeVar("T")
__all__ = ["HubServices", "load_repositories", "run_with_hub", "run_with_hub_async", "star_as"]


def run_with_hub(hub: Hub, action: Callable[[HubServices], Awaitable[T]]) -> T:
    async def go() -> T:
        settings = load_settings(
            None, {"data_dir": hub.data_dir, "database_url": hub.database_url, "auth": "token"}, environ={}
        )
        services = build_hub(settings)
        try:
            return await action(services)
        finally:
            await services.close()

    return asyncio.run(go())


async def run_with_hub_async(hub: Hub, action: Callable[[HubServices], Awaitable[T]]) -> T:
    """:func:`run_with_hub` from an async test (on a thread: it runs its own event loop)."""
    return await asyncio.to_thread(run_with_hub, hub, action)


async def load_repositories(hub: Hub, *entries: NewRepository) -> None:
    """Repositories inserted through the metadata layer: listed and searchable, no content."""
    await run_with_hub_async(hub, lambda h: h.catalogue.store.add_repositories(list(entries)))


async def star_as(hub: Hub, repository: str, *users: str) -> None:
    async def go(h: HubServices) -> None:
        for user in users:
            actor = await h.accounts.actor_for(user)
            assert actor is not None, user
            await h.catalogue.star(actor, repository)

    await run_with_hub_async(hub, go)
