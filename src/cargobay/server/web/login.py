"""`/signup`, `/login`, `/logout`: the password rules and the login rate limit are the API's."""

from __future__ import annotations

from aiohttp import web

from cargobay.registry.accounts import AccountError, InvalidCredentials, RegistrationClosed, TooManyAttempts
from cargobay.server.client_address import client_address
from cargobay.server.web.pages import local_path, page, redirect
from cargobay.server.web.site import Site
from cargobay.server.web.visitor import Visitor, checked_form

_MAX_FIELD = 1024


def _field(form: dict[str, str], name: str) -> str:
    return form.get(name, "")[:_MAX_FIELD]


class LoginPages:
    def __init__(self, site: Site) -> None:
        self.site = site

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/login", page(self.site, self.login_form))
        app.router.add_post("/login", page(self.site, self.log_in))
        app.router.add_get("/signup", page(self.site, self.signup_form))
        app.router.add_post("/signup", page(self.site, self.sign_up))
        app.router.add_post("/logout", page(self.site, self.log_out))

    def _unavailable(self, request: web.Request) -> web.Response:
        return self.site.render(
            request,
            "error.html",
            status=404,
            title="Accounts are off",
            message="This hub runs without accounts (auth: none): everyone may pull and push.",
        )

    async def login_form(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        if not self.site.accounts_enabled:
            return self._unavailable(request)
        next_path = local_path(request.rel_url.query.get("next"))
        if visitor.actor is not None:
            raise redirect(next_path)
        return self.site.render(request, "login.html", errors={}, username="", next_path=next_path)

    async def log_in(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        if not self.site.accounts_enabled:
            return self._unavailable(request)
        form = await checked_form(request, visitor, self.site.public_url)
        username = _field(form, "username").strip()
        next_path = local_path(form.get("next"))
        try:
            session = await self.site.sessions.log_in(
                username, _field(form, "password"), client_address(request)
            )
        except TooManyAttempts as exc:
            response = self.site.render(
                request,
                "login.html",
                status=429,
                errors={"": str(exc)},
                username=username,
                next_path=next_path,
            )
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except InvalidCredentials as exc:
            return self.site.render(
                request,
                "login.html",
                status=401,
                errors={"": str(exc)},
                username=username,
                next_path=next_path,
            )
        visitor.logged_in(session)
        raise redirect(next_path)

    async def signup_form(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        if not self.site.accounts_enabled:
            return self._unavailable(request)
        if visitor.actor is not None:
            raise redirect("/")
        return self.site.render(request, "signup.html", errors={}, username="", email="")

    async def sign_up(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        if not self.site.accounts_enabled:
            return self._unavailable(request)
        form = await checked_form(request, visitor, self.site.public_url)
        username, email = _field(form, "username").strip(), _field(form, "email").strip()
        password = _field(form, "password")
        errors: dict[str, str] = {}
        if password != _field(form, "password_repeat"):
            errors["password_repeat"] = "the passwords do not match"
        else:
            try:
                account = await self.site.accounts.register(username, email, password)
            except RegistrationClosed as exc:
                errors[""] = str(exc)
            except AccountError as exc:
                errors[exc.field or ""] = str(exc)
            else:
                session = await self.site.sessions.open_for(account.name)
                if session is not None:
                    visitor.logged_in(session)
                raise redirect(f"/u/{account.name}")
        status = 403 if "" in errors else 400
        return self.site.render(
            request, "signup.html", status=status, errors=errors, username=username, email=email
        )

    async def log_out(self, request: web.Request, visitor: Visitor) -> web.StreamResponse:
        await checked_form(request, visitor, self.site.public_url)
        if visitor.session_secret:
            await self.site.sessions.close(visitor.session_secret)
        visitor.logged_out()
        raise redirect("/")
