"""`cargobay inspect` / `cargobay image inspect`: docker's JSON array (4-space indent) or `-f` template."""

from __future__ import annotations

import json
from typing import Any

import click

from cargobay.cli import render
from cargobay.cli.errors import CliError, reports_errors
from cargobay.localstore import ImageRecord, LocalStore, StoreError
from cargobay.localstore.timeutil import parse_rfc3339

ZERO_TIME = "0001-01-01T00:00:00Z"

# docker's DockerOCIImageConfig, in its field order; empty fields are omitted (omitempty).
CONFIG_FIELDS = (
    "User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
    "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell",
)  # fmt: skip


def _docker_config(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        return {}
    return {k: config[k] for k in CONFIG_FIELDS if config.get(k) not in (None, "", [], {}, False)}


def _go_time(text: str) -> str:
    stamp = parse_rfc3339(text) if text else None
    return stamp.rfc3339nano() if stamp else ZERO_TIME


def inspect_document(store: LocalStore, record: ImageRecord) -> dict[str, Any]:
    """docker's image InspectResponse (API 1.44+) for one image, fields in docker's order."""
    try:
        config = json.loads(store.read_blob(record.id))
    except (OSError, ValueError):
        config = {}
    if not isinstance(config, dict):
        config = {}
    rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    doc: dict[str, Any] = {
        "Id": str(record.id),
        "RepoTags": record.repo_tags,
        "RepoDigests": record.repo_digests,
        "Comment": str(config.get("comment") or ""),
    }
    if config.get("created"):  # omitempty
        doc["Created"] = _go_time(str(config["created"]))
    doc["Author"] = str(config.get("author") or "")
    doc["Config"] = _docker_config(config.get("config"))
    doc["Architecture"] = str(config.get("architecture") or "")
    if config.get("variant"):
        doc["Variant"] = str(config["variant"])
    doc["Os"] = str(config.get("os") or "")
    if config.get("os.version"):
        doc["OsVersion"] = str(config["os.version"])
    doc["Size"] = record.size
    doc["GraphDriver"] = {"Data": None, "Name": "oci-layout"}
    doc["RootFS"] = {
        "Type": "layers",
        "Layers": [str(d) for d in diff_ids] if isinstance(diff_ids, list) else [],
    }
    doc["Metadata"] = {"LastTagTime": _go_time(record.last_tag_time)}
    target = record.index or record.manifest
    doc["Descriptor"] = {"mediaType": target.media_type, "digest": str(target.digest), "size": target.size}
    return doc


def run_inspect(names: tuple[str, ...], format_: str | None) -> None:
    store = LocalStore.open_default()
    docs: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in names:
        try:
            docs.append(inspect_document(store, store.resolve(name)))
        except StoreError as exc:
            errors.append(str(exc))
    if format_ and format_ != "json":
        try:
            template = render.Template(render.prepare_format(format_))
        except render.TemplateError as exc:
            raise CliError(f"template parsing error: template: {exc}") from None
        for doc in docs:
            try:
                click.echo(template.render(doc))
            except render.TemplateError as exc:
                raise CliError(f"template parsing error: template: {exc}") from None
    else:
        click.echo(render.go_json(docs, indent=4) if docs else "[]")
    if errors:
        raise CliError("\nError: ".join(errors))


_FORMAT_HELP = "Format output using a custom template: 'json' or a Go template"


@click.command("inspect", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", default=None, help=_FORMAT_HELP)
@click.option("--type", "type_", default=None, help="Only inspect objects of the given type (image)")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@reports_errors
def inspect(names: tuple[str, ...], format_: str | None, type_: str | None, size: bool) -> None:
    """Return low-level information on images."""
    if type_ not in (None, "", "image"):
        raise CliError(f'"{type_}" is not a valid value for --type')
    run_inspect(names, format_)


@click.command("inspect", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "format_", default=None, help=_FORMAT_HELP)
@reports_errors
def image_inspect(names: tuple[str, ...], format_: str | None) -> None:
    """Display detailed information on one or more images."""
    run_inspect(names, format_)
