"""`cargobay admin`: manage the hub's accounts and signing keys from its host.

The commands open the hub's database directly (the same settings as `cargobay serve`), so they
work whether or not the hub is running. Passwords are read from stdin, never from arguments.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from cargobay.config import Settings
    from cargobay.server.app import Hub

T = TypeVar("T")


class AdminError(Exception):
    """A readable reason to stop, printed as one line on stderr."""


def _settings_options(function: Callable[..., Any]) -> Callable[..., Any]:
    function = click.option(
        "--database-url", help="sqlite:///PATH (default, in the data dir) or postgresql://…"
    )(function)
    function = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="YAML settings file (as for serve).",
    )(function)
    function = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="The hub's data directory (as for serve).",
    )(function)
    return function


def _load(data_dir: Path | None, config_file: Path | None, database_url: str | None) -> Settings:
    from cargobay.config import ConfigError, load_settings
    from cargobay.metadata.engine import DatabaseUrlError, normalise_url

    try:
        settings = load_settings(config_file, {"data_dir": data_dir, "database_url": database_url})
        normalise_url(settings.effective_database_url)
    except ConfigError as exc:
        raise AdminError("; ".join(exc.lines)) from None
    except DatabaseUrlError as exc:
        raise AdminError(str(exc)) from None
    return settings


def _run(settings: Settings, action: Callable[[Hub], Awaitable[T]]) -> T:
    """Open the hub's services (migrating the schema to this code's), run `action`, close."""
    from sqlalchemy.exc import SQLAlchemyError

    from cargobay.metadata.engine import MigrationError, migrate
    from cargobay.registry.accounts import AccountError
    from cargobay.server.app import build_hub

    async def main() -> T:
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AdminError(f"cannot create data dir {settings.data_dir}: {exc.strerror or exc}") from None
        hub = build_hub(settings)
        try:
            try:
                await migrate(hub.metadata.engines)
            except MigrationError as exc:
                raise AdminError(str(exc)) from None
            return await action(hub)
        finally:
            await hub.close()

    try:
        return asyncio.run(main())
    except AccountError as exc:
        raise AdminError(str(exc)) from None
    except SQLAlchemyError as exc:
        original = getattr(exc, "orig", None)
        detail = (str(original if original is not None else exc).splitlines() or ["unknown"])[0]
        raise AdminError(f"database error: {detail}") from None
    except OSError as exc:
        raise AdminError(f"cannot open the database: {exc.strerror or exc}") from None


def _read_password(password_stdin: bool) -> str:
    if not password_stdin:
        raise AdminError("pass the password on stdin with --password-stdin")
    data = sys.stdin.read()
    if data.endswith("\r\n"):
        data = data[:-2]
    elif data.endswith("\n"):
        data = data[:-1]
    return data


class AdminGroup(click.Group):
    """Turns AdminError into `Error: …` on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AdminError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=AdminGroup)
def admin() -> None:
    """Manage the hub's accounts and keys (talks to the hub's database directly)."""


@admin.group(cls=AdminGroup)
def user() -> None:
    """Create, change and delete user accounts."""


@user.command("create")
@click.option("--username", required=True, help="4 to 30 lowercase letters or digits.")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--admin", "is_admin", is_flag=True, help="Make the account an administrator.")
@_settings_options
def user_create(
    username: str,
    email: str,
    password_stdin: bool,
    is_admin: bool,
    data_dir: Path | None,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """Create a user (registration need not be open)."""
    settings = _load(data_dir, config_file, database_url)
    password = _read_password(password_stdin)

    async def action(hub: Hub) -> None:
        await hub.accounts.sign_up(username, email, password, is_admin=is_admin)

    _run(settings, action)
    click.echo(f"Created {'administrator' if is_admin else 'user'} {username}")


@user.command("passwd")
@click.option("--username", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@_settings_options
def user_passwd(
    username: str,
    password_stdin: bool,
    data_dir: Path | None,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """Set a user's password."""
    settings = _load(data_dir, config_file, database_url)
    password = _read_password(password_stdin)

    async def action(hub: Hub) -> None:
        await hub.accounts.set_password(username, password)

    _run(settings, action)
    click.echo(f"Changed the password of {username}")


async def _user_row(hub: Hub, username: str) -> Any:
    account = await hub.accounts.store.account_by_name(username)
    if account is None or account.kind != "user":
        raise AdminError(f"no such user: {username}")
    return account


@user.command("delete")
@click.option("--username", required=True)
@_settings_options
def user_delete(
    username: str, data_dir: Path | None, config_file: Path | None, database_url: str | None
) -> None:
    """Delete a user, its tokens, memberships and repositories."""
    settings = _load(data_dir, config_file, database_url)

    async def action(hub: Hub) -> None:
        account = await _user_row(hub, username)
        await hub.accounts.store.delete_account(account.id, account.name)

    _run(settings, action)
    click.echo(f"Deleted user {username}")


@user.command("set-admin")
@click.option("--username", required=True)
@click.option("--revoke", is_flag=True, help="Take administrator rights away instead.")
@_settings_options
def user_set_admin(
    username: str,
    revoke: bool,
    data_dir: Path | None,
    config_file: Path | None,
    database_url: str | None,
) -> None:
    """Make a user an administrator (or, with --revoke, no longer one)."""
    settings = _load(data_dir, config_file, database_url)

    async def action(hub: Hub) -> None:
        account = await _user_row(hub, username)
        await hub.accounts.store.set_admin(account.id, not revoke)

    _run(settings, action)
    click.echo(f"{username} is {'no longer' if revoke else 'now'} an administrator")


@admin.group(cls=AdminGroup)
def org() -> None:
    """Create organisations."""


@org.command("create")
@click.option("--name", required=True, help="4 to 30 lowercase letters or digits.")
@click.option("--owner", required=True, help="The user who becomes its first owner.")
@_settings_options
def org_create(
    name: str, owner: str, data_dir: Path | None, config_file: Path | None, database_url: str | None
) -> None:
    """Create an organisation owned by an existing user."""
    settings = _load(data_dir, config_file, database_url)

    async def action(hub: Hub) -> None:
        actor = await hub.accounts.actor_for(owner)
        if actor is None:
            raise AdminError(f"no such user: {owner}")
        await hub.accounts.create_org(actor, name)

    _run(settings, action)
    click.echo(f"Created organisation {name} (owner {owner})")


@admin.group(cls=AdminGroup)
def keys() -> None:
    """The keys that sign registry tokens."""


@keys.command("rotate")
@_settings_options
def keys_rotate(data_dir: Path | None, config_file: Path | None, database_url: str | None) -> None:
    """Add a new signing key: it signs new tokens; older keys keep verifying the tokens they signed."""
    from cargobay.registry.tokens import key_id
    from cargobay.server.app import key_ring

    settings = _load(data_dir, config_file, database_url)
    ring = key_ring(settings)
    try:
        ring.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = ring.rotate()
        ring.load(create=False)
    except (OSError, ValueError) as exc:
        raise AdminError(f"cannot rotate keys in {ring.directory}: {exc}") from None
    kid = key_id(ring.signing.public)
    older = len(list(ring.directory.glob("*.pem"))) - 1
    click.echo(
        f"New signing key {kid} ({path.name}): a running hub signs with it from now on; "
        f"{older} older key(s) still verify"
    )
