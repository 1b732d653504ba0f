"""An organisation keeps an owner even when owners leave, are removed or are demoted at the same
moment: the check and the change are one transaction (SQLite and, when it answers, PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from cargobay.metadata.accounts import AccountStore
from cargobay.metadata.engine import create_engines, create_schema
from cargobay.registry.accounts import AccountError, AccountService, Actor

PASSWORD = "Own3rs-secret"


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[AccountService]:
    engines = create_engines(database_url)
    await create_schema(engines)
    yield AccountService(AccountStore(engines))
    await engines.dispose()


async def _org_with_owners(service: AccountService, *names: str) -> tuple[int, list[Actor]]:
    actors = []
    for name in names:
        row = await service.sign_up(name, f"{name}@example.com", PASSWORD)
        actors.append(Actor(row.name, row.id, False))
    org = await service.create_org(actors[0], "acme")
    for actor in actors[1:]:
        await service.set_member(actors[0], "acme", actor.name, "owner")
    return org.id, actors


async def _owners(service: AccountService, org_id: int) -> list[str]:
    return [name for name, role in await service.store.members(org_id) if role == "owner"]


async def test_two_owners_leaving_at_once_leave_one_behind(service: AccountService) -> None:
    org_id, (alice, bobby) = await _org_with_owners(service, "alice", "bobby")
    results = await asyncio.gather(
        service.leave_org(alice, "acme"), service.leave_org(bobby, "acme"), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, AccountError)]
    assert len(refused) == 1 and "at least one owner" in str(refused[0])
    assert len(await _owners(service, org_id)) == 1


async def test_owners_removing_each_other_at_once_leave_one_behind(service: AccountService) -> None:
    org_id, (alice, bobby) = await _org_with_owners(service, "alice", "bobby")
    results = await asyncio.gather(
        service.remove_member(alice, "acme", "bobby"),
        service.remove_member(bobby, "acme", "alice"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, BaseException) for r in results) == 1
    assert len(await _owners(service, org_id)) == 1


async def test_owners_demoting_each_other_at_once_leave_one_behind(service: AccountService) -> None:
    org_id, (alice, bobby) = await _org_with_owners(service, "alice", "bobby")
    results = await asyncio.gather(
        service.set_member(alice, "acme", "bobby", "member"),
        service.set_member(bobby, "acme", "alice", "member"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, BaseException) for r in results) == 1
    assert len(await _owners(service, org_id)) == 1


async def test_the_only_owner_stays_and_members_come_and_go(service: AccountService) -> None:
    org_id, (alice, bobby) = await _org_with_owners(service, "alice", "bobby")
    await service.set_member(alice, "acme", "bobby", "member")  # two owners: a demotion is fine
    with pytest.raises(AccountError):
        await service.leave_org(alice, "acme")
    with pytest.raises(AccountError):
        await service.set_member(alice, "acme", "alice", "member")
    await service.leave_org(bobby, "acme")  # a plain member leaves whatever the owners
    assert await _owners(service, org_id) == ["alice"]
    assert [name for name, _ in await service.store.members(org_id)] == ["alice"]
