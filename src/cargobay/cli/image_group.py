"""`cargobay image ls|list|rm|remove|tag|inspect|history|prune|pull|push`.

Subcommands are loaded lazily (pull and push live in cli/pull.py and cli/push.py); `prune` is here.
"""

from __future__ import annotations

import sys

import click

from cargobay.cli import render
from cargobay.cli.errors import CliError, reports_errors
from cargobay.cli.main import LazyGroup
from cargobay.localstore import ImageRecord, LocalStore, StoreError

SUBCOMMANDS: dict[str, str] = {
    "ls": "images:images",
    "list": "images:images",
    "rm": "rmi:rmi",
    "remove": "rmi:rmi",
    "tag": "tag:tag",
    "inspect": "inspect:image_inspect",
    "history": "history:history",
    "prune": "image_group:prune",
    "pull": "pull:pull",
    "push": "push:push",
}

PRUNE_FILTERS = ("dangling", "label", "label!", "until")
WARNING_DANGLING = "WARNING! This will remove all dangling images."
WARNING_ALL = "WARNING! This will remove all images without at least one container associated to them."


@click.group(
    "image", cls=LazyGroup, lazy=SUBCOMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
def image() -> None:
    """Manage images."""


def _confirm(warning: str) -> bool:
    click.echo(warning)
    click.echo("Are you sure you want to continue? [y/N] ", nl=False)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


@click.command("prune", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-a", "--all", "all_images", is_flag=True, help="Remove all unused images, not just dangling ones"
)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filter_", multiple=True, help="Provide filter values (e.g. 'until=<timestamp>')")
@reports_errors
def prune(all_images: bool, force: bool, filter_: tuple[str, ...]) -> None:
    """Remove unused images."""
    from cargobay.cli.images import (
        bool_filter,
        excluded_by_labels,
        match_labels,
        parse_filters,
        parse_timestamp,
    )

    filters = parse_filters(filter_, PRUNE_FILTERS)
    dangling = bool_filter(filters, "dangling")
    if dangling is False:
        all_images = True
    if not force and not _confirm(WARNING_ALL if all_images else WARNING_DANGLING):
        return
    now = render.now()
    until = min((parse_timestamp(v, now) for v in filters.get("until", [])), default=None)

    def exclude(record: ImageRecord) -> bool:
        if until is not None and not record.created_seconds < until:
            return True
        if "label" in filters and not match_labels(filters["label"], record.labels):
            return True
        return "label!" in filters and excluded_by_labels(filters["label!"], record.labels)

    try:
        store = LocalStore.open_default()
        result = store.prune(all_images=all_images, exclude=exclude)
        # Also blobs nothing references any more (e.g. left by an interrupted pull), past the grace.
        result.reclaimed += store.gc().reclaimed
    except StoreError as exc:
        raise CliError(str(exc)) from None
    if result.events:
        lines = ["Deleted Images:"]
        lines.extend(f"{e.kind.lower()}: {e.value}" for e in result.events)
        click.echo("\n".join(lines) + "\n")
    click.echo(f"Total reclaimed space: {render.human_size(result.reclaimed)}")
