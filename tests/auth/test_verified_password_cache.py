"""The hub's memory of verified passwords (cargobay.registry.verified_passwords): a second
`GET /token` with the same Basic credentials skips argon2, and nothing else changes — a new
password, a wrong one, a deleted account, an organisation's name and expiry all behave as
without it.

The HTTP tests run a real hub (`create_app`, the app every worker of `cargobay serve` runs) in
this process, so that argon2's `PasswordHasher.verify` (a library function) can be wrapped to
count the verifications the hub makes. Nothing of cargobay's is replaced."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import argon2
import pytest
from aiohttp import web
from apiclient import unique_name

from cargobay.config import Settings, load_settings
from cargobay.registry.accounts import AccountService, InvalidCredentials, TooManyAttempts
from cargobay.registry.verified_passwords import VerifiedPasswords
from cargobay.server.app import Hub, build_hub, create_app
from cargobay.server.run import _prepare as prepare_hub
from support.servers import hub_env

PASSWORD = "Cached-pass1"
NEW_PASSWORD = "Changed-pass2"
SCOPE = "repository:{user}/app:pull,push"
ADMIN = [sys.executable, "-m", "cargobay", "admin"]


# --------------------------------------------------------------------------- the cache alone


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_remembers_a_verified_password_until_it_expires() -> None:
    clock = FakeClock()
    cache = VerifiedPasswords(ttl=300, clock=clock)
    assert not cache.contains(1, "$argon2id$h1", "pw-one")
    cache.add(1, "$argon2id$h1", "pw-one")
    assert cache.contains(1, "$argon2id$h1", "pw-one")
    clock.now += 299.9
    assert cache.contains(1, "$argon2id$h1", "pw-one")  # a hit does not extend the entry
    clock.now += 0.1
    assert not cache.contains(1, "$argon2id$h1", "pw-one")
    assert len(cache) == 0


def test_every_part_of_the_key_counts() -> None:
    cache = VerifiedPasswords()
    cache.add(1, "$argon2id$h1", "pw-one")
    assert not cache.contains(2, "$argon2id$h1", "pw-one")  # another account
    assert not cache.contains(1, "$argon2id$h2", "pw-one")  # a new hash (password changed)
    assert not cache.contains(1, "$argon2id$h1", "pw-two")  # another password
    assert not cache.contains(1, "$argon2id$h1", "pw-on")
    # Fields are length-prefixed: moving characters from one field to the next is another key.
    cache.add(1, "ab", "c")
    assert not cache.contains(1, "a", "bc")
    assert not cache.contains(11, "ab", "c")


def test_holds_no_password_and_no_hash() -> None:
    cache = VerifiedPasswords()
    cache.add(7, "$argon2id$v=19$stored", "Sup3r-secret-password")
    dump = repr(vars(cache)).encode() + b"".join(cache._expiry)
    assert b"Sup3r-secret" not in dump and b"stored" not in dump
    assert all(len(key) == 32 for key in cache._expiry)  # HMAC-SHA256 digests only
    # Another process (another key) makes other digests of the same triple.
    other = VerifiedPasswords()
    other.add(7, "$argon2id$v=19$stored", "Sup3r-secret-password")
    assert set(other._expiry).isdisjoint(cache._expiry)


def test_bounded_oldest_out_first() -> None:
    clock = FakeClock()
    cache = VerifiedPasswords(max_entries=3, clock=clock)
    for n in range(4):
        cache.add(n, "h", "pw")
        clock.now += 1
    assert len(cache) == 3
    assert not cache.contains(0, "h", "pw")
    assert all(cache.contains(n, "h", "pw") for n in (1, 2, 3))
    cache.add(1, "h", "pw")  # verified again: now the newest
    cache.add(9, "h", "pw")
    assert cache.contains(1, "h", "pw") and not cache.contains(2, "h", "pw")


def test_expired_entries_are_dropped_when_adding() -> None:
    clock = FakeClock()
    cache = VerifiedPasswords(ttl=10, clock=clock)
    cache.add(1, "h", "pw")
    cache.add(2, "h", "pw")
    clock.now += 10
    cache.add(3, "h", "pw")
    assert len(cache) == 1


def test_zero_ttl_or_size_remembers_nothing() -> None:
    for cache in (VerifiedPasswords(ttl=0), VerifiedPasswords(max_entries=0)):
        cache.add(1, "h", "pw")
        assert not cache.contains(1, "h", "pw")
    with pytest.raises(ValueError):
        VerifiedPasswords(ttl=-1)


# --------------------------------------------------------------------------- counting argon2


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per argon2 verification anywhere in this process (True: it matched)."""
    calls: list[bool] = []
    verify = argon2.PasswordHasher.verify

    def counting(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> Any:
        try:
            result = verify(self, hash, password)
        except Exception:
            calls.append(False)
            raise
        calls.append(True)
        return result

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    return calls


# --------------------------------------------------------------------------- a hub in process


@dataclass
class InProcessHub:
    url: str
    settings: Settings
    http: aiohttp.ClientSession

    async def call(
        self, method: str, path: str, auth: tuple[str, str] | None = None, json: Any = None
    ) -> tuple[int, Any]:
        headers = {}
        if auth is not None:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        async with self.http.request(method, self.url + path, headers=headers, json=json) as response:
            body = await response.json() if response.content_type == "application/json" else None
            return response.status, body

    async def token(self, user: str, password: str, namespace: str | None = None) -> int:
        scope = SCOPE.format(user=namespace or user)
        status, _ = await self.call("GET", f"/token?service=cargobay&scope={scope}", auth=(user, password))
        return status

    async def sign_up(self, password: str = PASSWORD) -> str:
        name = unique_name("c")
        body = {"username": name, "email": f"{name}@example.test", "password": password}
        status, answer = await self.call("POST", "/api/users", json=body)
        assert status == 201, answer
        return name


def _settings(data_dir: Path) -> Settings:
    return load_settings(None, {"data_dir": data_dir, "auth": "token"}, environ={})


@pytest.fixture(scope="module")
async def hub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[InProcessHub]:
    """The hub's web application on a loopback port of this process's event loop."""
    settings = _settings(tmp_path_factory.mktemp("cache-hub"))
    await prepare_hub(settings)  # what `cargobay serve` does once before starting its workers
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as http:
        yield InProcessHub(f"http://127.0.0.1:{port}", settings, http)
    await runner.cleanup()


async def test_second_token_request_skips_argon2(hub: InProcessHub, argon2_calls: list[bool]) -> None:
    user = await hub.sign_up()
    assert await hub.token(user, PASSWORD) == 200
    assert argon2_calls == [True]
    for _ in range(5):
        assert await hub.token(user, PASSWORD) == 200
    assert argon2_calls == [True]
    # The email is a login name too: another way to the same account, the same entry.
    assert await hub.token(f"{user}@example.test", PASSWORD, user) == 200
    assert argon2_calls == [True]


async def test_a_new_password_through_the_api_ends_the_old_one(
    hub: InProcessHub, argon2_calls: list[bool]
) -> None:
    user = await hub.sign_up()
    assert await hub.token(user, PASSWORD) == 200
    status, _ = await hub.call(
        "PUT",
        "/api/user/password",
        auth=(user, PASSWORD),
        json={"old_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert status == 204
    assert await hub.token(user, PASSWORD) == 401
    assert await hub.token(user, NEW_PASSWORD) == 200
    verified = len(argon2_calls)
    assert await hub.token(user, NEW_PASSWORD) == 200
    assert len(argon2_calls) == verified  # the new password is remembered in its turn


async def test_a_password_reset_by_cargobay_admin_ends_the_old_one(
    hub: InProcessHub, argon2_calls: list[bool]
) -> None:
    """Another process changes the stored hash: the entry of this one no longer matches."""
    user = await hub.sign_up()
    assert await hub.token(user, PASSWORD) == 200
    assert await hub.token(user, PASSWORD) == 200
    assert argon2_calls == [True]
    reset = subprocess.run(
        [
            *ADMIN,
            "user",
            "passwd",
            "--username",
            user,
            "--password-stdin",
            "--data-dir",
            str(hub.settings.data_dir),
        ],
        input=NEW_PASSWORD + "\n",
        capture_output=True,
        text=True,
        env=hub_env(None, {"CARGOBAY_AUTH": "token"}),
        timeout=60,
    )
    assert reset.returncode == 0, reset.stderr
    assert await hub.token(user, PASSWORD) == 401
    assert await hub.token(user, NEW_PASSWORD) == 200
    assert argon2_calls == [True, False, True]


async def test_wrong_passwords_after_a_success_still_fail_and_throttle(
    hub: InProcessHub, argon2_calls: list[bool]
) -> None:
    user = await hub.sign_up()
    assert await hub.token(user, PASSWORD) == 200
    for attempt in range(5):
        assert await hub.token(user, f"Wrong-pass{attempt}") == 401
    assert argon2_calls == [True] + [False] * 5  # each failure was checked, none remembered
    # Five failures: the account is throttled, even for the password remembered a moment ago.
    assert await hub.token(user, PASSWORD) == 429
    assert await hub.token(user, "Wrong-pass9") == 429
    assert len(argon2_calls) == 6


async def test_a_deleted_account_is_refused(hub: InProcessHub, argon2_calls: list[bool]) -> None:
    user = await hub.sign_up()
    assert await hub.token(user, PASSWORD) == 200
    status, _ = await hub.call("DELETE", "/api/user", auth=(user, PASSWORD), json={"password": PASSWORD})
    assert status == 204
    assert await hub.token(user, PASSWORD) == 401
    assert await hub.token(user, PASSWORD) == 401
    # the first token, the deletion's own check, then a dummy check per refusal: never a hit
    assert argon2_calls == [True, True, False, False]
    # A new account may get the deleted one's id (SQLite reuses the highest rowid): with the
    # same password it is still checked afresh, its stored hash being another.
    other = await hub.sign_up()
    assert await hub.token(other, PASSWORD) == 200
    assert argon2_calls == [True, True, False, False, True]


async def test_an_organisation_name_is_refused(hub: InProcessHub, argon2_calls: list[bool]) -> None:
    user = await hub.sign_up()
    org = unique_name("o")
    status, _ = await hub.call("POST", "/api/orgs", auth=(user, PASSWORD), json={"name": org})
    assert status == 201
    for _ in range(2):
        assert await hub.token(org, PASSWORD) == 401
    assert len(argon2_calls) == 3  # the owner's check, then two dummy checks for the org


# --------------------------------------------------------------------------- the service


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Hub]:
    """The hub's services on a database of their own, prepared as `cargobay serve` does."""
    settings = _settings(tmp_path)
    await prepare_hub(settings)
    hub = build_hub(settings)
    yield hub
    await hub.close()


async def test_entries_expire(services: Hub, argon2_calls: list[bool]) -> None:
    clock = FakeClock()
    accounts = AccountService(
        services.accounts.store, verified_passwords=VerifiedPasswords(ttl=60, clock=clock)
    )
    await accounts.sign_up("expiring", "expiring@example.test", PASSWORD)
    await accounts.authenticate("expiring", PASSWORD, "127.0.0.1")
    clock.now += 59
    await accounts.authenticate("expiring", PASSWORD, "127.0.0.1")
    assert argon2_calls == [True]
    clock.now += 1
    await accounts.authenticate("expiring", PASSWORD, "127.0.0.1")
    assert argon2_calls == [True, True]
    with pytest.raises(InvalidCredentials):
        await accounts.authenticate("expiring", "Wrong-pass1", "127.0.0.1")
    assert len(accounts.verified_passwords) == 1  # the failure left nothing behind


async def test_access_tokens_do_not_use_the_cache(services: Hub, argon2_calls: list[bool]) -> None:
    accounts = AccountService(services.accounts.store, max_failures_per_account=2)
    await accounts.sign_up("tokenuser", "tokenuser@example.test", PASSWORD)
    actor = await accounts.authenticate("tokenuser", PASSWORD, None)
    assert argon2_calls == [True] and len(accounts.verified_passwords) == 1
    pat = await accounts.create_token(actor, "ci", "read")
    for _ in range(3):
        by_token = await accounts.authenticate("tokenuser", pat.secret, None)
        assert by_token.token_actions == frozenset({"pull"})
    assert argon2_calls == [True] and len(accounts.verified_passwords) == 1
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await accounts.authenticate("tokenuser", "Wrong-pass1", None)
    with pytest.raises(TooManyAttempts):
        await accounts.authenticate("tokenuser", PASSWORD, None)
    assert (await accounts.authenticate("tokenuser", pat.secret, None)).token_actions is not None
