"""`cargobay history IMAGE` (also `image history`): docker's table of the config's history.

Layer sizes are the sizes of the stored (compressed) layer blobs: the store never unpacks.
"""

from __future__ import annotations

import json
from typing import Any

import click

from cargobay.cli import render
from cargobay.cli.errors import CliError, reports_errors
from cargobay.localstore import ImageRecord, LocalStore, StoreError
from cargobay.localstore.timeutil import parse_rfc3339
from cargobay.oci.manifest import InvalidManifest, parse_manifest

DEFAULT_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
NON_HUMAN_TABLE = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
EPOCH_2000 = 946_684_800


class HistoryItem:
    def __init__(
        self, id_: str, created: int, created_by: str, size: int, comment: str, tags: list[str]
    ) -> None:
        self.id = id_
        self.created = created
        self.created_by = created_by
        self.size = size
        self.comment = comment
        self.tags = tags


def image_history(store: LocalStore, record: ImageRecord) -> list[HistoryItem]:
    """docker's ImageHistory: newest first; the top entry carries the image ID and tags."""
    try:
        config = json.loads(store.read_blob(record.id))
        manifest = parse_manifest(store.read_blob(record.manifest.digest), record.manifest.media_type)
    except (OSError, ValueError, InvalidManifest) as exc:
        raise CliError(f"reading image {record.short_id}: {exc}") from None
    history: list[Any] = config.get("history") if isinstance(config, dict) else None  # type: ignore[assignment]
    if not isinstance(history, list):
        history = []
    layers = list(manifest.layers)
    items: list[HistoryItem] = []
    n = 0
    for entry in history:
        if not isinstance(entry, dict):
            continue
        size = 0
        if not entry.get("empty_layer"):
            if n >= len(layers):
                raise CliError("too many non-empty layers in History section")
            size = layers[n].size
            n += 1
        stamp = parse_rfc3339(str(entry.get("created") or ""))
        items.append(
            HistoryItem(
                "<missing>",
                stamp.seconds if stamp else 0,
                str(entry.get("created_by") or ""),
                size,
                str(entry.get("comment") or ""),
                [],
            )
        )
    items.reverse()
    if items:
        items[0].id = str(record.id)
        items[0].tags = record.repo_tags
    return items


class HistoryRow(render.Struct):
    type_name = "*formatter.historyContext"

    def __init__(self, item: HistoryItem, trunc: bool, human: bool, now: float) -> None:
        def created_at() -> str:
            return render.go_rfc3339_local(item.created)

        def created_since() -> str:
            if not human:
                return created_at()
            if item.created <= EPOCH_2000:
                return "N/A"
            return render.since(item.created, now)

        def created_by() -> str:
            text = item.created_by.replace("\t", " ")
            return render.ellipsis(text, 45) if trunc else text

        super().__init__(
            {
                "ID": render.truncate_id(item.id) if trunc else item.id,
                "CreatedSince": created_since,
                "CreatedAt": created_at,
                "CreatedBy": created_by,
                "Size": (lambda: render.human_size_precision(item.size, 3)) if human else str(item.size),
                "Comment": item.comment,
            }
        )


class GoBool(click.ParamType[bool]):
    """A Go-style bool flag value that also accepts docker's `-H=false` spelling."""

    name = "bool"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).lstrip("=").lower()
        if text in ("1", "t", "true"):
            return True
        if text in ("0", "f", "false"):
            return False
        self.fail(
            f'invalid argument "{value}": strconv.ParseBool: parsing "{value}": invalid syntax', param, ctx
        )


class GoFlagsCommand(click.Command):
    """Accepts Go's `-H=false` / `--human=false` for the boolean flag, as docker's CLI does.

    A bare `-H` never takes the next argument as its value (pflag's bool flags do not)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        for arg in args:
            for prefix in ("-H=", "--human="):
                if arg.startswith(prefix):
                    rewritten += ["--human-value", arg[len(prefix) :]]
                    break
            else:
                rewritten.append(arg)
        return super().parse_args(ctx, rewritten)


@click.command("history", cls=GoFlagsCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("image")
@click.option("-H", "--human", "human_flag", is_flag=True, default=True,
              help="Print sizes and dates in human readable format (-H=false for raw values)")  # fmt: skip
@click.option("--human-value", type=GoBool(), default=None, hidden=True)
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--format", "format_", default="", help="Format output using a custom template")
@reports_errors
def history(
    image: str, human_flag: bool, human_value: bool | None, no_trunc: bool, quiet: bool, format_: str
) -> None:
    """Show the history of an image."""
    human = human_flag if human_value is None else human_value
    store = LocalStore.open_default()
    try:
        record = store.resolve(image)
    except StoreError as exc:
        raise CliError(str(exc)) from None
    now = render.now()
    rows = [HistoryRow(item, not no_trunc, human, now) for item in image_history(store, record)]
    fmt = format_ or "table"
    if fmt == "table":
        fmt = "{{.ID}}" if quiet else DEFAULT_TABLE if human else NON_HUMAN_TABLE
    try:
        text = render.format_rows(fmt, rows, HEADERS)
    except render.TemplateError as exc:
        raise CliError(str(exc)) from None
    click.echo(text, nl=False)
