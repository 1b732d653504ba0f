"""Web sessions in the database, on SQLite and (when it answers) PostgreSQL: found by the hash of
their secret, expired and ended sessions are gone, a new password or a deleted account ends them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cargobay.metadata.accounts import AccountStore
from cargobay.metadata.engine import create_engines, create_schema
from cargobay.metadata.web_sessions import WebSessionStore
from cargobay.registry.accounts import AccountService
from cargobay.registry.web_sessions import WebSessions

PASSWORD = "S3ssion-secret"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[WebSessions]:
    url = database_url
    engines = create_engines(url)
    await create_schema(engines)
    accounts = AccountService(AccountStore(engines))
    await accounts.sign_up("alice", "alice@example.com", PASSWORD)
    await accounts.sign_up("bobby", "bobby@example.com", PASSWORD)
    yield WebSessions(accounts, WebSessionStore(engines))
    await engines.dispose()


async def test_a_session_is_found_by_its_secret_only(sessions: WebSessions) -> None:
    opened = await sessions.log_in("alice", PASSWORD, "127.0.0.1")
    found = await sessions.find(opened.secret)
    assert found is not None and found.actor.name == "alice"
    assert found.csrf_token == opened.csrf_token and len(found.csrf_token) >= 32
    assert await sessions.find(opened.secret + "x") is None
    assert await sessions.find("") is None
    assert await sessions.find("x" * 10_000) is None  # no lookup at all for absurd cookies


async def test_log_out_ends_only_that_session(sessions: WebSessions) -> None:
    laptop = await sessions.log_in("alice", PASSWORD, None)
    phone = await sessions.log_in("alice", PASSWORD, None)
    await sessions.close(laptop.secret)
    assert await sessions.find(laptop.secret) is None
    assert await sessions.find(phone.secret) is not None


async def test_expired_sessions_are_not_found(sessions: WebSessions) -> None:
    short = WebSessions(sessions.accounts, sessions.store, lifetime=-1)
    expired = await short.log_in("alice", PASSWORD, None)
    assert await sessions.find(expired.secret) is None


async def test_a_new_password_ends_every_session_of_that_account(sessions: WebSessions) -> None:
    alice = await sessions.log_in("alice", PASSWORD, None)
    bobby = await sessions.log_in("bobby", PASSWORD, None)
    await sessions.accounts.change_password(alice.actor, PASSWORD, "N3w-password")
    assert await sessions.find(alice.secret) is None
    assert await sessions.find(bobby.secret) is not None


async def test_deleting_the_account_ends_its_sessions(sessions: WebSessions) -> None:
    alice = await sessions.log_in("alice", PASSWORD, None)
    await sessions.accounts.delete_account(alice.actor, PASSWORD)
    assert await sessions.find(alice.secret) is None


async def test_the_database_never_holds_the_secret(sessions: WebSessions, tmp_path: Path) -> None:
    opened = await sessions.log_in("alice", PASSWORD, None)
    async with sessions.store.engines.reader.connect() as conn:
        rows = (await conn.exec_driver_sql("SELECT id_hash, csrf_token FROM web_sessions")).all()
    assert rows and all(opened.secret not in (row[0], row[1]) for row in rows)
