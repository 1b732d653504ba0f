"""`cargobay logout [SERVER]`: docker logout; erases `<server>`, `<host>`, `http(s)://<host>`."""

from __future__ import annotations

import click

from cargobay.cli.errors import CliError, reports_errors


@click.command("logout", short_help="Log out from a registry")
@click.argument("server", required=False)
@reports_errors
def logout(server: str | None) -> None:
    """Log out from a registry.

    If no server is specified, the default is defined by the daemon: Docker Hub.
    """
    from cargobay.distclient import credstore

    shown, keys = credstore.logout_keys(server)
    click.echo(f"Removing login credentials for {shown}")
    try:
        result = credstore.erase(keys)
    except credstore.CredstoreError as exc:
        raise CliError(str(exc)) from None
    if result.erased:
        return
    if result.errors:  # docker's warning, only when no attempt succeeded
        click.echo("WARNING: could not erase credentials:", err=True)
        for key, error in result.errors.items():
            click.echo(f"{key}: {error}", err=True)
        return
    click.echo(f"Not logged in to {shown}: no credentials were stored for it", err=True)
