"""Sign up, log in and log out on the web site: sessions, cookies, CSRF, redirects, throttling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from yarl import URL

from support.browser import PASSWORD, sign_up_async, unique_username
from support.servers import Hub, start_hub
from support.webforms import WebVisitor


def _session_cookie(result_headers: object) -> str:
    cookies = [v for k, v in result_headers.items() if k.lower() == "set-cookie"]  # type: ignore[attr-defined]
    found = [c for c in cookies if c.startswith("cargobay_session=")]
    assert found, cookies
    return found[0]


async def test_sign_up_logs_in_and_sets_a_safe_session_cookie(web_url: str) -> None:
    name = unique_username()
    async with WebVisitor(web_url) as visitor:
        await visitor.get("/signup")
        form = {
            "username": name,
            "email": f"{name}@example.com",
            "password": PASSWORD,
            "password_repeat": PASSWORD,
        }
        answer = await visitor.post("/signup", form)
        assert answer.status == 303
        assert answer.headers["Location"] == f"/u/{name}"
        cookie = _session_cookie(answer.headers)
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP on loopback; `https://` public_url adds it
        home = await visitor.get("/")
        assert f'href="/u/{name}"' in home.text and "Log out" in home.text


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"password_repeat": "Other-S3cret-pw"}, 400, "the passwords do not match"),
        ({"password": "short", "password_repeat": "short"}, 400, "password must be 8 to 256 characters"),
        ({"username": "No Spaces"}, 400, "username must be 4 to 30 lowercase letters or digits"),
        ({"email": "not-an-email"}, 400, "email address is not valid"),
    ],
)
async def test_sign_up_mistakes_are_explained_next_to_the_field(
    web_url: str, change: dict[str, str], status: int, message: str
) -> None:
    name = unique_username()
    form = {
        "username": name,
        "email": f"{name}@example.com",
        "password": PASSWORD,
        "password_repeat": PASSWORD,
    }
    form.update(change)
    async with WebVisitor(web_url) as visitor:
        await visitor.get("/signup")
        answer = await visitor.post("/signup", form)
        assert answer.status == status
        assert message in answer.text
        assert 'aria-invalid="true"' in answer.text
        assert "cargobay_session=" not in answer.headers.get("Set-Cookie", "")


async def test_a_taken_username_is_refused(web_url: str) -> None:
    user = await sign_up_async(web_url)
    async with WebVisitor(web_url) as visitor:
        await visitor.get("/signup")
        form = {
            "username": user.username,
            "email": f"other-{user.username}@example.com",
            "password": PASSWORD,
            "password_repeat": PASSWORD,
        }
        answer = await visitor.post("/signup", form)
        assert answer.status == 400
        assert "this username is taken" in answer.text


async def test_log_in_and_out(web_url: str) -> None:
    user = await sign_up_async(web_url)
    async with WebVisitor(web_url) as visitor:
        answer = await visitor.log_in(user.username, user.password)
        assert answer.status == 303 and answer.headers["Location"] == "/"
        stolen = visitor.http.cookie_jar.filter_cookies(URL(visitor.base_url))["cargobay_session"].value
        assert user.username in (await visitor.get("/")).text
        out = await visitor.post("/logout")
        assert out.status == 303
        assert "Log in" in (await visitor.get("/")).text
    # The session ended on the server: its cookie no longer logs anyone in.
    async with WebVisitor(web_url) as replay:
        replay.http.cookie_jar.update_cookies({"cargobay_session": stolen})
        page = await replay.get("/")
        assert "Log out" not in page.text and "Log in" in page.text


async def test_log_in_returns_to_a_local_page_only(web_url: str) -> None:
    user = await sign_up_async(web_url)
    for target, expected in (
        ("/search?q=abc", "/search?q=abc"),
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
    ):
        async with WebVisitor(web_url) as visitor:
            await visitor.get("/login")
            answer = await visitor.post(
                "/login", {"username": user.username, "password": user.password, "next": target}
            )
            assert answer.status == 303
            assert answer.headers["Location"] == expected


async def test_an_access_token_is_not_a_web_password(web_url: str) -> None:
    user = await sign_up_async(web_url)
    async with WebVisitor(web_url) as visitor:
        async with visitor.http.post(
            f"{web_url}/api/access-tokens",
            json={"token_label": "ci", "scope": "read"},
            headers={"Authorization": aiohttp.encode_basic_auth(user.username, user.password)},
        ) as created:
            assert created.status == 201, await created.text()
            secret = (await created.json())["token"]
        await visitor.get("/login")
        answer = await visitor.post("/login", {"username": user.username, "password": secret})
        assert answer.status == 401
        assert "access tokens are for tools" in answer.text


async def test_forms_without_the_csrf_token_or_from_another_site_are_refused(web_url: str) -> None:
    user = await sign_up_async(web_url)
    async with WebVisitor(web_url) as visitor:
        await visitor.get("/login")
        missing = await visitor.post(
            "/login", {"username": user.username, "password": user.password}, csrf=False
        )
        assert missing.status == 403 and "reload the page" in missing.text
        wrong = await visitor.post(
            "/login", {"username": user.username, "password": user.password, "csrf_token": "x" * 43}
        )
        assert wrong.status == 403
        foreign = await visitor.post(
            "/login",
            {"username": user.username, "password": user.password},
            headers={"Origin": "http://evil.example"},
        )
        assert foreign.status == 403 and "another site" in foreign.text
        assert "Log out" not in (await visitor.get("/")).text
        # Logged in, the session's own token is needed: the anonymous one no longer works.
        anonymous_token = visitor.csrf_token
        await visitor.log_in(user.username, user.password)
        assert visitor.csrf_token != anonymous_token
        refused = await visitor.post("/logout", {"csrf_token": anonymous_token}, csrf=False)
        assert refused.status == 403
        assert "Log out" in (await visitor.get("/")).text


# -- throttling: a hub of its own, so these failures do not count against other tests' address


@pytest.fixture(scope="module")
def throttle_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    server = start_hub(tmp_path_factory.mktemp("throttle-hub"), workers=1, env={"CARGOBAY_AUTH": "token"})
    yield server
    server.close()


async def test_wrong_passwords_are_throttled_like_the_api(throttle_hub: Hub, tmp_path: Path) -> None:
    user = await sign_up_async(throttle_hub.base_url)
    async with WebVisitor(throttle_hub.base_url) as visitor:
        await visitor.get("/login")
        statuses = []
        for _ in range(6):
            answer = await visitor.post("/login", {"username": user.username, "password": "Wrong-passw0rd"})
            statuses.append(answer.status)
        assert statuses[:5] == [401] * 5
        assert (
            "incorrect username or password"
            in (await visitor.post("/login", {"username": "nosuchuser", "password": "x"})).text
        )
        assert statuses[5] == 429
        locked = await visitor.post("/login", {"username": user.username, "password": user.password})
        assert locked.status == 429
        assert int(locked.headers["Retry-After"]) > 0
        assert "too many failed logins" in locked.text


async def test_hub_without_accounts_says_so(tmp_path: Path) -> None:
    hub = start_hub(tmp_path, workers=1, env={"CARGOBAY_AUTH": "none"})
    try:
        async with WebVisitor(hub.base_url) as visitor:
            page = await visitor.get("/login")
            assert page.status == 404 and "runs without accounts" in page.text
            home = await visitor.get("/")
            assert home.status == 200 and "Log in" not in home.text
    finally:
        hub.close()


async def test_pages_forbid_inline_scripts_framing_and_caching(web_url: str) -> None:
    async with WebVisitor(web_url) as visitor:
        page = await visitor.get("/login")
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Cache-Control"] == "no-store"
        assert "<script>" not in page.text  # every script is a file under /static/


async def test_cookies_are_secure_behind_an_https_public_url(tmp_path: Path) -> None:
    hub = start_hub(
        tmp_path,
        workers=1,
        env={"CARGOBAY_AUTH": "token", "CARGOBAY_PUBLIC_URL": "https://hub.example"},
    )
    try:
        user = await sign_up_async(hub.base_url)
        async with WebVisitor(hub.base_url) as visitor:
            first = await visitor.get("/login")
            assert "Secure" in first.headers["Set-Cookie"]
            # A browser sends a Secure cookie only over https; send it by hand over loopback.
            answer = await visitor.post(
                "/login",
                {"username": user.username, "password": user.password},
                headers={"Cookie": f"cargobay_csrf={visitor.csrf_token}", "Origin": "https://hub.example"},
            )
            assert answer.status == 303, answer.text
            assert "Secure" in _session_cookie(answer.headers)
    finally:
        hub.close()
