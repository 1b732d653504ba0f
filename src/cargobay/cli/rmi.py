"""`cargobay rmi [-f] IMAGE...` (also `image rm` / `image remove`), with docker's output and rules."""

from __future__ import annotations

import click

from cargobay.cli.errors import CliError, reports_errors
from cargobay.localstore import ImageNotFound, LocalStore, StoreError


@click.command("rmi", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("images", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
@reports_errors
def rmi(images: tuple[str, ...], force: bool, no_prune: bool) -> None:
    """Remove one or more images."""
    store = LocalStore.open_default()
    errors: list[str] = []
    fatal = False
    for name in images:
        try:
            result = store.remove(name, force=force)
        except ImageNotFound as exc:
            errors.append(str(exc))
            fatal = fatal or not force
            continue
        except StoreError as exc:
            errors.append(str(exc))
            fatal = True
            continue
        for event in result.events:
            click.echo(f"{event.kind}: {event.value}")
    if errors:
        message = "\nError: ".join(errors)
        if fatal:
            raise CliError(message)
        click.echo(f"Error: {message}", err=True)
