"""The web site driven over plain HTTP (no browser): a visitor with a cookie jar who reads the
CSRF token off a page and posts forms, for tests of pages, redirects and status codes."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import aiohttp

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class PageResult:
    status: int
    text: str
    url: str
    headers: Any


class WebVisitor:
    """``async with WebVisitor(base_url) as v: await v.get("/")``. Redirects are not followed
    unless asked, so tests see the 303s the site answers with."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf_token = ""

    async def __aenter__(self) -> WebVisitor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.http.close()

    async def get(self, path: str, *, follow: bool = True) -> PageResult:
        async with self.http.get(self.base_url + path, allow_redirects=follow) as response:
            result = PageResult(response.status, await response.text(), str(response.url), response.headers)
        found = _CSRF.search(result.text)
        if found:
            self.csrf_token = html.unescape(found.group(1))
        return result

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf: bool = True,
        follow: bool = False,
        headers: dict[str, str] | None = None,
    ) -> PageResult:
        """POST a form; the CSRF token of the last page read goes with it unless csrf=False."""
        form = dict(data or {})
        if csrf:
            if not self.csrf_token:
                await self.get("/")
            form.setdefault("csrf_token", self.csrf_token)
        async with self.http.post(
            self.base_url + path, data=form, allow_redirects=follow, headers=headers or {}
        ) as response:
            return PageResult(response.status, await response.text(), str(response.url), response.headers)

    async def log_in(self, username: str, password: str) -> PageResult:
        await self.get("/login")
        result = await self.post("/login", {"username": username, "password": password})
        await self.get("/")  # the session's own CSRF token from now on
        return result
