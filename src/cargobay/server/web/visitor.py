"""Who is looking at a page: the logged-in account (from the session cookie) or an anonymous
visitor, and the CSRF token that this visitor's forms must carry.

Before log-in the token is the value of the `cargobay_csrf` cookie (double submit); after log-in
it is the session's own token, kept on the server. The cookies are HttpOnly and SameSite.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiohttp import web

from cargobay.registry.accounts import Actor
from cargobay.registry.web_sessions import SESSION_LIFETIME, WebSession, WebSessions, csrf_matches

SESSION_COOKIE = "cargobay_session"
CSRF_COOKIE = "cargobay_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


class CsrfRejected(Exception):
    """A form without the visitor's CSRF token, or sent from another site."""


@dataclass
class Visitor:
    actor: Actor | None
    csrf_token: str
    session_secret: str | None = None
    _set_cookies: dict[str, tuple[str, float | None]] = field(default_factory=dict)
    _clear_cookies: set[str] = field(default_factory=set)

    @property
    def name(self) -> str | None:
        return None if self.actor is None else self.actor.name

    def logged_in(self, session: WebSession) -> None:
        """After a log-in: the new session's cookie; the old anonymous token is no longer needed."""
        self.actor = session.actor
        self.csrf_token = session.csrf_token
        self.session_secret = session.secret
        self._set_cookies[SESSION_COOKIE] = (session.secret, SESSION_LIFETIME)
        self._clear_cookies.discard(SESSION_COOKIE)

    def logged_out(self) -> None:
        self.actor = None
        self.session_secret = None
        self.csrf_token = secrets.token_urlsafe(32)
        self._set_cookies.pop(SESSION_COOKIE, None)
        self._clear_cookies.add(SESSION_COOKIE)
        self._set_cookies[CSRF_COOKIE] = (self.csrf_token, None)

    def apply_cookies(self, response: web.StreamResponse, *, secure: bool) -> None:
        for name in self._clear_cookies:
            response.del_cookie(name, path="/", secure=secure, httponly=True, samesite="Lax")
        for name, (value, max_age) in self._set_cookies.items():
            response.set_cookie(
                name,
                value,
                path="/",
                max_age=None if max_age is None else int(max_age),
                httponly=True,
                secure=secure,
                samesite="Lax",
            )


VISITOR_KEY = web.RequestKey("cargobay.visitor", Visitor)


async def identify(request: web.Request, sessions: WebSessions | None) -> Visitor:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret and sessions is not None:
        session = await sessions.find(secret)
        if session is not None:
            return Visitor(session.actor, session.csrf_token, secret)
    token = request.cookies.get(CSRF_COOKIE, "")
    visitor = Visitor(None, token)
    if not _TOKEN.fullmatch(token):
        visitor.csrf_token = secrets.token_urlsafe(32)
        visitor._set_cookies[CSRF_COOKIE] = (visitor.csrf_token, None)
    if secret:
        visitor._clear_cookies.add(SESSION_COOKIE)  # expired or ended elsewhere
    return visitor


def _same_origin(request: web.Request, public_url: str | None) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    hosts = {request.host}
    if public_url:
        hosts.add(urlsplit(public_url).netloc)
    return urlsplit(origin).netloc in hosts


async def checked_form(request: web.Request, visitor: Visitor, public_url: str | None) -> dict[str, str]:
    """The POSTed form, once its CSRF token and origin are right (CsrfRejected otherwise)."""
    if not _same_origin(request, public_url):
        raise CsrfRejected("this form was sent from another site")
    posted = await request.post()
    form = {key: value for key, value in posted.items() if isinstance(value, str)}
    given = form.pop(CSRF_FIELD, None) or request.headers.get(CSRF_HEADER)
    if not csrf_matches(visitor.csrf_token, given):
        raise CsrfRejected(
            "the form has expired or did not come from this site; reload the page and try again"
        )
    return form
