"""`cargobay login [SERVER]`: docker login, checked against the registry before anything is stored.

The check is docker's: `GET /v2/`; a Bearer challenge is answered with a token request carrying
the credentials (`offline_token=true&client_id=cargobay`, or an OAuth2 refresh-token grant for a
stored identity token), a Basic one with the credentials themselves; the login holds when
`GET /v2/` then answers 200. A refresh token in the answer is stored as `identitytoken` in place
of the password.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from cargobay.cli.errors import CliError, reports_errors

if TYPE_CHECKING:
    from cargobay.distclient.credentials import Credentials
    from cargobay.distclient.httpclient import HttpSession

CLIENT_ID = "cargobay"

UNENCRYPTED_WARNING = """
WARNING! Your credentials are stored unencrypted in '{path}'.
Configure a credential helper to remove this warning. See
https://docs.docker.com/go/credential-store/
"""

REGISTER_SUGGEST = (
    "Log in with your Docker ID or email address to push and pull images from Docker Hub. "
    "If you don't have a Docker ID, head over to https://hub.docker.com/ to create one."
)
PAT_SUGGEST = (
    "You can log in with your password or a Personal Access Token (PAT). Using a limited-scope PAT "
    "grants better security and is required for organizations using SSO. "
    "Learn more at https://docs.docker.com/go/access-tokens/"
)


class PlainError(CliError):
    """An error docker prints without the `Error: ` prefix (its text already starts with `error:`)."""

    def show(self, file: Any = None) -> None:
        click.echo(self.format_message(), err=True)


class LoginFailed(Exception):
    """The registry refused the credentials (`unauthorized`) or answered the check with an error."""

    def __init__(self, message: str, *, unauthorized: bool) -> None:
        super().__init__(message)
        self.unauthorized = unauthorized


@dataclass(frozen=True, slots=True)
class Verified:
    identity_token: str = ""  # a refresh token to store in place of the password


@click.command("login", short_help="Authenticate to a registry")
@click.argument("server", required=False)
@click.option("-u", "--username", metavar="string", help="Username")
@click.option("-p", "--password", metavar="string", help="Password or Personal Access Token (PAT)")
@click.option(
    "--password-stdin", is_flag=True, help="Take the Password or Personal Access Token (PAT) from stdin"
)
@reports_errors
def login(server: str | None, username: str | None, password: str | None, password_stdin: bool) -> None:
    """Authenticate to a registry.

    Defaults to Docker Hub if no server is specified.
    """
    from cargobay.distclient import credstore

    if password == "-":  # `-p -`: the password comes from stdin
        if password_stdin:
            raise CliError("conflicting options: cannot specify both --password and --password-stdin")
        password, password_stdin = None, True
    _check_flags(username, password, password_stdin)
    if password:
        click.echo("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True)
    if password_stdin:
        password = _read_password_stdin()
    if username is not None:
        username = username.strip()
    if os.environ.get("DOCKER_AUTH_CONFIG"):
        click.echo(
            "WARNING! DOCKER_AUTH_CONFIG is set: its credentials take precedence over the ones "
            "this login stores.",
            err=True,
        )

    key = credstore.server_key(server)
    domain = credstore.registry_domain(key)
    default_username = ""
    if username is None and password is None:
        try:
            stored = credstore.get(key)
        except credstore.CredstoreError as exc:
            raise CliError(str(exc)) from None
        if stored is not None and ((stored.username and stored.password) or stored.identity_token):
            # a helper keeps an identity token without the username (docker's `<token>`)
            named = f" [Username: {stored.username}]" if stored.username else ""
            click.echo(f"Authenticating with existing credentials...{named}", err=True)
            click.echo(
                "To login with a different account, run 'cargobay logout' followed by 'cargobay login'",
                err=True,
            )
            try:
                verified = _verify(domain, stored)
            except LoginFailed as exc:
                if not exc.unauthorized:
                    raise CliError(str(exc)) from None
                click.echo("Stored credentials invalid or expired", err=True)
                default_username = stored.username
            else:
                _store(key, stored, verified)
                return
        elif stored is not None:
            default_username = stored.username

    username, password = _prompt(username, password, default_username, key)
    from cargobay.distclient.credentials import Credentials

    creds = Credentials(username=username, password=password)
    try:
        verified = _verify(domain, creds)
    except LoginFailed as exc:
        raise CliError(str(exc)) from None
    _store(key, creds, verified)


def _check_flags(username: str | None, password: str | None, password_stdin: bool) -> None:
    """docker's verifyLoginFlags, in its order."""
    if password_stdin:
        if password is not None:
            raise CliError("conflicting options: cannot specify both --password and --password-stdin")
        if username is None:
            raise CliError("the --password-stdin option requires --username to be set")
    if username is not None and not username.strip():
        raise CliError("username is empty")
    if password is not None and password == "":
        raise CliError("password is empty")


def _read_password_stdin() -> str:
    """All of stdin less one trailing `\\r\\n`, `\\n` or `\\r` (docker: TrimSuffix "\\n" then "\\r")."""
    raw = sys.stdin.buffer.read()
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise CliError("the password read from stdin is not valid UTF-8") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise CliError("password is empty")
    return text


def _prompt(username: str | None, password: str | None, default_username: str, key: str) -> tuple[str, str]:
    """docker's PromptUserForCredentials: `Username: ` / `Username (bob): `, then a hidden `Password: `."""
    from cargobay.distclient.config import DOCKER_HUB_INDEX_SERVER

    if username and password:
        return username, password
    if not sys.stdin.isatty():
        raise PlainError("error: cannot perform an interactive login from a non-TTY device")
    if not username:
        if key == DOCKER_HUB_INDEX_SERVER:
            click.echo(REGISTER_SUGGEST)
            click.echo(PAT_SUGGEST)
            click.echo()
        message = f"Username ({default_username}): " if default_username else "Username: "
        click.echo(message, nl=False)
        answer = sys.stdin.readline()
        if not answer:
            raise PlainError("error: username is required")
        username = answer.rstrip("\r\n").strip() or default_username
        if not username:
            raise PlainError("error: username is required")
    if not password:
        password = _read_hidden_line("Password: ")
        click.echo()
        if not password:
            raise PlainError("error: password is required")
    return username, password


def _read_hidden_line(prompt: str) -> str:
    """Show `prompt`, read one line from the terminal on stdin with echo off (restored afterwards).

    Echo goes off before the prompt shows, so that nothing typed after it is ever echoed."""
    import termios

    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    new = termios.tcgetattr(fd)
    new[3] &= ~termios.ECHO
    try:
        termios.tcsetattr(fd, termios.TCSANOW, new)  # keep what was typed ahead
        click.echo(prompt, nl=False)
        line = sys.stdin.readline()
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)
    return line.removesuffix("\n").removesuffix("\r")


def _store(key: str, creds: Credentials, verified: Verified) -> None:
    from cargobay.distclient import credstore
    from cargobay.distclient.credentials import Credentials

    if verified.identity_token:
        creds = Credentials(username=creds.username, identity_token=verified.identity_token)
    try:
        where = credstore.store(key, creds)
    except credstore.CredstoreError as exc:
        raise CliError(f"error saving credentials: {exc}") from None
    if where.in_file:
        click.echo(UNENCRYPTED_WARNING.format(path=where.path), err=True)
    click.echo("Login Succeeded")


# -- checking the credentials against the registry -------------------------------------------


def _verify(domain: str, creds: Credentials) -> Verified:
    import asyncio

    return asyncio.run(_verify_async(domain, creds))


async def _verify_async(domain: str, creds: Credentials) -> Verified:
    from cargobay.distclient.config import ClientConfig, ssl_context
    from cargobay.distclient.errors import RegistryUnreachable
    from cargobay.distclient.session import new_session

    config = ClientConfig.load()
    endpoints = config.endpoints(domain, for_push=True)  # never a mirror
    last: Exception | None = None
    async with new_session(config) as session:
        for endpoint in endpoints:
            verify: Any = ssl_context(domain) if endpoint.verify else False
            try:
                return await _login_endpoint(session, f"{endpoint.base}/v2/", verify, creds)
            except RegistryUnreachable as exc:
                last = exc
    assert last is not None
    raise LoginFailed(str(last), unauthorized=False)


def _status_text(status: int) -> str:
    from http import HTTPStatus

    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


async def _get(session: HttpSession, url: str, ssl: Any, headers: dict[str, str]) -> tuple[int, Any]:
    from cargobay.distclient.errors import connection_error
    from cargobay.distclient.httpclient import HttpClientError

    try:
        async with session.get(url, headers=headers, ssl=ssl, allow_redirects=True) as resp:
            await resp.read()
            return resp.status, resp.headers
    except (HttpClientError, TimeoutError, OSError) as exc:
        raise connection_error("GET", url, exc) from None


async def _login_endpoint(session: HttpSession, url: str, ssl: Any, creds: Credentials) -> Verified:
    import base64

    from cargobay.distclient.auth import pick_challenge

    status, headers = await _get(session, url, ssl, {})
    if status == 200:  # a registry without auth: docker reports success too
        return Verified()
    challenge = pick_challenge(headers.get("WWW-Authenticate", "")) if status == 401 else None
    verified = Verified()
    auth: dict[str, str] = {}
    if challenge is not None and challenge.scheme == "bearer":
        token, verified = await _fetch_token(session, url, ssl, challenge.realm, challenge.service, creds)
        auth = {"Authorization": f"Bearer {token}"}
    elif challenge is not None and challenge.scheme == "basic" and creds.username:
        pair = f"{creds.username}:{creds.password}".encode()
        auth = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    if auth:
        status, _ = await _get(session, url, ssl, auth)
        if status == 200:
            return verified
    raise LoginFailed(
        f"login attempt to {url} failed with status: {_status_text(status)}",
        unauthorized=status in (401, 403),
    )


async def _fetch_token(
    session: HttpSession, url: str, ssl: Any, realm: str, service: str, creds: Credentials
) -> tuple[str, Verified]:
    """The token request docker's login makes; errors read `Get "<url>": unauthorized: …` as docker's."""
    import base64
    import json
    from urllib.parse import urlencode

    from cargobay.distclient.errors import connection_error
    from cargobay.distclient.httpclient import HttpClientError

    if not realm:
        raise LoginFailed(f'Get "{url}": unauthorized: authentication required', unauthorized=True)
    try:
        if creds.identity_token:
            form = {
                "client_id": CLIENT_ID,
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "service": service,
            }
            form_type = {"Content-Type": "application/x-www-form-urlencoded"}
            request = session.post(realm, data=urlencode(form).encode(), headers=form_type, ssl=ssl)
        else:
            params = [("account", creds.username), ("client_id", CLIENT_ID), ("offline_token", "true")]
            if service:
                params.append(("service", service))
            pair = f"{creds.username}:{creds.password}".encode()
            headers = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
            sep = "&" if "?" in realm else "?"
            request = session.get(f"{realm}{sep}{urlencode(params)}", headers=headers, ssl=ssl)
        async with request as resp:
            body = await resp.read()
            status = resp.status
    except (HttpClientError, TimeoutError, OSError) as exc:
        raise LoginFailed(str(connection_error("GET", realm, exc)), unauthorized=False) from None
    if status != 200:
        raise LoginFailed(f'Get "{url}": {_token_error(status, body)}', unauthorized=status in (401, 403))
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise LoginFailed(f'Get "{url}": unable to decode token response', unauthorized=False)
    token = doc.get("access_token") or doc.get("token")
    if not isinstance(token, str) or not token:
        raise LoginFailed(
            f'Get "{url}": authorization server did not include a token in the response', unauthorized=False
        )
    refresh = doc.get("refresh_token")
    identity = refresh if isinstance(refresh, str) and refresh else creds.identity_token
    return token, Verified(identity)


def _token_error(status: int, body: bytes) -> str:
    """docker's text for a refused token request: `unauthorized: incorrect username or password`."""
    import json

    from cargobay.oci.errors import parse_error_body

    errors = parse_error_body(body)
    if errors:
        return str(errors[0])
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):  # OAuth2 error body
        description = str(doc.get("error_description") or doc["error"])
        if status == 401:
            return f"unauthorized: {description}"
        return f"{doc['error']}: {description}"
    if status == 401:
        return "unauthorized: authentication required"
    if status == 403:
        return "denied: requested access to the resource is denied"
    if status == 429:
        return "toomanyrequests: too many requests"
    return f"received unexpected HTTP status: {_status_text(status)}"
